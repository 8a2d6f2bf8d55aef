"""Parsing and validation of the IAM policy documents given to the mock (SPEC §8).

Strictly private. :func:`parse_policy` turns a JSON string or mapping into an immutable
:class:`Policy` whose statements carry precompiled matchers, so evaluation never re-parses.
A malformed document raises :class:`PolicyError` naming the problem and where it is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ._conditions import (
    Condition,
    Lookup,
    Template,
    compile_condition,
    json_type,
    parse_template,
)
from ._errors import PolicyError
from ._frozen import Frozen
from ._glob import Glob, chunk_glob
from ._lazy import lazy_pattern

__all__ = [
    "ALLOW_ALL",
    "BOUNDARY",
    "IDENTITY",
    "POLICY_KINDS",
    "SCP",
    "SESSION",
    "Policy",
    "Statement",
    "article",
    "parse_policy",
]

IDENTITY = "identity-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"
SCP = "service control policy"
POLICY_KINDS = (IDENTITY, BOUNDARY, SESSION, SCP)

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

_TOP_LEVEL = ("Version", "Id", "Statement")
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_sid = lazy_pattern(r"[A-Za-z0-9]*")


def article(kind: str) -> str:
    """``"an identity-based policy"``, ``"a permissions boundary"``, ..."""
    return ("an " if kind[0] in "aeiou" else "a ") + kind


class ActionMatcher(Frozen):
    """Action/NotAction patterns: case-insensitive, ``*`` and ``?``. Strictly private."""

    __slots__ = _fields = ("patterns", "everything", "exact", "globs")
    patterns: tuple[str, ...]
    everything: bool
    exact: frozenset[str]
    globs: tuple[Glob, ...]

    def __init__(
        self,
        patterns: tuple[str, ...],
        everything: bool,
        exact: frozenset[str],
        globs: tuple[Glob, ...],
    ) -> None:
        put = object.__setattr__
        put(self, "patterns", patterns)
        put(self, "everything", everything)
        put(self, "exact", exact)
        put(self, "globs", globs)

    @classmethod
    def build(cls, patterns: tuple[str, ...]) -> ActionMatcher:
        lowered = [p.lower() for p in patterns]
        wild = [p for p in lowered if "*" in p or "?" in p]
        globs = tuple(Glob(p, ignore_case=True) for p in wild)
        exact = frozenset(p for p in lowered if p not in wild)
        return cls(patterns, "*" in lowered, exact, globs)

    def matches(self, action_lower: str) -> bool:
        if self.everything or action_lower in self.exact:
            return True
        return any(glob.fullmatch(action_lower) for glob in self.globs)


class ResourceMatcher(Frozen):
    """Resource/NotResource patterns: case-sensitive glob, every other character literal.

    Strictly private. The whole ARN is matched as one string (a ``*`` may cross a colon, unlike
    in ArnLike). A request for resource ``*`` (an action without resource-level permissions)
    matches only the pattern ``*`` itself, so such actions are granted only by ``"Resource":
    "*"`` (SPEC §8; IAM User Guide, "IAM JSON policy elements: Resource").
    """

    __slots__ = _fields = ("patterns", "everything", "exact", "globs", "templates")
    patterns: tuple[str, ...]
    everything: bool
    exact: frozenset[str]
    globs: tuple[Glob, ...]
    templates: tuple[Template, ...]

    def __init__(
        self,
        patterns: tuple[str, ...],
        everything: bool,
        exact: frozenset[str],
        globs: tuple[Glob, ...],
        templates: tuple[Template, ...],
    ) -> None:
        put = object.__setattr__
        put(self, "patterns", patterns)
        put(self, "everything", everything)
        put(self, "exact", exact)
        put(self, "globs", globs)
        put(self, "templates", templates)

    @classmethod
    def build(cls, patterns: tuple[str, ...], *, variables: bool) -> ResourceMatcher:
        exact: set[str] = set()
        globs: list[Glob] = []
        dynamic: list[Template] = []
        for pattern in patterns:
            template = parse_template(pattern, variables=variables)
            if template.has_variables:
                dynamic.append(template)
                continue
            chunks = template.resolve(_no_context) or []
            if any(active and ("*" in text or "?" in text) for text, active in chunks):
                globs.append(Glob.from_chunks(chunks))
            else:
                exact.add("".join(text for text, _ in chunks))
        return cls(patterns, "*" in patterns, frozenset(exact), tuple(globs), tuple(dynamic))

    def matches(self, resource: str, lookup: Lookup) -> bool:
        if resource == "*" or self.everything:
            return self.everything
        if resource in self.exact:
            return True
        for glob in self.globs:
            if glob.fullmatch(resource):
                return True
        for template in self.templates:
            chunks = template.resolve(lookup)
            # An unresolved variable makes this pattern match nothing (IAM User Guide,
            # "Policy variables with no value").
            if chunks is not None and chunk_glob(chunks).fullmatch(resource):
                return True
        return False


def _no_context(key: str) -> None:
    return None


_ANY_RESOURCE = ResourceMatcher(("*",), True, frozenset(), (), ())


class Statement(Frozen):
    """One validated statement with precompiled matchers. Strictly private."""

    __slots__ = _fields = (
        "index",
        "sid",
        "effect",
        "actions",
        "not_action",
        "resources",
        "not_resource",
        "conditions",
        "source",
        "cache",
    )
    _hidden = frozenset({"cache"})
    index: int
    sid: str | None
    effect: str
    actions: ActionMatcher
    not_action: bool
    resources: ResourceMatcher
    not_resource: bool
    conditions: tuple[Condition, ...]
    source: Mapping[str, object]
    cache: dict[tuple[str, int], Any]
    """Evaluation's memo of MatchedStatement objects by (policy kind, policy index)."""

    def __init__(
        self,
        index: int,
        sid: str | None,
        effect: str,
        actions: ActionMatcher,
        not_action: bool,
        resources: ResourceMatcher,
        not_resource: bool,
        conditions: tuple[Condition, ...],
        source: Mapping[str, object],
        cache: dict[tuple[str, int], Any] | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "index", index)
        put(self, "sid", sid)
        put(self, "effect", effect)
        put(self, "actions", actions)
        put(self, "not_action", not_action)
        put(self, "resources", resources)
        put(self, "not_resource", not_resource)
        put(self, "conditions", conditions)
        put(self, "source", source)
        put(self, "cache", {} if cache is None else cache)

    # Compared and hashed by identity.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"


