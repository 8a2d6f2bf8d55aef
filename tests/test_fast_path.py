"""Shortcuts on the hot path produce exactly what the slow, obvious way produces.

The botocore door promises what botocore's own EC2 parser makes of the XML the dispatcher
rendered. For success bodies it builds that result from the structured output instead of
parsing (``_parsed``); these tests drive every operation, every optional member and every
error kind through real boto3 clients, parse the very same XML with botocore's parser, and
require the two to be equal: same keys in the same order, same types, same values.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from ec2_keypair_mock import _parsed as parsed_module
from ec2_keypair_mock._keys import material_for
from ec2_keypair_mock._model import RenderedXML, operation_model
from ec2_keypair_mock._wire import WireRequest, WireResponse

DENY_DELETE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:DeleteKeyPair", "Resource": "*"},
    ],
}


def assert_identical(got: Any, expected: Any, path: str = "") -> None:
    """Equal, and also the same types and the same key order all the way down."""
    assert type(got) is type(expected), path
    if isinstance(expected, dict):
        assert list(got) == list(expected), path
        for key in expected:
            assert_identical(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for index, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_identical(a, b, f"{path}[{index}]")
    elif isinstance(expected, dt.datetime):
        assert got == expected, path
        assert repr(got) == repr(expected), path
        assert got.utcoffset() == expected.utcoffset(), path
    else:
        assert got == expected, path


class Recorder:
    """Every answer the door gave, next to botocore's parse of the same wire response."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = []
        self.direct = 0

    def botocore_parse(self, action: str, service: str, response: WireResponse) -> dict[str, Any]:
        headers = {key.lower(): value for key, value in response.headers.items()}
        headers["content-length"] = str(len(response.body))
        shape = operation_model(service, action).output_shape
        parsed: dict[str, Any] = create_parser("ec2" if service == "ec2" else "query").parse(
            {"body": bytes(response.body), "headers": headers, "status_code": response.status},
            shape,
        )
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        return parsed


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Record each dispatched wire response and count the answers built without parsing."""
    record = Recorder()
    real_dispatch = KeyPairsBackend.dispatch
    real_parsed_output = parsed_module.parsed_output
    last: list[tuple[WireRequest, WireResponse]] = []

    def dispatch(self: KeyPairsBackend, request: WireRequest, model: Any = None) -> WireResponse:
        response = real_dispatch(self, request, model)
        last.append((request, response))
        return response

    def parsed_output(*args: Any, **kwargs: Any) -> Any:
        result = real_parsed_output(*args, **kwargs)
        if result is not None:
            record.direct += 1
        return result

    monkeypatch.setattr(KeyPairsBackend, "dispatch", dispatch)
    monkeypatch.setattr("ec2_keypair_mock._botocore.parsed_output", parsed_output)
    record.last = last  # type: ignore[attr-defined]  # test-only attribute
    return record


@pytest.fixture
def ec2(recorder: Recorder) -> Iterator[BaseClient]:
    with mock_keypairs():
        yield boto3.client("ec2", region_name="eu-west-1")


def call(recorder: Recorder, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Call through boto3 and require the door's answer to equal botocore's parse."""
    last: list[tuple[WireRequest, WireResponse]] = recorder.last  # type: ignore[attr-defined]
    last.clear()
    try:
        got: dict[str, Any] = method(**kwargs)
        failed = False
    except ClientError as error:
        got = dict(error.response)
        failed = True
    [(request, response)] = last
    expected = recorder.botocore_parse(request.action, request.service, response)
    if failed:
        # ClientError adds nothing to the parsed error but a copy; compare the parser's part.
        assert not isinstance(response.body, RenderedXML)
    assert_identical(got, expected)
    return got


AWKWARD = [
    "plain",
    "",
    " leading and trailing ",
    "line\nfeed",
    "carriage\rreturn",
    "crlf\r\nline",
    "tab\there",
    "<&>'\"]]>",
    "control\x00\x01\x1f",
    "surrogate\ud800",
    "nonchar\ufffe\uffff",
    "unicode: é 😀 ‮",
]


