"""Fresh-process scenarios (each sample is a new interpreter): import time, first call."""

from __future__ import annotations

import re
import statistics
from typing import Any

from ._harness import Result, Target, interleave, run_child

_CLOCK = "import time\n_t0 = time.perf_counter()\n_c0 = time.process_time()\n"
_REPORT = (
    "import json\nprint(json.dumps({'seconds': time.perf_counter() - _t0, "
    "'cpu': time.process_time() - _c0}))\n"
)

FIRST_CALL = {
    "mock": """
import boto3
from ec2_keypair_mock import mock_keypairs
client = boto3.client("ec2", region_name="us-east-1")
with mock_keypairs():
    client.create_key_pair(KeyName="first", KeyType="ed25519")
""",
    "stubber": """
import boto3
from botocore.stub import Stubber
client = boto3.client("ec2", region_name="us-east-1")
with Stubber(client) as stubber:
    stubber.add_response("create_key_pair", {
        "KeyName": "first", "KeyFingerprint": "d8k1z8y9F3qH8YdW3ohyqfS3CFuy3Tiy5dkgN9Zf9U0=",
        "KeyMaterial": "-----BEGIN OPENSSH PRIVATE KEY-----\\n-----END OPENSSH PRIVATE KEY-----",
        "KeyPairId": "key-0123456789abcdef0"})
    client.create_key_pair(KeyName="first", KeyType="ed25519")
""",
    "moto": """
import boto3
from moto import mock_aws
client = boto3.client("ec2", region_name="us-east-1")
with mock_aws():
    client.create_key_pair(KeyName="first", KeyType="ed25519")
""",
}

IMPORTS = {
    "mock": "import ec2_keypair_mock",
    "stubber": "import botocore.stub",
    "moto": "from moto import mock_aws",
}


def _children(
    codes: dict[str, str], rounds: int, moto_rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Interleaved child processes: CPU seconds (the samples) and wall seconds per contender.

    The CPU time of a new interpreter is its own work; on a shared machine its wall time
    mostly measures the neighbours (both go to the JSON).
    """
    walls: dict[str, list[float]] = {name: [] for name in codes}

    def run(name: str) -> float:
        result = run_child(codes[name])
        walls[name].append(float(result["seconds"]))
        return float(result["cpu"])

    for code in codes.values():  # warm the bytecode cache (as after `pip install`)
        run_child(code)
    runs = {name: (lambda name=name: run(name)) for name in codes}
    return interleave(runs, rounds, {"moto": moto_rounds}), walls


def fresh_process(rounds: int, moto_rounds: int) -> Result:
    """import boto3 + the library, create a client, activate, first ed25519 CreateKeyPair."""
    codes = {name: _CLOCK + code + _REPORT for name, code in FIRST_CALL.items()}
    samples, walls = _children(codes, rounds, moto_rounds)
    return Result(
        key="fresh",
        title="fresh process: import, create client, first create (ed25519)",
        unit="s",
        samples=samples,
        target=Target("≤ 1.2× Stubber (moto reported)", stubber_max=1.2),
        notes=[
            "CPU time of the child from its first statement to the end of the first call "
            "(interpreter start-up excluded, it is the same for all); bytecode cached. Median "
            "wall times: "
            + ", ".join(f"{name} {statistics.median(w) * 1000:.0f} ms" for name, w in walls.items())
        ],
        extra={"wall_seconds": walls},
    )


def import_time(rounds: int, moto_rounds: int) -> Result:
    """``import ec2_keypair_mock`` in a process that has already imported boto3."""
    codes = {
        name: "import boto3\n" + _CLOCK + code + "\n" + _REPORT for name, code in IMPORTS.items()
    }
    samples, walls = _children(codes, rounds, moto_rounds)
    breakdown = importtime_breakdown()
    return Result(
        key="import",
        title="`import ec2_keypair_mock` after `import boto3`",
        unit="s",
        samples=samples,
        target=Target("≤ 25 ms", absolute_max=0.025),
        notes=[
            "CPU time of the child (median wall: "
            f"{statistics.median(walls['mock']) * 1000:.0f} ms). Stubber: `import botocore.stub`; "
            "moto: `from moto import mock_aws`. Largest self times (`-X importtime`, µs): "
            + ", ".join(f"{name} {micro}" for name, micro in breakdown["top_self"][:8])
        ],
        extra={"importtime": breakdown, "wall_seconds": walls},
    )


_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def importtime_breakdown() -> dict[str, Any]:
    """``python -X importtime`` for ``import ec2_keypair_mock`` on top of boto3."""
    child = run_child("import boto3\nimport ec2_keypair_mock\nprint('{}')", "-X", "importtime")
    lines = child["_stderr"].splitlines()
    after_boto3 = next((i for i, line in enumerate(lines) if line.rstrip().endswith("| boto3")), -1)
    modules: list[tuple[str, int, int]] = []
    for line in lines[after_boto3 + 1 :]:
        match = _LINE.match(line)
        if match:
            modules.append((match[4], int(match[1]), int(match[2])))
    total = next(
        (cumulative for name, _, cumulative in modules if name == "ec2_keypair_mock"), None
    )
    top = sorted(((name, self_us) for name, self_us, _ in modules), key=lambda x: -x[1])
    return {"total_us": total, "top_self": top[:20], "modules": len(modules)}
