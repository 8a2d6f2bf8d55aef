"""aiobotocore and aioboto3 clients get the same answers as boto3 (no pytest-asyncio needed).

Each test runs its coroutine with ``asyncio.run``; both ways of activating the mock around async
code are used: ``async with mock_keypairs() as backend`` and ``@mock_keypairs`` on ``async def``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aioboto3
import aiobotocore.session
import pytest
from aiobotocore.credentials import AioRefreshableCredentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ec2_keypair_mock import KeyPairsBackend, Principal, _mock, mock_keypairs
from tests.helpers import assert_valid_output

ClientFactory = Callable[..., AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def _aiobotocore(service: str, region: str, **kwargs: Any) -> AsyncIterator[Any]:
    session = aiobotocore.session.get_session()
    async with session.create_client(service, region_name=region, **kwargs) as client:
        yield client


@asynccontextmanager
async def _aioboto3(service: str, region: str, **kwargs: Any) -> AsyncIterator[Any]:
    async with aioboto3.Session().client(service, region_name=region, **kwargs) as client:
        yield client


FACTORIES = pytest.mark.parametrize(
    "client", [_aiobotocore, _aioboto3], ids=["aiobotocore", "aioboto3"]
)

ALLOW_DESCRIBE_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ec2:DescribeKeyPairs", "sts:DecodeAuthorizationMessage"],
            "Resource": "*",
        }
    ],
}
DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
}
ENCODED = "Encoded authorization failure message: "


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    result = asyncio.run(coroutine)
    assert _mock._stack == [], "the mock outlived the coroutine"
    return result


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    assert len(response["ResponseMetadata"]["RequestId"]) == 36
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@FACTORIES
@pytest.mark.parametrize(
    ("key_type", "key_format", "header"),
    [
        ("rsa", "pem", "-----BEGIN RSA PRIVATE KEY-----\n"),
        ("ed25519", "pem", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        ("rsa", "ppk", "PuTTY-User-Key-File-2: ssh-rsa\n"),
        ("ed25519", "ppk", "PuTTY-User-Key-File-2: ssh-ed25519\n"),
    ],
)
def test_create_key_pair(
    client: ClientFactory, key_type: str, key_format: str, header: str
) -> None:
    """CreateKeyPair answers each type and format through an async client, shape-valid."""

    async def body() -> None:
        async with mock_keypairs() as backend, client("ec2", "us-east-1") as ec2:
            response = await ec2.create_key_pair(
                KeyName="deploy-key", KeyType=key_type, KeyFormat=key_format
            )
            assert_valid_output(ec2, "CreateKeyPair", response)
            assert response["KeyMaterial"].startswith(header)
            assert re.fullmatch(r"key-0[0-9a-f]{16}", response["KeyPairId"])
            [record] = backend.key_pairs()
            assert (record.key_pair_id, record.fingerprint, record.key_type) == (
                response["KeyPairId"],
                response["KeyFingerprint"],
                key_type,
            )

    _run(body())


@FACTORIES
def test_import_describe_tags_delete(client: ClientFactory) -> None:
    """Import, describe (filtered), tag, untag, describe tags and delete, all awaited."""
    public = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    blob = base64.b64decode(public.split()[1])
    fingerprint = base64.b64encode(hashlib.sha256(blob).digest()).decode()

    @mock_keypairs
    async def body() -> None:
        async with client("ec2", "eu-west-1") as ec2:
            imported = await ec2.import_key_pair(
                KeyName="laptop",
                PublicKeyMaterial=public,
                TagSpecifications=[
                    {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}
                ],
            )
            assert_valid_output(ec2, "ImportKeyPair", imported)
            assert imported["KeyFingerprint"] == fingerprint
            assert imported["Tags"] == [{"Key": "team", "Value": "blue"}]
            await ec2.create_key_pair(KeyName="other", KeyType="ed25519")

            described = await ec2.describe_key_pairs(
                Filters=[{"Name": "tag:team", "Values": ["blue"]}], IncludePublicKey=True
            )
            assert_valid_output(ec2, "DescribeKeyPairs", described)
            [pair] = described["KeyPairs"]
            assert (pair["KeyName"], pair["KeyPairId"], pair["KeyType"]) == (
                "laptop",
                imported["KeyPairId"],
                "ed25519",
            )
            assert pair["PublicKey"] == public.decode() + " laptop\n"

            key_id = imported["KeyPairId"]
            await ec2.create_tags(Resources=[key_id], Tags=[{"Key": "env", "Value": "ci"}])
            await ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "team"}])
            tags = await ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [key_id]}])
            assert_valid_output(ec2, "DescribeTags", tags)
            assert tags["Tags"] == [
                {"Key": "env", "ResourceId": key_id, "ResourceType": "key-pair", "Value": "ci"}
            ]

            deleted = await ec2.delete_key_pair(KeyPairId=key_id)
            assert_valid_output(ec2, "DeleteKeyPair", deleted)
            assert deleted["KeyPairId"] == key_id
            remaining = await ec2.describe_key_pairs()
            assert [p["KeyName"] for p in remaining["KeyPairs"]] == ["other"]

    _run(body())


@FACTORIES
def test_errors_have_exact_code_message_status(client: ClientFactory) -> None:
    """Duplicate, NotFound and a bad enum raise ClientError with AWS's code, message and status."""

    async def body() -> None:
        async with mock_keypairs(), client("ec2", "us-east-1") as ec2:
            await ec2.create_key_pair(KeyName="deploy-key")
            with pytest.raises(ClientError) as duplicate:
                await ec2.create_key_pair(KeyName="deploy-key")
            assert _error(duplicate) == (
                "InvalidKeyPair.Duplicate",
                "The keypair already exists",
                400,
            )
            with pytest.raises(ClientError) as missing:
                await ec2.describe_key_pairs(KeyNames=["deploy-key", "gone"])
            assert _error(missing) == (
                "InvalidKeyPair.NotFound",
                "The key pair 'gone' does not exist",
                400,
            )
            with pytest.raises(ClientError) as enum:
                await ec2.create_key_pair(KeyName="other", KeyType="ecdsa")
            assert _error(enum) == (
                "InvalidParameterValue",
                "1 validation error detected: Value 'ecdsa' at 'keyType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [rsa, ed25519]",
                400,
            )

    _run(body())


