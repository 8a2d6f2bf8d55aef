"""Policies in the public API (SPEC §8): where documents are given, validated and explained.

``mock_keypairs(policy=..., permissions_boundary=..., session_policy=..., scps=...)``,
``backend.policy = ...``, ``backend.create_principal(policy=...)``, the call log's decisions and
``ec2_keypair_mock.evaluate``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import ec2_keypair_mock
from ec2_keypair_mock import Decision, KeyPairsBackend, PolicyError, evaluate, mock_keypairs
from tests.test_iam_e2e import (
    ALLOW_ALL,
    allow,
    arn,
    assert_denied,
    deny,
    explicit,
    implicit,
    policy,
    unauthorized,
)

CREATE_ONLY = policy(allow("ec2:CreateKeyPair"))
NO_EFFECT = policy({"Action": "ec2:*", "Resource": "*"})
NO_EFFECT_MESSAGE = 'Statement 0 has no Effect element; use "Allow" or "Deny".'
MALFORMED_IDS = ["no-effect", "unknown-operator", "action-and-notaction", "version", "json"]
MALFORMED: list[tuple[Any, str]] = [
    (NO_EFFECT, NO_EFFECT_MESSAGE),
    (
        policy(allow("ec2:*", {"StringEqualz": {"ec2:KeyPairType": "rsa"}})),
        "Statement 0 uses unknown condition operator 'StringEqualz'.",
    ),
    (
        policy({"Effect": "Allow", "Action": "ec2:*", "NotAction": "sts:*", "Resource": "*"}),
        "Statement 0 has both Action and NotAction; use exactly one of them.",
    ),
    (
        {"Version": "2012-10-18", "Statement": [ALLOW_ALL]},
        "Policy Version '2012-10-18' is not supported; use '2012-10-17' (or the legacy "
        "'2008-10-17').",
    ),
    (
        '{"Version": "2012-10-17", "Statement": [',
        "Policy document is not valid JSON: Expecting value at line 1 column 41.",
    ),
]


def _create(region: str = "us-east-1", **kwargs: Any) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=region)
    response: dict[str, Any] = ec2.create_key_pair(KeyType="ed25519", **kwargs)
    return response


def _create_denied(name: str, text: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        _create(KeyName=name)
    assert_denied(excinfo, text)


def _describe_denied(reason: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        boto3.client("ec2", region_name="us-east-1").describe_key_pairs()
    assert_denied(excinfo, unauthorized("ec2:DescribeKeyPairs", None, reason))


# -- where policies are given -------------------------------------------------------------------


def test_default_policy_allows_everything() -> None:
    """No policy: every served operation is allowed, by the built-in allow-all statement."""
    with mock_keypairs() as backend:
        pair_id = _create(KeyName="deploy")["KeyPairId"]
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_tags(Resources=[pair_id], Tags=[{"Key": "team", "Value": "blue"}])
        ec2.describe_key_pairs()
        ec2.delete_key_pair(KeyName="deploy")
        for record in backend.calls:
            assert record.decision is not None
            assert record.decision.outcome == "allowed"
            assert record.decision.statement is not None
            assert record.decision.statement.statement == ALLOW_ALL
        assert backend.policy[0].source == {"Version": "2012-10-17", "Statement": [ALLOW_ALL]}


@pytest.mark.parametrize("as_json", [False, True])
def test_policy_as_dict_or_json_text(as_json: bool) -> None:
    """``policy=`` takes a dict or its JSON text, with the same effect."""
    document: Any = json.dumps(CREATE_ONLY) if as_json else CREATE_ONLY
    with mock_keypairs(policy=document) as backend:
        _create(KeyName="deploy")
        _describe_denied(implicit("ec2:DescribeKeyPairs"))
        assert [p.name for p in backend.key_pairs()] == ["deploy"]


def test_policy_list_is_a_union() -> None:
    """Several identity policies: an Allow in any of them allows; a Deny in any denies."""
    documents = [CREATE_ONLY, policy(allow("ec2:DescribeKeyPairs"))]
    with mock_keypairs(policy=documents) as backend:
        _create(KeyName="deploy")
        boto3.client("ec2", region_name="us-east-1").describe_key_pairs()
        backend.policy = [*documents, policy(deny("ec2:Describe*"))]
        _describe_denied(explicit())


def test_policy_setter_mid_test() -> None:
    """``backend.policy = ...`` applies from the next call on; ``None`` restores allow-all."""
    with mock_keypairs() as backend:
        _create(KeyName="first")
        backend.policy = json.dumps(policy(deny("ec2:CreateKeyPair")))
        _create_denied("second", unauthorized("ec2:CreateKeyPair", arn("second"), explicit()))
        backend.policy = None
        _create(KeyName="third")
        assert [p.name for p in backend.key_pairs()] == ["first", "third"]


@pytest.mark.parametrize(("document", "message"), MALFORMED, ids=MALFORMED_IDS)
def test_rejected_setter_keeps_the_previous_policy(document: Any, message: str) -> None:
    """A malformed document raises PolicyError (a ValueError) and changes nothing."""
    with mock_keypairs(policy=CREATE_ONLY) as backend:
        before = backend.policy
        with pytest.raises(PolicyError) as excinfo:
            backend.policy = document
        assert str(excinfo.value) == f"policy: {message}"
        assert isinstance(excinfo.value, ValueError)
        assert isinstance(excinfo.value, ec2_keypair_mock.MockKeypairsError)
        assert backend.policy is before
        _create(KeyName="deploy")  # still allowed by CREATE_ONLY ...
        _describe_denied(implicit("ec2:DescribeKeyPairs"))  # ... and still only that


@pytest.mark.parametrize("argument", ["policy", "permissions_boundary", "session_policy", "scps"])
@pytest.mark.parametrize(("document", "message"), MALFORMED, ids=MALFORMED_IDS)
def test_malformed_documents_rejected_at_mock_keypairs(
    argument: str, document: Any, message: str
) -> None:
    """Every document is validated when ``mock_keypairs(...)`` is called, before any test runs.

    The message starts with the argument the bad document came from.
    """
    options: dict[str, Any] = {argument: [[document]] if argument == "scps" else document}
    with pytest.raises(PolicyError) as excinfo:
        mock_keypairs(**options)
    where = "scps[0][0]" if argument == "scps" else argument
    assert str(excinfo.value) == f"{where}: {message}"


@pytest.mark.parametrize("argument", ["policy", "permissions_boundary", "session_policy"])
def test_malformed_documents_rejected_by_create_principal(argument: str) -> None:
    """``create_principal`` validates its documents too, and registers nothing on failure."""
    with mock_keypairs() as backend:
        options: dict[str, Any] = {argument: NO_EFFECT}
        with pytest.raises(PolicyError) as excinfo:
            backend.create_principal("dev", **options)
        assert str(excinfo.value) == f"{argument}: {NO_EFFECT_MESSAGE}"
        assert backend._principals == {}


@pytest.mark.parametrize(
    "version", [{"Version": "2012-10-17"}, {"Version": "2008-10-17"}, {}], ids=str
)
def test_accepted_versions(version: dict[str, str]) -> None:
    """``2012-10-17``, ``2008-10-17`` and no Version at all are accepted."""
    with mock_keypairs(policy={**version, "Statement": [allow("ec2:CreateKeyPair")]}):
        _create(KeyName="deploy")


@pytest.mark.parametrize(("version", "allowed"), [("2012-10-17", True), ("2008-10-17", False)])
def test_policy_variables_only_in_2012_10_17(version: str, allowed: bool) -> None:
    """Under 2008-10-17 ``${aws:username}`` is literal text, so it matches no key pair ARN."""
    statement = {
        "Effect": "Allow",
        "Action": "ec2:CreateKeyPair",
        "Resource": "arn:aws:ec2:*:*:key-pair/${aws:username}-*",
    }
    with mock_keypairs(policy={"Version": version, "Statement": [statement]}) as backend:
        if allowed:
            _create(KeyName="mock-user-laptop")
            assert len(backend.key_pairs()) == 1
        else:
            _create_denied(
                "mock-user-laptop",
                unauthorized(
                    "ec2:CreateKeyPair", arn("mock-user-laptop"), implicit("ec2:CreateKeyPair")
                ),
            )


# -- permissions boundary, session policy, SCPs ------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "kind"),
    [("permissions_boundary", "permissions boundary"), ("session_policy", "session policy")],
)
def test_boundary_and_session_policy_intersect(argument: str, kind: str) -> None:
    """Both the identity policy and the boundary/session policy must allow; a Deny wins."""
    limit = policy(
        allow(["ec2:CreateKeyPair", "ec2:DescribeKeyPairs"]),
        deny("ec2:DescribeKeyPairs", Sid="NoListing"),
    )
    options: dict[str, Any] = {argument: limit}
    with mock_keypairs(**options) as backend:
        _create(KeyName="deploy")
        with pytest.raises(ClientError) as excinfo:
            boto3.client("ec2", region_name="us-east-1").delete_key_pair(KeyName="deploy")
        assert_denied(
            excinfo,
            unauthorized("ec2:DeleteKeyPair", arn("deploy"), implicit("ec2:DeleteKeyPair", kind)),
        )
        _describe_denied(explicit(f"a {kind}"))
        decision = backend.calls[-1].decision
        assert decision is not None
        assert (decision.policy_kind, decision.explicit_deny) == (kind, True)
        assert decision.statement is not None
        assert decision.statement.sid == "NoListing"
        # The identity policy still has its say: it is checked first among the Allows.
        backend.policy = policy(allow("ec2:DescribeKeyPairs"))
        _create_denied(
            "other", unauthorized("ec2:CreateKeyPair", arn("other"), implicit("ec2:CreateKeyPair"))
        )


def test_scp_levels_intersect_and_documents_in_a_level_unite() -> None:
    """``scps=[[root...], [ou...]]``: each level must allow; within a level any document may."""
    root = [policy(allow("ec2:*")), policy(allow("sts:*"))]
    ou = [policy(allow("ec2:CreateKeyPair")), policy(allow("ec2:DescribeKeyPairs"))]
    with mock_keypairs(scps=[root, ou]) as backend:
        _create(KeyName="deploy")  # root (1st doc) and OU (1st doc)
        boto3.client("ec2", region_name="us-east-1").describe_key_pairs()  # OU's 2nd doc
        with pytest.raises(ClientError) as excinfo:  # root allows ec2:*, the OU does not
            boto3.client("ec2", region_name="us-east-1").delete_key_pair(KeyName="deploy")
        assert_denied(
            excinfo,
            unauthorized(
                "ec2:DeleteKeyPair",
                arn("deploy"),
                implicit("ec2:DeleteKeyPair", "service control policy"),
            ),
        )
        assert [p.name for p in backend.key_pairs()] == ["deploy"]
    with mock_keypairs(scps=[[policy(allow("ec2:DescribeKeyPairs"))], ou]):
        _create_denied(  # the OU allows it, the root does not
            "deploy",
            unauthorized(
                "ec2:CreateKeyPair",
                arn("deploy"),
                implicit("ec2:CreateKeyPair", "service control policy"),
            ),
        )


def test_scps_without_resource_element() -> None:
    """SCP statements may leave out Resource (every resource); other kinds may not."""
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*"}]}
    with mock_keypairs(scps=[[scp]]):
        _create(KeyName="deploy")
    with pytest.raises(PolicyError) as excinfo:
        mock_keypairs(policy=scp)
    assert str(excinfo.value) == (
        "policy: Statement 0 has neither Resource nor NotResource; use exactly one of them."
    )


# -- explanations: the call log and evaluate() agree ------------------------------------------

IDENTITY = policy(
    allow(["ec2:*", "sts:*"], Sid="Everything"),
    deny("ec2:CreateKeyPair", {"StringEquals": {"ec2:KeyPairType": "rsa"}}, Sid="NoRsa"),
    deny("ec2:DeleteKeyPair", {"StringEquals": {"aws:ResourceTag/keep": "true"}}),
)
BOUNDARY = policy(allow(["ec2:CreateKeyPair", "ec2:DeleteKeyPair", "ec2:Describe*", "sts:*"]))
SCPS = [[policy(allow("*"))], [policy(deny("ec2:ImportKeyPair", Sid="NoImports"), allow("*"))]]


def _scenario(backend: KeyPairsBackend) -> None:
    """Calls whose decisions cover allowed, implicit and explicit denies of every kind."""
    backend.add_key_pair("kept", key_type="ed25519", tags={"keep": "true"})
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    ec2_home = boto3.client("ec2", region_name="us-east-1")
    attempts: list[Callable[[], Any]] = [
        lambda: ec2.create_key_pair(KeyName="ok", KeyType="ed25519"),  # allowed
        lambda: ec2.create_key_pair(KeyName="legacy", KeyType="rsa"),  # explicit, Sid NoRsa
        lambda: ec2_home.delete_key_pair(KeyName="kept"),  # explicit, statement index 2
        lambda: ec2.create_tags(  # implicit: the boundary lacks ec2:CreateTags
            Resources=[ec2.describe_key_pairs()["KeyPairs"][0]["KeyPairId"]],
            Tags=[{"Key": "a", "Value": "b"}],
        ),
        lambda: ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=b"x"),  # SCP deny
        lambda: ec2.describe_key_pairs(DryRun=True),  # allowed, 412
    ]
    for attempt in attempts:
        with contextlib.suppress(ClientError):
            attempt()


def test_call_log_explains_each_decision() -> None:
    """Each entry: the outcome, the deciding kind and statement (Sid or index)."""
    with mock_keypairs(policy=IDENTITY, permissions_boundary=BOUNDARY, scps=SCPS) as backend:
        _scenario(backend)
        explained = [
            (
                record.operation,
                record.status,
                record.decision.outcome,
                record.decision.policy_kind,
                record.decision.statement.sid if record.decision.statement else None,
                record.decision.statement.statement_index if record.decision.statement else None,
            )
            for record in backend.calls
            if record.decision is not None
        ]
    assert explained == [
        ("CreateKeyPair", 200, "allowed", None, "Everything", 0),
        ("CreateKeyPair", 403, "explicitDeny", "identity-based policy", "NoRsa", 1),
        ("DeleteKeyPair", 403, "explicitDeny", "identity-based policy", None, 2),
        ("DescribeKeyPairs", 200, "allowed", None, "Everything", 0),
        ("CreateTags", 403, "implicitDeny", "permissions boundary", None, None),
        ("ImportKeyPair", 403, "explicitDeny", "service control policy", "NoImports", 0),
        ("DescribeKeyPairs", 412, "allowed", None, "Everything", 0),
    ]


def test_evaluate_agrees_with_the_call_log() -> None:
    """For the same request, ``evaluate(...)`` returns a Decision equal to the logged one."""
    with mock_keypairs(policy=IDENTITY, permissions_boundary=BOUNDARY, scps=SCPS) as backend:
        _scenario(backend)
        decisions = [d for record in backend.calls for d in record.decisions]
    assert len(decisions) == 7
    for logged in decisions:
        assert isinstance(logged, Decision)
        again = evaluate(
            action=logged.action,
            resource=logged.resource,
            context=logged.context,
            identity=[IDENTITY],
            permissions_boundary=BOUNDARY,
            scps=SCPS,
        )
        assert again == logged
    # A changed fact changes the answer: the same request from us-east-1 without the tag.
    delete = next(d for d in decisions if d.action == "ec2:DeleteKeyPair")
    context = {k: v for k, v in delete.context.items() if not k.endswith("ResourceTag/keep")}
    assert (
        evaluate(
            action=delete.action,
            resource=delete.resource,
            context=context,
            identity=[IDENTITY],
            permissions_boundary=BOUNDARY,
            scps=SCPS,
        ).outcome
        == "allowed"
    )


def test_evaluate_is_exported_and_pure() -> None:
    """``ec2_keypair_mock.evaluate`` needs no activation and records nothing."""
    decision = ec2_keypair_mock.evaluate(
        action="ec2:CreateKeyPair",
        resource=arn("deploy"),
        context={"ec2:KeyPairType": "rsa"},
        identity=[IDENTITY],
    )
    assert decision.outcome == "explicitDeny"
    assert decision.statement is not None
    assert decision.statement.sid == "NoRsa"
    assert "evaluate" in ec2_keypair_mock.__all__
    assert "PolicyError" in ec2_keypair_mock.__all__


def test_scps_without_levels_is_a_type_error() -> None:
    """``scps=[doc]`` (a level missing) gets a sentence on the shape, not a JSON parse error.

    The type checker cannot catch it: a dict is an iterable of strings, and a string is a
    document. Today the keys ``"Version"``/``"Statement"`` are parsed as JSON text.
    """
    with pytest.raises(TypeError, match=r"scps=\[\["):
        mock_keypairs(scps=[policy(ALLOW_ALL)])
