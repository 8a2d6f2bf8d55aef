"""Condition operators, policy variables and wildcard patterns of the fake IAM (SPEC §8).

Strictly private. Everything here is compiled once, when a policy is parsed, so that evaluating a
request only runs precompiled globs (``_glob``, never backtracking regexes: the texts matched
hold caller input), set look-ups and number comparisons.

Semantics follow the IAM User Guide ("IAM JSON policy elements: Condition operators",
"Single-valued vs. multivalued context keys", "IAM policy elements: Variables and tags").
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator as _op
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from ._errors import PolicyError
from ._frozen import Frozen
from ._glob import chunk_glob
from ._lazy import lazy_pattern

__all__ = [
    "Condition",
    "Lookup",
    "Template",
    "compile_condition",
    "json_type",
    "parse_template",
]

# A request-context look-up by lower-cased key: a string, a tuple for a multivalued key, or None
# when the key is absent (an empty multivalued key counts as absent).
Lookup = Callable[[str], "str | tuple[str, ...] | None"]

T = TypeVar("T")
_PATTERN, _LITERAL, _VARIABLE = 0, 1, 2
_variable_body = lazy_pattern(r"\s*([^,'\s][^,']*?)\s*(?:,\s*'([^']*)'\s*)?")
_variable_ref = lazy_pattern(r"\$\{([^}]*)\}")


class Template(Frozen):
    """A policy string split into wildcard text, literal characters and ``${...}`` variables.

    Strictly private. ``parts`` holds ``(kind, text, default)``: wildcard-active text, a literal
    character from ``${*}``/``${?}``/``${$}``, or a variable (lower-cased key, default or None).
    """

    __slots__ = _fields = ("source", "parts", "has_variables")
    source: str
    parts: tuple[tuple[int, str, str | None], ...]
    has_variables: bool

    def __init__(
        self, source: str, parts: tuple[tuple[int, str, str | None], ...], has_variables: bool
    ) -> None:
        put = object.__setattr__
        put(self, "source", source)
        put(self, "parts", parts)
        put(self, "has_variables", has_variables)

    def resolve(self, lookup: Lookup) -> list[tuple[str, bool]] | None:
        """Chunks ``(text, wildcards_active)``, or None when a variable has no value."""
        chunks: list[tuple[str, bool]] = []
        for kind, text, default in self.parts:
            if kind == _PATTERN:
                chunks.append((text, True))
            elif kind == _LITERAL:
                chunks.append((text, False))
            else:
                value = lookup(text)
                # Multivalued keys cannot be policy variables (IAM User Guide, "Single-valued
                # vs. multivalued context keys"): they resolve like a missing key.
                if not isinstance(value, str):
                    if default is None:
                        return None
                    value = default
                chunks.append((value, False))
        return chunks

    def resolve_text(self, lookup: Lookup) -> str | None:
        """The plain string (wildcards not interpreted), or None when unresolved."""
        chunks = self.resolve(lookup)
        return None if chunks is None else "".join(text for text, _ in chunks)


def parse_template(text: str, *, variables: bool) -> Template:
    """Split ``text``; ``variables`` is False under Version 2008-10-17 (``${...}`` literal)."""
    if not variables or "${" not in text:
        return Template(text, ((_PATTERN, text, None),), False)
    parts: list[tuple[int, str, str | None]] = []
    position = 0
    for found in _variable_ref().finditer(text):
        if found.start() > position:
            parts.append((_PATTERN, text[position : found.start()], None))
        body = found.group(1)
        body_match = _variable_body().fullmatch(body)
        if body in ("*", "?", "$"):
            parts.append((_LITERAL, body, None))
        elif body_match is not None:
            parts.append((_VARIABLE, body_match.group(1).lower(), body_match.group(2)))
        else:
            # Not a well-formed variable: IAM documents no meaning for it, keep it as text.
            parts.append((_PATTERN, found.group(0), None))
        position = found.end()
    if position < len(text):
        parts.append((_PATTERN, text[position:], None))
    has_variables = any(kind == _VARIABLE for kind, _, _ in parts)
    return Template(text, tuple(parts), has_variables)


# ---------------------------------------------------------------------------------------------
# Operators

# Operator, family, comparison. An operator whose name contains "Not" is the negation of its
# positive twin: it is true when the request value matches none of the policy values (NOR).
_TABLE = """
    StringEquals string eq              StringNotEquals string eq
    StringEqualsIgnoreCase string_ci eq StringNotEqualsIgnoreCase string_ci eq
    StringLike like eq                  StringNotLike like eq
    NumericEquals numeric eq            NumericNotEquals numeric eq
    NumericLessThan numeric lt          NumericLessThanEquals numeric le
    NumericGreaterThan numeric gt       NumericGreaterThanEquals numeric ge
    DateEquals date eq                  DateNotEquals date eq
    DateLessThan date lt                DateLessThanEquals date le
    DateGreaterThan date gt             DateGreaterThanEquals date ge
    Bool bool eq                        BinaryEquals binary eq
    IpAddress ip eq                     NotIpAddress ip eq
    ArnEquals arn eq                    ArnNotEquals arn eq
    ArnLike arn eq                      ArnNotLike arn eq
    Null null eq
