"""No network, ever: the suite's guard works, and mocked calls send nothing anywhere.

``tests/conftest.py`` forbids every non-loopback ``connect``/``connect_ex``/``getaddrinfo`` for
every test. The first tests prove that guard itself: it refuses, it records, and it fails a test
that reaches out (even through botocore, which catches most exceptions from sending). The rest
put real-looking credentials in the environment and count every way bytes could leave the
process (socket sends, botocore's and aiobotocore's send, ``http.client``, urllib3, aiohttp)
while every served operation runs through every door: the counts stay zero.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import socket
import textwrap
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiobotocore.endpoint
import aiobotocore.session
import aiohttp
import boto3
import botocore.endpoint
import pytest
import requests
import urllib3.connectionpool
from botocore.client import BaseClient
from botocore.exceptions import ClientError, HTTPClientError
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from tests.conftest import NetworkForbidden
from tests.helpers import ISOLATE

# Real-looking credentials: AKIA + 16 (20 characters), a 40-character secret, a session token.
ACCESS_KEY = "AKIA" + "Q7RZ4XK2M9PLW3NB"
SECRET_KEY = "wJa1rXUtnFEMI/K7MDENG+bPxRfiCYz0XAMPLEKy"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEBYaCXVzLWVhc3QtMSJHMEUCIQD" + "x" * 200
assert len(ACCESS_KEY) == 20
assert len(SECRET_KEY) == 40

KEY_PAIR_TAGS = [{"Name": "resource-type", "Values": ["key-pair"]}]
TEST_NET = ("192.0.2.1", 443)  # RFC 5737 documentation range: never routable


# -- the guard itself --------------------------------------------------------------------------


def test_guard_refuses_and_records(no_network: list[Any]) -> None:
    """connect, connect_ex and name lookups of anything but loopback raise and are recorded."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkForbidden, match=r"network access to \('192\.0\.2\.1', 443\)"):
            sock.connect(TEST_NET)
        with pytest.raises(NetworkForbidden):
            sock.connect_ex(("8.8.8.8", 53))
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock6,
        pytest.raises(NetworkForbidden),
    ):
        sock6.connect(("2001:db8::1", 443, 0, 0))
    with pytest.raises(NetworkForbidden, match=r"name lookup of 'ec2\.us-east-1\.amazonaws\.com'"):
        socket.getaddrinfo("ec2.us-east-1.amazonaws.com", 443)
    assert no_network == [
        TEST_NET,
        ("8.8.8.8", 53),
        ("2001:db8::1", 443, 0, 0),
        ("ec2.us-east-1.amazonaws.com", "dns"),
    ]
    no_network.clear()  # provoked on purpose: the teardown check is not about these
    # Not an OSError: code that handles network errors (urllib3, botocore's retries) must not
    # mistake it for a flaky connection and swallow it.
    assert not issubclass(NetworkForbidden, OSError)
    assert issubclass(NetworkForbidden, AssertionError)


def test_guard_allows_loopback(no_network: list[Any]) -> None:
    """Loopback (IPv4, IPv6, ``localhost``) stays reachable: the local endpoint lives there."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.create_connection(("localhost", port), timeout=5):
            pass
    assert no_network == []


def test_unmocked_boto3_call_is_stopped_by_the_guard(no_network: list[Any]) -> None:
    """Without an activation, a boto3 call is refused before a single byte leaves (DNS first).

    botocore wraps whatever its HTTP client raises in ``HTTPClientError``, which it does not
    retry: the call fails at once, after exactly one attempt, and the test with it.
    """
    client = boto3.client("ec2", region_name="us-east-1")
    with pytest.raises(HTTPClientError, match=r"name lookup of 'ec2\.us-east-1\.amazonaws\.com'"):
        client.describe_key_pairs()
    assert no_network == [("ec2.us-east-1.amazonaws.com", "dns")]
    no_network.clear()  # provoked on purpose


def test_guard_fails_a_test_that_reaches_out(pytester: pytest.Pytester) -> None:
    """A test that connects to a non-loopback address (directly, through urllib, or through an
    unmocked boto3 client) fails; its loopback-only neighbour passes."""
    pytester.makeconftest("from tests.conftest import _aws_env, no_network  # noqa: F401\n")
    pytester.makepyfile(
        test_outbound=textwrap.dedent(
            """
            import socket
            import urllib.request

            import boto3


            def test_socket():
                with socket.socket() as sock:
                    sock.connect(("192.0.2.1", 80))


            def test_urllib():
                urllib.request.urlopen("http://192.0.2.1/", timeout=1)


            def test_boto3():
                boto3.client("ec2", region_name="us-east-1").describe_key_pairs()


            def test_loopback():
                with socket.create_server(("127.0.0.1", 0)) as server:
                    socket.create_connection(server.getsockname(), timeout=1).close()
            """
        )
    )
    result = pytester.runpytest_inprocess(*ISOLATE)
    # Each refused test also errors at teardown: the attempt is on record.
    result.assert_outcomes(failed=3, passed=1, errors=3)
    result.stdout.fnmatch_lines(["*NetworkForbidden: network access to ('192.0.2.1', 80)*"])
    result.stdout.fnmatch_lines(
        ["*NetworkForbidden: name lookup of 'ec2.us-east-1.amazonaws.com'*"]
    )


# -- counting every way out --------------------------------------------------------------------


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every call of every function that could put bytes on a network."""
    counts: Counter[str] = Counter()

    def count(owner: Any, name: str) -> None:
        original = getattr(owner, name)
        label = f"{getattr(owner, '__name__', owner)}.{name}"

        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[label] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    for name in ("send", "sendall", "sendto", "sendmsg", "connect", "connect_ex"):
        count(socket.socket, name)
    count(socket, "create_connection")
    count(socket, "getaddrinfo")
    count(botocore.endpoint.Endpoint, "_send")
    count(aiobotocore.endpoint.AioEndpoint, "_send")
    count(http.client.HTTPConnection, "request")
    count(http.client.HTTPConnection, "send")
    count(urllib3.connectionpool.HTTPConnectionPool, "urlopen")
    count(aiohttp.ClientSession, "_request")
    return counts


