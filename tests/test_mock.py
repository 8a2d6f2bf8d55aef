"""mock_keypairs: decorator, context managers, start/stop, nesting, interception, strict mode."""

from __future__ import annotations

import asyncio
import inspect
import unittest
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.credentials
import botocore.handlers
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import ec2_keypair_mock._mock as mock_module
from ec2_keypair_mock import KeyPairsBackend, KeyPairsMock, UnmockedOperationError, mock_keypairs
from ec2_keypair_mock._hook import EVENTS
from tests.helpers import assert_client_error

ORIGINAL_IMDS_LOAD = botocore.credentials.InstanceMetadataProvider.__dict__["load"]
ORIGINAL_CONTAINER_LOAD = botocore.credentials.ContainerProvider.__dict__["load"]


def assert_clean() -> None:
    """Nothing an activation installs is left behind."""
    assert mock_module._stack == []
    assert botocore.credentials.InstanceMetadataProvider.__dict__["load"] is ORIGINAL_IMDS_LOAD
    assert botocore.credentials.ContainerProvider.__dict__["load"] is ORIGINAL_CONTAINER_LOAD
    from ec2_keypair_mock import _hook

    assert _hook._attached == []


@pytest.fixture(autouse=True)
def _clean_after() -> Iterator[None]:
    yield
    assert_clean()


def ec2(region: str = "us-east-1") -> Any:
    return boto3.client("ec2", region_name=region)


def create(client: Any, name: str = "deploy") -> dict[str, Any]:
    result: dict[str, Any] = client.create_key_pair(KeyName=name, KeyType="ed25519")
    return result


# -- decorator ----------------------------------------------------------------------------------


def test_bare_decorator() -> None:
    """`@mock_keypairs` activates for the call and returns the function's result."""

    @mock_keypairs
    def body(x: int) -> int:
        create(ec2())
        assert len(mock_module._stack) == 1
        return x + 1

    assert body(1) == 2
    assert_clean()


def test_decorator_with_options() -> None:
    """`@mock_keypairs(...)` takes options; each call gets a fresh backend."""
    seen: list[str] = []

    @mock_keypairs(account_id="210987654321")
    def body() -> None:
        seen.append(create(ec2())["KeyPairId"])
        [(_, backend)] = mock_module._stack
        assert backend.account_id == "210987654321"
        assert len(backend.key_pairs(account_id="210987654321")) == 1

    body()
    body()  # a fresh backend: the same name does not collide
    assert len(set(seen)) == 2


def test_async_decorator_spans_the_whole_coroutine() -> None:
    """An `async def` test keeps the mock active across awaits (moto's sync wrapper does not)."""

    @mock_keypairs
    async def body() -> str:
        await asyncio.sleep(0)
        client = ec2()
        await asyncio.sleep(0)
        return str(create(client)["KeyName"])

    assert inspect.iscoroutinefunction(body)
    assert asyncio.run(body()) == "deploy"


def test_signatures_are_preserved() -> None:
    """`functools.wraps` keeps names and signatures for sync, async and method targets."""

    def sync(a: int, *, b: str = "x") -> int:
        return a

    async def coro(a: int, b: int = 2) -> int:
        return a

    class Thing:
        def method(self, value: str) -> str:
            return value

    for target in (sync, coro, Thing.method):
        wrapped = mock_keypairs(target)
        assert inspect.signature(wrapped) == inspect.signature(target)
        assert wrapped.__name__ == target.__name__
        assert wrapped.__wrapped__ is target


@mock_keypairs
def test_decorated_test_with_fixture(tmp_path: Any) -> None:
    """A decorated pytest test still receives its fixtures."""
    assert tmp_path.exists()
    create(ec2())


def test_plain_class_is_rejected() -> None:
    """Only unittest.TestCase classes can be decorated; others are told what to use."""

    class TestThing:
        pass

    with pytest.raises(TypeError) as excinfo:
        mock_keypairs(TestThing)
    assert str(excinfo.value) == (
        "mock_keypairs can only decorate unittest.TestCase subclasses; for pytest classes use "
        "the keypairs_mock fixture or marker."
    )


