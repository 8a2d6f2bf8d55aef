"""Fixtures for testing code that manages EC2 key pairs: copy this file into your conftest.py.

The ``keypairs_mock`` fixture (a fresh, active ``KeyPairsBackend`` per test) and the
``@pytest.mark.keypairs_mock(...)`` marker come from ec2-keypair-mock's pytest plugin, which
pytest loads by itself once the package is installed. The fixtures below build on them::

    def test_deploy_key(ec2, keypairs_mock):
        ec2.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
        assert [pair.name for pair in keypairs_mock.key_pairs(region=REGION)] == ["deploy-key"]

    def test_ci_bot_cannot_make_rsa_keys(ci_bot_ec2):
        with pytest.raises(ClientError, match="UnauthorizedOperation"):
            ci_bot_ec2.create_key_pair(KeyName="legacy", KeyType="rsa")
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from ec2_keypair_mock import KeyPairsBackend

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for every test."""
    # monkeypatch restores them, and a call that escaped the mock could never sign as you.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def ec2(keypairs_mock: KeyPairsBackend) -> BaseClient:
    """An EC2 client for the default caller, served by the test's mock."""
    # Explicit region: never the developer's AWS_DEFAULT_REGION; keypairs_mock is active first.
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def least_privilege_policy() -> dict[str, Any]:
    """What the code under test needs: ed25519 key pairs in REGION, nothing else."""
    # Granting only this makes a test fail the day the code asks for more than it should.
    in_region = {"aws:RequestedRegion": REGION}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CreateEd25519Only",
                "Effect": "Allow",
                "Action": "ec2:CreateKeyPair",
                "Resource": "*",
                "Condition": {"StringEquals": {**in_region, "ec2:KeyPairType": "ed25519"}},
            },
            {
                "Sid": "DescribeAndDeleteInRegion",
                "Effect": "Allow",
                "Action": ["ec2:DescribeKeyPairs", "ec2:DeleteKeyPair"],
                "Resource": "*",
                "Condition": {"StringEquals": in_region},
            },
        ],
    }


@pytest.fixture
def ci_bot_ec2(
    keypairs_mock: KeyPairsBackend, least_privilege_policy: dict[str, Any]
) -> BaseClient:
    """An EC2 client that calls as a second principal, ``ci-bot``, with the least privilege."""
    # Its own credentials make the mock evaluate its policy and tags (aws:PrincipalTag/team).
    ci_bot = keypairs_mock.create_principal(
        "ci-bot", policy=least_privilege_policy, tags={"team": "blue"}
    )
    return boto3.client(
        "ec2",
        region_name=REGION,
        aws_access_key_id=ci_bot.access_key_id,
        aws_secret_access_key=ci_bot.secret_access_key,
        aws_session_token=ci_bot.session_token,
    )
