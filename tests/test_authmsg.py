"""UnauthorizedOperation message text and the encoded authorization failure message (SPEC §8)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from ec2_keypair_mock._authmsg import (
    InvalidAuthorizationMessage,
    PrincipalInfo,
    decode_authorization_message,
    encode_authorization_message,
    unauthorized_message,
)
from ec2_keypair_mock._evaluate import Decision, evaluate
from ec2_keypair_mock._policy import ALLOW_ALL

ARN = "arn:aws:iam::123456789012:user/alice"
KP = "arn:aws:ec2:us-east-1:123456789012:key-pair/deploy-key"
ALICE = PrincipalInfo(id="AIDACKCEVSQ6C2EXAMPLE", name="alice", arn=ARN)
PREFIX = "You are not authorized to perform this operation. User: " + ARN
DENY_CREATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NoKeysOutsideUsEast1",
            "Effect": "Deny",
            "Action": ["ec2:CreateKeyPair", "ec2:ImportKeyPair"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
        }
    ],
}


def decide(action: str = "ec2:CreateKeyPair", resource: str = KP, **kinds: Any) -> Decision:
    context = kinds.pop("context", {"aws:RequestedRegion": "eu-west-1"})
    identity = kinds.pop("identity", [ALLOW_ALL])
    return evaluate(action=action, resource=resource, context=context, identity=identity, **kinds)


def test_implicit_deny_message() -> None:
    """The recorded AWS text for a missing Allow, with the encoded message at the end."""
    decision = decide(identity=[])
    message = unauthorized_message(principal_arn=ARN, decision=decision, encoded="TOKEN")
    assert message == (
        f"{PREFIX} is not authorized to perform: ec2:CreateKeyPair on resource: {KP} because no "
        "identity-based policy allows the ec2:CreateKeyPair action. "
        "Encoded authorization failure message: TOKEN"
    )


@pytest.mark.parametrize(
    ("kinds", "phrase"),
    [
        ({"identity": [ALLOW_ALL, DENY_CREATE]}, "an identity-based policy"),
        ({"permissions_boundary": DENY_CREATE}, "a permissions boundary"),
        ({"session_policy": DENY_CREATE}, "a session policy"),
        ({"scps": [[ALLOW_ALL, DENY_CREATE]]}, "a service control policy"),
    ],
)
def test_explicit_deny_message_names_the_kind(kinds: dict[str, Any], phrase: str) -> None:
    """Explicit denies say which kind of policy denied, with the right article."""
    decision = decide(**kinds)
    message = unauthorized_message(principal_arn=ARN, decision=decision, encoded="TOKEN")
    assert message == (
        f"{PREFIX} is not authorized to perform: ec2:CreateKeyPair on resource: {KP} "
        f"with an explicit deny in {phrase}. Encoded authorization failure message: TOKEN"
    )


@pytest.mark.parametrize(
    ("kinds", "kind"),
    [
        (
            {
                "permissions_boundary": {
                    "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
                }
            },
            "permissions boundary",
        ),
        (
            {
                "session_policy": {
                    "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
                }
            },
            "session policy",
        ),
        (
            {"scps": [[{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}]]},
            "service control policy",
        ),
    ],
)
def test_implicit_deny_message_names_the_kind(kinds: dict[str, Any], kind: str) -> None:
    """An implicit deny names the first kind without an Allow."""
    message = unauthorized_message(principal_arn=ARN, decision=decide(**kinds), encoded="T")
    assert f" because no {kind} allows the ec2:CreateKeyPair action. " in message


def test_describe_message_has_no_resource_and_no_token() -> None:
    """Actions without resource-level permissions: no "on resource:" and no encoded message."""
    decision = decide("ec2:DescribeKeyPairs", "*", identity=[])
    message = unauthorized_message(principal_arn=ARN, decision=decision, encoded="IGNORED")
    assert message == (
        f"{PREFIX} is not authorized to perform: ec2:DescribeKeyPairs because no "
        "identity-based policy allows the ec2:DescribeKeyPairs action"
    )


def test_describe_explicit_deny_message() -> None:
    """[dec] The explicit-deny form for resource "*" is shortened the same way."""
    deny = {"Statement": {"Effect": "Deny", "Action": "ec2:Describe*", "Resource": "*"}}
    decision = decide("ec2:DescribeKeyPairs", "*", identity=[ALLOW_ALL, deny])
    message = unauthorized_message(principal_arn=ARN, decision=decision, encoded=None)
    assert message == (
        f"{PREFIX} is not authorized to perform: ec2:DescribeKeyPairs "
        "with an explicit deny in an identity-based policy"
    )


def test_message_without_token() -> None:
    """Without a token the encoded-message sentence is left out."""
    message = unauthorized_message(principal_arn=ARN, decision=decide(identity=[]), encoded=None)
    assert message.endswith("because no identity-based policy allows the ec2:CreateKeyPair action")


def test_message_for_an_allowed_decision_is_a_misuse() -> None:
    """Asking for the denial text of an allowed request is a ValueError."""
    with pytest.raises(ValueError, match=r"^unauthorized_message\(\) needs a denied Decision"):
        unauthorized_message(principal_arn=ARN, decision=decide(context={}), encoded=None)


def test_round_trip_explicit_deny_shape() -> None:
    """The decoded JSON has AWS's DecodedMessage shape, with every context key."""
    decision = decide(
        identity=[ALLOW_ALL, DENY_CREATE],
        context={"aws:RequestedRegion": "eu-west-1", "aws:TagKeys": ["env", "team"]},
    )
    token = encode_authorization_message(decision, ALICE)
    decoded = decode_authorization_message(token)
    assert decoded == json.dumps(json.loads(decoded), separators=(",", ":"))  # compact, like AWS
    assert json.loads(decoded) == {
        "allowed": False,
        "explicitDeny": True,
        "matchedStatements": {
            "items": [
                {
                    "statementId": "NoKeysOutsideUsEast1",
                    "effect": "DENY",
                    "principals": {"items": [{"value": "AIDACKCEVSQ6C2EXAMPLE"}]},
                    "principalGroups": {"items": []},
                    "actions": {
                        "items": [{"value": "ec2:CreateKeyPair"}, {"value": "ec2:ImportKeyPair"}]
                    },
                    "resources": {"items": [{"value": "*"}]},
                    "conditions": {
                        "items": [
                            {
                                "key": "aws:RequestedRegion",
                                "operator": "StringNotEquals",
                                "values": {"items": [{"value": "us-east-1"}]},
                            }
                        ]
                    },
                }
            ]
        },
        "failures": {"items": []},
        "context": {
            "principal": {"id": "AIDACKCEVSQ6C2EXAMPLE", "name": "alice", "arn": ARN},
            "action": "ec2:CreateKeyPair",
            "resource": KP,
            "conditions": {
                "items": [
                    {"key": "aws:RequestedRegion", "values": {"items": [{"value": "eu-west-1"}]}},
                    {
                        "key": "aws:TagKeys",
                        "values": {"items": [{"value": "env"}, {"value": "team"}]},
                    },
                ]
            },
        },
    }