@pytest.fixture
def real_looking_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3's default session caches the credentials it resolved first; start a new one (the
    # old one comes back after the test).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)


def _public_key_b64() -> bytes:
    line = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    return line + b" laptop\n"


def every_operation(ec2: BaseClient, sts: BaseClient, backend: KeyPairsBackend) -> int:
    """Every served operation, successes and errors, DryRun and the waiter; returns the count
    of calls the backend should have seen."""
    calls = 0

    def call(method: Callable[..., Any], **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return method(**kwargs)

    def refused(method: Callable[..., Any], **kwargs: Any) -> str:
        nonlocal calls
        calls += 1
        with pytest.raises(ClientError) as excinfo:
            method(**kwargs)
        return str(excinfo.value.response["Error"]["Code"])

    tags = [{"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "ci"}]}]
    rsa = call(ec2.create_key_pair, KeyName="rsa-pem")
    call(ec2.create_key_pair, KeyName="ed-ppk", KeyType="ed25519", KeyFormat="ppk")
    call(ec2.create_key_pair, KeyName="tagged", KeyType="ed25519", TagSpecifications=tags)
    imported = call(ec2.import_key_pair, KeyName="laptop", PublicKeyMaterial=_public_key_b64())
    assert refused(ec2.create_key_pair, KeyName="rsa-pem") == "InvalidKeyPair.Duplicate"
    assert refused(ec2.create_key_pair, KeyName="dry", DryRun=True) == "DryRunOperation"
    call(ec2.get_waiter("key_pair_exists").wait, KeyNames=["laptop"])
    found = call(ec2.describe_key_pairs, IncludePublicKey=True)["KeyPairs"]
    assert len(found) == 4
    call(ec2.describe_key_pairs, Filters=[{"Name": "tag:env", "Values": ["c*"]}])
    assert refused(ec2.describe_key_pairs, KeyNames=["missing"]) == "InvalidKeyPair.NotFound"
    call(ec2.create_tags, Resources=[rsa["KeyPairId"]], Tags=[{"Key": "team", "Value": "a"}])
    assert call(ec2.describe_tags, Filters=KEY_PAIR_TAGS)["Tags"]
    call(ec2.delete_tags, Resources=[rsa["KeyPairId"]], Tags=[{"Key": "team"}])
    call(ec2.delete_key_pair, KeyPairId=imported["KeyPairId"])
    call(ec2.delete_key_pair, KeyName="ed-ppk")
    call(ec2.delete_key_pair, KeyName="never-existed")
    # A denied call, then STS decodes its encoded message.
    backend.policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ec2:CreateKeyPair", "Resource": "*"},
        ],
    }
    calls += 1
    with pytest.raises(ClientError) as denied:
        ec2.create_key_pair(KeyName="denied")
    message = denied.value.response["Error"]["Message"]
    token = message.rsplit("Encoded authorization failure message: ", 1)[1]
    assert call(sts.decode_authorization_message, EncodedMessage=token)["DecodedMessage"]
    backend.policy = None
    return calls


def test_every_operation_sends_nothing(
    real_looking_credentials: None, outbound: Counter[str], no_network: list[Any]
) -> None:
    """With real-looking credentials in the environment, every served operation (boto3 default
    session and a fresh Session, EC2 and STS) is answered without one byte sent anywhere."""
    with mock_keypairs() as backend:
        for client_factory in (boto3.client, boto3.session.Session().client):
            backend.reset()
            ec2 = client_factory("ec2", region_name="us-east-1")
            sts = client_factory("sts", region_name="us-east-1")
            # The clients really hold the environment's credentials: nothing was bypassed.
            credentials = ec2._request_signer._credentials
            assert (credentials.access_key, credentials.secret_key) == (ACCESS_KEY, SECRET_KEY)
            assert credentials.token == SESSION_TOKEN
            made = every_operation(ec2, sts, backend)
            assert len(backend.calls) == made
            assert all(record.account_id == "123456789012" for record in backend.calls)
    assert outbound == Counter()
    assert no_network == []


def test_aiobotocore_sends_nothing(
    real_looking_credentials: None, outbound: Counter[str], no_network: list[Any]
) -> None:
    """aiobotocore clients (EC2 and STS) are answered without aiohttp opening anything."""

    async def scenario(backend: KeyPairsBackend) -> None:
        session = aiobotocore.session.get_session()
        async with (
            session.create_client("ec2", region_name="eu-west-1") as ec2,
            session.create_client("sts", region_name="eu-west-1") as sts,
        ):
            pair = await ec2.create_key_pair(KeyName="async", KeyType="ed25519")
            await ec2.import_key_pair(KeyName="imp", PublicKeyMaterial=_public_key_b64())
            await ec2.create_tags(Resources=[pair["KeyPairId"]], Tags=[{"Key": "a", "Value": "b"}])
            assert len((await ec2.describe_key_pairs())["KeyPairs"]) == 2
            await ec2.describe_tags(Filters=KEY_PAIR_TAGS)
            await ec2.delete_tags(Resources=[pair["KeyPairId"]])
            await ec2.delete_key_pair(KeyName="async")
            backend.policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}],
            }
            with pytest.raises(ClientError) as denied:
                await ec2.delete_key_pair(KeyName="imp")
            token = denied.value.response["Error"]["Message"].rsplit(": ", 1)[1]
            backend.policy = None
            await sts.decode_authorization_message(EncodedMessage=token)

    with mock_keypairs() as backend:
        asyncio.run(scenario(backend))
        assert len(backend.calls) == 9
    assert outbound == Counter()
    assert no_network == []