class Policy(Frozen):
    """A parsed, validated, immutable policy document.

    Attributes:
        version: ``"2012-10-17"`` or ``"2008-10-17"`` (the default when Version is absent).
        statements: The statements, in document order.
        source: A private copy of the original document as a dict.
        kind: The policy kind it was validated as (``"identity-based policy"``, ...).
    """

    _fields = ("version", "statements", "source", "kind")
    _hidden = frozenset({"source"})
    version: str
    statements: tuple[Statement, ...]
    source: Mapping[str, object]
    kind: str

    def __init__(
        self,
        version: str,
        statements: tuple[Statement, ...],
        source: Mapping[str, object],
        kind: str = IDENTITY,
    ) -> None:
        put = object.__setattr__
        put(self, "version", version)
        put(self, "statements", statements)
        put(self, "source", source)
        put(self, "kind", kind)

    # Compared and hashed by identity.
    __eq__ = object.__eq__
    __hash__ = object.__hash__


def _strings(statement: Mapping[str, object], element: str, where: str) -> tuple[str, ...]:
    value = statement[element]
    items = value if isinstance(value, list) else [value]
    if not items:
        msg = f"{where}: {element} must not be an empty list."
        raise PolicyError(msg)
    for item in items:
        if not isinstance(item, str):
            msg = (
                f"{where}: {element} must be a string or a list of strings, "
                f"not {json_type(item if isinstance(value, list) else value)}."
            )
            raise PolicyError(msg)
    return tuple(str(item) for item in items)


def _one_of(statement: Mapping[str, object], pair: tuple[str, str], where: str) -> str | None:
    first, second = pair
    if first in statement and second in statement:
        msg = f"{where} has both {first} and {second}; use exactly one of them."
        raise PolicyError(msg)
    if first in statement:
        return first
    return second if second in statement else None


