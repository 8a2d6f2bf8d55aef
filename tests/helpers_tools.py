"""Run the real key tools (ssh-keygen, puttygen, openssl) that check the mock's keys.

The key tests compare the mock's output with what these tools compute, so a missing tool is a
broken test environment, not a reason to skip: :func:`require` fails the test and says which
package to install (CI installs all three).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["require", "run", "run_ok"]

_PACKAGES = {
    "ssh-keygen": "openssh-client",
    "puttygen": "putty-tools",
    "openssl": "openssl",
}


def require(tool: str) -> str:
    """Return the path of ``tool``, or fail the test naming the package that provides it."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is not installed but the key tests need it to check the mock's keys; "
            f"install the {_PACKAGES.get(tool, tool)} package (CI does).",
            pytrace=False,
        )
    return path


def run(args: list[str], *, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run a tool in ``cwd`` with ``stdin`` (never a terminal, so nothing waits for input)."""
    return subprocess.run(
        [require(args[0]), *args[1:]],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )


def run_ok(args: list[str], *, cwd: Path, stdin: bytes = b"") -> bytes:
    """Run a tool that must succeed and return its stdout; on failure show its stderr."""
    result = run(args, cwd=cwd, stdin=stdin)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited with {result.returncode}: "
            f"{result.stderr.decode(errors='replace').strip()}",
            pytrace=False,
        )
    return result.stdout
