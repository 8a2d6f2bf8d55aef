"""``conftest_example.py`` works: copied as a conftest, every fixture serves real tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ec2_keypair_mock import _mock
from tests.helpers import ISOLATE

EXAMPLE = Path(__file__).resolve().parent.parent / "conftest_example.py"

# The tests a project would write on top of the example's fixtures (run in a pytester session).
_TESTS = r"""
import json
import os
import re

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION

TOKEN = r"[A-Za-z0-9_-]+"


def error_of(excinfo):
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_fake_credentials(aws_credentials):
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_SESSION_TOKEN" not in os.environ


def test_default_caller_creates_key(ec2, keypairs_mock):
    pair = ec2.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
    [record] = keypairs_mock.key_pairs(region=REGION)
    assert (record.name, record.key_pair_id, record.key_type) == (
        "deploy-key",
        pair["KeyPairId"],
        "ed25519",
    )
    assert ec2.meta.region_name == "eu-west-1"


def test_ci_bot_lifecycle(ci_bot_ec2, keypairs_mock):
    created = ci_bot_ec2.create_key_pair(KeyName="ci-key", KeyType="ed25519")
    [described] = ci_bot_ec2.describe_key_pairs(KeyNames=["ci-key"])["KeyPairs"]
    assert described["KeyPairId"] == created["KeyPairId"]
    deleted = ci_bot_ec2.delete_key_pair(KeyName="ci-key")
    assert deleted["KeyPairId"] == created["KeyPairId"]
    assert keypairs_mock.key_pairs(region=REGION) == []
    assert [call.operation for call in keypairs_mock.calls] == [
        "CreateKeyPair",
        "DescribeKeyPairs",
        "DeleteKeyPair",
    ]


def test_ci_bot_dry_run(ci_bot_ec2, keypairs_mock):
    with pytest.raises(ClientError) as excinfo:
        ci_bot_ec2.create_key_pair(KeyName="ci-key", KeyType="ed25519", DryRun=True)
    assert error_of(excinfo) == (
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
        412,
    )
    assert keypairs_mock.key_pairs(region=REGION) == []


def test_ci_bot_may_not_create_rsa(ci_bot_ec2, keypairs_mock):
    with pytest.raises(ClientError) as excinfo:
        ci_bot_ec2.create_key_pair(KeyName="legacy-key", KeyType="rsa")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("UnauthorizedOperation", 403)
    prefix = (
        "You are not authorized to perform this operation. User: "
        "arn:aws:iam::123456789012:user/ci-bot is not authorized to perform: "
        "ec2:CreateKeyPair on resource: "
        "arn:aws:ec2:eu-west-1:123456789012:key-pair/legacy-key because no "
        "identity-based policy allows the ec2:CreateKeyPair action. "
        "Encoded authorization failure message: "
    )
    assert re.fullmatch(re.escape(prefix) + TOKEN, message)
    assert keypairs_mock.key_pairs(region=REGION) == []
    # The default caller (allowed everything) may decode it: the denied context shows why.
    sts = boto3.client("sts", region_name=REGION)
    decoded = json.loads(
        sts.decode_authorization_message(EncodedMessage=message[len(prefix):])["DecodedMessage"]
    )
    assert decoded["context"]["principal"]["arn"] == "arn:aws:iam::123456789012:user/ci-bot"
    conditions = {c["key"]: c["values"]["items"] for c in decoded["context"]["conditions"]["items"]}
    assert conditions["ec2:KeyPairType"] == [{"value": "rsa"}]
    assert conditions["aws:PrincipalTag/team"] == [{"value": "blue"}]


def test_ci_bot_is_region_locked(keypairs_mock, least_privilege_policy):
    ci_bot = keypairs_mock.create_principal("ci-bot", policy=least_privilege_policy)
    elsewhere = boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id=ci_bot.access_key_id,
        aws_secret_access_key=ci_bot.secret_access_key,
    )
    with pytest.raises(ClientError) as excinfo:
        elsewhere.describe_key_pairs()
    assert error_of(excinfo) == (
        "UnauthorizedOperation",
        "You are not authorized to perform this operation. User: "
        "arn:aws:iam::123456789012:user/ci-bot is not authorized to perform: "
        "ec2:DescribeKeyPairs because no identity-based policy allows the "
        "ec2:DescribeKeyPairs action",
        403,
    )


def test_default_caller_with_least_privilege(ec2, keypairs_mock, least_privilege_policy):
    keypairs_mock.policy = least_privilege_policy
    ec2.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        ec2.create_key_pair(KeyName="legacy-key")  # rsa by default


@pytest.mark.keypairs_mock(account_id="210987654321")
def test_marker_configures_the_fixtures_mock(ec2, keypairs_mock):
    ec2.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
    [record] = keypairs_mock.key_pairs(region=REGION)
    assert record.account_id == "210987654321"
"""


def test_example_conftest_serves_real_tests(pytester: pytest.Pytester) -> None:
    """Copied as conftest.py, the example's fixtures all work, under --strict-markers."""
    pytester.makeini("[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n")
    pytester.makeconftest(EXAMPLE.read_text(encoding="utf-8"))
    pytester.makepyfile(test_uses_example=_TESTS)
    result = pytester.runpytest(*ISOLATE, "-q")
    result.assert_outcomes(passed=8)
    assert _mock._stack == []


def test_every_fixture_is_exercised() -> None:
    """Each fixture the example defines is used by the tests above (none is left unproven)."""
    source = EXAMPLE.read_text(encoding="utf-8")
    defined = {
        line.split("(", 1)[0].removeprefix("def ")
        for line in source.splitlines()
        if line.startswith("def ")
    }
    assert defined == {"aws_credentials", "ec2", "least_privilege_policy", "ci_bot_ec2"}
    for name in defined:
        assert f"({name}" in _TESTS or f", {name}" in _TESTS, name
