"""In-process scenarios: one call, one test's cycle, many activations with RSA keys."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from botocore.stub import Stubber

from ._harness import REGION, Result, Target, detach_mock, interleave, session_client

# What a Stubber test hands back: a realistic CreateKeyPair answer (the floor does no work).
CANNED_ED25519 = {
    "KeyName": "canned",
    "KeyFingerprint": "d8k1z8y9F3qH8YdW3ohyqfS3CFuy3Tiy5dkgN9Zf9U0=",
    "KeyMaterial": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" * 5
    + "-----END OPENSSH PRIVATE KEY-----",
    "KeyPairId": "key-0123456789abcdef0",
}
CANNED_RSA = {
    **CANNED_ED25519,
    "KeyFingerprint": "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f:00:00:00:00:00",
    "KeyMaterial": "-----BEGIN RSA PRIVATE KEY-----\n"
    + "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7\n" * 25
    + "-----END RSA PRIVATE KEY-----",
}
CANNED_DESCRIBE = {
    "KeyPairs": [
        {
            "KeyName": "canned",
            "KeyPairId": "key-0123456789abcdef0",
            "KeyFingerprint": CANNED_ED25519["KeyFingerprint"],
            "KeyType": "ed25519",
            "CreateTime": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            "Tags": [],
        }
    ]
}

_names = itertools.count()


def _name() -> str:
    return f"bench-{next(_names)}"


def create_ed25519(rounds: int, calls: int, fresh_keys: bool) -> Result:
    """One ``create_key_pair(KeyType="ed25519")`` through boto3, per call.

    Short rounds, many of them: a busy machine's slow phases then fall on every contender.
    moto's activation stays on for the whole scenario (its start and stop take a third of a
    second; the mock's clients never reach moto); each mock round is its own activation, as a
    test's would be.
    """
    from moto import mock_aws

    from ec2_keypair_mock import mock_keypairs

    mock_client = session_client()
    stub_client = detach_mock(session_client())
    stubber = Stubber(stub_client)
    stubber.activate()
    moto_client = detach_mock(session_client())

    def timed(client: Any) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            client.create_key_pair(KeyName=_name(), KeyType="ed25519")
        return (time.perf_counter() - start) / calls

    def mock() -> float:
        with mock_keypairs(fresh_keys=fresh_keys):  # activation outside the timing
            return timed(mock_client)

    def stub() -> float:
        for _ in range(calls):  # queued outside the timing: the floor is the call alone
            stubber.add_response("create_key_pair", CANNED_ED25519)
        return timed(stub_client)

    with mock_aws():
        samples = interleave(
            {"mock": mock, "stubber": stub, "moto": lambda: timed(moto_client)}, rounds
        )
    stubber.deactivate()
    which = "fresh keys (`fresh_keys=True`)" if fresh_keys else "key cache (default)"
    return Result(
        key="create_fresh" if fresh_keys else "create",
        title=f"`create_key_pair` ed25519, one call — {which}",
        unit="s",
        samples=samples,
        target=(
            Target("reported (opt-in mode; the target is the default's)")
            if fresh_keys
            else Target("≤ 2.0× Stubber; ≥ 8× faster than moto", stubber_max=2.0, moto_min=8.0)
        ),
        notes=[
            f"{rounds} rounds of {calls} calls; a mock activation per round (started outside "
            "the timing); Stubber's responses queued outside the timing."
            + (
                " Each call generates a new Ed25519 key (~40 µs in OpenSSL) and writes its "
                "OpenSSH private key (~13 µs): the floor of this mode."
                if fresh_keys
                else ""
            )
        ],
    )


def test_cycle(rounds: int, cycles: int) -> Result:
    """A test's life with a client made once: activate, create ed25519, describe, deactivate."""
    from moto import mock_aws

    from ec2_keypair_mock import mock_keypairs

    mock_client = session_client()
    stub_client = detach_mock(session_client())
    moto_client = detach_mock(session_client())

    def body(client: Any) -> None:
        client.create_key_pair(KeyName="deploy-key", KeyType="ed25519")
        client.describe_key_pairs()

    def mock() -> float:
        start = time.perf_counter()
        for _ in range(cycles):
            with mock_keypairs():
                body(mock_client)
        return (time.perf_counter() - start) / cycles

    def stub() -> float:
        start = time.perf_counter()
        for _ in range(cycles):
            with Stubber(stub_client) as stubber:
                stubber.add_response("create_key_pair", CANNED_ED25519)
                stubber.add_response("describe_key_pairs", CANNED_DESCRIBE)
                body(stub_client)
        return (time.perf_counter() - start) / cycles

    def moto() -> float:
        start = time.perf_counter()
        for _ in range(cycles):
            with mock_aws():
                body(moto_client)
        return (time.perf_counter() - start) / cycles

    samples = interleave({"mock": mock, "stubber": stub, "moto": moto}, rounds)
    return Result(
        key="cycle",
        title="per-test cycle: activate, create ed25519, describe, deactivate",
        unit="s",
        samples=samples,
        target=Target("≥ 50× faster than moto", moto_min=50.0),
        notes=[
            f"{cycles} cycles per round; the client is created once beforehand. Stubber's "
            "cycle is `with Stubber(client)` + two `add_response` + the two calls."
        ],
    )


