"""Concurrency: many threads (or asyncio tasks) against one activation lose nothing.

Real boto3 clients in 8 threads run 500 mixed operations each on overlapping names in two
regions; the outcome is checked by conservation laws that hold whatever the interleaving: a
name is present at the end exactly when its successful creations outnumber its deletions, the
ids present are exactly the ids created and not deleted, no id is handed out twice, and the
call log has one record per call with the same outcome the client saw. Focused races check
that a contested name is created exactly once and that the 5,000-pair quota is exact. The same
holds for asyncio tasks through aiobotocore.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiobotocore.session
import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ec2_keypair_mock import KeyPairsBackend, mock_keypairs
from ec2_keypair_mock._state import RegionState

REGIONS = ("us-east-1", "eu-west-1")
QUOTA_REGION = "ap-south-1"
THREADS = 8
OPS_PER_THREAD = 500
QUOTA = 5000
TIME_LIMIT = 120.0  # seconds; a deadlock fails the test instead of hanging the suite

# Larger connection pools are irrelevant (nothing is sent), but the default 10 would log warnings
# if a client were ever shared by more threads.
CONFIG = Config(max_pool_connections=THREADS * 2)


def _public_key() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH) + b" imported\n"


PUBLIC_KEY = _public_key()


@dataclass(frozen=True)
class Outcome:
    thread: int
    region: str
    operation: str
    name: str
    code: str  # "OK" or the error code
    key_pair_id: str | None = None


def run_threads(count: int, work: Callable[[int, threading.Barrier], None]) -> float:
    """Run ``work(i, barrier)`` in ``count`` threads started together; the wall time taken."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            work(index, barrier)
        except BaseException as error:  # reported below, with its traceback
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=target, args=(i,), name=f"test worker {i}") for i in range(count)
    ]
    # Switch threads every 10 µs instead of every 5 ms, so that check-then-act windows in the
    # backend are interleaved far more often than in ordinary use.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, TIME_LIMIT - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads), (
        f"threads still running after {elapsed:.0f} s"
    )
    if errors:
        raise errors[0]
    return elapsed