def test_round_trip_implicit_deny_and_role_session() -> None:
    """Implicit denies list no statements; a role session has no name and a session suffix."""
    role = PrincipalInfo(
        id="AROA123456789EXAMPLE:Ana",
        name=None,
        arn="arn:aws:sts::111122223333:assumed-role/Developer/Ana",
    )
    decision = decide(identity=[], context={})
    decoded = json.loads(decode_authorization_message(encode_authorization_message(decision, role)))
    assert decoded["explicitDeny"] is False
    assert decoded["matchedStatements"] == {"items": []}
    assert decoded["context"]["principal"] == {"id": role.id, "arn": role.arn}
    assert decoded["context"]["conditions"] == {"items": []}


def test_not_action_and_not_resource_are_reported() -> None:
    """[dec] NotAction/NotResource statements are reported under their own names."""
    deny = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "NotAction": "ec2:Describe*",
            "NotResource": "arn:aws:s3:::*",
        },
    }
    decision = decide(identity=[ALLOW_ALL, deny], context={})
    item = json.loads(decode_authorization_message(encode_authorization_message(decision, ALICE)))[
        "matchedStatements"
    ]["items"][0]
    assert (item["statementId"], item["actions"], item["resources"]) == (
        "",
        {"items": []},
        {"items": []},
    )
    assert item["notActions"] == {"items": [{"value": "ec2:Describe*"}]}
    assert item["notResources"] == {"items": [{"value": "arn:aws:s3:::*"}]}


def test_token_looks_opaque() -> None:
    """Tokens are long base64url strings, like AWS's, and need no registry to decode."""
    token = encode_authorization_message(decide(identity=[]), ALICE)
    assert re.fullmatch(r"[A-Za-z0-9_-]{64,}", token)
    assert "alice" not in token
    assert (
        json.loads(decode_authorization_message(token))["context"]["action"] == "ec2:CreateKeyPair"
    )


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def _forged_without_seal() -> str:
    body = b"EC2KPM\x01" + b"x\x9c" + b"\x00" * 20
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "   ",
        "not a token",
        "EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhPQrLWB_lAbl5pAKxl9mPDLexYcGBreyIKQC1BGBIpBKr3dFDkwqeO7e2NMk5j_hmzAiChJN",
        base64.urlsafe_b64encode(b'{"allowed":false}' * 3).decode(),
        _forged_without_seal(),
        "ünïcödé-token-value-here",
    ],
    ids=["empty", "blank", "spaces", "aws-example", "plain-json", "unsealed", "non-ascii"],
)
def test_foreign_tokens_are_rejected(token: str) -> None:
    """Anything this library did not mint is InvalidAuthorizationMessage."""
    with pytest.raises(InvalidAuthorizationMessage, match="not issued by ec2_keypair_mock"):
        decode_authorization_message(token)


def test_altered_and_truncated_tokens_are_rejected() -> None:
    """The seal makes altered or cut tokens fail."""
    token = encode_authorization_message(decide(identity=[]), ALICE)
    for bad in (_tampered(token), token[:-3], token[5:], token + "AAAA"):
        with pytest.raises(InvalidAuthorizationMessage):
            decode_authorization_message(bad)


def test_invalid_message_is_a_value_error() -> None:
    """InvalidAuthorizationMessage is a library error and a ValueError."""
    from ec2_keypair_mock._errors import MockKeypairsError

    assert issubclass(InvalidAuthorizationMessage, MockKeypairsError)
    assert issubclass(InvalidAuthorizationMessage, ValueError)
