"""What every scenario shares: interleaved rounds, medians, targets, clients, child processes."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Imported before any client exists, so that every client (each contender's) is created with
# the mock's dormant handler (and moto's: scenarios import moto before they make clients).
from ec2_keypair_mock._hook import EVENTS

REGION = "us-east-1"
CONTENDERS = ("mock", "stubber", "moto")
LABELS = {"mock": "this mock", "stubber": "Stubber", "moto": "moto"}
ROOT = Path(__file__).resolve().parent.parent

# Fake credentials and no real configuration, for this process and every child: nothing may
# reach AWS, and a developer's ~/.aws must not change what is measured.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
os.environ.update(FAKE_ENV)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"):
    os.environ.pop(_name, None)
os.environ.pop("EC2_KEYPAIR_MOCK_FRESH_KEYS", None)


@dataclass
class Target:
    """What a scenario must show; every ratio comes from the same run."""

    text: str
    stubber_max: float | None = None  # mock ≤ stubber_max × Stubber
    moto_min: float | None = None  # moto ≥ moto_min × mock
    absolute_max: float | None = None  # mock ≤ absolute_max (in the scenario's unit)


@dataclass
class Result:
    """One scenario's samples (one value per round and contender) and its verdict."""

    key: str
    title: str
    unit: str  # "s": seconds per operation (lower is better); "B": bytes (lower is better)
    samples: dict[str, list[float]]
    target: Target
    notes: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    headline: str = "median"  # or "mean" where the first round (a cold cache) must count

    def value(self, contender: str) -> float | None:
        values = self.samples.get(contender)
        if not values:
            return None
        if self.headline == "mean":
            return statistics.fmean(values)
        return statistics.median(values)

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """``numerator ÷ denominator``, paired by round where both ran every round.

        A round runs every contender back to back, so the ratio within a round is what a slow
        phase of a shared machine disturbs least: the median of the per-round ratios is the
        headline. Where one contender ran fewer rounds (moto's slow scenarios), or where the
        headline is a mean (a cold first round must count), it is the ratio of the headlines.
        """
        top, bottom = self.samples.get(numerator), self.samples.get(denominator)
        if not top or not bottom:
            return None
        if self.headline == "median" and len(top) == len(bottom) and all(bottom):
            return statistics.median(a / b for a, b in zip(top, bottom, strict=True))
        top_value, bottom_value = self.value(numerator), self.value(denominator)
        return None if top_value is None or not bottom_value else top_value / bottom_value

    def stubber_ratio(self) -> float | None:
        return self.ratio("mock", "stubber")

    def moto_ratio(self) -> float | None:
        return self.ratio("moto", "mock")

    def met(self) -> bool | None:
        verdicts: list[bool] = []
        target = self.target
        if target.stubber_max is not None:
            ratio = self.stubber_ratio()
            verdicts.append(ratio is not None and ratio <= target.stubber_max)
        if target.moto_min is not None:
            ratio = self.moto_ratio()
            verdicts.append(ratio is not None and ratio >= target.moto_min)
        if target.absolute_max is not None:
            mock = self.value("mock")
            verdicts.append(mock is not None and mock <= target.absolute_max)
        verdicts.extend(self.checks.values())
        return all(verdicts) if verdicts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "headline": self.headline,
            "values": {name: self.value(name) for name in self.samples},
            "samples": self.samples,
            "mock_over_stubber": self.stubber_ratio(),
            "moto_over_mock": self.moto_ratio(),
            "target": self.target.text,
            "met": self.met(),
            "checks": self.checks,
            "notes": self.notes,
            **({"extra": self.extra} if self.extra else {}),
        }


def interleave(
    runs: Mapping[str, Callable[[], float]],
    rounds: int,
    limit: Mapping[str, int] | None = None,
) -> dict[str, list[float]]:
    """Run one round of each contender in turn, rotating who goes first, ``rounds`` times.

    Interleaving spreads slow phases of a shared machine over every contender alike; the young
    garbage of one round is collected before the next round starts, outside any timing.
    ``limit`` caps the rounds of a contender whose one round takes seconds (moto, for some
    scenarios); its rounds are spread over the run.
    """
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    limit = limit or {}
    gc.collect()
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            cap = limit.get(name, rounds)
            # Rounds index*cap//rounds: spread cap rounds evenly over the run.
            if cap < rounds and (index * cap) // rounds == ((index + 1) * cap) // rounds:
                continue
            gc.collect(1)  # the young generations; a full collection takes ~0.2 s with moto
            samples[name].append(runs[name]())
    return samples


def per_op(function: Callable[[], None], count: int) -> float:
    """Seconds per call of ``function`` over ``count`` calls."""
    start = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - start) / count


def detach_mock(client: Any) -> Any:
    """Take this mock's (dormant) botocore handler off ``client``: competitors never reach it.

    Importing ec2_keypair_mock adds its handler to every botocore session; the Stubber and
    moto clients must not pay even the dormant handler's few hundred nanoseconds, nor be
    answered by the mock when scenarios keep both mocks active at once.
    """
    for event, handler, _unique_id in EVENTS:
        client.meta.events.unregister(event, handler)
    return client


def session_client(**kwargs: Any) -> Any:
    """An EC2 client from its own botocore session (never boto3's default session)."""
    import boto3

    return boto3.session.Session().client("ec2", region_name=REGION, **kwargs)


# -- child processes ------------------------------------------------------------------------

_PYCACHE = Path(tempfile.gettempdir()) / "ec2-keypair-mock-bench-pycache"


def child_env() -> dict[str, str]:
    """The environment of measured child processes: bytecode cached, as after ``pip install``.

    Some environments set PYTHONDONTWRITEBYTECODE, so every child would compile this package
    from source (an editable checkout has no .pyc); installed packages always have bytecode.
    The cache goes to a temporary directory, not the checkout.
    """
    env = {**os.environ, **FAKE_ENV, "PYTHONPYCACHEPREFIX": str(_PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_child(code: str, *flags: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its last line of output, if any, is JSON."""
    result = subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(),
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        msg = f"A benchmark child process failed:\n{result.stderr}"
        raise RuntimeError(msg)
    lines = result.stdout.strip().splitlines()
    parsed: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    parsed["_stderr"] = result.stderr
    return parsed


# -- the machine ----------------------------------------------------------------------------


def environment(command: Sequence[str]) -> dict[str, Any]:
    """Versions and machine facts that make a table reproducible."""
    import boto3
    import botocore
    import cryptography

    try:
        import moto

        moto_version = moto.__version__
    except ImportError:  # pragma: no cover - the bench extra installs it
        moto_version = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "command": " ".join(command),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "moto": moto_version,
        "cryptography": cryptography.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": _load(),
    }


def _load() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None