def rsa_activations(rounds: int, per_round: int, moto_rounds: int) -> Result:
    """``rounds × per_round`` activations, two RSA key pairs each (the default KeyType).

    moto generates two RSA keys per activation (about a second per round here), so it runs
    ``moto_rounds`` of the rounds; its mean is as steady as its key generation.
    """
    from moto import mock_aws

    from ec2_keypair_mock import mock_keypairs
    from ec2_keypair_mock._keycache import KEY_CACHE

    mock_client = session_client()
    stub_client = detach_mock(session_client())
    moto_client = detach_mock(session_client())
    distinct: list[bool] = []

    def mock() -> float:
        start = time.perf_counter()
        for _ in range(per_round):
            with mock_keypairs():
                a = mock_client.create_key_pair(KeyName="a")
                b = mock_client.create_key_pair(KeyName="b")
            distinct.append(
                a["KeyFingerprint"] != b["KeyFingerprint"] and a["KeyMaterial"] != b["KeyMaterial"]
            )
        return (time.perf_counter() - start) / per_round

    def stub() -> float:
        start = time.perf_counter()
        for _ in range(per_round):
            with Stubber(stub_client) as stubber:
                stubber.add_response("create_key_pair", CANNED_RSA)
                stubber.add_response("create_key_pair", CANNED_RSA)
                stub_client.create_key_pair(KeyName="a")
                stub_client.create_key_pair(KeyName="b")
        return (time.perf_counter() - start) / per_round

    def moto() -> float:
        start = time.perf_counter()
        for _ in range(per_round):
            with mock_aws():
                moto_client.create_key_pair(KeyName="a")
                moto_client.create_key_pair(KeyName="b")
        return (time.perf_counter() - start) / per_round

    KEY_CACHE.clear()  # a cold cache: the first activations pay for generating the keys
    samples = interleave(
        {"mock": mock, "stubber": stub, "moto": moto}, rounds, {"moto": moto_rounds}
    )
    KEY_CACHE.wait(timeout=60)
    total = rounds * per_round
    return Result(
        key="rsa",
        title=f"{total} activations × 2 RSA key pairs (per activation, cold key cache)",
        unit="s",
        samples=samples,
        headline="mean",
        target=Target(
            "≥ 10× faster than moto; every key in one activation distinct", moto_min=10.0
        ),
        checks={"keys distinct within every activation": bool(distinct) and all(distinct)},
        notes=[
            f"Mean over all {total} activations, including the first ones that generate the "
            "RSA keys (the key cache starts empty); later activations reuse them. moto: mean "
            f"over {moto_rounds * per_round} activations (two RSA generations each).",
            f"{REGION}, KeyType rsa (2048-bit), pem.",
        ],
    )