def test_generator_function_is_rejected() -> None:
    """A generator would outlive a sync wrapper, so it is refused with a hint."""

    def gen() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="cannot decorate a generator function"):
        mock_keypairs(gen)


def test_bare_and_options_together_is_rejected() -> None:
    """Passing a function and options at once is a usage error."""
    with pytest.raises(TypeError, match="not both"):
        mock_keypairs(lambda: None, strict=False)  # type: ignore[call-overload]  # misuse on purpose


def test_testcase_class() -> None:
    """A decorated TestCase is mocked from setUpClass to tearDownClass; its tests share state."""
    log: list[str] = []

    @mock_keypairs
    class KeyTests(unittest.TestCase):
        @classmethod
        def setUpClass(cls) -> None:
            log.append(f"setUpClass active={bool(mock_module._stack)}")

        def test_a(self) -> None:
            create(ec2(), "a")

        def test_b(self) -> None:
            create(ec2(), "b")
            names = [p["KeyName"] for p in ec2().describe_key_pairs()["KeyPairs"]]
            assert sorted(names) == ["a", "b"]

    result = unittest.TextTestRunner(stream=_Null(), verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(KeyTests)
    )
    assert result.wasSuccessful(), result.failures + result.errors
    assert log == ["setUpClass active=True"]
    assert_clean()


def test_testcase_setupclass_failure_still_stops() -> None:
    """If setUpClass raises (SkipTest too), the mock is stopped by the class cleanup."""

    @mock_keypairs
    class Skipped(unittest.TestCase):
        @classmethod
        def setUpClass(cls) -> None:
            raise unittest.SkipTest("not today")

        def test_never(self) -> None:
            raise AssertionError

    result = unittest.TextTestRunner(stream=_Null(), verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(Skipped)
    )
    assert result.wasSuccessful()
    assert len(result.skipped) == 1
    assert_clean()


class _Null:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass


# -- context managers and start/stop ------------------------------------------------------------


def test_context_manager_returns_backend() -> None:
    """`with mock_keypairs() as backend` gives the activation's backend."""
    with mock_keypairs() as backend:
        assert isinstance(backend, KeyPairsBackend)
        create(ec2())
        assert [p.name for p in backend.key_pairs()] == ["deploy"]


def test_async_context_manager() -> None:
    """`async with mock_keypairs() as backend` works the same."""

    async def body() -> list[str]:
        async with mock_keypairs() as backend:
            create(ec2())
            return [p.name for p in backend.key_pairs()]

    assert asyncio.run(body()) == ["deploy"]


def test_start_stop() -> None:
    """`start()` returns the backend; `stop()` ends the activation."""
    m = mock_keypairs()
    assert isinstance(m, KeyPairsMock)
    backend = m.start()
    try:
        create(ec2())
        assert len(backend.key_pairs()) == 1
    finally:
        m.stop()


def test_each_activation_starts_empty() -> None:
    """A new activation never sees an earlier one's key pairs."""
    with mock_keypairs():
        create(ec2())
    with mock_keypairs() as backend:
        assert ec2().describe_key_pairs()["KeyPairs"] == []
        assert backend.key_pairs() == []


def test_nesting_is_a_stack() -> None:
    """Inner state is private to the inner activation and gone when it exits."""
    with mock_keypairs() as outer:
        client = ec2()
        create(client, "outer")
        with mock_keypairs() as inner:
            assert client.describe_key_pairs()["KeyPairs"] == []
            create(client, "inner")
            assert [p.name for p in inner.key_pairs()] == ["inner"]
        names = [p["KeyName"] for p in client.describe_key_pairs()["KeyPairs"]]
        assert names == ["outer"]
        assert [p.name for p in outer.key_pairs()] == ["outer"]


