"""5,000 key pairs in one region: memory per pair, DescribeKeyPairs of all and by tag."""

from __future__ import annotations

import datetime as dt
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from botocore.stub import Stubber

from ._harness import REGION, Result, Target, detach_mock, interleave, session_client

PAIRS = 5000
BLUE_EVERY = 10  # every tenth pair is tagged team=blue, the rest team=red
BLUE_FILTER = [{"Name": "tag:team", "Values": ["blue"]}]


def _tags(index: int) -> list[dict[str, Any]]:
    team = "blue" if index % BLUE_EVERY == 0 else "red"
    return [{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": team}]}]


def _fill(client: Any, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        client.create_key_pair(
            KeyName=f"pair-{index:05d}", KeyType="ed25519", TagSpecifications=_tags(index)
        )


def _traced_growth(
    fill: Callable[[], None], then: Callable[[], None] | None = None
) -> tuple[int, int]:
    """Bytes still allocated after ``fill`` (tracemalloc, garbage collected), and after ``then``."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        fill()
        gc.collect()
        filled = tracemalloc.take_snapshot()
        if then is not None:
            then()
            gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()

    def growth(snapshot: tracemalloc.Snapshot) -> int:
        return sum(stat.size_diff for stat in snapshot.compare_to(before, "filename"))

    return growth(filled), growth(after)


def _canned_describe(count: int) -> dict[str, Any]:
    created = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    return {
        "KeyPairs": [
            {
                "KeyName": f"pair-{index:05d}",
                "KeyPairId": f"key-0{index:016x}",
                "KeyFingerprint": "d8k1z8y9F3qH8YdW3ohyqfS3CFuy3Tiy5dkgN9Zf9U0=",
                "KeyType": "ed25519",
                "CreateTime": created,
                "Tags": [{"Key": "team", "Value": "blue" if index % BLUE_EVERY == 0 else "red"}],
            }
            for index in range(count)
        ]
    }


def _seed_moto(start: int, count: int) -> None:
    """Add pairs straight into moto's backend (untimed set-up; moto's HTTP path is slow)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
    for index in range(start, start + count):
        team = "blue" if index % BLUE_EVERY == 0 else "red"
        backend.create_key_pair(f"pair-{index:05d}", "ed25519", {"team": team})


def scale(rounds: int, traced_moto_pairs: int, moto_rounds: int) -> list[Result]:
    """Fill both mocks with 5,000 pairs (memory traced), then time the two describes."""
    from moto import mock_aws

    from ec2_keypair_mock import mock_keypairs

    mock_client = session_client()
    moto_client = detach_mock(session_client())
    stub_client = detach_mock(session_client())
    stubber = Stubber(stub_client)
    stubber.activate()

    activation = mock_keypairs()
    backend = activation.start()
    moto_activation = mock_aws()
    moto_activation.start()
    warm = 20  # first calls load models and fill caches: not per-pair memory
    try:
        _fill(mock_client, warm)
        start = time.perf_counter()
        # Then forget the call log (backend.calls), still traced: what remains is the pairs.
        mock_bytes, pairs_bytes = _traced_growth(
            lambda: _fill(mock_client, PAIRS - warm, start=warm), backend._calls.clear
        )
        log_bytes = mock_bytes - pairs_bytes
        mock_fill = time.perf_counter() - start

        _fill(moto_client, warm)
        moto_bytes, _ = _traced_growth(lambda: _fill(moto_client, traced_moto_pairs, start=warm))
        seeded = warm + traced_moto_pairs
        _seed_moto(seeded, PAIRS - seeded)
        if len(backend.key_pairs(region=REGION)) != PAIRS:
            msg = "The mock does not hold the expected number of key pairs."
            raise RuntimeError(msg)

        everything = _canned_describe(PAIRS)
        blue = {"KeyPairs": everything["KeyPairs"][::BLUE_EVERY]}

        def timed(call: Callable[[], Any], expect: int) -> float:
            start = time.perf_counter()
            answer = call()
            elapsed = time.perf_counter() - start
            if len(answer["KeyPairs"]) != expect:
                msg = f"Expected {expect} key pairs, got {len(answer['KeyPairs'])}."
                raise RuntimeError(msg)
            return elapsed

        def stub(response: dict[str, Any], **kwargs: Any) -> Callable[[], float]:
            def run() -> float:
                stubber.add_response("describe_key_pairs", response)  # validated, untimed
                return timed(
                    lambda: stub_client.describe_key_pairs(**kwargs), len(response["KeyPairs"])
                )

            return run

        limit = {"moto": moto_rounds}
        all_samples = interleave(
            {
                "mock": lambda: timed(mock_client.describe_key_pairs, PAIRS),
                "stubber": stub(everything),
                "moto": lambda: timed(moto_client.describe_key_pairs, PAIRS),
            },
            rounds,
            limit,
        )
        expect_blue = len(blue["KeyPairs"])
        blue_samples = interleave(
            {
                "mock": lambda: timed(
                    lambda: mock_client.describe_key_pairs(Filters=BLUE_FILTER), expect_blue
                ),
                "stubber": stub(blue, Filters=BLUE_FILTER),
                "moto": lambda: timed(
                    lambda: moto_client.describe_key_pairs(Filters=BLUE_FILTER), expect_blue
                ),
            },
            rounds,
            limit,
        )
    finally:
        moto_activation.stop()
        activation.stop()
        stubber.deactivate()

    traced = PAIRS - warm
    memory = Result(
        key="memory",
        title=f"{PAIRS:,} key pairs in one region: memory growth per pair",
        unit="B",
        samples={"mock": [mock_bytes / traced], "moto": [moto_bytes / traced_moto_pairs]},
        target=Target("≤ 2 KB per pair", absolute_max=2048),
        notes=[
            "tracemalloc after garbage collection, over CreateKeyPair ed25519 calls with one "
            f"tag each, after {warm} warm-up calls; this includes the call log "
            f"(`backend.calls`), which held {log_bytes / traced:,.0f} B per call: the key "
            f"pairs alone take {(mock_bytes - log_bytes) / traced:,.0f} B each. moto traced "
            f"over {traced_moto_pairs} pairs (it keeps every private key); the rest of its "
            f"{PAIRS:,} pairs were put straight into its backend. Filling this mock took "
            f"{mock_fill:.1f} s under tracemalloc."
        ],
        extra={
            "call_log_bytes_per_pair": log_bytes / traced,
            "pairs_only_bytes_per_pair": (mock_bytes - log_bytes) / traced,
        },
    )
    note = f"moto measured in {moto_rounds} of the {rounds} rounds (one call takes seconds)."
    describe_all = Result(
        key="describe_all",
        title=f"DescribeKeyPairs, all {PAIRS:,} pairs",
        unit="s",
        samples=all_samples,
        target=Target("≥ 3× faster than moto", moto_min=3.0),
        notes=[note],
    )
    describe_blue = Result(
        key="describe_tag",
        title=f"DescribeKeyPairs, tag filter ({PAIRS // BLUE_EVERY} of {PAIRS:,} match)",
        unit="s",
        samples=blue_samples,
        target=Target("≥ 3× faster than moto", moto_min=3.0),
        notes=[note],
    )
    return [memory, describe_all, describe_blue]
