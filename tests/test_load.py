"""Load on the local endpoint: 20,000 requests from 8 keep-alive clients lose nothing.

Loopback only. Each client thread keeps one ``http.client`` connection open and sends mostly
CreateKeyPair (Ed25519, unique names, one region per thread, chosen by the SigV4 credential
scope as an SDK would) and some DescribeKeyPairs for a name it created. Afterwards every
acknowledged CreateKeyPair (HTTP 200) is listed by DescribeKeyPairs with the id it was given,
there was no 5xx and no connection error, the server logged no error, and the backend logged
every request. The rate is printed.
"""

from __future__ import annotations

import http.client
import io
import re
import threading
import time
import urllib.parse
from collections import Counter

import pytest

from ec2_keypair_mock import KeyPairsBackend
from ec2_keypair_mock._server import LocalEndpoint

THREADS = 8
REQUESTS = 20_000
DESCRIBE_EVERY = 10  # one request in ten is a DescribeKeyPairs
TIME_LIMIT = 90.0
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "sa-east-1",
]
FORM = "application/x-www-form-urlencoded; charset=utf-8"
KEY_PAIR_ID = re.compile(rb"<keyPairId>(key-0[0-9a-f]{16})</keyPairId>")
KEY_NAME = re.compile(rb"<keyName>([^<]*)</keyName>")


def headers_for(region: str) -> dict[str, str]:
    scope = f"AKIDEXAMPLE/20260101/{region}/ec2/aws4_request"
    return {
        "Content-Type": FORM,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
    }


@pytest.mark.slow
def test_twenty_thousand_requests_lose_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """8 keep-alive clients, 20,000 requests: every acknowledged create is listed afterwards."""
    backend = KeyPairsBackend(fresh_keys=True)
    server_log = io.StringIO()
    per_thread = REQUESTS // THREADS
    acknowledged: list[dict[str, str]] = [{} for _ in range(THREADS)]
    statuses: list[Counter[int]] = [Counter() for _ in range(THREADS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS + 1)

    def client(index: int, host: str, port: int) -> None:
        region = REGIONS[index]
        headers = headers_for(region)
        connection = http.client.HTTPConnection(host, port, timeout=30)
        mine = acknowledged[index]
        try:
            barrier.wait()
            for step in range(per_thread):
                if step % DESCRIBE_EVERY == DESCRIBE_EVERY - 1 and mine:
                    name = f"load-{index}-{step - 1}"
                    body = f"Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1={name}"
                else:
                    name = f"load-{index}-{step}"
                    body = (
                        "Action=CreateKeyPair&Version=2016-11-15&KeyType=ed25519&KeyName="
                        + urllib.parse.quote(name)
                    )
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                statuses[index][response.status] += 1
                if response.status != 200:
                    continue
                if body.startswith("Action=CreateKeyPair"):
                    found = KEY_PAIR_ID.search(payload)
                    assert found is not None, payload[:200]
                    mine[name] = found.group(1).decode()
                else:
                    assert KEY_NAME.findall(payload) == [name.encode()]
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with LocalEndpoint(backend, log=server_log) as endpoint:
        threads = [
            threading.Thread(
                target=client, args=(i, endpoint.host, endpoint.port), name=f"load client {i}"
            )
            for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join(max(0.0, TIME_LIMIT - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        assert not any(thread.is_alive() for thread in threads), f"still running at {elapsed:.0f} s"
        listed = {region: describe_all(endpoint, region) for region in REGIONS}

    total = Counter[int]()
    for counts in statuses:
        total.update(counts)
    rate = REQUESTS / elapsed
    with capsys.disabled():
        print(
            f"\nload: {sum(total.values())} requests, {THREADS} keep-alive clients, "
            f"{elapsed:.1f} s, {rate:.0f} requests/s, statuses {dict(total)}"
        )
    assert errors == [], errors[:3]
    assert total == {200: REQUESTS}, total
    assert server_log.getvalue() == ""
    for index, region in enumerate(REGIONS):
        assert len(acknowledged[index]) == per_thread - per_thread // DESCRIBE_EVERY
        assert listed[region] == acknowledged[index], region
    assert len(backend.calls) == REQUESTS + len(REGIONS)
    assert elapsed < TIME_LIMIT


def describe_all(endpoint: LocalEndpoint, region: str) -> dict[str, str]:
    """name → id of every pair the endpoint lists in ``region``."""
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/",
            body="Action=DescribeKeyPairs&Version=2016-11-15",
            headers=headers_for(region),
        )
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    assert response.status == 200
    names = [name.decode() for name in KEY_NAME.findall(payload)]
    ids = [key_pair_id.decode() for key_pair_id in KEY_PAIR_ID.findall(payload)]
    assert len(names) == len(ids) == len(set(names))
    return dict(zip(names, ids, strict=True))
