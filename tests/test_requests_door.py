"""The ``requests`` door: EC2 Query calls made with ``requests`` are answered by the mock.

Every test runs with DNS and connections limited to loopback (``no_network``), so a request the
door failed to catch fails loudly instead of reaching AWS.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter

from ec2_keypair_mock import KeyPairsBackend, UnmockedOperationError, mock_keypairs
from ec2_keypair_mock import _requests_door as door

EC2 = "https://ec2.eu-west-1.amazonaws.com/"
STS = "https://sts.amazonaws.com/"
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ED25519_PUB = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl imported"
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1"):
            msg = f"test tried to reach {host!r}: only loopback is allowed"
            raise OSError(msg)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture
def backend() -> Iterator[KeyPairsBackend]:
    backend = KeyPairsBackend(policy=None, fresh_keys=True)
    door.install(lambda: backend)
    try:
        yield backend
    finally:
        door.uninstall()
    assert not door.installed()


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = b"hello " + self.headers["Content-Type"].encode() + b" " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def plain_server() -> Iterator[str]:
    """A real HTTP server on loopback that knows nothing of EC2."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def _code(response: requests.Response) -> str:
    match = re.search(r"<Code>([^<]*)</Code>", response.text)
    assert match, response.text
    return match.group(1)


def test_create_import_describe_delete(backend: KeyPairsBackend) -> None:
    """Form POSTs and GETs to an EC2 host are served, in the host's region."""
    with requests.Session() as session:
        created = session.post(EC2, data={"Action": "CreateKeyPair", "KeyName": "deploy"})
        assert created.status_code == 200
        assert created.headers["Content-Type"] == "text/xml;charset=UTF-8"
        assert created.text.startswith(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CreateKeyPairResponse xmlns="{NS}">'
        )
        assert "-----BEGIN RSA PRIVATE KEY-----" in created.text
        material = base64.b64encode(ED25519_PUB.encode()).decode()
        imported = session.post(
            EC2,
            data={"Action": "ImportKeyPair", "KeyName": "laptop", "PublicKeyMaterial": material},
        )
        assert imported.status_code == 200, imported.text
        listed = session.get(EC2, params={"Action": "DescribeKeyPairs", "Version": "2016-11-15"})
        assert listed.status_code == 200
        assert re.findall(r"<keyName>([^<]*)</keyName>", listed.text) == ["deploy", "laptop"]
        deleted = session.post(EC2, data={"Action": "DeleteKeyPair", "KeyName": "deploy"})
        assert "<return>true</return>" in deleted.text
    assert [pair.name for pair in backend.key_pairs(region="eu-west-1")] == ["laptop"]
    assert backend.key_pairs(region="us-east-1") == []


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("http://ec2.amazonaws.com", "us-east-1"),
        ("https://ec2.ap-south-1.api.aws/", "ap-south-1"),
        ("https://EC2.us-west-2.amazonaws.com:443/?", "us-west-2"),
        ("https://ec2.cn-north-1.amazonaws.com.cn/", "cn-north-1"),
    ],
)
def test_every_ec2_host_name(backend: KeyPairsBackend, url: str, region: str) -> None:
    """Global, dual-stack, explicit-port and China names are all EC2, in their own region."""
    answer = requests.post(url, data={"Action": "CreateKeyPair", "KeyName": "k"}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert [pair.name for pair in backend.key_pairs(region=region)] == ["k"]


def test_ec2_errors_are_ec2_xml(backend: KeyPairsBackend) -> None:
    """EC2's own errors and the reader's protocol errors come back as EC2-style XML."""
    missing = requests.post(EC2, data={"Action": "DeleteKeyPair"}, timeout=5)
    assert (missing.status_code, _code(missing)) == (400, "MissingParameter")
    no_action = requests.post(EC2, data={"KeyName": "k"}, timeout=5)
    assert (no_action.status_code, _code(no_action)) == (400, "MissingAction")
    put = requests.put(EC2, data={"Action": "DescribeKeyPairs"}, timeout=5)
    assert (put.status_code, _code(put)) == (405, "MethodNotAllowed")
    as_json = requests.post(EC2, json={"Action": "DescribeKeyPairs"}, timeout=5)
    assert (as_json.status_code, _code(as_json)) == (415, "UnsupportedMediaType")
    head = requests.head(EC2, timeout=5)
    assert (head.status_code, head.content) == (405, b"")


def test_bodies_of_every_kind(backend: KeyPairsBackend) -> None:
    """str, bytes and generator bodies are read as the wire would carry them."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    as_str = requests.post(EC2, data="Action=CreateKeyPair&KeyName=one", headers=form, timeout=5)
    as_bytes = requests.post(EC2, data=b"Action=CreateKeyPair&KeyName=two", headers=form, timeout=5)
    chunks = iter([b"Action=CreateKey", b"Pair&KeyName=three"])
    as_generator = requests.post(EC2, data=chunks, headers=form, timeout=5)
    assert [r.status_code for r in (as_str, as_bytes, as_generator)] == [200, 200, 200]
    assert [p.name for p in backend.key_pairs(region="eu-west-1")] == ["one", "two", "three"]


def test_other_urls_pass_through_untouched(backend: KeyPairsBackend, plain_server: str) -> None:
    """A non-EC2 URL reaches the real server with its body and headers as sent."""
    answer = requests.post(
        plain_server,
        data=b"Action=CreateKeyPair&KeyName=k",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert answer.text == "hello application/x-www-form-urlencoded Action=CreateKeyPair&KeyName=k"
    assert backend.key_pairs(region="us-east-1") == []


def test_unserved_ec2_action_raises_in_strict_mode(backend: KeyPairsBackend) -> None:
    """An EC2 action the mock does not serve is an error naming it, never the network."""
    with pytest.raises(UnmockedOperationError) as raised:
        requests.post(EC2, data={"Action": "DescribeInstances"}, timeout=5)
    assert str(raised.value).startswith(
        "mock_keypairs does not serve ec2.DescribeInstances (region eu-west-1).\n"
        "Served operations: CreateKeyPair, CreateTags, "
    )
    assert str(raised.value).endswith("use mock_keypairs(strict=False); see README#strict-mode.")
    with pytest.raises(UnmockedOperationError, match=r"ec2\.CreateTags"):
        requests.post(
            EC2,
            data={"Action": "CreateTags", "ResourceId.1": "i-0123456789abcdef0"},
            timeout=5,
        )


def test_non_strict_passes_unserved_calls_to_the_previous_handler() -> None:
    """With strict off, unserved EC2 calls (and other STS calls) reach whatever send() was
    installed before the door: here an outer ``responses`` mock."""
    backend = KeyPairsBackend(policy=None, fresh_keys=True)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as outer:
        outer.add(responses.POST, re.compile(r"https://(ec2|sts)\..*"), body="from the outer mock")
        door.install(lambda: backend, is_strict=lambda: False)
        try:
            unserved = requests.post(EC2, data={"Action": "DescribeInstances"}, timeout=5)
            served = requests.post(EC2, data={"Action": "DescribeKeyPairs"}, timeout=5)
            other_sts = requests.post(STS, data={"Action": "GetCallerIdentity"}, timeout=5)
        finally:
            door.uninstall()
        assert unserved.text == "from the outer mock"
        assert served.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        assert other_sts.text == "from the outer mock"
        assert len(outer.calls) == 2


def test_decode_authorization_message_over_requests() -> None:
    """A denied call's encoded message can be decoded by POSTing to STS."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}
        ],
    }
    backend = KeyPairsBackend(policy=policy, fresh_keys=True)
    door.install(lambda: backend)
    try:
        denied = requests.post(EC2, data={"Action": "CreateKeyPair", "KeyName": "k"}, timeout=5)
        assert (denied.status_code, _code(denied)) == (403, "UnauthorizedOperation")
        encoded = re.search(r"Encoded authorization failure message: ([^<]+)<", denied.text)
        assert encoded
        decoded = requests.post(
            STS,
            data={"Action": "DecodeAuthorizationMessage", "EncodedMessage": encoded.group(1)},
            timeout=5,
        )
    finally:
        door.uninstall()
    assert decoded.status_code == 200, decoded.text
    assert "<DecodedMessage>" in decoded.text
    assert "ec2:CreateKeyPair" in decoded.text


def test_install_is_idempotent_and_uninstall_restores_send() -> None:
    """Installing twice patches once; uninstalling puts the original send() back."""
    original = HTTPAdapter.send
    backend = KeyPairsBackend(policy=None, fresh_keys=True)
    door.install(lambda: backend)
    patched = HTTPAdapter.send
    door.install(lambda: backend)
    assert HTTPAdapter.send is patched
    assert patched is not original
    door.uninstall()
    door.uninstall()
    assert HTTPAdapter.send is original
    assert not door.installed()


def test_mock_keypairs_serves_requests_and_boto3_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under mock_keypairs, a pair created with requests is seen by boto3, and vice versa."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with mock_keypairs() as backend:
        answer = requests.post(EC2, data={"Action": "CreateKeyPair", "KeyName": "web"}, timeout=5)
        assert answer.status_code == 200
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        ec2.create_key_pair(KeyName="boto")
        listed = requests.get(EC2, params={"Action": "DescribeKeyPairs"}, timeout=5)
        assert re.findall(r"<keyName>([^<]*)</keyName>", listed.text) == ["web", "boto"]
        assert [p.name for p in backend.key_pairs(region="eu-west-1")] == ["web", "boto"]
        ec2.close()
    assert not door.installed()