def test_out_of_order_stop_raises() -> None:
    """Stopping an outer activation while an inner one runs is a clear RuntimeError."""
    outer, inner = mock_keypairs(), mock_keypairs()
    outer.start()
    inner.start()
    with pytest.raises(RuntimeError) as excinfo:
        outer.stop()
    assert str(excinfo.value) == (
        "KeyPairsMock.stop() called out of order: another mock_keypairs activation started "
        "later is still active."
    )
    inner.stop()
    outer.stop()


def test_stop_without_start_raises() -> None:
    """`stop()` before `start()` is a RuntimeError."""
    with pytest.raises(RuntimeError) as excinfo:
        mock_keypairs().stop()
    assert str(excinfo.value) == "Called stop() before start()."


def test_same_mock_reentrant() -> None:
    """One KeyPairsMock may be started twice (nested); each stop ends the innermost."""
    m = mock_keypairs()
    first = m.start()
    second = m.start()
    assert first is not second
    m.stop()
    assert mock_module._stack[-1][1] is first
    m.stop()


def test_exception_inside_still_cleans_up() -> None:
    """Leaving an activation by exception removes everything it installed."""

    def body() -> None:
        with mock_keypairs():
            create(ec2())
            1 / 0  # noqa: B018 - raising on purpose

    with pytest.raises(ZeroDivisionError):
        body()
    assert_clean()


# -- interception -------------------------------------------------------------------------------


def test_no_credentials_and_no_network(
    monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
) -> None:
    """With no credentials configured anywhere and sockets forbidden, mocked calls still work.

    Without the mock, botocore would ask the EC2 instance metadata service (a socket to
    169.254.169.254) for credentials while creating the client.
    """
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    with mock_keypairs() as backend:
        client = boto3.session.Session().client("ec2", region_name="eu-central-1")
        pair = create(client)
        assert client.describe_key_pairs()["KeyPairs"][0]["KeyPairId"] == pair["KeyPairId"]
        assert backend.calls[0].caller_arn == "arn:aws:iam::123456789012:user/mock-user"
    assert no_network == []


def test_clients_created_before_activation_are_served() -> None:
    """A client created after import but before activation is served while the mock is active."""
    client = ec2()
    with mock_keypairs():
        create(client)


def test_response_metadata_like_aws() -> None:
    """Responses carry EC2's metadata: status, request id, headers, RetryAttempts."""
    with mock_keypairs():
        response = create(ec2())
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 200
    assert metadata["RetryAttempts"] == 0
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]
    assert metadata["HTTPHeaders"]["server"] == "AmazonEC2"
    assert metadata["HTTPHeaders"]["content-type"] == "text/xml;charset=UTF-8"


def test_builtin_rows_are_dormant_outside_activation() -> None:
    """The import-time handler rows answer nothing while no activation is active."""
    assert all(
        (event, handler) in botocore.handlers.BUILTIN_HANDLERS for event, handler, _ in EVENTS
    )
    client = ec2()
    stubber = Stubber(client)
    stubber.add_response("describe_key_pairs", {"KeyPairs": []})
    with stubber:
        assert client.describe_key_pairs()["KeyPairs"] == []  # Stubber answered, not us


def _client_without_builtin_rows() -> Any:
    """A client as if created before ec2_keypair_mock was imported."""
    client = ec2()
    for event, handler, _ in EVENTS:
        client.meta.events.unregister(event, handler)
    return client


def test_attach_serves_a_client_created_before_import() -> None:
    """`backend.attach(client)` serves an early client for the rest of the activation."""
    early = _client_without_builtin_rows()
    with mock_keypairs() as backend:
        stubber = Stubber(early)
        stubber.add_response("describe_key_pairs", {"KeyPairs": []})
        with stubber:
            early.describe_key_pairs()  # not ours: the Stubber answers
        backend.attach(early)
        create(early)
        assert [p.name for p in backend.key_pairs()] == ["deploy"]
    assert_clean()
    stubber = Stubber(early)
    stubber.add_response("describe_key_pairs", {"KeyPairs": []})
    with stubber:
        assert early.describe_key_pairs()["KeyPairs"] == []  # detached again


