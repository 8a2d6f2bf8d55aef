"""A faithful, fast, in-memory fake of the AWS EC2 key pair API.

Example::

    import boto3
    from ec2_keypair_mock import mock_keypairs

    @mock_keypairs
    def test_deploy_key():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        pair = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
        assert pair["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
"""

from __future__ import annotations

from ._backend import KeyPairRecord, KeyPairsBackend
from ._dispatch import CallRecord
from ._errors import MockKeypairsError, PolicyError, UnmockedOperationError
from ._evaluate import Decision, evaluate
from ._mock import KeyPairsMock, mock_keypairs
from ._principals import Principal

__all__ = [
    "CallRecord",
    "Decision",
    "KeyPairRecord",
    "KeyPairsBackend",
    "KeyPairsMock",
    "MockKeypairsError",
    "PolicyError",
    "Principal",
    "UnmockedOperationError",
    "evaluate",
    "mock_keypairs",
]
