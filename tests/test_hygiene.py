"""Hygiene: a thousand activations of every kind leave nothing behind.

Activations come in every form a user writes (``with``, decorator, nested, ``async with`` and
async decorator under ``asyncio.run``, an exception inside, manual start/stop including an
out-of-order stop that raises and is then unwound, ``backend.attach``, a strict-mode refusal,
the ``requests`` door). Afterwards botocore's handler table, a client's and a session's handler
lists, the two patched credential providers, the mock's stack and attach list, the ``requests``
adapter, the environment, the threads, the logging and warnings configuration are all as they
were, and memory grew by less than a stated bound.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
import tracemalloc
import unittest
import warnings
from collections.abc import Callable
from typing import Any

import boto3
import botocore.credentials
import botocore.handlers
import pytest
import requests
import requests.adapters
from botocore.client import BaseClient

from ec2_keypair_mock import UnmockedOperationError, _botocore, _hook, _mock, mock_keypairs

ACTIVATIONS = 1000
WARM_UP = 100
MEMORY_BOUND = 1 << 20  # bytes of growth allowed over 1,000 activations after warm-up


def _keycache_thread_name() -> str | None:
    """The process-wide key cache's filler thread, if this version of the package has one."""
    try:
        from ec2_keypair_mock import _keycache
    except ImportError:
        return None
    return _keycache.THREAD_NAME


def _stop_keycache() -> None:
    try:
        from ec2_keypair_mock import _keycache
    except ImportError:
        return
    # The documented way to wait for the filler thread (it exits on its own once it has made
    # the keys it was asked for; RSA draws in other tests may have started it).
    assert _keycache.stop(timeout=30)


def handler_table(events: Any) -> tuple[list[tuple[str, list[list[Any]]]], dict[str, Any]]:
    """Every handler registered on an emitter, by event prefix, plus its unique-id registry."""
    emitter = getattr(events, "_emitter", events)
    table: list[tuple[str, list[list[Any]]]] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        if node["values"] is not None:
            table.append((".".join(path), [list(section) for section in node["values"]]))
        for chunk, child in sorted(node["children"].items()):
            walk(child, [*path, chunk])

    walk(emitter._handlers._root, [])
    return table, dict(emitter._unique_id_handlers)


def snapshot(client: BaseClient, session: boto3.session.Session) -> dict[str, Any]:
    """Everything an activation could leave behind."""
    credential_methods = {
        f"{owner.__name__}.load": owner.__dict__["load"]
        for owner in (
            botocore.credentials.InstanceMetadataProvider,
            botocore.credentials.ContainerProvider,
        )
    }
    ignored_thread = _keycache_thread_name()
    return {
        "BUILTIN_HANDLERS": list(botocore.handlers.BUILTIN_HANDLERS),
        "client handlers": handler_table(client.meta.events),
        "session handlers": handler_table(session._session._events),
        "default session handlers": (
            handler_table(boto3.DEFAULT_SESSION._session._events)
            if boto3.DEFAULT_SESSION is not None
            else None
        ),
        "credential providers": credential_methods,
        "mock stack": list(_mock._stack),
        "attached clients": list(_hook._attached),
        "saved patches": dict(_botocore._saved),
        "requests send": requests.adapters.HTTPAdapter.send,
        "requests door": _requests_door_installed(),
        "environment": dict(os.environ),
        # By name, the key cache's filler excepted: it belongs to the process, not to an
        # activation, and _stop_keycache() has joined it before every snapshot anyway.
        "threads": sorted(
            (thread.name, thread.ident)
            for thread in threading.enumerate()
            if thread.name != ignored_thread
        ),
        "loggers": {
            name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
            for name in ("", "botocore", "boto3", "ec2_keypair_mock", "urllib3")
        },
        "warning filters": list(warnings.filters),
        "switch interval": sys.getswitchinterval(),
    }


def _requests_door_installed() -> bool:
    door = sys.modules.get("ec2_keypair_mock._requests_door")
    return bool(door is not None and door.installed())


# -- the activations ---------------------------------------------------------------------------


def create(client: BaseClient, name: str = "deploy") -> None:
    client.create_key_pair(KeyName=name, KeyType="ed25519")


