"""Principals: the default caller and ``backend.create_principal`` users and roles (SPEC §8).

A boto3 client built with a principal's credentials is evaluated as that principal; each
principal context key is proven by a policy condition that allows one principal and not another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from ec2_keypair_mock import KeyPairsBackend, Principal
from tests.test_iam_e2e import (
    ACCOUNT,
    USER,
    allow,
    arn,
    assert_denied,
    decode,
    implicit,
    policy,
    unauthorized,
)

OTHER_ACCOUNT = "210987654321"


def client(principal: Principal, region: str = "us-east-1") -> BaseClient:
    """A real boto3 EC2 client signing with ``principal``'s credentials."""
    return boto3.client(
        "ec2",
        region_name=region,
        aws_access_key_id=principal.access_key_id,
        aws_secret_access_key=principal.secret_access_key,
        aws_session_token=principal.session_token,
    )


def test_default_caller(backend: KeyPairsBackend) -> None:
    """Without a principal of its own, a client calls as ``user/mock-user`` in 123456789012."""
    caller = backend.caller
    assert caller.arn == caller.principal_arn == USER
    assert (caller.name, caller.kind, caller.account_id) == ("mock-user", "user", ACCOUNT)
    assert caller.principal_type == "User"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", caller.user_id)
    boto3.client("ec2", region_name="us-east-1").describe_key_pairs()
    assert backend.calls[-1].caller_arn == USER


def test_user_principal_credentials(backend: KeyPairsBackend) -> None:
    """A user gets AKIA keys, no session token, an IAM user ARN; repr hides the secret."""
    dev = backend.create_principal("dev", tags={"team": "blue"})
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", dev.access_key_id)
    assert len(dev.secret_access_key) == 40
    assert dev.session_token is None
    assert dev.arn == dev.principal_arn == f"arn:aws:iam::{ACCOUNT}:user/dev"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", dev.user_id)
    assert dict(dev.tags) == {"team": "blue"}
    assert dev.secret_access_key not in repr(dev)


def test_role_principal_credentials(backend: KeyPairsBackend) -> None:
    """A role session gets ASIA keys, a session token, an assumed-role caller ARN."""
    ops = backend.create_principal("ops", kind="role")
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", ops.access_key_id)
    assert ops.session_token
    assert ops.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/ops-session"
    assert ops.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/ops"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:ops-session", ops.user_id)
    assert ops.principal_type == "AssumedRole"
    assert ops.session_token not in repr(ops)


def test_unknown_kind_is_rejected(backend: KeyPairsBackend) -> None:
    """Only users and roles exist."""
    with pytest.raises(ValueError, match=r"^kind must be 'user' or 'role', not 'group'\.$"):
        backend.create_principal("g", kind="group")  # type: ignore[arg-type]  # the misuse tested


def test_principal_client_is_evaluated_as_the_principal(backend: KeyPairsBackend) -> None:
    """The principal's own policy decides its calls; the default caller's does not."""
    backend.policy = policy(allow("sts:*"))
    dev = backend.create_principal("dev", policy=policy(allow("ec2:*")))
    client(dev).create_key_pair(KeyName="deploy", KeyType="ed25519")
    record = backend.calls[-1]
    assert record.caller_arn == dev.arn
    assert record.decision is not None
    assert record.decision.context["aws:username"] == "dev"
    with pytest.raises(ClientError) as excinfo:
        boto3.client("ec2", region_name="us-east-1").create_key_pair(
            KeyName="other", KeyType="ed25519"
        )
    assert_denied(
        excinfo, unauthorized("ec2:CreateKeyPair", arn("other"), implicit("ec2:CreateKeyPair"))
    )


USER_DEV: dict[str, Any] = {"name": "dev"}
ROLE_DEV: dict[str, Any] = {"name": "dev", "kind": "role"}


