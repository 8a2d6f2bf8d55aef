"""``python -m benchmarks``: every scenario, this mock vs Stubber vs moto, one table.

Prints a markdown table of medians and ratios (all from this run) and writes the raw samples
to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ._harness import CONTENDERS, LABELS, ROOT, Result, environment


def _create(quick: bool) -> list[Result]:
    from .calls import create_ed25519

    rounds = 12 if quick else 100
    return [create_ed25519(rounds, 5, fresh_keys=False), create_ed25519(rounds, 5, True)]


def _cycle(quick: bool) -> list[Result]:
    from .calls import test_cycle

    return [test_cycle(3 if quick else 9, 4)]


def _rsa(quick: bool) -> list[Result]:
    from .calls import rsa_activations

    return [rsa_activations(3, 10, 1) if quick else rsa_activations(10, 10, 2)]


def _fresh(quick: bool) -> list[Result]:
    from .startup import fresh_process

    return [fresh_process(3, 1) if quick else fresh_process(15, 3)]


def _import(quick: bool) -> list[Result]:
    from .startup import import_time

    return [import_time(3, 1) if quick else import_time(11, 3)]


def _scale(quick: bool) -> list[Result]:
    from .scale import scale

    return scale(3, 100, 1) if quick else scale(5, 200, 1)


def _endpoint(quick: bool) -> list[Result]:
    from .endpoint import endpoint

    return [endpoint(4, 5) if quick else endpoint(30, 8)]


SCENARIOS: dict[str, Callable[[bool], list[Result]]] = {
    "create": _create,
    "cycle": _cycle,
    "rsa": _rsa,
    "fresh": _fresh,
    "import": _import,
    "scale": _scale,
    "endpoint": _endpoint,
}


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "B":
        return f"{value / 1024:,.2f} KB" if value >= 1024 else f"{value:,.0f} B"
    for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:,.3g} {suffix}"
    return f"{value * 1e9:,.0f} ns"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}×" if value < 10 else f"{value:,.0f}×"


def table(results: Sequence[Result]) -> str:
    """The markdown table: one row per scenario, medians (or means) and ratios, verdict."""
    head = (
        "| scenario | "
        + " | ".join(LABELS[name] for name in CONTENDERS)
        + " | mock ÷ Stubber | moto ÷ mock | target | met |"
    )
    rows = [head, "|" + "---|" * (len(CONTENDERS) + 5)]
    for result in results:
        met = result.met()
        cells = [result.title]
        cells += [_amount(result.value(name), result.unit) for name in CONTENDERS]
        cells += [_ratio(result.stubber_ratio()), _ratio(result.moto_ratio())]
        cells += [result.target.text, "—" if met is None else "✅" if met else "❌"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCENARIOS), help="run only these scenarios"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "latest.json",
        help="where to write the samples (default: benchmarks/results/latest.json)",
    )
    args = parser.parse_args(argv)
    command = [Path(sys.executable).name, "-m", "benchmarks", *(argv or sys.argv[1:])]
    env = environment(command)
    started = time.perf_counter()
    results: list[Result] = []
    for name in args.only or SCENARIOS:
        print(f"… {name}", file=sys.stderr, flush=True)
        scenario_start = time.perf_counter()
        results.extend(SCENARIOS[name](args.quick))
        print(f"  {time.perf_counter() - scenario_start:.1f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    env["load_average_after"] = environment(command)["load_average"]
    env["seconds"] = round(elapsed, 1)

    print(
        f"Python {env['python']}, boto3 {env['boto3']}, botocore {env['botocore']}, "
        f"moto {env['moto']}, cryptography {env['cryptography']}; {env['cpu']} "
        f"({env['cpus']} CPUs), {env['platform']}; load average {env['load_average']} → "
        f"{env['load_average_after']}; `{env['command']}` took {elapsed:.0f} s.\n"
    )
    print(table(results))
    for result in results:
        for note in result.notes:
            print(f"\n* {result.title}: {note}")
        for check, passed in result.checks.items():
            print(f"\n* {result.title}: {check}: {'yes' if passed else 'NO'}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "results": {r.key: r.to_json() for r in results}}
    args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"\nSamples written to {args.json}.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
