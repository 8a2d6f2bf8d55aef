"""The process-wide key cache (``_keycache``): reuse across activations, never within one."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import ec2_keypair_mock.__main__ as cli
from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from ec2_keypair_mock._keycache import (
    CAPACITY,
    KEY_CACHE,
    THREAD_NAME,
    KeyCache,
    _Entry,
    key_source,
)
from ec2_keypair_mock._keys import KeyType, NewKey, create_key
from ec2_keypair_mock._mock import FRESH_KEYS_ENV
from ec2_keypair_mock._server import LocalEndpoint


@pytest.fixture(autouse=True)
def _no_env_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FRESH_KEYS_ENV, raising=False)


@pytest.fixture
def stopped_filler() -> Iterator[None]:
    """Tests that start the process-wide filler leave no thread behind."""
    yield
    assert KEY_CACHE.stop(timeout=30)
    assert THREAD_NAME not in {thread.name for thread in threading.enumerate()}


_SEED = ed25519.Ed25519PrivateKey.generate()


def fake_entries() -> tuple[Callable[[KeyType], _Entry], list[int]]:
    """A cheap entry factory: each entry's fingerprint is a serial number; counts the calls."""
    made: list[int] = []
    lock = threading.Lock()

    def make(key_type: KeyType) -> _Entry:
        with lock:
            made.append(len(made))
            serial = made[-1]
        time.sleep(0.0005 * (serial % 3))  # let threads interleave
        return _Entry(_SEED, NewKey(key_type, f"material-{serial}", f"fp-{serial}", b""))

    return make, made


