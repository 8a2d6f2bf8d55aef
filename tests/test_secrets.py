"""Secrets: private keys are handed out once and kept nowhere; logs carry no secrets; the local
endpoint is loopback unless asked otherwise, and then says so loudly.

After CreateKeyPair returns (RSA and Ed25519, PEM and PPK), the backend's whole object graph
(regions, pairs, call log, principals, policies) and the package's module-level state are
searched for every base64 line of the private material and for the private key's raw bytes and
integers: none is there, and no live private key object either. With every logger at DEBUG,
no log record carries key material, a principal's secret access key or the environment's.
"""

from __future__ import annotations

import base64
import collections
import gc
import http.client
import io
import logging
import signal
import subprocess
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_ssh_private_key,
)

import ec2_keypair_mock
from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from ec2_keypair_mock._keys import material_for
from ec2_keypair_mock._server import LocalEndpoint

COMBINATIONS = [("rsa", "pem"), ("rsa", "ppk"), ("ed25519", "pem"), ("ed25519", "ppk")]
ENV_SECRET = "kR8vQ2mZ7xW4nB1cT6yH3jL9pD5sF0gA2eU7iO4q"  # 40 characters, like AWS's
assert len(ENV_SECRET) == 40


# -- what counts as private material -----------------------------------------------------------


def _ssh_fields(blob: bytes) -> Iterator[bytes]:
    """The SSH ``string``/``mpint`` fields of a PPK private blob."""
    while blob:
        length = int.from_bytes(blob[:4], "big")
        yield blob[4 : 4 + length]
        blob = blob[4 + length :]


def secrets_of(material: str) -> tuple[list[str], list[bytes], list[int]]:
    """(private base64 lines, raw private byte strings, private integers) of a key's material."""
    lines = material.splitlines()
    if lines[0].startswith("PuTTY-User-Key-File"):
        count = int(next(line for line in lines if line.startswith("Private-Lines:")).split()[1])
        start = next(i for i, line in enumerate(lines) if line.startswith("Private-Lines:")) + 1
        private_lines = lines[start : start + count]
        mac = next(line for line in lines if line.startswith("Private-MAC:")).split()[1]
        blob = base64.b64decode("".join(private_lines))
        raw = [field.lstrip(b"\0") for field in _ssh_fields(blob)]
        integers = [int.from_bytes(field, "big") for field in raw]
        return [*private_lines, mac], raw, integers
    body = [line for line in lines if not line.startswith("-----")]
    if "OPENSSH" in lines[0]:
        key = load_ssh_private_key(material.encode() + b"\n", None)
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        # The first line is the same in every Ed25519 key (magic, "none", "none", key count):
        # keep only lines this key does not share with another one.
        common = set(material_for(ed25519.Ed25519PrivateKey.generate(), "pem", "").material.split())
        return [line for line in body if line not in common], [key.private_bytes_raw()], []
    key = load_pem_private_key(material.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    integers = [numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp]
    raw = [value.to_bytes((value.bit_length() + 7) // 8, "big") for value in integers]
    return body, raw, integers


# -- walking an object graph -------------------------------------------------------------------

_NOT_STATE = (type, types.ModuleType, types.CodeType, types.FrameType, types.BuiltinFunctionType)


def reachable(roots: Iterable[Any]) -> Iterator[Any]:
    """Every object reachable from ``roots`` through instance state.

    Containers, instance attributes and slots are followed, as are functions' closures and
    defaults (a closure could hold a key); classes, modules, code and globals are not: they
    lead to the whole interpreter, test locals included.
    """
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _NOT_STATE):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, (str, bytes, bytearray, int, float, bool)) or obj is None:
            continue
        if isinstance(obj, types.FunctionType):
            stack.extend(cell.cell_contents for cell in obj.__closure__ or () if _filled(cell))
            stack.extend(obj.__defaults__ or ())
            stack.extend((obj.__kwdefaults__ or {}).values())
            continue
        if isinstance(obj, types.MethodType):
            stack.append(obj.__self__)
            continue
        stack.extend(gc.get_referents(obj))


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def package_state(*, except_modules: tuple[str, ...] = ()) -> list[Any]:
    """The instance data held at module level by every module of the package."""
    roots: list[Any] = []
    for name, module in sorted(sys.modules.items()):
        if name in except_modules:
            continue
        if name == "ec2_keypair_mock" or name.startswith("ec2_keypair_mock."):
            roots.extend(
                value
                for value in vars(module).values()
                if not isinstance(value, (*_NOT_STATE, types.FunctionType))
            )
    return roots


def find_secrets(
    roots: Iterable[Any], lines: list[str], raw: list[bytes], integers: list[int]
) -> list[str]:
    """Where private material shows up in the graph (empty when nowhere)."""
    found: list[str] = []
    wanted_ints = set(integers)
    for obj in reachable(roots):
        if isinstance(obj, str):
            found.extend(f"line {line[:16]}… in a str" for line in lines if line in obj)
        elif isinstance(obj, (bytes, bytearray)):
            found.extend(f"raw {secret[:4].hex()}… in bytes" for secret in raw if secret in obj)
            found.extend(f"line {line[:16]}… in bytes" for line in lines if line.encode() in obj)
        elif isinstance(obj, int) and not isinstance(obj, bool) and obj in wanted_ints:
            found.append(f"private integer of {obj.bit_length()} bits")
        elif isinstance(obj, rsa.RSAPrivateKey) and obj.private_numbers().d in wanted_ints:
            found.append("the live RSAPrivateKey")
        elif isinstance(obj, ed25519.Ed25519PrivateKey) and obj.private_bytes_raw() in raw:
            found.append("the live Ed25519PrivateKey")
    return found


# -- the backend keeps nothing -----------------------------------------------------------------


def _create_and_use(backend: KeyPairsBackend, key_type: str, key_format: str) -> str:
    """CreateKeyPair as a principal, then a second pair, a describe and tagging; the material."""
    principal = backend.create_principal("dev")
    ec2 = boto3.session.Session().client(
        "ec2",
        region_name="eu-west-1",
        aws_access_key_id=principal.access_key_id,
        aws_secret_access_key=principal.secret_access_key,
    )
    created = ec2.create_key_pair(
        KeyName="deploy",
        KeyType=key_type,
        KeyFormat=key_format,
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "ci"}]}],
    )
    ec2.create_key_pair(KeyName="other", KeyType=key_type, KeyFormat=key_format)
    ec2.describe_key_pairs(IncludePublicKey=True)
    ec2.create_tags(Resources=[created["KeyPairId"]], Tags=[{"Key": "a", "Value": "b"}])
    assert backend.calls[0].operation == "CreateKeyPair"
    return str(created["KeyMaterial"])