@FACTORIES
def test_dry_run_answers_412(client: ClientFactory) -> None:
    """DryRun for an allowed call is DryRunOperation 412 and changes nothing."""

    async def body() -> None:
        async with mock_keypairs() as backend, client("ec2", "us-east-1") as ec2:
            with pytest.raises(ClientError) as excinfo:
                await ec2.create_key_pair(KeyName="deploy-key", DryRun=True)
            assert _error(excinfo) == (
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
                412,
            )
            assert backend.key_pairs() == []

    _run(body())


@FACTORIES
def test_unauthorized_403_and_async_sts_decode(client: ClientFactory) -> None:
    """A denying policy gives UnauthorizedOperation 403; an async STS client decodes the token."""

    @mock_keypairs(policy=ALLOW_DESCRIBE_ONLY)
    async def body() -> None:
        async with client("ec2", "us-east-1") as ec2, client("sts", "us-east-1") as sts:
            with pytest.raises(ClientError) as excinfo:
                await ec2.create_key_pair(KeyName="deploy-key", DryRun=True)
            code, message, status = _error(excinfo)
            prefix = (
                "You are not authorized to perform this operation. User: "
                "arn:aws:iam::123456789012:user/mock-user is not authorized to perform: "
                "ec2:CreateKeyPair on resource: "
                "arn:aws:ec2:us-east-1:123456789012:key-pair/deploy-key because no "
                "identity-based policy allows the ec2:CreateKeyPair action. " + ENCODED
            )
            assert (code, status) == ("UnauthorizedOperation", 403)
            assert re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9_-]+", message)

            decoded = await sts.decode_authorization_message(EncodedMessage=message[len(prefix) :])
            assert_valid_output(sts, "DecodeAuthorizationMessage", decoded)
            document = json.loads(decoded["DecodedMessage"])
            assert document["allowed"] is False
            assert document["context"]["action"] == "ec2:CreateKeyPair"
            assert document["context"]["resource"] == (
                "arn:aws:ec2:us-east-1:123456789012:key-pair/deploy-key"
            )

            with pytest.raises(ClientError) as invalid:
                await sts.decode_authorization_message(EncodedMessage="not-one-of-ours")
            assert _error(invalid)[0] == "InvalidAuthorizationMessageException"

    _run(body())