def clients_for_threads() -> list[dict[str, BaseClient]]:
    """One client per region per thread; threads 4–7 share one pair (clients are thread-safe)."""
    shared = {
        region: boto3.session.Session().client("ec2", region_name=region, config=CONFIG)
        for region in REGIONS
    }
    own = [
        {
            region: boto3.session.Session().client("ec2", region_name=region, config=CONFIG)
            for region in REGIONS
        }
        for _ in range(THREADS // 2)
    ]
    return own + [shared] * (THREADS - len(own))


@pytest.fixture(autouse=True)
def widened_race_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up the GIL between "is there room for this name?" and storing the pair.

    ``RegionState.new_id`` runs exactly there (under the backend lock, in CreateKeyPair and
    ImportKeyPair). Sleeping in it costs nothing while the lock is held, but without the lock
    every other thread would run inside the window, so a missing or broken lock fails these
    tests instead of passing by luck (checked by removing ``Call.lock``'s mutual exclusion).
    """
    original = RegionState.new_id

    def new_id(self: RegionState) -> str:
        time.sleep(0.0001)
        return original(self)

    monkeypatch.setattr(RegionState, "new_id", new_id)


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


# -- mixed operations --------------------------------------------------------------------------

NAMES = [f"shared-{i}" for i in range(24)]
EXPECTED_ERRORS = {
    "CreateKeyPair": {"InvalidKeyPair.Duplicate"},
    "ImportKeyPair": {"InvalidKeyPair.Duplicate"},
    "DescribeKeyPairs": {"InvalidKeyPair.NotFound"},
    "DeleteKeyPair": set(),
    "CreateTags": {"InvalidKeyPair.NotFound"},
    "DeleteTags": {"InvalidKeyPair.NotFound"},
}
WEIGHTS = {
    "CreateKeyPair": 30,
    "ImportKeyPair": 12,
    "DescribeKeyPairs": 18,
    "DeleteKeyPair": 22,
    "CreateTags": 12,
    "DeleteTags": 6,
}


def mixed_worker(
    index: int, barrier: threading.Barrier, clients: dict[str, BaseClient], out: list[Outcome]
) -> None:
    rng = random.Random(1000 + index)
    seen_ids: dict[tuple[str, str], str] = {}
    operations = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    barrier.wait()
    for step in range(OPS_PER_THREAD):
        region = rng.choice(REGIONS)
        ec2 = clients[region]
        name = rng.choice(NAMES)
        operation = rng.choices(operations, weights)[0]
        key_pair_id = seen_ids.get((region, name))
        if operation in ("CreateTags", "DeleteTags") and key_pair_id is None:
            operation = "DescribeKeyPairs"
        returned_id: str | None = None
        try:
            if operation == "CreateKeyPair":
                returned_id = ec2.create_key_pair(KeyName=name, KeyType="ed25519")["KeyPairId"]
            elif operation == "ImportKeyPair":
                returned_id = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=PUBLIC_KEY)[
                    "KeyPairId"
                ]
            elif operation == "DescribeKeyPairs":
                [pair] = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
                seen_ids[(region, name)] = pair["KeyPairId"]
            elif operation == "DeleteKeyPair":
                returned_id = ec2.delete_key_pair(KeyName=name).get("KeyPairId")
            elif operation == "CreateTags":
                tags = [{"Key": f"t{index}", "Value": str(step)}]
                ec2.create_tags(Resources=[key_pair_id], Tags=tags)
            else:
                ec2.delete_tags(Resources=[key_pair_id], Tags=[{"Key": f"t{index}"}])
        except ClientError as error:
            code = error_code(error)
            assert code in EXPECTED_ERRORS[operation], (operation, code)
            out.append(Outcome(index, region, operation, name, code))
            continue
        if returned_id is not None and operation != "DeleteKeyPair":
            seen_ids[(region, name)] = returned_id
        out.append(Outcome(index, region, operation, name, "OK", returned_id))


@pytest.mark.slow
def test_mixed_operations_from_threads_lose_nothing() -> None:
    """8 threads × 500 mixed calls on 24 shared names in two regions: conservation holds."""
    outcomes: list[Outcome] = []
    with mock_keypairs() as backend:
        clients = clients_for_threads()
        elapsed = run_threads(
            THREADS, lambda i, barrier: mixed_worker(i, barrier, clients[i], outcomes)
        )
        final = {region: backend.key_pairs(region=region) for region in REGIONS}
        calls = backend.calls
        check_state(backend)
    total = THREADS * OPS_PER_THREAD
    print(
        f"\n{total} mixed calls from {THREADS} threads in {elapsed:.2f} s ({total / elapsed:.0f}/s)"
    )
    assert len(outcomes) == total

    created = [
        o for o in outcomes if o.code == "OK" and o.operation in ("CreateKeyPair", "ImportKeyPair")
    ]
    deleted = [o for o in outcomes if o.operation == "DeleteKeyPair" and o.key_pair_id]
    created_ids = [o.key_pair_id for o in created]
    deleted_ids = [o.key_pair_id for o in deleted]
    assert len(created_ids) == len(set(created_ids)), "an id was handed out twice"
    assert len(deleted_ids) == len(set(deleted_ids)), "one pair was deleted twice"
    assert set(deleted_ids) <= set(created_ids)
    for region in REGIONS:
        present = {pair.name: pair.key_pair_id for pair in final[region]}
        assert len(present) == len(final[region])
        for name in NAMES:
            made = sum(1 for o in created if (o.region, o.name) == (region, name))
            removed = sum(1 for o in deleted if (o.region, o.name) == (region, name))
            assert made - removed == (1 if name in present else 0), (region, name, made, removed)
        region_created = {o.key_pair_id for o in created if o.region == region}
        region_deleted = {o.key_pair_id for o in deleted if o.region == region}
        assert set(present.values()) == region_created - region_deleted
    # Every call is in the log, with the outcome the client saw.
    assert len(calls) == total
    seen_by_clients = Counter((o.region, o.operation, o.code) for o in outcomes)
    logged = Counter((r.region, r.operation, r.error_code or "OK") for r in calls)
    assert logged == seen_by_clients
    # The mix really contended: every kind of outcome happened.
    kinds = {(o.operation, o.code) for o in outcomes}
    assert {
        ("CreateKeyPair", "OK"),
        ("CreateKeyPair", "InvalidKeyPair.Duplicate"),
        ("ImportKeyPair", "OK"),
        ("ImportKeyPair", "InvalidKeyPair.Duplicate"),
        ("DescribeKeyPairs", "InvalidKeyPair.NotFound"),
        ("CreateTags", "OK"),
        ("CreateTags", "InvalidKeyPair.NotFound"),
        ("DeleteKeyPair", "OK"),
    } <= kinds


def check_state(backend: KeyPairsBackend) -> None:
    """by_name and by_id agree, every id is unique and issued, the quota holds."""
    ids: list[str] = []
    with backend._lock:
        for state in backend._regions.values():
            assert len(state.by_name) == len(state.by_id) <= QUOTA
            for name, pair in state.by_name.items():
                assert pair.name == name
                assert state.by_id[pair.key_pair_id] is pair
                assert pair.key_pair_id in state.issued_ids
                ids.append(pair.key_pair_id)
    assert len(ids) == len(set(ids))


# -- focused races -----------------------------------------------------------------------------


@pytest.mark.slow
def test_contested_name_is_created_exactly_once() -> None:
    """8 threads create (or import) the same 40 names in two regions at once: each name is
    created exactly once per region; every other attempt is InvalidKeyPair.Duplicate."""
    names = [f"contested-{i}" for i in range(40)]
    outcomes: list[Outcome] = []

    def work(index: int, barrier: threading.Barrier) -> None:
        clients = per_thread[index]
        order = names[:]
        random.Random(index).shuffle(order)
        barrier.wait()
        for name in order:
            for region in REGIONS:
                try:
                    if (index + len(name)) % 3:
                        response = clients[region].create_key_pair(KeyName=name, KeyType="ed25519")
                    else:
                        response = clients[region].import_key_pair(
                            KeyName=name, PublicKeyMaterial=PUBLIC_KEY
                        )
                except ClientError as error:
                    outcomes.append(Outcome(index, region, "Create", name, error_code(error)))
                else:
                    outcomes.append(
                        Outcome(index, region, "Create", name, "OK", response["KeyPairId"])
                    )

    with mock_keypairs() as backend:
        per_thread = clients_for_threads()
        run_threads(THREADS, work)
        final = {region: backend.key_pairs(region=region) for region in REGIONS}
        assert len(backend.calls) == THREADS * len(names) * len(REGIONS)
        check_state(backend)
    assert Counter(o.code for o in outcomes) == {
        "OK": len(names) * len(REGIONS),
        "InvalidKeyPair.Duplicate": (THREADS - 1) * len(names) * len(REGIONS),
    }
    for region in REGIONS:
        winners = {o.name: o.key_pair_id for o in outcomes if o.region == region and o.code == "OK"}
        assert sorted(winners) == sorted(names)
        assert {pair.name: pair.key_pair_id for pair in final[region]} == winners


@pytest.mark.slow
def test_quota_is_exact_under_contention() -> None:
    """With 4,960 pairs in us-east-1, 8 threads race 200 creations: exactly 40 succeed, the
    other 160 are KeyPairLimitExceeded; eu-west-1, raced at the same time, is unaffected."""
    room = 40
    attempts_per_thread = 25
    outcomes: list[Outcome] = []

    def work(index: int, barrier: threading.Barrier) -> None:
        clients = per_thread[index]
        barrier.wait()
        for attempt in range(attempts_per_thread):
            name = f"race-{index}-{attempt}"
            for region in REGIONS:
                try:
                    if attempt % 4:
                        clients[region].create_key_pair(KeyName=name, KeyType="ed25519")
                    else:
                        clients[region].import_key_pair(KeyName=name, PublicKeyMaterial=PUBLIC_KEY)
                except ClientError as error:
                    outcomes.append(Outcome(index, region, "Create", name, error_code(error)))
                else:
                    outcomes.append(Outcome(index, region, "Create", name, "OK"))

    with mock_keypairs() as backend:
        for i in range(QUOTA - room):
            backend.add_key_pair(f"seed-{i}", PUBLIC_KEY)
        per_thread = clients_for_threads()
        run_threads(THREADS, work)
        assert len(backend.key_pairs(region="us-east-1")) == QUOTA
        assert len(backend.key_pairs(region="eu-west-1")) == THREADS * attempts_per_thread
        assert len(backend.calls) == THREADS * attempts_per_thread * len(REGIONS)
        check_state(backend)
    east = Counter(o.code for o in outcomes if o.region == "us-east-1")
    assert east == {"OK": room, "KeyPairLimitExceeded": THREADS * attempts_per_thread - room}
    west = Counter(o.code for o in outcomes if o.region == "eu-west-1")
    assert west == {"OK": THREADS * attempts_per_thread}


# -- asyncio -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_asyncio_tasks_through_aiobotocore() -> None:
    """200 asyncio tasks through three aiobotocore clients: contested names are created once
    per region, the quota (seeded to 30 free slots in ap-south-1) is exact, every call is
    logged."""
    tasks = 200
    contested = [f"async-{i}" for i in range(20)]
    room = 30
    outcomes: list[Outcome] = []

    async def task(index: int, clients: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # let every task start before any call
        name = contested[index % len(contested)]
        for region in REGIONS:
            try:
                await clients[region].create_key_pair(KeyName=name, KeyType="ed25519")
            except ClientError as error:
                outcomes.append(Outcome(index, region, "Contested", name, error_code(error)))
            else:
                outcomes.append(Outcome(index, region, "Contested", name, "OK"))
        unique = f"quota-{index}"
        try:
            await clients[QUOTA_REGION].create_key_pair(KeyName=unique, KeyType="ed25519")
        except ClientError as error:
            outcomes.append(Outcome(index, QUOTA_REGION, "Quota", unique, error_code(error)))
        else:
            outcomes.append(Outcome(index, QUOTA_REGION, "Quota", unique, "OK"))
        await clients["us-east-1"].describe_key_pairs(KeyNames=[name])

    async def main() -> float:
        session = aiobotocore.session.get_session()
        async with (
            session.create_client("ec2", region_name="us-east-1", config=CONFIG) as east,
            session.create_client("ec2", region_name="eu-west-1", config=CONFIG) as west,
            session.create_client("ec2", region_name=QUOTA_REGION, config=CONFIG) as south,
        ):
            clients = {"us-east-1": east, "eu-west-1": west, QUOTA_REGION: south}
            started = time.monotonic()
            await asyncio.wait_for(
                asyncio.gather(*(task(i, clients) for i in range(tasks))), TIME_LIMIT
            )
            return time.monotonic() - started

    with mock_keypairs() as backend:
        for i in range(QUOTA - room):
            backend.add_key_pair(f"seed-{i}", PUBLIC_KEY, region=QUOTA_REGION)
        elapsed = asyncio.run(main())
        assert len(backend.calls) == tasks * 4
        assert len(backend.key_pairs(region=QUOTA_REGION)) == QUOTA
        check_state(backend)
    print(f"\n{tasks * 4} calls from {tasks} asyncio tasks in {elapsed:.2f} s")
    for region in REGIONS:
        codes = Counter(
            o.code for o in outcomes if o.operation == "Contested" and o.region == region
        )
        assert codes == {"OK": len(contested), "InvalidKeyPair.Duplicate": tasks - len(contested)}
    quota = Counter(o.code for o in outcomes if o.operation == "Quota")
    assert quota == {"OK": room, "KeyPairLimitExceeded": tasks - room}