@pytest.mark.parametrize(("key_type", "key_format"), COMBINATIONS)
def test_backend_keeps_no_private_material(key_type: str, key_format: str) -> None:
    """With fresh keys, after CreateKeyPair (and a describe, tagging and the call log) no line
    of the private material, none of its raw bytes or integers and not the private key object
    is reachable from the backend, the activation stack or any module of the package (the
    process-wide key cache included: fresh keys never enter it)."""
    with mock_keypairs(fresh_keys=True) as backend:
        lines, raw, integers = secrets_of(_create_and_use(backend, key_type, key_format))
        assert lines
        assert raw
        roots = [backend, ec2_keypair_mock._mock._stack, *package_state()]
        assert find_secrets(roots, lines, raw, integers) == []
    assert find_secrets([backend, *package_state()], lines, raw, integers) == []


@pytest.mark.parametrize(("key_type", "key_format"), COMBINATIONS)
def test_cached_keys_stay_in_the_cache(key_type: str, key_format: str) -> None:
    """With the default process-wide key cache, the backend still holds nothing: only the
    cache (``_keycache.KEY_CACHE``, by design: it hands the same keys to later activations)
    has the key. The backend's key source is a cursor closure over that cache, so it is the
    one edge this search does not follow."""
    with mock_keypairs(fresh_keys=False) as backend:
        lines, raw, integers = secrets_of(_create_and_use(backend, key_type, key_format))
        source = backend._key_source
        try:
            backend._key_source = None  # type: ignore[assignment]  # cut the edge to the cache
            roots = [
                backend,
                ec2_keypair_mock._mock._stack,
                *package_state(except_modules=("ec2_keypair_mock._keycache",)),
            ]
            assert find_secrets(roots, lines, raw, integers) == []
        finally:
            backend._key_source = source


def test_the_search_finds_what_it_looks_for() -> None:
    """The graph search is live: material kept in a nested attribute, a closure or as a key
    object is found."""
    backend = KeyPairsBackend(fresh_keys=True)
    new = backend._key_source("rsa", "pem", "x")
    lines, raw, integers = secrets_of(new.material)
    holder = types.SimpleNamespace(deep=[{"k": (new,)}])
    key = load_pem_private_key(new.material.encode(), None)
    assert find_secrets([holder], lines, raw, integers)
    assert find_secrets([lambda: key], lines, raw, integers) == ["the live RSAPrivateKey"]
    assert find_secrets([{"d": integers[0]}], lines, raw, integers)
    assert find_secrets([raw[1] + b"padding"], lines, raw, integers)


# -- logs --------------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "boto3", "ec2_keypair_mock", "urllib3", "aiobotocore", "responses"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