"""
_WORDS = _TABLE.split()
_BASE = {
    _WORDS[i]: (_WORDS[i + 1], "Not" in _WORDS[i], _WORDS[i + 2]) for i in range(0, len(_WORDS), 3)
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "eq": _op.eq, "lt": _op.lt, "le": _op.le, "gt": _op.gt, "ge": _op.ge
}  # fmt: skip
_TRUE_FALSE, _BASE64, _CIDR = "'true' or 'false'", "base64", "an IP address or CIDR block"
_number = lazy_pattern(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_iso_date = lazy_pattern(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


def _parse_number(text: str) -> float | None:
    return float(text) if _number().fullmatch(text.strip()) else None


def _parse_date(text: str) -> float | None:
    """Epoch seconds from W3C ISO 8601 (date, date-time, offset) or from epoch seconds."""
    text = text.strip()
    number = _parse_number(text)
    if number is not None:
        return number
    found = _iso_date().fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    try:
        y, mo, d, h, mi, sec = (int(part or 0) for part in (year, month, day, hour, minute, second))
        moment = datetime(y, mo, d, h, mi, sec, tzinfo=timezone.utc)
    except ValueError:
        return None
    seconds = moment.timestamp() + (float("0." + fraction) if fraction else 0.0)
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        seconds -= delta.total_seconds() if offset[0] == "+" else -delta.total_seconds()
    return seconds


def _parse_bool(value: str) -> str | None:
    lowered = value.lower()
    return lowered if lowered in ("true", "false") else None


def _parse_binary(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_network(value: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _ip_in(request: str, networks: tuple[IpNetwork, ...]) -> bool:
    try:
        address = ipaddress.ip_address(request.strip())
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)


Matcher = Callable[[str, Lookup], bool]  # does one request value match any policy value?


class Condition(Frozen):
    """One (operator, key, values) test of a statement's Condition block. Strictly private."""

    __slots__ = _fields = (
        "operator",
        "key",
        "key_lower",
        "values",
        "set_operator",
        "if_exists",
        "negated",
        "is_null",
        "null_expectations",
        "matcher",
    )
    operator: str
    key: str
    key_lower: str
    values: tuple[str, ...]
    set_operator: str | None
    if_exists: bool
    negated: bool
    is_null: bool
    null_expectations: frozenset[bool]
    matcher: Matcher

    def __init__(
        self,
        operator: str,
        key: str,
        key_lower: str,
        values: tuple[str, ...],
        set_operator: str | None,
        if_exists: bool,
        negated: bool,
        is_null: bool,
        null_expectations: frozenset[bool],
        matcher: Matcher,
    ) -> None:
        put = object.__setattr__
        put(self, "operator", operator)
        put(self, "key", key)
        put(self, "key_lower", key_lower)
        put(self, "values", values)
        put(self, "set_operator", set_operator)
        put(self, "if_exists", if_exists)
        put(self, "negated", negated)
        put(self, "is_null", is_null)
        put(self, "null_expectations", null_expectations)
        put(self, "matcher", matcher)

    def test(self, lookup: Lookup) -> bool:
        """Evaluate against the request context (IAM User Guide, "Condition operators")."""
        request = lookup(self.key_lower)
        if self.is_null:
            return (request is None) in self.null_expectations
        if request is None:
            # Missing key: IfExists -> true; ForAllValues -> true; ForAnyValue -> false;
            # otherwise false for positive operators, true for negated ones (nothing matched).
            if self.if_exists or self.set_operator == "ForAllValues":
                return True
            if self.set_operator == "ForAnyValue":
                return False
            return self.negated
        if self.set_operator is None:
            if not isinstance(request, str):
                # A plain operator on a multivalued key: the set as a whole equals no policy
                # value, so it matches nothing (negated operators: nothing matched -> true).
                return self.negated
            return self.matcher(request, lookup) != self.negated
        members = (request,) if isinstance(request, str) else request
        results = (self.matcher(member, lookup) != self.negated for member in members)
        return all(results) if self.set_operator == "ForAllValues" else any(results)


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return None


