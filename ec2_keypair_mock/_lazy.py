"""Regular expressions compiled on first use, so importing the call path stays cheap.

Strictly private. Compiling a pattern costs a fresh process tens to hundreds of microseconds;
one that only some calls need (ImportKeyPair's parsers, policy variables, numeric and date
conditions, ...) is made a getter with :func:`lazy_pattern` instead of a module constant.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

__all__ = ["lazy_pattern"]


def lazy_pattern(source: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """Return a getter for ``re.compile(source, flags)`` that compiles on its first call."""

    @functools.cache
    def pattern() -> re.Pattern[str]:
        return re.compile(source, flags)

    return pattern