@pytest.mark.slow
def test_rsa_keys_within_one_activation_are_distinct(stopped_filler: None) -> None:
    """200 RSA draws in one activation: 200 different real keys, past the cache's capacity.

    Slow by nature (200 RSA-2048 generations, ~4 s on two idle cores); the same property with
    cheap fake keys is :func:`test_200_draws_in_one_activation_are_distinct`.
    """
    with mock_keypairs(fresh_keys=False) as backend:
        keys = [backend._key_source("rsa", "pem", f"k{i}") for i in range(200)]
    assert len({key.fingerprint for key in keys}) == 200
    assert len({key.material for key in keys}) == 200
    assert len({key.public_blob for key in keys}) == 200
    for key in (keys[0], keys[CAPACITY], keys[-1]):
        private = load_pem_private_key(key.material.encode() + b"\n", password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        assert private.key_size == 2048
    assert KEY_CACHE.size("rsa") <= CAPACITY


def test_200_draws_in_one_activation_are_distinct() -> None:
    """The production capacity and lookahead, fake keys: 200 draws, 200 keys, list bounded."""
    make, made = fake_entries()
    cache = KeyCache(make_entry=make)
    draw = cache.source()
    fingerprints = [draw("rsa", "pem", f"k{i}").fingerprint for i in range(200)]
    assert len(set(fingerprints)) == 200
    assert cache.stop(timeout=10)
    assert cache.size("rsa") == CAPACITY
    assert len(made) < 220  # a few spares and races lost to the filler, not a second pool


def test_keys_are_reused_across_activations() -> None:
    """A later activation gets the keys an earlier one got, in the same order."""

    def run() -> list[str]:
        with mock_keypairs(fresh_keys=False):
            ec2 = boto3.client("ec2", region_name="us-east-1")
            return [
                ec2.create_key_pair(KeyName=f"k{i}", KeyType="ed25519")["KeyFingerprint"]
                for i in range(3)
            ]

    first, second = run(), run()
    assert first == second
    assert len(set(first)) == 3


def test_ppk_from_a_cached_key_carries_this_pair_name() -> None:
    """The cached key's PPK is written per draw: its Comment is the new pair's name."""
    with mock_keypairs(fresh_keys=False):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        pem = ec2.create_key_pair(KeyName="first", KeyType="ed25519")
    with mock_keypairs(fresh_keys=False):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ppk = ec2.create_key_pair(KeyName="second", KeyType="ed25519", KeyFormat="ppk")
    assert ppk["KeyFingerprint"] == pem["KeyFingerprint"]
    assert "Comment: second\n" in ppk["KeyMaterial"]


def test_the_cache_is_bounded() -> None:
    """The shared list never grows past its capacity; later draws get unshared keys."""
    make, _ = fake_entries()
    cache = KeyCache(capacity=5, lookahead={"rsa": 2, "ed25519": 0}, make_entry=make)
    draw = cache.source()
    fingerprints = [draw("rsa", "pem", "k").fingerprint for _ in range(50)]
    assert cache.wait(timeout=10)
    assert len(set(fingerprints)) == 50
    assert cache.size("rsa") == 5
    assert len(cache._spare["rsa"]) <= 2
    # A second activation reuses the five shared keys, then gets keys nobody else got.
    again = cache.source()
    second = [again("rsa", "pem", "k").fingerprint for _ in range(8)]
    assert second[:5] == fingerprints[:5]
    assert not set(second[5:]) & set(fingerprints)
    assert cache.stop(timeout=10)


def test_threads_of_one_activation_never_share_a_key() -> None:
    """Concurrent draws from one activation's source get distinct keys (the cursor is atomic)."""
    make, _ = fake_entries()
    cache = KeyCache(capacity=40, lookahead={"rsa": 3, "ed25519": 0}, make_entry=make)
    draw = cache.source()
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            fingerprint = draw("rsa", "pem", "k").fingerprint
            with lock:
                results.append(fingerprint)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert len(set(results)) == 200
    assert cache.stop(timeout=10)


def test_ed25519_draws_start_no_thread() -> None:
    """Ed25519 keys are made by the drawing thread: no filler for them."""
    make, made = fake_entries()
    cache = KeyCache(capacity=4, make_entry=make)
    draw = cache.source()
    for _ in range(10):
        draw("ed25519", "pem", "k")
    assert not cache.filling
    assert len(made) == 10


def test_the_filler_exits_when_its_target_is_met(stopped_filler: None) -> None:
    """An RSA draw starts the daemon filler; it stops by itself a few keys ahead."""
    KEY_CACHE.stop()
    with mock_keypairs(fresh_keys=False) as backend:
        backend._key_source("rsa", "pem", "k")
        assert KEY_CACHE.wait(timeout=60)
    assert THREAD_NAME not in {thread.name for thread in threading.enumerate()}
    assert KEY_CACHE.size("rsa") >= 1


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_fresh_keys_bypasses_the_cache(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``fresh_keys=True`` or EC2_KEYPAIR_MOCK_FRESH_KEYS=1: every key is new, cache untouched."""
    options: dict[str, Any] = {}
    if how == "argument":
        options["fresh_keys"] = True
    else:
        monkeypatch.setenv(FRESH_KEYS_ENV, "1")
    before = KEY_CACHE.size("ed25519")
    fingerprints = []
    for _ in range(2):
        with mock_keypairs(**options) as backend:
            assert backend._key_source is create_key
            ec2 = boto3.client("ec2", region_name="us-east-1")
            pair = ec2.create_key_pair(KeyName="k", KeyType="ed25519")
            fingerprints.append(pair["KeyFingerprint"])
    assert fingerprints[0] != fingerprints[1]
    assert KEY_CACHE.size("ed25519") == before


def test_an_explicit_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fresh_keys=False`` uses the cache even when the environment variable asks otherwise."""
    monkeypatch.setenv(FRESH_KEYS_ENV, "1")
    with mock_keypairs(fresh_keys=False) as backend:
        assert backend._key_source is not create_key
    assert key_source(True) is create_key


def test_the_default_backend_and_the_server_generate_fresh_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``KeyPairsBackend()`` and ``serve``'s backend never draw from the cache."""
    assert KeyPairsBackend()._key_source is create_key
    served: list[Any] = []

    class FakeEndpoint:
        def __init__(self, backend: Any, *args: Any, **kwargs: Any) -> None:
            served.append(backend)
            self.host = "127.0.0.1"

        def bind(self) -> str:
            return "http://127.0.0.1:1"

        def serve_forever(self) -> None:
            return None

        def stop(self) -> None:
            return None

    monkeypatch.setattr(cli, "LocalEndpoint", FakeEndpoint)
    assert cli.main(["serve", "--port", "0"]) == 0
    [backend] = served
    assert backend.fresh_keys is True
    assert backend._key_source is create_key


def test_keys_from_the_local_endpoint_are_not_cached() -> None:
    """Key pairs created over HTTP leave the cache as it was."""
    before = (KEY_CACHE.size("rsa"), KEY_CACHE.size("ed25519"))
    with LocalEndpoint(KeyPairsBackend()) as endpoint:
        ec2 = boto3.client("ec2", endpoint_url=endpoint.url, region_name="us-east-1")
        ec2.create_key_pair(KeyName="over-http", KeyType="ed25519")
    assert (KEY_CACHE.size("rsa"), KEY_CACHE.size("ed25519")) == before


_CHILD = """
import threading, boto3
from ec2_keypair_mock import mock_keypairs
from ec2_keypair_mock._keycache import THREAD_NAME
names = lambda: {t.name for t in threading.enumerate()}
assert THREAD_NAME not in names(), "started at import"
with mock_keypairs(fresh_keys=False) as backend:
    backend._key_source("ed25519", "pem", "k")
    assert THREAD_NAME not in names(), "started for ed25519"
    backend._key_source("rsa", "pem", "k")
    [filler] = [t for t in threading.enumerate() if t.name == THREAD_NAME]
    assert filler.daemon
print("exiting while the filler works")
"""


def test_the_filler_neither_starts_at_import_nor_holds_the_process() -> None:
    """A fresh process: no thread at import or for Ed25519; exit with the filler busy is clean."""
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", _CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exiting while the filler works\n"
    assert result.stderr == ""
