"""Evaluation of IAM policies against one request (SPEC §8).

The decision follows the IAM User Guide's "Policy evaluation logic" for requests within a single
account: an applicable Deny in any policy is an explicit deny; otherwise every service control
policy level, the identity-based policies, the permissions boundary (when given) and the session
policy (when given) must each contain an applicable Allow; otherwise the request is implicitly
denied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from ._conditions import Lookup
from ._frozen import Frozen
from ._policy import BOUNDARY, IDENTITY, SCP, SESSION, Policy, parse_policy

__all__ = ["ContextValue", "Decision", "MatchedStatement", "PolicyLike", "decide", "evaluate"]

ContextValue = str | Sequence[str]
PolicyLike = Policy | str | Mapping[str, object]


class MatchedStatement(Frozen):
    """A statement that applied to the request (its action, resource and conditions matched).

    Attributes:
        policy_kind: ``"identity-based policy"``, ``"permissions boundary"``, ``"session
            policy"`` or ``"service control policy"``.
        policy_index: Position of the policy in its group; for SCPs, the position counted
            across all levels, root first.
        statement_index: Position of the statement in its policy.
        sid: The statement's Sid, if it has one.
        effect: ``"Allow"`` or ``"Deny"``.
        statement: The statement as written in the document.
    """

    _fields = ("policy_kind", "policy_index", "statement_index", "sid", "effect", "statement")
    policy_kind: str
    policy_index: int
    statement_index: int
    sid: str | None
    effect: str
    statement: Mapping[str, object]

    def __init__(
        self,
        policy_kind: str,
        policy_index: int,
        statement_index: int,
        sid: str | None,
        effect: str,
        statement: Mapping[str, object],
    ) -> None:
        put = object.__setattr__
        put(self, "policy_kind", policy_kind)
        put(self, "policy_index", policy_index)
        put(self, "statement_index", statement_index)
        put(self, "sid", sid)
        put(self, "effect", effect)
        put(self, "statement", statement)


class Decision(Frozen):
    """The outcome of :func:`evaluate`.

    Attributes:
        allowed: Whether the request is allowed.
        explicit_deny: Whether a Deny statement decided it.
        policy_kind: The deciding kind: for an explicit deny the kind holding the Deny, for an
            implicit deny the first kind without an Allow; None when allowed.
        statement: The deciding statement: the Deny, or the identity-based Allow that granted;
            None for an implicit deny.
        matched_statements: Every statement that applied, Deny statements first.
        action: The action evaluated.
        resource: The resource evaluated.
        context: A copy of the request context given.
    """

    __slots__ = _fields = (
        "allowed",
        "explicit_deny",
        "policy_kind",
        "statement",
        "matched_statements",
        "action",
        "resource",
        "context",
    )
    allowed: bool
    explicit_deny: bool
    policy_kind: str | None
    statement: MatchedStatement | None
    matched_statements: tuple[MatchedStatement, ...]
    action: str
    resource: str
    context: Mapping[str, ContextValue]

    def __init__(
        self,
        allowed: bool,
        explicit_deny: bool,
        policy_kind: str | None,
        statement: MatchedStatement | None,
        matched_statements: tuple[MatchedStatement, ...],
        action: str,
        resource: str,
        context: Mapping[str, ContextValue],
    ) -> None:
        put = object.__setattr__
        put(self, "allowed", allowed)
        put(self, "explicit_deny", explicit_deny)
        put(self, "policy_kind", policy_kind)
        put(self, "statement", statement)
        put(self, "matched_statements", matched_statements)
        put(self, "action", action)
        put(self, "resource", resource)
        put(self, "context", context)

    @property
    def outcome(self) -> str:
        """``"allowed"``, ``"implicitDeny"`` or ``"explicitDeny"``."""
        if self.allowed:
            return "allowed"
        return "explicitDeny" if self.explicit_deny else "implicitDeny"


@lru_cache(maxsize=256)
def _parse_text(document: str, kind: str) -> Policy:
    return parse_policy(document, kind=kind)


def _coerce(policy: PolicyLike, kind: str) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        return _parse_text(policy, kind)
    return parse_policy(policy, kind=kind)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _normalise(value: object) -> str | tuple[str, ...] | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        # An empty multivalued key carries no value: it is treated as absent.
        return tuple(_scalar(item) for item in value) or None
    return _scalar(value)


class _Context:
    """Case-insensitive request-context look-up, built on first use. Strictly private.

    Most statements (``Action``/``Resource`` only) never consult the context, so the lower-cased
    copy is made only when a condition or a policy variable asks for a key.
    """

    __slots__ = ("_lowered", "_source")

    def __init__(self, source: Mapping[str, object]) -> None:
        self._source = source
        self._lowered: dict[str, object] | None = None

    def __call__(self, key_lower: str) -> str | tuple[str, ...] | None:
        if self._lowered is None:
            self._lowered = {key.lower(): value for key, value in self._source.items()}
        value = self._lowered.get(key_lower)
        if value is None or isinstance(value, str):
            return value
        return _normalise(value)


def _scan(
    policies: Sequence[PolicyLike],
    kind: str,
    first_index: int,
    request: tuple[str, str, Lookup],
    denies: list[MatchedStatement],
    allows: list[MatchedStatement],
) -> bool:
    """Collect the applicable statements of one group; True if any Allow applied."""
    action_lower, resource, lookup = request
    allowed = False
    for offset, given in enumerate(policies):
        policy = given if isinstance(given, Policy) else _coerce(given, kind)
        for statement in policy.statements:
            if statement.actions.matches(action_lower) == statement.not_action:
                continue
            if statement.resources.matches(resource, lookup) == statement.not_resource:
                continue
            if statement.conditions and not all(c.test(lookup) for c in statement.conditions):
                continue
            # MatchedStatement is immutable: build it once per (kind, position) and reuse it.
            slot = (kind, first_index + offset)
            matched = statement.cache.get(slot)
            if matched is None:
                matched = statement.cache[slot] = MatchedStatement(
                    kind,
                    slot[1],
                    statement.index,
                    statement.sid,
                    statement.effect,
                    statement.source,
                )
            if statement.is_deny:
                denies.append(matched)
            else:
                allows.append(matched)
                allowed = True
    return allowed


def evaluate(
    *,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue],
    identity: Sequence[PolicyLike],
    permissions_boundary: PolicyLike | None = None,
    session_policy: PolicyLike | None = None,
    scps: Sequence[Sequence[PolicyLike]] = (),
) -> Decision:
    """Decide whether IAM would allow ``action`` on ``resource``, as EC2 does for the mock.

    Evaluation is pure: nothing is recorded and the policies are not changed. Policies given as
    JSON strings or mappings are parsed (and validated) on each call; parse them once with
    ``parse_policy`` when evaluating often.

    Args:
        action: The IAM action, such as ``"ec2:CreateKeyPair"`` (matched case-insensitively).
        resource: The resource ARN, or ``"*"`` for actions without resource-level permissions
            (such as ``ec2:DescribeKeyPairs``), which only ``"Resource": "*"`` grants.
        context: The request context. Key names are case-insensitive; a multivalued key (such
            as ``aws:TagKeys``) is a sequence of strings, and an empty one counts as absent.
        identity: The identity-based policies (an empty sequence allows nothing).
        permissions_boundary: The permissions boundary, if the principal has one.
        session_policy: The session policy, if the session has one.
        scps: Service control policy levels, root first; each level is the list of SCPs
            attached there, and each level must allow the request.

    Returns:
        A :class:`Decision`. On an explicit deny, ``policy_kind`` is the first kind, in IAM's
        evaluation order (SCPs, identity-based policies, permissions boundary, session policy),
        holding an applicable Deny; on an implicit deny, the first kind in that order without an
        applicable Allow.

    Raises:
        PolicyError: A policy given as a string or mapping is malformed.
        TypeError: ``identity`` is a single policy, or ``scps`` is not a list of levels.

    Example (``evaluate`` is exported as ``ec2_keypair_mock.evaluate``)::

        >>> policy = {
        ...     "Version": "2012-10-17",
        ...     "Statement": [{"Effect": "Allow", "Action": "ec2:*KeyPair*", "Resource": "*"}],
        ... }
        >>> decision = evaluate(
        ...     action="ec2:CreateKeyPair",
        ...     resource="arn:aws:ec2:us-east-1:123456789012:key-pair/deploy-key",
        ...     context={"aws:RequestedRegion": "us-east-1"},
        ...     identity=[policy],
        ... )
        >>> decision.outcome
        'allowed'
        >>> evaluate(action="ec2:DeleteKeyPair", resource="*", context={}, identity=[]).outcome
        'implicitDeny'
    """
    return decide(
        action,
        resource,
        dict(context),
        identity,
        permissions_boundary=permissions_boundary,
        session_policy=session_policy,
        scps=scps,
    )


# One-statement results, by the statement: most decisions have exactly one applicable statement,
# and the call log keeps every decision, so the same one-element tuple is handed out each time.
# Each entry holds its statement, so an id is never reused while its entry exists.
_SINGLES: dict[int, tuple[MatchedStatement]] = {}
_MAX_SINGLES = 4096


def _matched(
    denies: list[MatchedStatement], allows: list[MatchedStatement]
) -> tuple[MatchedStatement, ...]:
    if len(denies) + len(allows) != 1:
        return tuple(denies + allows)
    only = denies[0] if denies else allows[0]
    single = _SINGLES.get(id(only))
    if single is None:
        if len(_SINGLES) >= _MAX_SINGLES:
            _SINGLES.clear()
        single = _SINGLES[id(only)] = (only,)
    return single


def decide(
    action: str,
    resource: str,
    given_context: Mapping[str, ContextValue],
    identity: Sequence[PolicyLike],
    *,
    permissions_boundary: PolicyLike | None = None,
    session_policy: PolicyLike | None = None,
    scps: Sequence[Sequence[PolicyLike]] = (),
) -> Decision:
    """:func:`evaluate` for a context dict the caller hands over (kept, not copied).

    Strictly private: the dispatcher builds a fresh context per check, so copying it again
    would only double what every call-log entry keeps alive.
    """
    if isinstance(identity, str | Mapping | Policy):
        msg = "evaluate(identity=...) takes a sequence of policies; wrap a single policy in a list."
        raise TypeError(msg)
    request = (action.lower(), resource, _Context(given_context))
    denies: list[MatchedStatement] = []
    allows: list[MatchedStatement] = []
    missing: list[str] = []  # kinds lacking an Allow, in IAM's evaluation order

    scp_index = 0
    scp_ok = True
    for level in scps:
        if isinstance(level, str | Mapping | Policy):
            msg = (
                "evaluate(scps=...) takes a list of levels, root first, each a list of policies; "
                "for one SCP attached at one level, pass [[scp]]."
            )
            raise TypeError(msg)
        if not _scan(level, SCP, scp_index, request, denies, allows):
            scp_ok = False
        scp_index += len(level)
    if not scp_ok:
        missing.append(SCP)
    if not _scan(identity, IDENTITY, 0, request, denies, allows):
        missing.append(IDENTITY)
    for kind, extra in ((BOUNDARY, permissions_boundary), (SESSION, session_policy)):
        if extra is not None and not _scan((extra,), kind, 0, request, denies, allows):
            missing.append(kind)

    matched = _matched(denies, allows)
    if denies:
        deciding = denies[0]
        return Decision(
            False, True, deciding.policy_kind, deciding, matched, action, resource, given_context
        )
    if missing:
        return Decision(False, False, missing[0], None, matched, action, resource, given_context)
    granted = next(m for m in allows if m.policy_kind == IDENTITY)
    return Decision(True, False, None, granted, matched, action, resource, given_context)
