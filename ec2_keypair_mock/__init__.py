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

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import MockKeypairsError, PolicyError, UnmockedOperationError
from ._mock import KeyPairsMock, mock_keypairs

if TYPE_CHECKING:
    from ._backend import KeyPairsBackend
    from ._dispatch import CallRecord
    from ._evaluate import Decision, evaluate
    from ._principals import Principal
    from ._records import KeyPairRecord

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

# Names whose modules pull in the policy engine, cryptography and botocore's models: they are
# imported on first use, so `import ec2_keypair_mock` stays cheap (README#performance).
_LAZY = {
    "CallRecord": "._dispatch",
    "Decision": "._evaluate",
    "KeyPairRecord": "._records",
    "KeyPairsBackend": "._backend",
    "Principal": "._principals",
    "evaluate": "._evaluate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