def _tags(values: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "ResourceType": "key-pair",
            "Tags": [{"Key": f"k{i}", "Value": value} for i, value in enumerate(values)],
        }
    ]


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize("key_format", ["pem", "ppk"])
def test_create_key_pair(
    ec2: BaseClient, recorder: Recorder, key_type: str, key_format: str
) -> None:
    """CreateKeyPair in every type and format, without and with tags."""
    call(recorder, ec2.create_key_pair, KeyName="plain", KeyType=key_type, KeyFormat=key_format)
    call(
        recorder,
        ec2.create_key_pair,
        KeyName="tagged",
        KeyType=key_type,
        KeyFormat=key_format,
        TagSpecifications=_tags(AWKWARD[:10]),
    )
    assert recorder.direct == 2


def test_import_describe_delete_and_tags(ec2: BaseClient, recorder: Recorder) -> None:
    """Every other operation, every optional member, text that XML changes on the way."""
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    call(recorder, ec2.import_key_pair, KeyName="imported", PublicKeyMaterial=public)
    imported = call(
        recorder,
        ec2.import_key_pair,
        KeyName="imported-tagged",
        PublicKeyMaterial=public,
        TagSpecifications=_tags(AWKWARD[:10]),
    )
    created = call(recorder, ec2.create_key_pair, KeyName="created", KeyType="ed25519")
    call(recorder, ec2.describe_key_pairs)
    call(recorder, ec2.describe_key_pairs, IncludePublicKey=True)
    call(recorder, ec2.describe_key_pairs, KeyNames=["created"])
    call(recorder, ec2.describe_key_pairs, Filters=[{"Name": "tag:k0", "Values": ["*"]}])
    call(recorder, ec2.describe_key_pairs, Filters=[{"Name": "key-name", "Values": ["none"]}])
    call(
        recorder,
        ec2.create_tags,
        Resources=[created["KeyPairId"]],
        Tags=[{"Key": f"t{i}", "Value": value} for i, value in enumerate(AWKWARD[2:])],
    )
    pairs_only = {"Name": "resource-type", "Values": ["key-pair"]}
    call(recorder, ec2.describe_tags, Filters=[pairs_only])
    call(recorder, ec2.describe_tags, Filters=[pairs_only], MaxResults=5)
    page = ec2.describe_tags(Filters=[pairs_only], MaxResults=5)
    call(
        recorder, ec2.describe_tags, Filters=[pairs_only], MaxResults=5, NextToken=page["NextToken"]
    )
    call(recorder, ec2.describe_tags, Filters=[pairs_only, {"Name": "key", "Values": ["none"]}])
    call(recorder, ec2.delete_tags, Resources=[created["KeyPairId"]], Tags=[{"Key": "t0"}])
    call(recorder, ec2.delete_key_pair, KeyName="created")
    call(recorder, ec2.delete_key_pair, KeyName="never-existed")
    call(recorder, ec2.delete_key_pair, KeyPairId=imported["KeyPairId"])
    call(recorder, ec2.describe_key_pairs, IncludePublicKey=True)
    assert recorder.direct == 19