def _string_matcher(family: str, templates: Sequence[Template], static: Sequence[str]) -> Matcher:
    dynamic = tuple(template for template in templates if template.has_variables)
    if family in ("string", "string_ci"):
        fold: Callable[[str], str] = str.casefold if family == "string_ci" else str
        exact = frozenset(fold(value) for value in static)

        def match_text(request: str, lookup: Lookup) -> bool:
            folded = fold(request)
            if folded in exact:
                return True
            for template in dynamic:
                text = template.resolve_text(lookup)
                if text is not None and fold(text) == folded:
                    return True
            return False

        return match_text
    # StringLike: a whole-string glob. ArnLike/ArnEquals: per ARN component (``chunk_glob``).
    arn = family == "arn"
    compiled = tuple(
        chunk_glob(template.resolve(_no_lookup) or [], arn=arn)
        for template in templates
        if not template.has_variables
    )

    def match_glob(request: str, lookup: Lookup) -> bool:
        for pattern in compiled:
            if pattern.fullmatch(request):
                return True
        for template in dynamic:
            chunks = template.resolve(lookup)
            if chunks is not None and chunk_glob(chunks, arn=arn).fullmatch(request):
                return True
        return False

    return match_glob


def _no_lookup(key: str) -> None:
    return None


def compile_condition(
    operator: str, key: str, raw: object, *, variables: bool, where: str
) -> Condition:
    """Validate and precompile one condition test; ``where`` names the statement in errors."""
    set_operator: str | None = None
    rest = operator
    for prefix in ("ForAllValues", "ForAnyValue"):
        if operator.startswith(prefix + ":"):
            set_operator, rest = prefix, operator[len(prefix) + 1 :]
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    spec = _BASE.get(base)
    if spec is None or (base == "Null" and (if_exists or set_operator)):
        msg = f"{where} uses unknown condition operator {operator!r}."
        raise PolicyError(msg)
    family, negated, comparison = spec
    if ":" not in key:
        msg = (
            f"{where}: condition key {key!r} under {operator} has no service prefix "
            "(such as 'aws:' or 'ec2:')."
        )
        raise PolicyError(msg)
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        text = _scalar(item)
        if text is None:
            msg = (
                f"{where}: condition {operator} key {key!r} has a value of type "
                f"{json_type(item)}; condition values must be strings, numbers, booleans "
                "or lists of them."
            )
            raise PolicyError(msg)
        values.append(text)

    def parsed(parse: Callable[[str], T | None], kind: str) -> list[T]:
        results = []
        for value in values:
            result = parse(value)
            if result is None:
                msg = (
                    f"{where}: condition {operator} key {key!r} has {value!r}, which is not {kind}."
                )
                raise PolicyError(msg)
            results.append(result)
        return results

    null: frozenset[bool] = frozenset()
    matcher: Matcher
    if family in ("string", "string_ci", "like", "arn"):
        templates = [parse_template(value, variables=variables) for value in values]
        static = [t.resolve_text(_no_lookup) or "" for t in templates if not t.has_variables]
        matcher = _string_matcher(family, templates, static)
    elif family in ("numeric", "date"):
        parse = _parse_number if family == "numeric" else _parse_date
        kind = "a number" if family == "numeric" else "an ISO 8601 date or epoch seconds"
        policy_numbers, compare = tuple(parsed(parse, kind)), _COMPARE[comparison]

        def match_number(request: str, lookup: Lookup) -> bool:
            number = parse(request)
            return number is not None and any(compare(number, n) for n in policy_numbers)

        matcher = match_number
    elif family in ("bool", "null"):
        flags = parsed(_parse_bool, _TRUE_FALSE)
        truths = frozenset(flags)
        null = frozenset(flag == "true" for flag in flags) if family == "null" else null
        matcher = lambda request, lookup: request.lower() in truths  # noqa: E731
    elif family == "binary":
        blobs = frozenset(parsed(_parse_binary, _BASE64))
        matcher = lambda request, lookup: _parse_binary(request) in blobs  # noqa: E731
    else:
        networks: tuple[IpNetwork, ...] = tuple(parsed(_parse_network, _CIDR))
        matcher = lambda request, lookup: _ip_in(request, networks)  # noqa: E731
    return Condition(
        operator=operator,
        key=key,
        key_lower=key.lower(),
        values=tuple(values),
        set_operator=set_operator,
        if_exists=if_exists,
        negated=negated,
        is_null=family == "null",
        null_expectations=null,
        matcher=matcher,
    )