def test_requests_and_cli_send_nothing(
    real_looking_credentials: None,
    outbound: Counter[str],
    no_network: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The ``requests`` door and the AWS CLI (in process) are answered without a socket."""
    from awscli.clidriver import create_clidriver

    with mock_keypairs() as backend:
        answer = requests.post(
            "https://ec2.us-east-1.amazonaws.com/",
            data={"Action": "CreateKeyPair", "Version": "2016-11-15", "KeyName": "via-requests"},
            timeout=5,
        )
        assert answer.status_code == 200
        material = base64.b64encode(_public_key_b64()).decode()
        answer = requests.get(
            "https://ec2.us-east-1.amazonaws.com/",
            params={"Action": "ImportKeyPair", "KeyName": "imp", "PublicKeyMaterial": material},
            timeout=5,
        )
        assert answer.status_code == 200
        driver = create_clidriver()
        status = driver.main(["ec2", "describe-key-pairs", "--region", "us-east-1"])
        assert status == 0
        assert '"KeyName": "via-requests"' in capsys.readouterr().out
        assert [record.operation for record in backend.calls] == [
            "CreateKeyPair",
            "ImportKeyPair",
            "DescribeKeyPairs",
        ]
    assert outbound == Counter()
    assert no_network == []


def test_no_credentials_anywhere_and_metadata_enabled(
    monkeypatch: pytest.MonkeyPatch, outbound: Counter[str], no_network: list[Any]
) -> None:
    """No credentials configured and the instance metadata service not disabled: creating
    clients and calling through them still sends nothing (the IMDS and container credential
    providers find nothing while a mock is active)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc")
    with mock_keypairs() as backend:
        ec2 = boto3.session.Session().client("ec2", region_name="ap-south-1")
        sts = boto3.session.Session().client("sts", region_name="ap-south-1")
        made = every_operation(ec2, sts, backend)
        assert len(backend.calls) == made
    assert outbound == Counter()
    assert no_network == []


def test_counters_do_count(outbound: Counter[str], no_network: list[Any]) -> None:
    """The counters above are live: a loopback exchange shows up in them."""
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname(), timeout=5) as client,
    ):
        client.sendall(b"x")
        with contextlib.closing(server.accept()[0]) as accepted:
            assert accepted.recv(1) == b"x"
    assert outbound["socket.sendall"] == 1
    assert outbound["socket.create_connection"] == 1
    assert no_network == []


def test_hidden_attempt_fails_at_teardown(pytester: pytest.Pytester) -> None:
    """An attempt that the code under test catches and hides still fails the test."""
    pytester.makeconftest("from tests.conftest import _aws_env, no_network  # noqa: F401\n")
    pytester.makepyfile(
        """
import socket

def test_swallows():
    try:
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    except Exception:
        pass
"""
    )
    result = pytester.runpytest_inprocess(*ISOLATE)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the test tried to reach the network: *192.0.2.1*"])
