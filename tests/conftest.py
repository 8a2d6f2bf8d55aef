"""Test-suite guards: no network but loopback, fake-free environment for boto3."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from ec2_keypair_mock import KeyPairsBackend, mock_keypairs


class NetworkForbidden(AssertionError):
    """A test tried to reach a host other than loopback."""


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
attempts: list[Any] = []


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        attempts.append(address)
        msg = f"network access to {address!r} is forbidden in this test suite"
        raise NetworkForbidden(msg)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        attempts.append(address)
        msg = f"network access to {address!r} is forbidden in this test suite"
        raise NetworkForbidden(msg)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback((name, 0)):
        attempts.append((name, "dns"))
        msg = f"name lookup of {name!r} is forbidden in this test suite"
        raise NetworkForbidden(msg)
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every test runs with outbound connections (and DNS) forbidden except loopback.

    The refusal is an exception, which code under test could catch and hide; so the attempts
    are also recorded and any left at teardown fail the test. A test that provokes attempts on
    purpose asserts them and clears the list.
    """
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    attempts.clear()
    yield attempts
    if attempts:
        left = list(attempts)
        attempts.clear()
        pytest.fail(f"the test tried to reach the network: {left!r}")


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No real AWS configuration leaks in; fake credentials like a careful user sets them."""
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def backend() -> Iterator[KeyPairsBackend]:
    """A fresh activation's backend for the test."""
    with mock_keypairs() as backend:
        yield backend


@pytest.fixture
def ec2(backend: KeyPairsBackend) -> BaseClient:
    """A boto3 EC2 client in us-east-1 served by the ``backend`` fixture's activation."""
    return boto3.client("ec2", region_name="us-east-1")