@FACTORIES
def test_principal_credentials_are_honoured(client: ClientFactory) -> None:
    """An async client signing with a principal's static credentials is evaluated as it."""

    async def body() -> None:
        async with mock_keypairs() as backend:
            bot = backend.create_principal("ci-bot", policy=DENY_ALL)
            async with client(
                "ec2",
                "us-east-1",
                aws_access_key_id=bot.access_key_id,
                aws_secret_access_key=bot.secret_access_key,
            ) as ec2:
                with pytest.raises(ClientError) as excinfo:
                    await ec2.describe_key_pairs()
            assert _error(excinfo) == (
                "UnauthorizedOperation",
                "You are not authorized to perform this operation. User: "
                "arn:aws:iam::123456789012:user/ci-bot is not authorized to perform: "
                "ec2:DescribeKeyPairs with an explicit deny in an identity-based policy",
                403,
            )

    _run(body())


class _RefreshingProvider:
    """A credential provider handing out aiobotocore's refreshable credentials for a principal.

    Refreshable credentials (credential_process, assumed roles, SSO) refuse synchronous reads
    of ``access_key`` under aiobotocore; the mock must still see who signs.
    """

    METHOD = "ci-bot-refreshable"
    CANONICAL_NAME = "ci-bot"

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    async def _metadata(self) -> dict[str, Any]:
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return {
            "access_key": self.principal.access_key_id,
            "secret_key": self.principal.secret_access_key,
            "token": self.principal.session_token,
            "expiry_time": expiry.isoformat(),
        }

    async def load(self) -> AioRefreshableCredentials:
        return AioRefreshableCredentials.create_from_metadata(
            await self._metadata(), self._metadata, self.METHOD
        )


def test_refreshable_credentials_are_honoured() -> None:
    """aiobotocore's refreshable credentials still identify the principal (not the default)."""

    async def body() -> None:
        async with mock_keypairs() as backend:
            bot = backend.create_principal("ci-bot", policy=DENY_ALL, kind="role")
            session = aiobotocore.session.get_session()
            resolver = session.get_component("credential_provider")
            resolver.insert_before("env", _RefreshingProvider(bot))
            async with session.create_client("ec2", region_name="us-east-1") as ec2:
                with pytest.raises(ClientError) as excinfo:
                    await ec2.create_key_pair(KeyName="deploy-key")
            assert _error(excinfo)[::2] == ("UnauthorizedOperation", 403)
            assert f"User: {bot.arn} is not authorized" in _error(excinfo)[1]
            assert backend.key_pairs() == []

    _run(body())


@FACTORIES
def test_regions_are_separate(client: ClientFactory) -> None:
    """The async client's region decides where the pair lives."""

    async def body() -> KeyPairsBackend:
        async with mock_keypairs() as backend:
            async with client("ec2", "eu-west-1") as west, client("ec2", "us-east-1") as east:
                await west.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
                await east.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
                assert len((await west.describe_key_pairs())["KeyPairs"]) == 1
            assert [p.region for p in backend.key_pairs(region="eu-west-1")] == ["eu-west-1"]
            return backend

    _run(body())


@FACTORIES
def test_concurrent_calls(client: ClientFactory) -> None:
    """Calls gathered on one event loop all succeed with distinct ids."""

    async def body() -> None:
        async with mock_keypairs() as backend, client("ec2", "us-east-1") as ec2:
            responses = await asyncio.gather(
                *(ec2.create_key_pair(KeyName=f"key-{n}", KeyType="ed25519") for n in range(8))
            )
            ids = {response["KeyPairId"] for response in responses}
            assert len(ids) == 8
            assert {p.key_pair_id for p in backend.key_pairs()} == ids

    _run(body())
