"""Every front door answers the same sequence with the same codes, messages, statuses and shapes.

Doors: a sync boto3 client (botocore ``before-call`` hook), an aiobotocore client (same hook,
awaited), a boto3 client pointed at the local HTTP endpoint (``endpoint_url``, no activation), and
plain ``requests`` POSTing the Query form to the real EC2 URL while the mock is active (answered
by the ``requests`` door, parsed with botocore's own EC2 parser). Values that differ by nature
(ids, fingerprints, private keys, times, request ids) are checked for form and consistency, then
replaced by placeholders, and every door's transcript must equal the one expected transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any

import aiobotocore.session
import boto3
import botocore.session
import pytest
import requests
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from ec2_keypair_mock import KeyPairsBackend, _mock, _requests_door, mock_keypairs
from ec2_keypair_mock._server import LocalEndpoint

REGION = "us-east-1"
Call = Callable[[str, dict[str, Any]], dict[str, Any]]
"""A door: (operation, parameters) → the parsed response, or ``ClientError.response``."""

_SERVICE: ServiceModel = botocore.session.get_session().get_service_model("ec2")

SEQUENCE: list[tuple[str, dict[str, Any]]] = [
    ("CreateKeyPair", {"KeyName": "deploy-key", "KeyType": "ed25519"}),
    ("CreateKeyPair", {"KeyName": "deploy-key", "KeyType": "ed25519"}),
    ("DescribeKeyPairs", {"Filters": [{"Name": "key-name", "Values": ["deploy-*"]}]}),
    ("CreateKeyPair", {"KeyName": "other-key", "DryRun": True}),
    ("DeleteKeyPair", {"KeyName": "deploy-key"}),
    ("DescribeKeyPairs", {"KeyNames": ["deploy-key"]}),
]

EXPECTED: list[dict[str, Any]] = [
    {
        "status": 200,
        "body": {
            "KeyName": "deploy-key",
            "KeyFingerprint": "<fingerprint 1>",
            "KeyMaterial": "<ed25519 private key>",
            "KeyPairId": "<key id 1>",
        },
    },
    {
        "status": 400,
        "body": {
            "Error": {"Code": "InvalidKeyPair.Duplicate", "Message": "The keypair already exists"}
        },
    },
    {
        "status": 200,
        "body": {
            "KeyPairs": [
                {
                    "KeyName": "deploy-key",
                    "KeyPairId": "<key id 1>",
                    "KeyFingerprint": "<fingerprint 1>",
                    "KeyType": "ed25519",
                    "CreateTime": "<time>",
                    "Tags": [],
                }
            ]
        },
    },
    {
        "status": 412,
        "body": {
            "Error": {
                "Code": "DryRunOperation",
                "Message": "Request would have succeeded, but DryRun flag is set.",
            }
        },
    },
    {"status": 200, "body": {"Return": True, "KeyPairId": "<key id 1>"}},
    {
        "status": 400,
        "body": {
            "Error": {
                "Code": "InvalidKeyPair.NotFound",
                "Message": "The key pair 'deploy-key' does not exist",
            }
        },
    },
]


# -- the doors ----------------------------------------------------------------------------------


def _answer(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return call()
    except ClientError as error:
        return error.response


@contextlib.contextmanager
def _boto3_door() -> Iterator[Call]:
    with mock_keypairs() as backend:
        ec2 = boto3.client("ec2", region_name=REGION)
        yield lambda op, params: _answer(lambda: getattr(ec2, xform_name(op))(**params))
        ec2.close()
        assert len(backend.calls) == len(SEQUENCE)


@contextlib.contextmanager
def _aiobotocore_door() -> Iterator[Call]:
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()

    async def open_client() -> tuple[KeyPairsBackend, Any]:
        backend = await stack.enter_async_context(mock_keypairs())
        session = aiobotocore.session.get_session()
        client = session.create_client("ec2", region_name=REGION)
        return backend, await stack.enter_async_context(client)

    try:
        backend, ec2 = loop.run_until_complete(open_client())

        def call(op: str, params: dict[str, Any]) -> dict[str, Any]:
            method = getattr(ec2, xform_name(op))
            return _answer(lambda: loop.run_until_complete(method(**params)))

        yield call
        assert len(backend.calls) == len(SEQUENCE)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


@contextlib.contextmanager
def _endpoint_door() -> Iterator[Call]:
    # No activation: the client really speaks HTTP to the in-thread endpoint on loopback.
    assert _mock._stack == []
    backend = KeyPairsBackend(fresh_keys=False)
    with LocalEndpoint(backend) as endpoint:
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint.url)
        yield lambda op, params: _answer(lambda: getattr(ec2, xform_name(op))(**params))
        ec2.close()
    assert len(backend.calls) == len(SEQUENCE)


@contextlib.contextmanager
def _requests_door_call() -> Iterator[Call]:
    serializer = create_serializer("ec2")
    parser = create_parser("ec2")

    def call(op: str, params: dict[str, Any]) -> dict[str, Any]:
        model = _SERVICE.operation_model(op)
        # botocore's serializer writes the Query form (Filter.1.Name…) a hand-written one would.
        form = serializer.serialize_to_request(params, model)["body"]
        answer = requests.post(f"https://ec2.{REGION}.amazonaws.com/", data=form, timeout=5)
        parsed: dict[str, Any] = parser.parse(
            {
                "body": answer.content,
                "headers": answer.headers,
                "status_code": answer.status_code,
            },
            model.output_shape,
        )
        parsed["ResponseMetadata"]["HTTPStatusCode"] = answer.status_code
        return parsed

    with mock_keypairs() as backend:
        assert _requests_door.installed()
        yield call
        assert len(backend.calls) == len(SEQUENCE)
    assert not _requests_door.installed()


DOORS = {
    "boto3": _boto3_door,
    "aiobotocore": _aiobotocore_door,
    "endpoint": _endpoint_door,
    "requests": _requests_door_call,
}


# -- normalisation ------------------------------------------------------------------------------


_FORMS = {
    "KeyPairId": (re.compile(r"key-0[0-9a-f]{16}"), "key id"),
    "KeyFingerprint": (re.compile(r"[A-Za-z0-9+/]{43}="), "fingerprint"),
}


class _Placeholders:
    """Replaces varying values by stable names, checking their form on the way."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def value(self, key: str, value: Any) -> Any:
        if key in _FORMS:
            pattern, label = _FORMS[key]
            assert pattern.fullmatch(value), (key, value)
            if (label, value) not in self.seen:
                count = sum(1 for seen_label, _ in self.seen if seen_label == label)
                self.seen[(label, value)] = f"<{label} {count + 1}>"
            return self.seen[(label, value)]
        if key == "KeyMaterial":
            assert value.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n"), value
            return "<ed25519 private key>"
        if key == "CreateTime":
            assert isinstance(value, datetime.datetime)
            assert value.tzinfo is not None
            return "<time>"
        return self.walk(value)

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.value(key, item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        return value


def _transcript(call: Call) -> list[dict[str, Any]]:
    placeholders = _Placeholders()
    transcript = []
    for op, params in SEQUENCE:
        response = call(op, params)
        metadata = response.pop("ResponseMetadata")
        assert re.fullmatch(r"[0-9a-f-]{36}", metadata["RequestId"]), metadata
        status = metadata["HTTPStatusCode"]
        if status == 200:
            # Success bodies fit botocore's output shape, as AWS's do.
            validate_parameters(response, _SERVICE.operation_model(op).output_shape)
        transcript.append({"status": status, "body": placeholders.walk(response)})
    return transcript


@pytest.mark.parametrize("door", DOORS)
def test_door_answers_the_sequence(door: str) -> None:
    """Create, duplicate, filtered describe, DryRun, delete, NotFound: the expected answers."""
    with DOORS[door]() as call:
        transcript = _transcript(call)
    assert transcript == EXPECTED
    assert _mock._stack == []