def test_every_error_kind_is_parsed_by_botocore(recorder: Recorder) -> None:
    """400, 403, 412 and STS answers are parsed from their XML, exactly as botocore does."""
    with mock_keypairs(policy=DENY_DELETE):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        sts = boto3.client("sts", region_name="us-east-1")
        call(recorder, ec2.create_key_pair, KeyName="k", KeyType="ed25519")
        call(recorder, ec2.create_key_pair, KeyName="k", KeyType="ed25519")  # duplicate
        call(recorder, ec2.create_key_pair, KeyName="x", KeyType="dsa")  # enum
        call(recorder, ec2.create_key_pair, KeyName="x", DryRun=True)  # 412
        call(recorder, ec2.describe_key_pairs, KeyNames=["missing"])  # NotFound
        call(recorder, ec2.describe_key_pairs, KeyPairIds=["key-0123"])
        call(recorder, ec2.import_key_pair, KeyName="bad", PublicKeyMaterial=b"nope")
        call(recorder, ec2.create_tags, Resources=["key-0000000000000000a"], Tags=[])
        denied = call(recorder, ec2.delete_key_pair, KeyName="k")  # 403 with encoded message
        encoded = denied["Error"]["Message"].rsplit(" ", 1)[-1]
        call(recorder, sts.decode_authorization_message, EncodedMessage=encoded)
        call(recorder, sts.decode_authorization_message, EncodedMessage="not-ours")
    assert recorder.direct == 1


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "UTC+3", "GMT"]
)
def test_timestamps_in_every_time_zone(
    zone: str, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CreateTime equals dateutil's reading of EC2's text, whatever the local zone says."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        with mock_keypairs() as backend:
            ec2 = boto3.client("ec2", region_name="us-east-1")
            for month in (1, 7):  # winter and summer
                name = f"m{month}"
                backend.add_key_pair(name, key_type="ed25519")
                pair = backend._regions[backend.account_id, "us-east-1"].by_name[name]
                pair.create_time = dt.datetime(
                    2024, month, 3, 4, 5, 6, 789123, tzinfo=dt.timezone.utc
                )
            call(recorder, ec2.describe_key_pairs)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert recorder.direct == 1


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_any_tag_text(ec2: BaseClient, recorder: Recorder, values: list[str]) -> None:
    """Whatever text a tag holds, the direct result equals botocore's parse of the XML."""
    name = f"h{recorder.direct}"
    call(
        recorder,
        ec2.create_key_pair,
        KeyName=name,
        KeyType="ed25519",
        TagSpecifications=_tags(values),
    )
    call(recorder, ec2.describe_key_pairs, KeyNames=[name])


def test_an_unmirrored_value_falls_back_to_parsing() -> None:
    """A value the direct path does not mirror gives None, so the door parses the XML."""
    model = operation_model("ec2", "DescribeKeyPairs")
    body = RenderedXML(b"<xml/>")
    body.operation = model
    body.output = {"KeyPairs": [{"KeyName": "k", "CreateTime": "not a datetime"}]}
    body.request_id = "r"
    assert parsed_module.parsed_output(body, 200, {}, lambda text: text) is None


@pytest.mark.parametrize("seed", range(50))
def test_openssh_ed25519_writer_equals_cryptography(seed: int) -> None:
    """Our ``openssh-key-v1`` bytes equal cryptography's for the same key and check integer."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    check = bytes([seed, 1, 2, 3])
    with mock.patch("os.urandom", lambda n: check[:n]):
        ours = material_for(key, "pem", "ignored").material
        theirs = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    assert base64.b64decode("".join(ours.split("\n")[1:-1])) == base64.b64decode(
        "".join(theirs.splitlines()[1:-1])
    )
    assert ours.split("\n")[0] == theirs.splitlines()[0]
    assert ours.split("\n")[-1] == theirs.splitlines()[-1]


@pytest.mark.parametrize("fast", [True, False])
def test_http_response_headers_match_botocores_own(fast: bool) -> None:
    """The after-call ``http_response`` carries the same headers whether they were filled
    directly or through ``HeadersDict(headers)`` (the fallback when botocore's internals differ)."""
    from botocore.awsrequest import HeadersDict

    from ec2_keypair_mock import _botocore

    seen: list[Any] = []
    client = boto3.client("ec2", region_name="us-east-1")
    client.meta.events.register(
        "after-call.ec2.CreateKeyPair", lambda http_response, **_: seen.append(http_response)
    )
    with (
        mock.patch.object(_botocore, "_FAST_HEADERS", fast),
        mock_keypairs(),
    ):
        response = client.create_key_pair(KeyName="deploy", KeyType="ed25519")
    [http] = seen
    sent = response["ResponseMetadata"]["HTTPHeaders"]
    assert isinstance(http.headers, HeadersDict)
    assert dict(http.headers.items()) == sent
    assert repr(http.headers) == repr(HeadersDict(sent))
    assert http.headers["X-Amzn-RequestId"] == response["ResponseMetadata"]["RequestId"]
    assert http.headers["Content-Length"] == sent["content-length"]
    assert (http.status_code, http.url, http.raw) == (200, None, None)
    assert _botocore._direct_build_ok()  # the botocore this suite runs with takes the fast path
