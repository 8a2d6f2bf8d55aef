"""Benchmarks: this mock against botocore's Stubber (the floor) and moto, in one run.

Run ``python -m benchmarks`` from the repository root (``--help`` for options). See
``benchmarks/README.md`` for what each scenario measures and how.
"""

from __future__ import annotations