@pytest.mark.parametrize(
    ("condition", "matching", "differing"),
    [
        ({"StringEquals": {"aws:username": "dev"}}, USER_DEV, {"name": "eve"}),
        ({"StringEquals": {"aws:username": "dev"}}, USER_DEV, ROLE_DEV),  # roles have none
        ({"StringLike": {"aws:userid": "AIDA*"}}, USER_DEV, ROLE_DEV),
        ({"StringLike": {"aws:userid": "AROA*:dev-session"}}, ROLE_DEV, USER_DEV),
        (
            {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/dev"}},
            USER_DEV,
            ROLE_DEV,
        ),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/dev"}}, ROLE_DEV, USER_DEV),
        (
            {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
            {"name": "dev", "tags": {"team": "blue"}},
            {"name": "dev", "tags": {"team": "red"}},
        ),
        (  # key names are case-insensitive, the tag-key part included
            {"StringEquals": {"aws:principaltag/TEAM": "blue"}},
            {**ROLE_DEV, "tags": {"team": "blue"}},
            ROLE_DEV,
        ),
        (
            {"StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT}},
            {"name": "dev", "account_id": OTHER_ACCOUNT},
            USER_DEV,
        ),
        ({"StringEquals": {"aws:PrincipalType": "User"}}, USER_DEV, ROLE_DEV),
        ({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}, ROLE_DEV, USER_DEV),
        ({"Null": {"aws:username": "true"}}, ROLE_DEV, USER_DEV),
    ],
)
def test_principal_context_keys_drive_conditions(
    backend: KeyPairsBackend,
    condition: Mapping[str, Any],
    matching: dict[str, Any],
    differing: dict[str, Any],
) -> None:
    """Each principal key matches the principal it describes and not one that differs in it."""
    document = policy(allow("ec2:CreateKeyPair", condition))
    allowed = backend.create_principal(policy=document, **matching)
    denied = backend.create_principal(policy=document, **differing)
    client(allowed).create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert backend.calls[-1].status == 200
    with pytest.raises(ClientError) as excinfo:
        client(denied).create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert_denied(
        excinfo,
        unauthorized("ec2:CreateKeyPair", arn("deploy"), implicit("ec2:CreateKeyPair"), denied.arn),
    )


def test_principal_context_values(backend: KeyPairsBackend) -> None:
    """The exact principal keys for a tagged user and a tagged role session."""
    user = backend.create_principal("dev", tags={"team": "blue", "cost-center": "42"})
    role = backend.create_principal("ops", tags={"team": "red"}, kind="role")
    client(user).describe_key_pairs()
    context = backend.calls[-1].decision.context  # type: ignore[union-attr]  # authorized
    assert {
        k: v
        for k, v in context.items()
        if k.startswith("aws:Principal") or k.startswith("aws:user")
    } == {
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalArn": user.arn,
        "aws:PrincipalType": "User",
        "aws:userid": user.user_id,
        "aws:username": "dev",
        "aws:PrincipalTag/team": "blue",
        "aws:PrincipalTag/cost-center": "42",
    }
    client(role).describe_key_pairs()
    context = backend.calls[-1].decision.context  # type: ignore[union-attr]  # authorized
    assert {
        k: v
        for k, v in context.items()
        if k.startswith("aws:Principal") or k.startswith("aws:user")
    } == {
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ops",
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": role.user_id,
        "aws:PrincipalTag/team": "red",
    }


def test_policy_variables_from_principal_keys(backend: KeyPairsBackend) -> None:
    """``${aws:username}`` and ``${aws:PrincipalTag/team}`` resolve per caller in Resource."""
    document = policy(
        {
            "Effect": "Allow",
            "Action": "ec2:CreateKeyPair",
            "Resource": "arn:aws:ec2:*:*:key-pair/${aws:username}-*",
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateKeyPair",
            "Resource": "arn:aws:ec2:*:*:key-pair/${aws:PrincipalTag/team}-*",
        },
    )
    dev = backend.create_principal("dev", policy=document, tags={"team": "blue"})
    ec2 = client(dev)
    ec2.create_key_pair(KeyName="dev-laptop", KeyType="ed25519")
    ec2.create_key_pair(KeyName="blue-ci", KeyType="ed25519")
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="red-ci", KeyType="ed25519")
    assert_denied(
        excinfo,
        unauthorized("ec2:CreateKeyPair", arn("red-ci"), implicit("ec2:CreateKeyPair"), dev.arn),
    )


def test_role_caller_in_messages(backend: KeyPairsBackend) -> None:
    """A denied role session is named by its assumed-role ARN; the log names it too."""
    ops = backend.create_principal(
        "ops", policy=policy(allow("sts:DecodeAuthorizationMessage")), kind="role"
    )
    with pytest.raises(ClientError) as excinfo:
        client(ops, "ap-south-1").delete_key_pair(KeyName="ghost")
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/ops-session"
    token = assert_denied(
        excinfo,
        unauthorized(
            "ec2:DeleteKeyPair",
            arn("ghost", "ap-south-1"),
            implicit("ec2:DeleteKeyPair"),
            assumed,
        ),
    )
    assert backend.calls[-1].caller_arn == assumed
    decoded = decode(
        str(token),
        aws_access_key_id=ops.access_key_id,
        aws_secret_access_key=ops.secret_access_key,
        aws_session_token=ops.session_token,
    )
    assert decoded["context"]["principal"] == {"id": ops.user_id, "arn": assumed}


def test_unknown_credentials_are_the_default_caller(backend: KeyPairsBackend) -> None:
    """Keys the mock never issued call as the default caller (no error, no network)."""
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert backend.calls[-1].caller_arn == USER


def test_absent_credentials_are_the_default_caller(
    backend: KeyPairsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no credentials configured at all, calls are still served, as the default caller."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert backend.calls[-1].caller_arn == USER
    assert backend.calls[-1].decision.context["aws:username"] == "mock-user"  # type: ignore[union-attr]


def test_principal_in_another_account_uses_that_accounts_partition(
    backend: KeyPairsBackend,
) -> None:
    """Pairs made by a principal of another account live there, under that account's ARNs."""
    partner = backend.create_principal("partner", account_id=OTHER_ACCOUNT)
    assert partner.arn == f"arn:aws:iam::{OTHER_ACCOUNT}:user/partner"
    ec2 = client(partner)
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    decision = backend.calls[-1].decision
    assert decision is not None
    assert decision.resource == arn("deploy", account=OTHER_ACCOUNT)
    assert decision.context["aws:PrincipalAccount"] == OTHER_ACCOUNT
    assert [p.name for p in backend.key_pairs(account_id=OTHER_ACCOUNT)] == ["deploy"]
    assert [p.account_id for p in backend.key_pairs(account_id=OTHER_ACCOUNT)] == [OTHER_ACCOUNT]
    assert backend.key_pairs() == []
    # The default caller's account does not see it, and may use the same name.
    default = boto3.client("ec2", region_name="us-east-1")
    assert default.describe_key_pairs()["KeyPairs"] == []
    default.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]] == ["deploy"]
    assert len(backend.key_pairs()) == 1


def test_principals_survive_reset(backend: KeyPairsBackend) -> None:
    """``backend.reset()`` forgets pairs and calls; principals and their keys keep working."""
    dev = backend.create_principal("dev", policy=policy(allow("ec2:*")))
    client(dev).create_key_pair(KeyName="deploy", KeyType="ed25519")
    backend.reset()
    assert backend.key_pairs() == []
    client(dev).create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert backend.calls[-1].caller_arn == dev.arn


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "a/b"},
            "'a/b' is not a valid IAM user name: use 1 to 64 letters, digits and the "
            "characters +=,.@_-.",
        ),
        (
            {"name": "", "kind": "role"},
            "'' is not a valid IAM role name: use 1 to 64 letters, digits and the "
            "characters +=,.@_-.",
        ),
        (
            {"name": "dev", "account_id": "1234"},
            "account_id must be a 12-digit string, not '1234'.",
        ),
    ],
)
def test_invalid_names_and_accounts_are_rejected(
    backend: KeyPairsBackend, kwargs: dict[str, Any], message: str
) -> None:
    """A name or account that would make malformed ARNs is refused with a sentence."""
    with pytest.raises(ValueError, match=r"\.$") as excinfo:
        backend.create_principal(**kwargs)
    assert str(excinfo.value) == message
    assert backend._principals == {}