# -- strict mode --------------------------------------------------------------------------------


def test_strict_mode_refuses_unserved_operations() -> None:
    """An EC2 operation the mock does not serve raises, naming it and how to opt out."""
    with mock_keypairs(), pytest.raises(UnmockedOperationError) as excinfo:
        ec2("eu-west-1").describe_instances()
    assert str(excinfo.value) == (
        "mock_keypairs does not serve ec2.DescribeInstances (region eu-west-1).\n"
        "Served operations: CreateKeyPair, CreateTags, DeleteKeyPair, DeleteTags, "
        "DescribeKeyPairs, DescribeTags, ImportKeyPair (the tag operations for key pair ids "
        "only).\nTo let other EC2 calls reach their normal handlers, use "
        "mock_keypairs(strict=False); see README#strict-mode."
    )


def test_non_strict_lets_other_operations_through() -> None:
    """With strict=False, unserved EC2 operations reach other handlers (here a Stubber)."""
    with mock_keypairs(strict=False):
        client = ec2()
        stubber = Stubber(client)
        stubber.add_response("describe_instances", {"Reservations": []})
        with stubber:
            assert client.describe_instances()["Reservations"] == []
        create(client)  # still served by the mock


def test_other_services_are_untouched() -> None:
    """Non-EC2 services are never intercepted, even in strict mode."""
    with mock_keypairs():
        s3 = boto3.client("s3", region_name="us-east-1")
        stubber = Stubber(s3)
        stubber.add_response("list_buckets", {"Buckets": []})
        with stubber:
            assert s3.list_buckets()["Buckets"] == []


def test_client_error_is_plain_client_error() -> None:
    """EC2 errors are plain ClientError with EC2's code, message, status and request id."""
    with mock_keypairs():
        client = ec2()
        create(client)
        with pytest.raises(ClientError) as excinfo:
            create(client)
    assert type(excinfo.value) is ClientError
    assert_client_error(excinfo, "InvalidKeyPair.Duplicate", "The keypair already exists")


def test_threads_reach_the_mock() -> None:
    """boto3 calls from worker threads hit the active mock (the stack is not a ContextVar)."""
    from concurrent.futures import ThreadPoolExecutor

    with mock_keypairs() as backend:
        client = ec2()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: create(client, f"k{i}"), range(8)))
        assert len(backend.key_pairs()) == 8


def test_invalid_account_id() -> None:
    """account_id must be 12 digits."""
    with pytest.raises(ValueError, match="12-digit"):
        mock_keypairs(account_id="123")


def test_import_is_light() -> None:
    """`import ec2_keypair_mock` loads only the dormant hook: no backend, policy engine,
    cryptography or call path until a mock is configured (README#performance)."""
    import subprocess
    import sys

    code = (
        "import sys, boto3, ec2_keypair_mock as m\n"
        "heavy = [n for n in ('cryptography', 'ec2_keypair_mock._backend', "
        "'ec2_keypair_mock._botocore', 'ec2_keypair_mock._evaluate', 'unittest') "
        "if n in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert m.KeyPairsBackend.__name__ == 'KeyPairsBackend'\n"
        "assert 'ec2_keypair_mock._backend' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ed25519_create_leaves_rsa_modules_unimported() -> None:
    """An Ed25519 CreateKeyPair needs neither cryptography's `serialization` package (its SSH
    module loads every cipher) nor its `rsa` module: milliseconds of a fresh process. The RSA
    paths import them when used."""
    import subprocess
    import sys

    code = (
        "import sys, boto3\n"
        "from ec2_keypair_mock import mock_keypairs\n"
        "client = boto3.client('ec2', region_name='us-east-1')\n"
        "with mock_keypairs():\n"
        "    client.create_key_pair(KeyName='k', KeyType='ed25519')\n"
        "    client.describe_key_pairs()\n"
        "loaded = [n for n in ('cryptography.hazmat.primitives.serialization', "
        "'cryptography.hazmat.primitives.asymmetric.rsa') if n in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
