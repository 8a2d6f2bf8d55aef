"""The local endpoint: CreateKeyPair over HTTP keep-alive from four client threads."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ._harness import REGION, Result, Target, detach_mock, interleave, session_client

THREADS = 4


def _clients(url: str) -> list[Any]:
    # One client per thread, each with its own keep-alive connection pool; the dormant
    # botocore handler is taken off so that only HTTP is measured.
    return [detach_mock(session_client(endpoint_url=url)) for _ in range(THREADS)]


def _round(clients: list[Any], calls: int, prefix: str) -> float:
    """Wall time per call while ``THREADS`` threads each make ``calls`` calls."""
    start_line = threading.Barrier(len(clients) + 1)
    errors: list[BaseException] = []

    def work(index: int, client: Any) -> None:
        start_line.wait()
        try:
            for number in range(calls):
                client.create_key_pair(KeyName=f"{prefix}-{index}-{number}", KeyType="ed25519")
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(index, client)) for index, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed / (calls * len(clients))


def endpoint(rounds: int, calls: int) -> Result:
    """This mock's LocalEndpoint against moto's ThreadedMotoServer, in this process."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise

    from ec2_keypair_mock import KeyPairsBackend
    from ec2_keypair_mock._server import LocalEndpoint

    ours = LocalEndpoint(KeyPairsBackend(fresh_keys=True))  # what `serve` runs
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    ours.start()
    moto_server.start()
    try:
        host, port = moto_server.get_host_and_port()
        mock_clients = _clients(ours.url)
        moto_clients = _clients(f"http://{host}:{port}")
        rounds_done = iter(range(10**9))
        for clients in (mock_clients, moto_clients):  # open the connections, warm both
            _round(clients, 2, "warm")
        samples = interleave(
            {
                "mock": lambda: _round(mock_clients, calls, f"r{next(rounds_done)}"),
                "moto": lambda: _round(moto_clients, calls, f"r{next(rounds_done)}"),
            },
            rounds,
        )
    finally:
        moto_server.stop()
        ours.stop()
    return Result(
        key="endpoint",
        title=f"local endpoint: CreateKeyPair ed25519, HTTP keep-alive, {THREADS} client threads",
        unit="s",
        samples=samples,
        target=Target("≥ 3× moto's server", moto_min=3.0),
        notes=[
            f"Wall time per call while {THREADS} threads with their own clients each make "
            f"{calls} calls ({REGION}); server and clients share this process (and its GIL), "
            "as ThreadedMotoServer does. This endpoint always generates fresh keys."
        ],
    )
