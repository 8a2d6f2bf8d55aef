"""Properties of the fake IAM evaluator that hold for every valid policy (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2_keypair_mock._evaluate import Decision, evaluate

KP = "arn:aws:ec2:us-east-1:123456789012:key-pair/"
ACTIONS = ["ec2:CreateKeyPair", "ec2:DeleteKeyPair", "ec2:DescribeKeyPairs", "ec2:CreateTags"]
ACTION_PATTERNS = [
    *ACTIONS,
    "*",
    "ec2:*",
    "ec2:*KeyPair",
    "EC2:create*",
    "ec2:Describe?eyPairs",
    "s3:*",
]
RESOURCES = [
    "*",
    KP + "deploy-key",
    KP + "alice-key",
    "arn:aws:ec2:eu-west-1:123456789012:key-pair/x",
]
RESOURCE_PATTERNS = [
    "*",
    KP + "*",
    KP + "deploy-key",
    KP + "${aws:username}-*",
    KP + "${aws:PrincipalTag/team, 'ops'}-?ey",
    "arn:aws:ec2:*:*:key-pair/*",
    "arn:aws:s3:::*",
]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
    {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
    {"StringLikeIfExists": {"aws:RequestTag/Team": "blue*"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    {"ForAnyValue:StringNotLike": {"aws:TagKeys": "t*"}},
    {"Null": {"aws:RequestTag/team": "true"}},
    {"Bool": {"aws:SecureTransport": "false"}},
    {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}},
    {"StringEquals": {"ec2:ResourceTag/Owner": "${aws:username}"}},
]
CONTEXT_KEYS: dict[str, Any] = {
    "aws:RequestedRegion": st.sampled_from(["us-east-1", "eu-west-1"]),
    "aws:RequestTag/team": st.sampled_from(["blue", "bluegreen", "red"]),
    "aws:TagKeys": st.lists(st.sampled_from(["team", "env", "cost"]), max_size=3, unique=True),
    "aws:SecureTransport": st.sampled_from(["true", "false"]),
    "aws:MultiFactorAuthAge": st.sampled_from(["60", "7200"]),
    "aws:CurrentTime": st.sampled_from(["2023-06-01T00:00:00Z", "2024-06-01T00:00:00Z"]),
    "aws:SourceIp": st.sampled_from(["10.1.2.3", "203.0.113.9", "2001:db8::1"]),
    "aws:PrincipalArn": st.sampled_from(["arn:aws:iam::1:user/alice", "arn:aws:iam::1:role/x"]),
    "aws:username": st.sampled_from(["alice", "deploy"]),
    "aws:PrincipalTag/team": st.sampled_from(["ops", "dev"]),
    "ec2:ResourceTag/owner": st.sampled_from(["alice", "bob"]),
}


def one_or_many(values: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=3)
    )


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(one_or_many(ACTION_PATTERNS))
    statement[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(
        one_or_many(RESOURCE_PATTERNS)
    )
    chosen = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2))
    block: dict[str, dict[str, Any]] = {}
    for item in chosen:
        for operator, tests in item.items():
            block.setdefault(operator, {}).update(tests)
    if block:
        statement["Condition"] = block
    return statement


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17"]))
    return {"Version": version, "Statement": draw(st.lists(statements(), min_size=1, max_size=4))}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(CONTEXT_KEYS)), unique=True))
    context = {key: draw(CONTEXT_KEYS[key]) for key in keys}
    return {
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": draw(st.sampled_from(RESOURCES)),
        "context": context,
    }


@st.composite
def setups(draw: st.DrawFn) -> dict[str, Any]:
    """Identity policies plus, sometimes, a boundary, a session policy and SCP levels."""
    setup: dict[str, Any] = {"identity": draw(st.lists(policies(), max_size=3))}
    if draw(st.booleans()):
        setup["permissions_boundary"] = draw(policies())
    if draw(st.booleans()):
        setup["session_policy"] = draw(policies())
    if draw(st.booleans()):
        setup["scps"] = draw(st.lists(st.lists(policies(), max_size=2), min_size=1, max_size=2))
    return setup


def run(request: dict[str, Any], setup: dict[str, Any]) -> Decision:
    return evaluate(**request, **setup)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(requests(), setups(), statements(effect="Deny"), st.data())
def test_adding_a_deny_never_allows(
    request: dict[str, Any], setup: dict[str, Any], deny: dict[str, Any], data: st.DataObject
) -> None:
    """A denied request stays denied, and an explicit deny stays explicit, after adding a Deny."""
    before = run(request, setup)
    where = data.draw(st.sampled_from(["identity", "permissions_boundary", "session_policy"]))
    grown = dict(setup)
    if where == "identity":
        grown["identity"] = [*setup["identity"], {"Version": "2012-10-17", "Statement": [deny]}]
    elif where in setup:
        document = setup[where]
        grown[where] = {**document, "Statement": [*document["Statement"], deny]}
    after = run(request, grown)
    if not before.allowed:
        assert not after.allowed
    if before.explicit_deny:
        assert after.explicit_deny


@PROPERTY
@given(requests(), setups(), statements(effect="Allow"))
def test_adding_an_allow_never_denies(
    request: dict[str, Any], setup: dict[str, Any], allow: dict[str, Any]
) -> None:
    """An allowed request stays allowed after adding an Allow statement to any policy."""
    before = run(request, setup)
    grown = dict(setup)
    grown["identity"] = [*setup["identity"], {"Version": "2012-10-17", "Statement": [allow]}]
    for where in ("permissions_boundary", "session_policy"):
        if where in setup:
            document = setup[where]
            grown[where] = {**document, "Statement": [*document["Statement"], allow]}
    after = run(request, grown)
    if before.allowed:
        assert after.allowed


@PROPERTY
@given(requests(), setups(), st.randoms(use_true_random=False))
def test_decision_does_not_depend_on_order(
    request: dict[str, Any], setup: dict[str, Any], rng: Any
) -> None:
    """Shuffling statements and identity policies changes neither outcome nor deciding kind."""

    def shuffled(document: dict[str, Any]) -> dict[str, Any]:
        statements_copy = list(document["Statement"])
        rng.shuffle(statements_copy)
        return {**document, "Statement": statements_copy}

    before = run(request, setup)
    reordered: dict[str, Any] = {"identity": [shuffled(p) for p in setup["identity"]]}
    rng.shuffle(reordered["identity"])
    for where in ("permissions_boundary", "session_policy"):
        if where in setup:
            reordered[where] = shuffled(setup[where])
    if "scps" in setup:
        reordered["scps"] = [[shuffled(p) for p in level] for level in setup["scps"]]
    after = run(request, reordered)
    assert (after.outcome, after.policy_kind) == (before.outcome, before.policy_kind)
    assert sorted(m.effect for m in after.matched_statements) == sorted(
        m.effect for m in before.matched_statements
    )


@PROPERTY
@given(requests(), setups())
def test_decision_is_consistent(request: dict[str, Any], setup: dict[str, Any]) -> None:
    """Evaluation never raises on valid policies, and its fields agree with each other."""
    decision = run(request, setup)
    assert decision.outcome in ("allowed", "implicitDeny", "explicitDeny")
    if decision.allowed:
        assert decision.policy_kind is None
        assert decision.statement is not None
        assert decision.statement.effect == "Allow"
        assert all(m.effect == "Allow" for m in decision.matched_statements)
    elif decision.explicit_deny:
        assert decision.statement is not None
        assert decision.statement == decision.matched_statements[0]
        assert decision.statement.effect == "Deny"
    else:
        assert decision.statement is None
        assert decision.policy_kind is not None
        assert all(m.effect == "Allow" for m in decision.matched_statements)
    effects = [m.effect for m in decision.matched_statements]
    assert effects == sorted(effects, key=lambda effect: effect != "Deny")  # Deny first