def test_debug_logs_hold_no_secrets(
    debug_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every logger at DEBUG, every key type and format, boto3 and requests doors, a principal
    and environment credentials: no log record holds key material or a secret access key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAQ7RZ4XK2M9PLW3NB")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # resolve the environment afresh
    materials: list[str] = []
    with mock_keypairs(fresh_keys=True) as backend:
        principal = backend.create_principal("dev", kind="role")
        as_principal = boto3.session.Session().client(
            "ec2",
            region_name="us-east-1",
            aws_access_key_id=principal.access_key_id,
            aws_secret_access_key=principal.secret_access_key,
            aws_session_token=principal.session_token,
        )
        as_env = boto3.client("ec2", region_name="us-east-1")
        for index, (key_type, key_format) in enumerate(COMBINATIONS):
            for client in (as_principal, as_env):
                name = f"{key_type}-{key_format}-{index}-{id(client)}"
                created = client.create_key_pair(
                    KeyName=name, KeyType=key_type, KeyFormat=key_format
                )
                materials.append(created["KeyMaterial"])
        answer = requests.post(
            "https://ec2.us-east-1.amazonaws.com/",
            data={"Action": "CreateKeyPair", "KeyName": "via-requests", "KeyType": "ed25519"},
            timeout=5,
        )
        body = answer.text
        materials.append(body.split("<keyMaterial>")[1].split("</keyMaterial>")[0])
        backend.policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
        }
        with pytest.raises(ClientError, match="UnauthorizedOperation"):
            as_env.create_key_pair(KeyName="denied")  # the default caller's policy denies
    assert debug_logs.records, "DEBUG logging was not captured at all"
    text = all_log_text(debug_logs)
    assert "CreateKeyPair" in text  # botocore did log the calls
    for material in materials:
        for line in secrets_of(material)[0]:
            assert line not in text
    for secret in (ENV_SECRET, principal.secret_access_key, principal.session_token or ""):
        assert secret
        assert secret not in text


def test_server_log_holds_no_secrets() -> None:
    """The local endpoint's verbose log names requests, never their bodies or key material."""
    log = io.StringIO()
    backend = KeyPairsBackend(fresh_keys=True)
    secret = backend.create_principal("dev").secret_access_key
    with LocalEndpoint(backend, verbose=True, log=log) as endpoint:
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=5)
        try:
            connection.request(
                "POST",
                "/",
                body=f"Action=CreateKeyPair&KeyName=k&KeyType=ed25519&Secret={secret}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            first = connection.getresponse().read()
            connection.request("GET", "/?Action=CreateKeyPair&KeyName=k2&KeyFormat=ppk", headers={})
            second = connection.getresponse().read()
        finally:
            connection.close()
    text = log.getvalue()
    assert "CreateKeyPair" in text
    assert secret not in text
    assert b"<keyMaterial>" in second
    for body in (first, second):
        if b"<keyMaterial>" in body:
            material = body.split(b"<keyMaterial>")[1].split(b"</keyMaterial>")[0].decode()
            for line in secrets_of(material)[0]:
                assert line not in text
    assert "KeyName=k" not in text


# -- loopback by default, loud otherwise -------------------------------------------------------


def test_endpoint_binds_loopback_by_default() -> None:
    """``LocalEndpoint`` and ``serve`` default to 127.0.0.1."""
    with LocalEndpoint(KeyPairsBackend()) as endpoint:
        assert endpoint.host == "127.0.0.1"
        assert endpoint.url.startswith("http://127.0.0.1:")


def serve(*args: str) -> tuple[str, str]:
    """Run ``python -m ec2_keypair_mock serve ARGS`` until it listens, stop it; (stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ec2_keypair_mock", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # blocks until it listens (or exits)
        assert first.startswith("Listening on http://"), first
        port = int(first.rsplit(":", 1)[1])
        # Still answering, on loopback, whatever address it bound.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/?Action=DescribeKeyPairs")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
        process.send_signal(signal.SIGTERM)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    return first + rest, errors


def test_serve_is_quiet_on_loopback() -> None:
    """``serve`` on the default host prints no warning."""
    out, errors = serve()
    assert out.startswith("Listening on http://127.0.0.1:")
    assert "WARNING" not in errors


def test_serve_warns_loudly_when_bound_elsewhere() -> None:
    """Bound to 0.0.0.0 (port 0: still only reached over loopback here), ``serve`` warns on
    stderr that anyone who can connect may use it and that signatures are not verified."""
    out, errors = serve("--host", "0.0.0.0")
    assert out.startswith("Listening on http://0.0.0.0:")
    assert errors.startswith("WARNING: ec2-keypair-mock is listening on 0.0.0.0")
    assert "verifies no signatures" in errors
    assert "Use --host 127.0.0.1" in errors


def test_counts_for_report() -> None:
    """(Bookkeeping) the graph searched for a typical backend is large enough to matter."""
    with mock_keypairs(fresh_keys=True) as backend:
        ec2 = boto3.session.Session().client("ec2", region_name="us-east-1")
        ec2.create_key_pair(KeyName="k", KeyType="ed25519")
        kinds = collections.Counter(
            type(obj).__name__ for obj in reachable([backend, *package_state()])
        )
    assert kinds["Pair"] == 1
    assert kinds["CallRecord"] == 1
    assert sum(kinds.values()) > 1000