def _parse_statement(
    raw: object, index: int, kind: str, variables: bool, seen_sids: set[str]
) -> Statement:
    if not isinstance(raw, Mapping):
        msg = f"Statement {index} must be a JSON object, not {json_type(raw)}."
        raise PolicyError(msg)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        msg = f"Statement {index}: Sid must be a string, not {json_type(sid)}."
        raise PolicyError(msg)
    if sid is not None and not _sid().fullmatch(sid):
        msg = f"Statement {index} has Sid {sid!r}; a Sid may contain only ASCII letters and digits."
        raise PolicyError(msg)
    if sid:
        if sid in seen_sids:
            msg = f"Statement {index} repeats Sid {sid!r}; each Sid must be unique in a policy."
            raise PolicyError(msg)
        seen_sids.add(sid)
    where = f"Statement {index}" + (f" (Sid {sid!r})" if sid else "")
    for key in raw:
        if key in ("Principal", "NotPrincipal"):
            msg = (
                f"{where} has a {key} element, which {article(kind)} cannot have; "
                "Principal and NotPrincipal belong in resource-based policies."
            )
            raise PolicyError(msg)
        if key not in _STATEMENT_KEYS:
            msg = f"{where} has unknown element {key!r}."
            raise PolicyError(msg)
    if "Effect" not in raw:
        msg = f'{where} has no Effect element; use "Allow" or "Deny".'
        raise PolicyError(msg)
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny"):
        msg = f'{where} has Effect {effect!r}; it must be "Allow" or "Deny".'
        raise PolicyError(msg)
    action_key = _one_of(raw, ("Action", "NotAction"), where)
    if action_key is None:
        msg = f"{where} has neither Action nor NotAction; use exactly one of them."
        raise PolicyError(msg)
    actions = _strings(raw, action_key, where)
    for action in actions:
        service, colon, name = action.partition(":")
        if action != "*" and not (service and colon and name):
            msg = f'{where}: {action_key} value {action!r} is not "*" or "service:action".'
            raise PolicyError(msg)
    resource_key = _one_of(raw, ("Resource", "NotResource"), where)
    if resource_key is None and kind != SCP:
        msg = f"{where} has neither Resource nor NotResource; use exactly one of them."
        raise PolicyError(msg)
    resources = _ANY_RESOURCE
    if resource_key is not None:
        patterns = _strings(raw, resource_key, where)
        for pattern in patterns:
            if pattern != "*" and not pattern.startswith("arn:"):
                msg = f'{where}: {resource_key} value {pattern!r} is not "*" or an ARN.'
                raise PolicyError(msg)
        resources = ResourceMatcher.build(patterns, variables=variables)
    conditions: list[Condition] = []
    block = raw.get("Condition", {})
    if not isinstance(block, Mapping):
        msg = f"{where}: Condition must be an object of operators, not {json_type(block)}."
        raise PolicyError(msg)
    for operator, tests in block.items():
        if not isinstance(tests, Mapping):
            msg = (
                f"{where}: condition {operator} must be an object of keys to values, "
                f"not {json_type(tests)}."
            )
            raise PolicyError(msg)
        for key, values in tests.items():
            conditions.append(
                compile_condition(str(operator), str(key), values, variables=variables, where=where)
            )
    return Statement(
        index=index,
        sid=sid,
        effect=str(effect),
        actions=ActionMatcher.build(actions),
        not_action=action_key == "NotAction",
        resources=resources,
        not_resource=resource_key == "NotResource",
        conditions=tuple(conditions),
        source=raw,
    )


def parse_policy(document: str | Mapping[str, object] | Policy, *, kind: str = IDENTITY) -> Policy:
    """Parse and validate a policy document given as a JSON string or a mapping.

    Args:
        document: The policy, as JSON text or an already-decoded mapping. A parsed
            :class:`Policy` is returned as it is when it was validated as the same ``kind``,
            and re-validated from its source otherwise.
        kind: ``"identity-based policy"`` (default), ``"permissions boundary"``,
            ``"session policy"`` or ``"service control policy"``. SCP statements may omit
            Resource (it then means every resource); other kinds need Resource or NotResource.

    Raises:
        PolicyError: The document is malformed; the message names the problem and where.
    """
    if kind not in POLICY_KINDS:
        msg = f"Unknown policy kind {kind!r}; use one of {', '.join(map(repr, POLICY_KINDS))}."
        raise ValueError(msg)
    if isinstance(document, Policy):
        return document if document.kind == kind else parse_policy(document.source, kind=kind)
    loaded: object = document
    if isinstance(document, str):
        try:
            loaded = json.loads(document)
        except json.JSONDecodeError as exc:
            msg = (
                f"Policy document is not valid JSON: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}."
            )
            raise PolicyError(msg) from None
    elif isinstance(document, Mapping):
        loaded = copy.deepcopy(dict(document))
    if not isinstance(loaded, dict):
        msg = f"Policy document must be a JSON object, not {json_type(loaded)}."
        raise PolicyError(msg)
    for key in loaded:
        if key not in _TOP_LEVEL:
            msg = (
                f"Policy document has unknown element {key!r}; "
                "the allowed elements are Version, Id and Statement."
            )
            raise PolicyError(msg)
    version = loaded.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        msg = (
            f"Policy Version {version!r} is not supported; "
            "use '2012-10-17' (or the legacy '2008-10-17')."
        )
        raise PolicyError(msg)
    if "Id" in loaded and not isinstance(loaded["Id"], str):
        msg = f"Policy Id must be a string, not {json_type(loaded['Id'])}."
        raise PolicyError(msg)
    if "Statement" not in loaded:
        msg = "Policy document has no Statement element."
        raise PolicyError(msg)
    raw_statements = loaded["Statement"]
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        msg = (
            "Policy Statement must be an object or a list of objects, "
            f"not {json_type(raw_statements)}."
        )
        raise PolicyError(msg)
    if not raw_statements:
        msg = "Policy Statement list is empty; give at least one statement."
        raise PolicyError(msg)
    variables = version == VERSION_2012
    seen: set[str] = set()
    statements = tuple(
        _parse_statement(raw, index, kind, variables, seen)
        for index, raw in enumerate(raw_statements)
    )
    return Policy(version=str(version), statements=statements, source=loaded, kind=kind)


ALLOW_ALL: Policy = parse_policy(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
