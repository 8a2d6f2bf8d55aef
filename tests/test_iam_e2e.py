"""The fake IAM end to end through real boto3 clients (SPEC §8): request context, answers, decode.

Every denial asserts the exact ``UnauthorizedOperation`` text (and its status); every request
context is checked both by reading ``backend.calls[-1].decision.context`` and by a policy
condition that allows or denies on it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from tests.helpers import assert_client_error

ACCOUNT = "123456789012"
USER = f"arn:aws:iam::{ACCOUNT}:user/mock-user"
DENIED = (
    "You are not authorized to perform this operation. User: {who} is not authorized to perform: "
)
ENCODED = ". Encoded authorization failure message: "
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")
ALLOW_ALL: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def arn(name: str, region: str = "us-east-1", account: str = ACCOUNT) -> str:
    """A key pair's IAM resource ARN."""
    return f"arn:aws:ec2:{region}:{account}:key-pair/{name}"


def policy(*statements: Mapping[str, Any]) -> dict[str, Any]:
    """A 2012-10-17 policy document."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    action: str | list[str], condition: Mapping[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """An Allow statement on every resource (optionally conditioned)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*", **extra}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def deny(
    action: str | list[str], condition: Mapping[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A Deny statement on every resource (optionally conditioned)."""
    return {**allow(action, condition, **extra), "Effect": "Deny"}


def unauthorized(
    action: str,
    resource: str | None,
    reason: str,
    who: str = USER,
) -> str:
    """EC2's UnauthorizedOperation text up to (not including) the encoded message.

    ``reason`` is either ``"because no <kind> allows the <action> action"`` or
    ``"with an explicit deny in <a kind>"``; ``resource`` None is the ``*``-only form.
    """
    text = DENIED.format(who=who) + action
    if resource is not None:
        text += f" on resource: {resource}"
    return f"{text} {reason}"


def implicit(action: str, kind: str = "identity-based policy") -> str:
    """The implicit-deny reason for ``action``."""
    return f"because no {kind} allows the {action} action"


def explicit(kind: str = "an identity-based policy") -> str:
    """The explicit-deny reason."""
    return f"with an explicit deny in {kind}"


def assert_denied(excinfo: pytest.ExceptionInfo[ClientError], text: str) -> str | None:
    """403 UnauthorizedOperation whose message is ``text`` (+ the encoded message, returned).

    The ``*``-only Describe form has no encoded message: pass ``text`` from
    :func:`unauthorized` with ``resource=None`` and the message must be exactly ``text``.
    """
    error = excinfo.value.response
    assert error["Error"]["Code"] == "UnauthorizedOperation"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(error["ResponseMetadata"]["RequestId"]) == 36
    message: str = error["Error"]["Message"]
    if " on resource: " not in text:
        assert message == text
        return None
    assert message.startswith(text + ENCODED), message
    token = message[len(text + ENCODED) :]
    assert TOKEN.fullmatch(token), token
    return token


def decode(token: str, region: str = "us-east-1", **credentials: Any) -> dict[str, Any]:
    """The DecodedMessage of ``token``, through a real boto3 STS client served by the mock."""
    sts = boto3.client("sts", region_name=region, **credentials)
    response = sts.decode_authorization_message(EncodedMessage=token)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    decoded: dict[str, Any] = json.loads(response["DecodedMessage"])
    return decoded


def tag_spec(**tags: str) -> list[dict[str, Any]]:
    """One TagSpecification for a key pair."""
    return [{"ResourceType": "key-pair", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def public_key() -> bytes:
    """A fresh OpenSSH ed25519 public key line."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


# -- §8 table: the request context of each operation ------------------------------------------

COMMON = {
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:userid",
    "aws:username",
    "ec2:Region",
}


def test_every_call_carries_the_common_keys(backend: KeyPairsBackend) -> None:
    """Region, caller, time, transport and source keys, with the values IAM would give."""
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    before = int(time.time())
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    after = int(time.time())
    context = backend.calls[-1].decision.context  # type: ignore[union-attr]  # authorized call
    assert set(context) == COMMON | {"ec2:KeyPairType"}
    caller = backend.caller
    assert context["aws:RequestedRegion"] == context["ec2:Region"] == "eu-west-1"
    assert context["aws:PrincipalAccount"] == ACCOUNT
    assert context["aws:PrincipalArn"] == USER
    assert context["aws:PrincipalType"] == "User"
    assert context["aws:userid"] == caller.user_id
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", caller.user_id)
    assert context["aws:username"] == "mock-user"
    assert context["aws:SecureTransport"] == "true"
    assert context["aws:SourceIp"] == "127.0.0.1"
    epoch = int(str(context["aws:EpochTime"]))
    assert before <= epoch <= after
    assert context["aws:CurrentTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@pytest.mark.parametrize(
    ("operator", "key", "good", "bad"),
    [
        ("StringEquals", "aws:RequestedRegion", "eu-west-1", "us-east-1"),
        ("StringEquals", "ec2:Region", "eu-west-1", "us-east-1"),
        ("StringEquals", "aws:PrincipalAccount", ACCOUNT, "210987654321"),
        ("ArnEquals", "aws:PrincipalArn", USER, f"arn:aws:iam::{ACCOUNT}:user/other"),
        ("StringEquals", "aws:PrincipalType", "User", "AssumedRole"),
        ("StringLike", "aws:userid", "AIDA*", "AROA*"),
        ("StringEquals", "aws:username", "mock-user", "other"),
        ("Bool", "aws:SecureTransport", "true", "false"),
        ("IpAddress", "aws:SourceIp", "127.0.0.0/8", "10.0.0.0/8"),
        ("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
        ("NumericGreaterThan", "aws:EpochTime", "1577836800", "32503680000"),
    ],
)
def test_common_keys_drive_conditions(operator: str, key: str, good: str, bad: str) -> None:
    """A condition on each common key allows when it matches and denies (implicitly) when not."""
    document = policy(allow("ec2:CreateKeyPair", {operator: {key: good}}))
    with mock_keypairs(policy=document) as backend:
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
        backend.policy = policy(allow("ec2:CreateKeyPair", {operator: {key: bad}}))
        with pytest.raises(ClientError) as excinfo:
            ec2.create_key_pair(KeyName="second", KeyType="ed25519")
        assert_denied(
            excinfo,
            unauthorized(
                "ec2:CreateKeyPair", arn("second", "eu-west-1"), implicit("ec2:CreateKeyPair")
            ),
        )
        assert [pair.name for pair in backend.key_pairs(region="eu-west-1")] == ["deploy"]


def _only(backend: KeyPairsBackend) -> dict[str, Any]:
    """The last call's single decision as (action, resource, call-specific context)."""
    record = backend.calls[-1]
    assert record.decision is not None
    assert len(record.decisions) == 1
    decision = record.decision
    return {
        "action": decision.action,
        "resource": decision.resource,
        "extra": {k: v for k, v in decision.context.items() if k not in COMMON},
    }


def test_create_key_pair_context(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """CreateKeyPair: the pair's ARN, ec2:KeyPairType (default rsa); no tag keys without tags."""
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert _only(backend) == {
        "action": "ec2:CreateKeyPair",
        "resource": arn("deploy"),
        "extra": {"ec2:KeyPairType": "ed25519"},
    }
    ec2.create_key_pair(KeyName="legacy", DryRun=False, KeyFormat="pem", KeyType="rsa")
    assert _only(backend)["extra"] == {"ec2:KeyPairType": "rsa"}
    with pytest.raises(ClientError):  # DryRun: no key generated, context still complete
        ec2.create_key_pair(KeyName="default-type", DryRun=True)
    assert _only(backend)["extra"] == {"ec2:KeyPairType": "rsa"}


def test_tagged_create_makes_a_second_create_tags_check(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """With tags, ec2:CreateTags is checked too, with ec2:CreateAction and the same tag keys."""
    ec2.create_key_pair(
        KeyName="deploy", KeyType="ed25519", TagSpecifications=tag_spec(team="blue", env="ci")
    )
    record = backend.calls[-1]
    first, second = record.decisions
    tag_keys = {
        "aws:RequestTag/team": "blue",
        "aws:RequestTag/env": "ci",
        "aws:TagKeys": ["team", "env"],
    }
    assert (first.action, first.resource) == ("ec2:CreateKeyPair", arn("deploy"))
    assert {k: v for k, v in first.context.items() if k not in COMMON} == {
        "ec2:KeyPairType": "ed25519",
        **tag_keys,
    }
    assert (second.action, second.resource) == ("ec2:CreateTags", arn("deploy"))
    assert {k: v for k, v in second.context.items() if k not in COMMON} == {
        "ec2:CreateAction": "CreateKeyPair",
        **tag_keys,
    }
    # Both checks of one call share its time keys; the log's decision is the operation's own.
    assert first.context["aws:CurrentTime"] == second.context["aws:CurrentTime"]
    assert record.decision is first


def test_tag_specification_without_tags_needs_no_create_tags(backend: KeyPairsBackend) -> None:
    """An empty TagSpecification tags nothing: one check, no tag keys, no ec2:CreateTags needed."""
    backend.policy = policy(allow("ec2:CreateKeyPair"))
    ec2 = boto3.client("ec2", region_name="us-east-1")
    response = ec2.create_key_pair(
        KeyName="deploy",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": []}],
    )
    assert "Tags" not in response
    assert _only(backend)["extra"] == {"ec2:KeyPairType": "ed25519"}


def test_import_key_pair_context(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """ImportKeyPair: the pair's ARN, no ec2:KeyPairType; tags add the CreateTags check."""
    ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=public_key())
    assert _only(backend) == {"action": "ec2:ImportKeyPair", "resource": arn("laptop"), "extra": {}}
    ec2.import_key_pair(
        KeyName="tagged", PublicKeyMaterial=public_key(), TagSpecifications=tag_spec(team="blue")
    )
    first, second = backend.calls[-1].decisions
    assert (first.action, second.action) == ("ec2:ImportKeyPair", "ec2:CreateTags")
    assert first.context["aws:TagKeys"] == ["team"]
    assert second.context["ec2:CreateAction"] == "ImportKeyPair"
    assert second.context["aws:RequestTag/team"] == "blue"
    assert "ec2:CreateAction" not in first.context


def test_describe_operations_are_authorized_against_star(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """DescribeKeyPairs and DescribeTags: resource ``*``, no call-specific keys."""
    ec2.describe_key_pairs()
    assert _only(backend) == {"action": "ec2:DescribeKeyPairs", "resource": "*", "extra": {}}
    ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["key-pair"]}])
    assert _only(backend) == {"action": "ec2:DescribeTags", "resource": "*", "extra": {}}


def test_delete_key_pair_context(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """DeleteKeyPair: the pair's ARN (by name or id), name, type and both resource-tag forms."""
    pair = ec2.create_key_pair(
        KeyName="deploy", KeyType="ed25519", TagSpecifications=tag_spec(owner="alice")
    )
    ec2.delete_key_pair(KeyPairId=pair["KeyPairId"], DryRun=False)
    assert _only(backend) == {
        "action": "ec2:DeleteKeyPair",
        "resource": arn("deploy"),
        "extra": {
            "ec2:KeyPairName": "deploy",
            "ec2:KeyPairType": "ed25519",
            "aws:ResourceTag/owner": "alice",
            "ec2:ResourceTag/owner": "alice",
        },
    }
    ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=public_key())
    ec2.delete_key_pair(KeyName="laptop")
    assert _only(backend)["extra"] == {"ec2:KeyPairName": "laptop", "ec2:KeyPairType": "ed25519"}


def test_delete_missing_pair_is_authorized_against_its_name(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """A missing pair [dec]: resource ``key-pair/<KeyName>``, no resource keys."""
    ec2.delete_key_pair(KeyName="ghost")
    assert _only(backend) == {"action": "ec2:DeleteKeyPair", "resource": arn("ghost"), "extra": {}}


def test_create_and_delete_tags_context(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """CreateTags/DeleteTags on a pair: request tags, resource tags, name and type."""
    pair_id = ec2.create_key_pair(
        KeyName="deploy", KeyType="ed25519", TagSpecifications=tag_spec(owner="alice")
    )["KeyPairId"]
    ec2.create_tags(Resources=[pair_id], Tags=[{"Key": "team", "Value": "blue"}])
    resource_keys = {
        "ec2:KeyPairName": "deploy",
        "ec2:KeyPairType": "ed25519",
        "aws:ResourceTag/owner": "alice",
        "ec2:ResourceTag/owner": "alice",
    }
    assert _only(backend) == {
        "action": "ec2:CreateTags",
        "resource": arn("deploy"),
        "extra": {**resource_keys, "aws:RequestTag/team": "blue", "aws:TagKeys": ["team"]},
    }
    ec2.delete_tags(Resources=[pair_id], Tags=[{"Key": "team", "Value": "blue"}])
    assert _only(backend) == {
        "action": "ec2:DeleteTags",
        "resource": arn("deploy"),
        "extra": {
            **resource_keys,
            "aws:ResourceTag/team": "blue",
            "ec2:ResourceTag/team": "blue",
            "aws:RequestTag/team": "blue",
            "aws:TagKeys": ["team"],
        },
    }


@pytest.mark.parametrize(
    ("operation", "condition", "allowed", "denied"),
    [
        ("DeleteKeyPair", {"StringLike": {"ec2:KeyPairName": "dev-*"}}, "dev-a", "prod-b"),
        ("DeleteKeyPair", {"StringEquals": {"ec2:KeyPairType": "ed25519"}}, "dev-a", "prod-b"),
        ("DeleteKeyPair", {"StringEquals": {"ec2:ResourceTag/owner": "alice"}}, "dev-a", "prod-b"),
        ("DeleteKeyPair", {"StringEquals": {"aws:ResourceTag/owner": "bob"}}, "prod-b", "dev-a"),
        ("CreateTags", {"StringEquals": {"aws:ResourceTag/owner": "alice"}}, "dev-a", "prod-b"),
        ("CreateTags", {"StringEquals": {"ec2:KeyPairType": "rsa"}}, "prod-b", "dev-a"),
        ("DeleteTags", {"StringLike": {"ec2:KeyPairName": "prod-*"}}, "prod-b", "dev-a"),
        ("DeleteTags", {"StringEquals": {"ec2:ResourceTag/owner": "alice"}}, "dev-a", "prod-b"),
    ],
)
def test_resource_keys_drive_conditions(
    operation: str, condition: dict[str, Any], allowed: str, denied: str
) -> None:
    """Name, type and resource tags of the target pair decide Delete/CreateTags/DeleteTags."""
    document = policy(allow(f"ec2:{operation}", condition))
    with mock_keypairs(policy=document) as backend:
        ids = {
            "dev-a": backend.add_key_pair("dev-a", key_type="ed25519", tags={"owner": "alice"}),
            "prod-b": backend.add_key_pair("prod-b", key_type="rsa", tags={"owner": "bob"}),
        }
        ec2 = boto3.client("ec2", region_name="us-east-1")
        calls: dict[str, Callable[[str], Any]] = {
            "DeleteKeyPair": lambda name: ec2.delete_key_pair(KeyName=name, DryRun=True),
            "CreateTags": lambda name: ec2.create_tags(
                Resources=[ids[name].key_pair_id], Tags=[{"Key": "t", "Value": "v"}], DryRun=True
            ),
            "DeleteTags": lambda name: ec2.delete_tags(
                Resources=[ids[name].key_pair_id], DryRun=True
            ),
        }
        call = calls[operation]
        with pytest.raises(ClientError) as excinfo:
            call(allowed)
        assert excinfo.value.response["Error"]["Code"] == "DryRunOperation"
        with pytest.raises(ClientError) as excinfo:
            call(denied)
        action = f"ec2:{operation}"
        assert_denied(excinfo, unauthorized(action, arn(denied), implicit(action)))


@pytest.mark.parametrize(
    ("operation", "tags", "allowed"),
    [
        ("CreateTags", {"team": "blue"}, True),
        ("CreateTags", {"team": "red"}, False),
        ("CreateTags", {"team": "blue", "cost": "1"}, False),
        ("DeleteTags", {"tmp-build": ""}, True),
        ("DeleteTags", {"tmp-build": "", "owner": ""}, False),
        # IAM's documented pitfall: no keys at all makes ForAllValues true (deletes every tag).
        ("DeleteTags", {}, True),
    ],
)
def test_request_tag_keys_drive_conditions(
    operation: str, tags: dict[str, str], allowed: bool
) -> None:
    """aws:RequestTag/<k> and aws:TagKeys (ForAllValues) on CreateTags and DeleteTags."""
    document = policy(
        allow(
            "ec2:CreateTags",
            {
                "StringEquals": {"aws:RequestTag/team": "blue"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
            },
        ),
        allow("ec2:DeleteTags", {"ForAllValues:StringLike": {"aws:TagKeys": "tmp-*"}}),
    )
    with mock_keypairs(policy=document) as backend:
        pair = backend.add_key_pair("deploy", key_type="ed25519", tags={"owner": "alice"})
        ec2 = boto3.client("ec2", region_name="us-east-1")
        method = ec2.create_tags if operation == "CreateTags" else ec2.delete_tags
        kwargs: dict[str, Any] = {"Resources": [pair.key_pair_id]}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        with pytest.raises(ClientError) as excinfo:
            method(DryRun=True, **kwargs)
        if allowed:
            assert excinfo.value.response["Error"]["Code"] == "DryRunOperation"
            return
        action = f"ec2:{operation}"
        assert_denied(excinfo, unauthorized(action, arn("deploy"), implicit(action)))


def test_import_key_pair_request_tags_drive_conditions() -> None:
    """ImportKeyPair carries the request tags too; its CreateTags check names ImportKeyPair."""
    document = policy(
        allow("ec2:ImportKeyPair", {"StringEquals": {"aws:RequestTag/team": "blue"}}),
        allow("ec2:CreateTags", {"StringEquals": {"ec2:CreateAction": "ImportKeyPair"}}),
    )
    with mock_keypairs(policy=document) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.import_key_pair(
            KeyName="laptop",
            PublicKeyMaterial=public_key(),
            TagSpecifications=tag_spec(team="blue"),
        )
        with pytest.raises(ClientError) as excinfo:
            ec2.import_key_pair(
                KeyName="other",
                PublicKeyMaterial=public_key(),
                TagSpecifications=tag_spec(team="red"),
            )
        assert_denied(
            excinfo, unauthorized("ec2:ImportKeyPair", arn("other"), implicit("ec2:ImportKeyPair"))
        )
        assert [p.name for p in backend.key_pairs()] == ["laptop"]


# -- §8 answers: DryRun, denials, nothing changes ---------------------------------------------


def _calls(ec2: BaseClient, pair_id: str) -> dict[str, Any]:
    return {
        "CreateKeyPair": lambda **kw: ec2.create_key_pair(KeyName="new", KeyType="ed25519", **kw),
        "ImportKeyPair": lambda **kw: ec2.import_key_pair(
            KeyName="new", PublicKeyMaterial=public_key(), **kw
        ),
        "DescribeKeyPairs": lambda **kw: ec2.describe_key_pairs(**kw),
        "DeleteKeyPair": lambda **kw: ec2.delete_key_pair(KeyPairId=pair_id, **kw),
        "CreateTags": lambda **kw: ec2.create_tags(
            Resources=[pair_id], Tags=[{"Key": "team", "Value": "red"}], **kw
        ),
        "DeleteTags": lambda **kw: ec2.delete_tags(Resources=[pair_id], **kw),
        "DescribeTags": lambda **kw: ec2.describe_tags(
            Filters=[{"Name": "resource-type", "Values": ["key-pair"]}], **kw
        ),
    }


OPERATIONS = [
    "CreateKeyPair",
    "ImportKeyPair",
    "DescribeKeyPairs",
    "DeleteKeyPair",
    "CreateTags",
    "DeleteTags",
    "DescribeTags",
]


def _snapshot(backend: KeyPairsBackend) -> list[tuple[str, str, dict[str, str]]]:
    return [(p.name, p.key_pair_id, dict(p.tags)) for p in backend.key_pairs()]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_dry_run_allowed_is_412_and_changes_nothing(operation: str) -> None:
    """DryRun + allowed → 412 DryRunOperation, for every served operation; state unchanged."""
    with mock_keypairs() as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        pair_id = backend.add_key_pair(
            "deploy", key_type="ed25519", tags={"team": "blue"}
        ).key_pair_id
        before = _snapshot(backend)
        with pytest.raises(ClientError) as excinfo:
            _calls(ec2, pair_id)[operation](DryRun=True)
        assert_client_error(
            excinfo, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
        )
        assert _snapshot(backend) == before
        record = backend.calls[-1]
        assert record.dry_run
        assert record.status == 412
        assert record.decision is not None
        assert record.decision.allowed


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_denied_is_403_with_aws_text_and_changes_nothing(operation: str, dry_run: bool) -> None:
    """Denied, DryRun or not → 403 UnauthorizedOperation with AWS's text; state unchanged."""
    with mock_keypairs(policy=policy(allow("sts:*"))) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        pair_id = backend.add_key_pair(
            "deploy", key_type="ed25519", tags={"team": "blue"}
        ).key_pair_id
        before = _snapshot(backend)
        with pytest.raises(ClientError) as excinfo:
            _calls(ec2, pair_id)[operation](DryRun=dry_run)
        action = f"ec2:{operation}"
        resource = {
            "CreateKeyPair": arn("new"),
            "ImportKeyPair": arn("new"),
            "DescribeKeyPairs": None,
            "DescribeTags": None,
        }.get(operation, arn("deploy"))
        token = assert_denied(excinfo, unauthorized(action, resource, implicit(action)))
        assert _snapshot(backend) == before
        decision = backend.calls[-1].decision
        assert decision is not None
        assert decision.outcome == "implicitDeny"
        if token is not None:
            decoded = decode(token)
            assert decoded["context"]["action"] == action
            assert decoded["context"]["resource"] == resource


def test_describe_explicit_deny_has_no_resource_and_no_token(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """The ``*``-only form for an explicit deny too [dec]."""
    backend.policy = policy(ALLOW_ALL, deny("ec2:Describe*"))
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_key_pairs(DryRun=True)
    assert_denied(excinfo, unauthorized("ec2:DescribeKeyPairs", None, explicit()))


def test_denied_create_with_tags_creates_nothing(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """The second (CreateTags) check failing leaves no pair behind: tagging on create is atomic."""
    backend.policy = policy(allow("ec2:CreateKeyPair"))
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519", TagSpecifications=tag_spec(a="b"))
    assert_denied(
        excinfo, unauthorized("ec2:CreateTags", arn("deploy"), implicit("ec2:CreateTags"))
    )
    assert backend.key_pairs() == []
    record = backend.calls[-1]
    assert [d.outcome for d in record.decisions] == ["allowed", "implicitDeny"]
    assert record.decision is record.decisions[1]


# -- STS DecodeAuthorizationMessage ------------------------------------------------------------


def test_decoded_message_has_aws_shape(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """The token decodes (through boto3's STS client) to AWS's JSON with the whole context."""
    backend.policy = policy(
        ALLOW_ALL,
        deny("ec2:CreateKeyPair", {"StringEquals": {"ec2:KeyPairType": "rsa"}}, Sid="NoRsa"),
    )
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="legacy", KeyType="rsa")
    token = assert_denied(excinfo, unauthorized("ec2:CreateKeyPair", arn("legacy"), explicit()))
    assert token is not None
    context = backend.calls[-1].decision.context  # type: ignore[union-attr]  # denied call
    decoded = decode(token)
    caller = backend.caller
    assert decoded == {
        "allowed": False,
        "explicitDeny": True,
        "matchedStatements": {
            "items": [
                {
                    "statementId": "NoRsa",
                    "effect": "DENY",
                    "principals": {"items": [{"value": caller.user_id}]},
                    "principalGroups": {"items": []},
                    "actions": {"items": [{"value": "ec2:CreateKeyPair"}]},
                    "resources": {"items": [{"value": "*"}]},
                    "conditions": {
                        "items": [
                            {
                                "key": "ec2:KeyPairType",
                                "operator": "StringEquals",
                                "values": {"items": [{"value": "rsa"}]},
                            }
                        ]
                    },
                }
            ]
        },
        "failures": {"items": []},
        "context": {
            "principal": {"id": caller.user_id, "name": "mock-user", "arn": USER},
            "action": "ec2:CreateKeyPair",
            "resource": arn("legacy"),
            "conditions": {
                "items": [
                    {"key": key, "values": {"items": [{"value": value}]}}
                    for key, value in context.items()
                ]
            },
        },
    }
    assert {item["key"] for item in decoded["context"]["conditions"]["items"]} == COMMON | {
        "ec2:KeyPairType"
    }
    assert backend.calls[-1].operation == "DecodeAuthorizationMessage"
    assert backend.calls[-1].decision.allowed  # type: ignore[union-attr]  # authorized call


def test_decoded_implicit_deny_lists_multivalued_keys(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """An implicit deny has no matched statements; aws:TagKeys lists each key."""
    backend.policy = policy(allow(["ec2:CreateKeyPair", "sts:DecodeAuthorizationMessage"]))
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(
            KeyName="deploy", KeyType="ed25519", TagSpecifications=tag_spec(a="1", b="2")
        )
    token = assert_denied(
        excinfo, unauthorized("ec2:CreateTags", arn("deploy"), implicit("ec2:CreateTags"))
    )
    decoded = decode(str(token))
    assert decoded["allowed"] is False
    assert decoded["explicitDeny"] is False
    assert decoded["matchedStatements"] == {"items": []}
    items = {i["key"]: i["values"]["items"] for i in decoded["context"]["conditions"]["items"]}
    assert items["aws:TagKeys"] == [{"value": "a"}, {"value": "b"}]
    assert items["ec2:CreateAction"] == [{"value": "CreateKeyPair"}]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "AQoDYXdzEJr-FAKE-AWS-TOKEN-FROM-ELSEWHERE-AAAAAAAAAAAAAAAAAAA",
        "RUMyS1BNAXjapZNLb4JAEID_y56hAuKDvRHtwTRtrNI0sfGwWce6kVeXpUoM",
    ],
)
def test_foreign_tokens_are_rejected(backend: KeyPairsBackend, token: str) -> None:
    """Only this mock's tokens decode; others → InvalidAuthorizationMessageException (400)."""
    sts = boto3.client("sts", region_name="us-east-1")
    with pytest.raises(ClientError) as excinfo:
        sts.decode_authorization_message(EncodedMessage=token)
    assert_client_error(
        excinfo,
        "InvalidAuthorizationMessageException",
        "The encoded message is invalid or was not issued by this service.",
        400,
    )
    assert excinfo.typename == "InvalidAuthorizationMessageException"  # botocore's modelled class


def test_altered_token_is_rejected(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """A token of ours with one character changed no longer decodes."""
    backend.policy = policy(allow("sts:*"))
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    token = str(
        assert_denied(
            excinfo, unauthorized("ec2:CreateKeyPair", arn("deploy"), implicit("ec2:CreateKeyPair"))
        )
    )
    altered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(ClientError) as excinfo:
        boto3.client("sts", region_name="us-east-1").decode_authorization_message(
            EncodedMessage=altered
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        ([allow("ec2:*")], implicit("sts:DecodeAuthorizationMessage")),
        ([ALLOW_ALL, deny("sts:DecodeAuthorizationMessage")], explicit()),
    ],
)
def test_decode_is_itself_authorized(
    ec2: BaseClient, backend: KeyPairsBackend, statements: list[dict[str, Any]], reason: str
) -> None:
    """sts:DecodeAuthorizationMessage needs an Allow: otherwise 403 AccessDenied, saying why."""
    backend.policy = policy(*statements, deny("ec2:CreateKeyPair"))
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    token = str(
        assert_denied(excinfo, unauthorized("ec2:CreateKeyPair", arn("deploy"), explicit()))
    )
    sts = boto3.client("sts", region_name="us-east-1")
    with pytest.raises(ClientError) as excinfo:
        sts.decode_authorization_message(EncodedMessage=token)
    assert_client_error(
        excinfo,
        "AccessDenied",
        f"User: {USER} is not authorized to perform: sts:DecodeAuthorizationMessage {reason}",
        403,
    )
    record = backend.calls[-1]
    assert record.operation == "DecodeAuthorizationMessage"
    assert record.decision is not None
    assert record.decision.action == "sts:DecodeAuthorizationMessage"
    assert record.decision.resource == "*"
    assert not record.decision.allowed


# -- the "Done when" list --------------------------------------------------------------


def test_require_ed25519() -> None:
    """Allow CreateKeyPair only for ed25519: rsa (explicit or by default) is implicitly denied."""
    document = policy(
        allow("ec2:CreateKeyPair", {"StringEquals": {"ec2:KeyPairType": "ed25519"}}),
        allow(["ec2:DescribeKeyPairs", "sts:DecodeAuthorizationMessage"]),
    )
    with mock_keypairs(policy=document) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        for kwargs in ({"KeyType": "rsa"}, {}, {"KeyType": "rsa", "DryRun": True}):
            with pytest.raises(ClientError) as excinfo:
                ec2.create_key_pair(KeyName="legacy", **kwargs)
            assert_denied(
                excinfo,
                unauthorized("ec2:CreateKeyPair", arn("legacy"), implicit("ec2:CreateKeyPair")),
            )
        ec2.create_key_pair(KeyName="modern", KeyType="ed25519")
        assert [p.name for p in backend.key_pairs()] == ["modern"]
        assert ec2.describe_key_pairs()["KeyPairs"][0]["KeyType"] == "ed25519"


REQUIRE_TAGS = policy(
    allow(
        "ec2:CreateKeyPair",
        {
            "StringLike": {"aws:RequestTag/team": "*"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "owner"]},
        },
        Sid="CreateWithTeamTag",
    ),
    allow(
        "ec2:CreateTags",
        {
            "StringEquals": {"ec2:CreateAction": "CreateKeyPair"},
            "ForAnyValue:StringEquals": {"aws:TagKeys": "team"},
        },
        Sid="TagOnCreateOnly",
    ),
)


@pytest.mark.parametrize(
    ("tags", "denied_action"),
    [
        (None, "ec2:CreateKeyPair"),  # no tags at all
        ({"owner": "alice"}, "ec2:CreateKeyPair"),  # aws:RequestTag/team missing
        ({"team": "blue", "cost": "1"}, "ec2:CreateKeyPair"),  # ForAllValues: a foreign key
        ({"team": "blue"}, None),
        ({"team": "blue", "owner": "alice"}, None),
    ],
)
def test_require_tags_on_create(tags: dict[str, str] | None, denied_action: str | None) -> None:
    """aws:RequestTag and aws:TagKeys (ForAllValues / ForAnyValue) gate a tagged create."""
    with mock_keypairs(policy=REQUIRE_TAGS) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        kwargs: dict[str, Any] = {"TagSpecifications": tag_spec(**tags)} if tags else {}
        if denied_action is None:
            response = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519", **kwargs)
            assert {t["Key"]: t["Value"] for t in response["Tags"]} == tags
            assert [d.statement.sid for d in backend.calls[-1].decisions] == [  # type: ignore[union-attr]
                "CreateWithTeamTag",
                "TagOnCreateOnly",
            ]
            return
        with pytest.raises(ClientError) as excinfo:
            ec2.create_key_pair(KeyName="deploy", KeyType="ed25519", **kwargs)
        assert_denied(excinfo, unauthorized(denied_action, arn("deploy"), implicit(denied_action)))
        assert backend.key_pairs() == []


@pytest.mark.parametrize(("region", "allowed"), [("eu-west-1", True), ("us-east-1", False)])
def test_region_lock(region: str, allowed: bool) -> None:
    """Deny everything outside eu-west-1 via aws:RequestedRegion: an explicit deny elsewhere."""
    document = policy(
        ALLOW_ALL,
        deny("*", {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, Sid="RegionLock"),
    )
    with mock_keypairs(policy=document) as backend:
        ec2 = boto3.client("ec2", region_name=region)
        if allowed:
            ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
            assert [p.name for p in backend.key_pairs(region=region)] == ["deploy"]
            return
        with pytest.raises(ClientError) as excinfo:
            ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
        assert_denied(excinfo, unauthorized("ec2:CreateKeyPair", arn("deploy", region), explicit()))
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_key_pairs()
        assert_denied(excinfo, unauthorized("ec2:DescribeKeyPairs", None, explicit()))
        assert backend.calls[-1].decision.statement.sid == "RegionLock"  # type: ignore[union-attr]
        assert backend.key_pairs(region=region) == []


def test_abac_delete_own_pairs_only(backend: KeyPairsBackend) -> None:
    """DeleteKeyPair only where aws:ResourceTag/owner is the caller's ${aws:username}."""
    document = policy(
        allow(["ec2:CreateKeyPair", "ec2:CreateTags", "ec2:DescribeKeyPairs"]),
        allow(
            "ec2:DeleteKeyPair",
            {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}},
            Sid="DeleteOwn",
        ),
    )
    alice = backend.create_principal("alice", policy=document)
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id=alice.access_key_id,
        aws_secret_access_key=alice.secret_access_key,
    )
    ec2.create_key_pair(
        KeyName="mine", KeyType="ed25519", TagSpecifications=tag_spec(owner="alice")
    )
    ec2.create_key_pair(KeyName="bobs", KeyType="ed25519", TagSpecifications=tag_spec(owner="bob"))
    ec2.create_key_pair(KeyName="untagged", KeyType="ed25519")
    for name in ("bobs", "untagged"):
        with pytest.raises(ClientError) as excinfo:
            ec2.delete_key_pair(KeyName=name)
        assert_denied(
            excinfo,
            unauthorized("ec2:DeleteKeyPair", arn(name), implicit("ec2:DeleteKeyPair"), alice.arn),
        )
    assert ec2.delete_key_pair(KeyName="mine")["Return"] is True
    assert backend.calls[-1].decision.statement.sid == "DeleteOwn"  # type: ignore[union-attr]
    assert sorted(p.name for p in backend.key_pairs()) == ["bobs", "untagged"]


def test_tag_on_create_needs_create_tags() -> None:
    """Tags at creation need ec2:CreateTags; conditioned on ec2:CreateAction it grants only that."""
    with mock_keypairs(policy=policy(allow(["ec2:CreateKeyPair", "ec2:ImportKeyPair"]))) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_key_pair(KeyName="plain", KeyType="ed25519")  # no tags: one check only
        assert len(backend.calls[-1].decisions) == 1
        attempts: list[tuple[Callable[[], Any], str]] = [
            (
                lambda: ec2.create_key_pair(
                    KeyName="tagged", KeyType="ed25519", TagSpecifications=tag_spec(a="b")
                ),
                "tagged",
            ),
            (
                lambda: ec2.import_key_pair(
                    KeyName="imported",
                    PublicKeyMaterial=public_key(),
                    TagSpecifications=tag_spec(a="b"),
                ),
                "imported",
            ),
        ]
        for call, name in attempts:
            with pytest.raises(ClientError) as excinfo:
                call()
            assert_denied(
                excinfo, unauthorized("ec2:CreateTags", arn(name), implicit("ec2:CreateTags"))
            )
        assert [p.name for p in backend.key_pairs()] == ["plain"]

        backend.policy = policy(
            allow(["ec2:CreateKeyPair", "ec2:ImportKeyPair"]),
            allow(
                "ec2:CreateTags",
                {"StringEquals": {"ec2:CreateAction": ["CreateKeyPair", "ImportKeyPair"]}},
            ),
        )
        pair_id = ec2.create_key_pair(
            KeyName="tagged", KeyType="ed25519", TagSpecifications=tag_spec(a="b")
        )["KeyPairId"]
        ec2.import_key_pair(
            KeyName="imported", PublicKeyMaterial=public_key(), TagSpecifications=tag_spec(a="b")
        )
        # A plain CreateTags has no ec2:CreateAction, so the conditioned Allow does not apply.
        with pytest.raises(ClientError) as excinfo:
            ec2.create_tags(Resources=[pair_id], Tags=[{"Key": "c", "Value": "d"}])
        assert_denied(
            excinfo, unauthorized("ec2:CreateTags", arn("tagged"), implicit("ec2:CreateTags"))
        )
        assert {p.name: dict(p.tags) for p in backend.key_pairs()} == {
            "plain": {},
            "tagged": {"a": "b"},
            "imported": {"a": "b"},
        }


def test_permissions_boundary_denial_forms() -> None:
    """A boundary without the action: implicit; a Deny in it: explicit — each names the boundary."""
    boundary = policy(
        allow(["ec2:CreateKeyPair", "ec2:DescribeKeyPairs"]),
        deny("ec2:CreateKeyPair", {"StringEquals": {"ec2:KeyPairType": "rsa"}}),
    )
    with mock_keypairs(permissions_boundary=boundary):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_key_pair(KeyName="ok", KeyType="ed25519")
        with pytest.raises(ClientError) as excinfo:
            ec2.delete_key_pair(KeyName="ok")
        assert_denied(
            excinfo,
            unauthorized(
                "ec2:DeleteKeyPair",
                arn("ok"),
                implicit("ec2:DeleteKeyPair", "permissions boundary"),
            ),
        )
        with pytest.raises(ClientError) as excinfo:
            ec2.create_key_pair(KeyName="legacy", KeyType="rsa")
        assert_denied(
            excinfo,
            unauthorized("ec2:CreateKeyPair", arn("legacy"), explicit("a permissions boundary")),
        )


def test_scp_denial_forms() -> None:
    """SCP levels intersect: a level without the action → implicit; a Deny → explicit (SCP)."""
    root = [{"Version": "2012-10-17", "Statement": [ALLOW_ALL]}]
    ou = [
        policy(allow(["ec2:CreateKeyPair", "ec2:DescribeKeyPairs", "sts:*"])),
        policy(
            deny(
                "ec2:CreateKeyPair",
                {"StringNotEquals": {"ec2:KeyPairType": "ed25519"}},
                Sid="OnlyEd25519",
            )
        ),
    ]
    with mock_keypairs(scps=[root, ou]) as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_key_pair(KeyName="ok", KeyType="ed25519")
        with pytest.raises(ClientError) as excinfo:
            ec2.delete_key_pair(KeyName="ok")
        assert_denied(
            excinfo,
            unauthorized(
                "ec2:DeleteKeyPair",
                arn("ok"),
                implicit("ec2:DeleteKeyPair", "service control policy"),
            ),
        )
        with pytest.raises(ClientError) as excinfo:
            ec2.create_key_pair(KeyName="legacy")
        token = assert_denied(
            excinfo,
            unauthorized("ec2:CreateKeyPair", arn("legacy"), explicit("a service control policy")),
        )
        decision = backend.calls[-1].decision
        assert decision is not None
        assert decision.policy_kind == "service control policy"
        assert decision.statement is not None
        assert decision.statement.sid == "OnlyEd25519"
        assert decision.statement.policy_index == 2  # counted across levels, root first
        decoded = decode(str(token))
        assert [s["statementId"] for s in decoded["matchedStatements"]["items"]] == ["OnlyEd25519"]


def test_decode_round_trip_as_a_role(backend: KeyPairsBackend) -> None:
    """A role session's token decodes to its assumed-role ARN and AROA id (no name)."""
    role = backend.create_principal(
        "deployer", policy=policy(allow("sts:DecodeAuthorizationMessage")), kind="role"
    )
    credentials = {
        "aws_access_key_id": role.access_key_id,
        "aws_secret_access_key": role.secret_access_key,
        "aws_session_token": role.session_token,
    }
    ec2 = boto3.client("ec2", region_name="eu-central-1", **credentials)
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/deployer-session"
    token = assert_denied(
        excinfo,
        unauthorized(
            "ec2:CreateKeyPair",
            arn("deploy", "eu-central-1"),
            implicit("ec2:CreateKeyPair"),
            assumed,
        ),
    )
    decoded = decode(str(token), region="eu-central-1", **credentials)
    assert decoded["context"]["principal"] == {"id": role.user_id, "arn": assumed}
    keys = {
        i["key"]: i["values"]["items"][0]["value"]
        for i in decoded["context"]["conditions"]["items"]
    }
    assert keys["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert keys["aws:PrincipalType"] == "AssumedRole"
    assert "aws:username" not in keys
