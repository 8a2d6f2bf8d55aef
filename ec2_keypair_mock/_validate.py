"""Parameter checks shared by the key pair operations, with EC2's exact codes and messages.

Strictly private. Every message here is recorded from AWS or marked as our decision in SPEC.md
(§6, §7); every check raises :class:`EC2Error` so the dispatcher answers like EC2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

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


_Piece = str | list[str | None]
"""Literal text, or a list of characters where ``None`` is ``?``."""


class Wildcard:
    """A compiled EC2 filter value: ``*`` any run, ``?`` one character, ``\\`` escapes the next.

    Strictly private. Not a regular expression on purpose: ``*a*a*a*b`` as the regex
    ``.*a.*a.*a.*b`` backtracks exponentially on a name that almost matches (a 200-character
    name and a 9-character filter value took seconds, a few more stars for ever), and compiling a
    100 KB value with ``re`` takes seconds too. Here each piece between two stars is placed at its
    earliest possible position, which is always right for globs (the star after it can absorb
    whatever an earlier placement leaves), so a match costs at most ``len(text) × len(pattern)``
    character comparisons and building one costs ``len(pattern)``.
    """

    __slots__ = ("_fixed", "_pieces", "_star")

    def __init__(self, pattern: str) -> None:
        # Pieces between stars; in a piece ``None`` stands for ``?`` (any one character).
        pieces: list[list[str | None]] = [[]]
        chars = iter(pattern)
        for char in chars:
            if char == "\\":
                pieces[-1].append(next(chars, "\\"))
            elif char == "*":
                pieces.append([])
            elif char == "?":
                pieces[-1].append(None)
            else:
                pieces[-1].append(char)
        self._star = len(pieces) > 1
        if self._star:
            # Consecutive stars are one star: drop the empty pieces between them.
            pieces = [pieces[0], *(piece for piece in pieces[1:-1] if piece), pieces[-1]]
        # A piece without ``?`` becomes a str, so the common cases are str methods.
        self._pieces = [_compact(piece) for piece in pieces]
        self._fixed = sum(len(piece) for piece in self._pieces)

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of ``text`` matches (the name mirrors ``re.Pattern.fullmatch``)."""
        pieces = self._pieces
        if not self._star:
            return len(text) == self._fixed and _piece_at(pieces[0], text, 0)
        if len(text) < self._fixed:
            return False
        first, last = pieces[0], pieces[-1]
        end = len(text) - len(last)
        if not (_piece_at(first, text, 0) and _piece_at(last, text, end)):
            return False
        position = len(first)
        for piece in pieces[1:-1]:
            found = _find_piece(piece, text, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


def _compact(piece: list[str | None]) -> _Piece:
    chars = [char for char in piece if char is not None]
    return "".join(chars) if len(chars) == len(piece) else piece


def _piece_at(piece: _Piece, text: str, start: int) -> bool:
    if isinstance(piece, str):
        return text.startswith(piece, start)
    return all(want is None or want == text[start + i] for i, want in enumerate(piece))


def _find_piece(piece: _Piece, text: str, start: int, end: int) -> int:
    """The first position ≥ ``start`` where ``piece`` fits in ``text[:end]``, else -1."""
    if isinstance(piece, str):
        return text.find(piece, start, end)
    for position in range(start, end - len(piece) + 1):
        if _piece_at(piece, text, position):
            return position
    return -1


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