def kinds(client: BaseClient, early: BaseClient) -> list[tuple[str, int, Callable[[], None]]]:
    """(label, activations it makes, run) for every form of activation."""

    def with_block() -> None:
        with mock_keypairs() as backend:
            create(client)
            assert len(backend.key_pairs()) == 1

    @mock_keypairs
    def decorated() -> None:
        create(client)

    def nested() -> None:
        with mock_keypairs() as outer:
            create(client, "outer")
            with mock_keypairs() as inner:
                create(client, "inner")
                assert [p.name for p in inner.key_pairs()] == ["inner"]
            assert [p.name for p in outer.key_pairs()] == ["outer"]

    async def async_with() -> None:
        async with mock_keypairs():
            create(client)

    @mock_keypairs
    async def async_decorated() -> None:
        await asyncio.sleep(0)
        create(client)

    def failing_body() -> None:
        with mock_keypairs():
            create(client)
            raise ValueError("inside")

    def raising() -> None:
        with pytest.raises(ValueError, match="inside"):
            failing_body()

    def out_of_order() -> None:
        first, second = mock_keypairs(), mock_keypairs()
        first.start()
        second.start()
        create(client)
        with pytest.raises(RuntimeError, match="called out of order"):
            first.stop()
        second.stop()
        first.stop()

    def attached() -> None:
        with mock_keypairs() as backend:
            backend.attach(early)
            create(early)

    def strict_refusal() -> None:
        with mock_keypairs():
            create(client)
            with pytest.raises(UnmockedOperationError):
                client.describe_instances()

    def through_requests() -> None:
        with mock_keypairs() as backend:
            answer = requests.post(
                "https://ec2.us-east-1.amazonaws.com/",
                data={"Action": "CreateKeyPair", "KeyName": "k", "KeyType": "ed25519"},
                timeout=5,
            )
            assert answer.status_code == 200
            assert len(backend.key_pairs()) == 1

    @mock_keypairs
    class Case(unittest.TestCase):
        def test_create(self) -> None:
            create(client)

    def testcase() -> None:
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
        assert result.wasSuccessful(), result.errors + result.failures

    return [
        ("with", 1, with_block),
        ("decorator", 1, decorated),
        ("nested", 2, nested),
        ("async with", 1, lambda: asyncio.run(async_with())),
        ("async decorator", 1, lambda: asyncio.run(async_decorated())),
        ("exception inside", 1, raising),
        ("manual, out of order", 2, out_of_order),
        ("attach", 1, attached),
        ("strict refusal", 1, strict_refusal),
        ("requests door", 1, through_requests),
        ("TestCase class", 1, testcase),
    ]


def run_activations(count: int, plan: list[tuple[str, int, Callable[[], None]]]) -> int:
    """Cycle through the kinds until ``count`` activations were made; returns how many."""
    made = 0
    while made < count:
        for _label, activations, run in plan:
            run()
            made += activations
            if made >= count:
                break
    return made


@pytest.fixture
def clients() -> tuple[BaseClient, BaseClient, boto3.session.Session]:
    session = boto3.session.Session()
    client = session.client("ec2", region_name="us-east-1")
    early = boto3.session.Session().client("ec2", region_name="eu-west-1")
    return client, early, session


@pytest.mark.slow
def test_thousand_activations_leave_nothing_behind(
    clients: tuple[BaseClient, BaseClient, boto3.session.Session],
) -> None:
    """1,000 activations of every kind: handlers, patches, stack, environment, threads,
    logging and warnings are exactly as before, and memory grew by less than 1 MB."""
    client, early, session = clients
    plan = kinds(client, early)
    _stop_keycache()
    before = snapshot(early, session)
    before_client = handler_table(client.meta.events)

    run_activations(WARM_UP, plan)  # caches (models, parsers, key cache) fill here
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.take_snapshot()
        made = run_activations(ACTIVATIONS, plan)
        gc.collect()
        after_memory = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    _stop_keycache()

    assert made >= ACTIVATIONS
    after = snapshot(early, session)
    for key in before:
        assert after[key] == before[key], key
    assert handler_table(client.meta.events) == before_client
    assert _mock._stack == []
    assert _hook._attached == []

    diff = after_memory.compare_to(baseline, "filename")
    growth = sum(stat.size_diff for stat in diff)
    top = "\n".join(str(stat) for stat in diff[:10])
    print(f"\nmemory growth over {made} activations: {growth / 1024:.1f} KiB\n{top}")
    assert growth < MEMORY_BOUND, top


def test_every_kind_is_clean_on_its_own(
    clients: tuple[BaseClient, BaseClient, boto3.session.Session],
) -> None:
    """Each kind of activation, alone, restores everything (a leak is pinned to its kind)."""
    client, early, session = clients
    _stop_keycache()
    before = snapshot(early, session)
    for label, _activations, run in kinds(client, early):
        run()
        after = snapshot(early, session)
        for key in before:
            assert after[key] == before[key], (label, key)


def test_installed_while_active(
    clients: tuple[BaseClient, BaseClient, boto3.session.Session],
) -> None:
    """The snapshot is sensitive: while active, the credential providers are patched, the
    stack holds the activation and the attached client carries the handler rows."""
    _client, early, session = clients
    _stop_keycache()
    before = snapshot(early, session)
    with mock_keypairs() as backend:
        backend.attach(early)
        during = snapshot(early, session)
    changed = {key for key in before if during[key] != before[key]}
    assert {"credential providers", "mock stack", "attached clients", "client handlers"} <= changed
    assert snapshot(early, session) == before


def test_discarded_clients_models_are_not_kept_alive() -> None:
    """The door's per-model lookups are keyed weakly: once a test drops its clients, their
    botocore models can go (only the one model kept for reuse, at most, stays)."""
    import weakref

    models = []
    with mock_keypairs():
        for index in range(5):
            client = boto3.session.Session().client("ec2", region_name="us-east-1")
            client.create_key_pair(KeyName=f"k{index}", KeyType="ed25519")
            client.describe_key_pairs()
            models.append(weakref.ref(client.meta.service_model))
            del client
    gc.collect()
    assert sum(model() is not None for model in models) <= 1
