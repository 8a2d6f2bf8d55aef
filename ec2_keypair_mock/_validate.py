"""Parameter checks shared by the key pair operations, with EC2's exact codes and messages.

Strictly private. Every message here is recorded from AWS or marked as our decision in SPEC.md
(§6, §7); every check raises :class:`EC2Error` so the dispatcher answers like EC2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._glob import Glob
from ._wire import EC2Error

__all__ = [
    "Wildcard",
    "check_enum",
    "check_key_name",
    "check_tags",
    "tag_specification_tags",
    "wildcard",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_TAGS = 50


def invalid(message: str) -> EC2Error:
    """An ``InvalidParameterValue`` error."""
    return EC2Error("InvalidParameterValue", message)


def missing(name: str) -> EC2Error:
    """EC2's ``MissingParameter`` error for ``name``."""
    return EC2Error("MissingParameter", f"The request must contain the parameter {name}")


def check_key_name(name: str | None) -> str:
    """KeyName rules for Create/Import, in EC2's order (SPEC §7)."""
    if not name:
        raise missing("KeyName")
    if len(name) > 255:
        raise invalid("Value for parameter KeyName is invalid. Length exceeds maximum of 255.")
    if not name.isascii():
        raise invalid(
            "Value for parameter KeyName is invalid. Character sets beyond ASCII are not supported."
        )
    if _CONTROL.search(name):
        # AWS's own text is garbled exactly like this (recorded for "\n", SPEC §7).
        raise invalid(f"Value for parameter {name} is invalid. KeyName")
    if name != name.strip(" "):
        raise invalid(f"Invalid value '{name}' for keyName. It should be trimmed")
    return name


def check_enum(values: Sequence[tuple[str, str | None, Sequence[str]]]) -> None:
    """Enum checks in the Coral validation form EC2 answers with (SPEC §7)."""
    problems = [
        f"Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        for field, value, allowed in values
        if value is not None and value not in allowed
    ]
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise invalid(f"{count} validation {noun} detected: " + "; ".join(problems))


def tag_specification_tags(specs: Sequence[Mapping[str, Any]] | None) -> dict[str, str] | None:
    """The tags a ``TagSpecification`` list asks for on a key pair (None when none given)."""
    if not specs:
        return None
    seen = False
    tags: list[Mapping[str, Any]] = []
    for spec in specs:
        resource_type = spec.get("ResourceType")
        if not resource_type:
            raise invalid("Tag specification resource type must have a value")
        if resource_type != "key-pair":
            raise invalid(
                f"'{resource_type}' is not a valid taggable resource type for this operation."
            )
        if seen:
            raise invalid(
                "The same resource type may not be specified more than once in tag specifications."
            )
        seen = True
        tags.extend(spec.get("Tags") or ())
    return check_tags(tags)


def check_tags(tags: Sequence[Mapping[str, Any]], existing: int = 0) -> dict[str, str]:
    """Tag rules (SPEC §6): count, key length and prefix, value length, duplicates."""
    result: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key") or ""
        value = tag.get("Value") or ""
        if not key:
            raise invalid("Tag key cannot be empty")
        if len(key) > 128:
            raise invalid("Tag key exceeds the maximum length of 128 characters")
        if key.lower().startswith("aws:"):
            raise invalid("Tag keys starting with 'aws:' are reserved for internal use")
        if len(value) > 256:
            raise invalid("Tag value exceeds the maximum length of 256 characters")
        if key in result:
            raise invalid(f"Duplicate tag key '{key}' specified.")
        result[key] = value
    if existing + len(result) > MAX_TAGS:
        raise EC2Error(
            "TagLimitExceeded", "The maximum number of tags for a resource has been reached."
        )
    return result


class Wildcard(Glob):
    """A compiled EC2 filter value: ``*`` any run, ``?`` one character, ``\\`` escapes the next.

    Strictly private. Not a regular expression on purpose (a backtracking ``.*a.*a.*a.*b`` took
    seconds on a 200-character near-miss name): the matching is :class:`._glob.Glob`'s, which
    costs at most ``len(text) × len(pattern)`` character comparisons.
    """

    __slots__ = ()

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern, escapes=True)


_wildcards: dict[str, Wildcard] = {}
# Only short values are remembered: filter values are caller input, and 4096 cached 100 KB values
# would hold 400 MB for the rest of the process.
_CACHED_LENGTH = 256


def wildcard(pattern: str) -> Wildcard:
    """EC2 filter value → matcher: ``*`` any run, ``?`` one character, ``\\`` escapes the next."""
    compiled = _wildcards.get(pattern)
    if compiled is None:
        compiled = Wildcard(pattern)
        if len(pattern) <= _CACHED_LENGTH and len(_wildcards) < 4096:
            _wildcards[pattern] = compiled
    return compiled