def test_principals_through_the_http_endpoint() -> None:
    """The server door signs in as the principal too (SigV4 access key), over plain HTTP."""
    from ec2_keypair_mock._backend import KeyPairsBackend as Backend
    from ec2_keypair_mock._server import LocalEndpoint

    backend = Backend(fresh_keys=True)
    ops = backend.create_principal(
        "ops",
        policy=policy(allow("ec2:CreateKeyPair", {"Bool": {"aws:SecureTransport": "false"}})),
        kind="role",
    )
    with LocalEndpoint(backend) as endpoint:
        ec2 = boto3.client(
            "ec2",
            region_name="eu-west-1",
            endpoint_url=endpoint.url,
            aws_access_key_id=ops.access_key_id,
            aws_secret_access_key=ops.secret_access_key,
            aws_session_token=ops.session_token,
        )
        try:
            ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
            with pytest.raises(ClientError) as excinfo:
                ec2.describe_key_pairs()
        finally:
            ec2.close()
    assert_denied(
        excinfo,
        unauthorized("ec2:DescribeKeyPairs", None, implicit("ec2:DescribeKeyPairs"), ops.arn),
    )
    created = backend.calls[0]
    assert created.caller_arn == ops.arn
    assert created.decision is not None
    assert created.decision.context["aws:SecureTransport"] == "false"
    assert created.decision.context["aws:SourceIp"] == "127.0.0.1"
    assert created.decision.context["aws:RequestedRegion"] == "eu-west-1"
