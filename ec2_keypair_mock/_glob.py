"""Non-backtracking glob matching for EC2 filter values and IAM policies. Strictly private.

``*`` matches any run of characters (newlines included), ``?`` exactly one, everything else
itself. EC2 filter values also let ``\\`` escape the next character; IAM patterns have no escapes
but may hold literal ``*``/``?`` written as ``${*}``/``${?}``, which reach this module as
inactive chunks (text whose wildcards do not apply).

Not a regular expression on purpose: ``*a*a*a*b`` as the regex ``.*a.*a.*a.*b`` backtracks
polynomially (exponentially, with enough stars) on a text that almost matches. A policy Resource
``key-pair/*-*-*-prod`` against a 3,000-hyphen KeyName took minutes, and authorization runs before
KeyName validation. Here each piece between two stars is placed at its earliest possible position,
which is always right for globs (the star after it absorbs whatever an earlier placement leaves),
so a match costs at most ``len(text) × len(pattern)`` character comparisons, mostly inside
``str.find``, and building one costs ``len(pattern)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["ArnGlob", "Glob", "chunk_glob"]

Chunks = Sequence[tuple[str, bool]]
"""``(text, wildcards_active)`` pairs, as a resolved policy template gives them."""


class _Gapped:
    """A piece between stars holding ``?``: its length and its literal runs by offset."""

    __slots__ = ("anchor", "length", "runs")

    def __init__(self, items: Sequence[str | None]) -> None:
        runs: list[tuple[int, str]] = []
        offset = 0
        for item in items:
            if item is None:
                offset += 1
            elif item:
                if runs and runs[-1][0] + len(runs[-1][1]) == offset:
                    runs[-1] = (runs[-1][0], runs[-1][1] + item)
                else:
                    runs.append((offset, item))
                offset += len(item)
        self.length = offset
        self.runs = tuple(runs)
        # The longest literal run: str.find jumps to the places where the piece may fit.
        self.anchor = max(runs, key=lambda run: len(run[1]), default=None)

    def at(self, text: str, start: int) -> bool:
        """Whether the piece fits at ``start`` (the caller checked that it is not too long)."""
        return all(text.startswith(run, start + offset) for offset, run in self.runs)

    def find(self, text: str, start: int, end: int) -> int:
        """The first position ≥ ``start`` where the piece fits in ``text[:end]``, else -1."""
        last = end - self.length
        if last < start:
            return -1
        if self.anchor is None:
            return start
        offset, run = self.anchor
        stop = last + offset + len(run)
        found = text.find(run, start + offset, stop)
        while found >= 0:
            if self.at(text, found - offset):
                return found - offset
            found = text.find(run, found + 1, stop)
        return -1


_Piece = str | _Gapped


def _compact(items: list[str | None]) -> _Piece:
    if len(items) == 1 and items[0] is not None:
        return items[0]
    if None in items:
        return _Gapped(items)
    return "".join(item for item in items if item is not None)


def _at(piece: _Piece, text: str, start: int) -> bool:
    return text.startswith(piece, start) if isinstance(piece, str) else piece.at(text, start)


def _split(chunks: Iterable[tuple[str, bool]], escapes: bool) -> list[list[str | None]]:
    """Pieces between stars; in a piece ``None`` stands for ``?``, a str for literal text."""
    pieces: list[list[str | None]] = [[]]
    for text, active in chunks:
        if not active:
            pieces[-1].append(text)
        elif escapes and "\\" in text:
            chars = iter(text)
            for char in chars:
                if char == "*":
                    pieces.append([])
                elif char == "?":
                    pieces[-1].append(None)
                else:
                    pieces[-1].append(next(chars, "\\") if char == "\\" else char)
        else:
            first, *rest = text.split("*")
            pieces[-1].extend(_gaps(first))
            pieces.extend(_gaps(between_stars) for between_stars in rest)
    return pieces


def _gaps(text: str) -> list[str | None]:
    """Text without stars as piece items: ``?`` becomes None."""
    if "?" not in text:
        return [text]
    items: list[str | None] = []
    for run in text.split("?"):
        items.extend((run, None))
    items.pop()
    return items


class Glob:
    """A compiled glob; ``fullmatch(text)`` answers whether the whole text matches.

    ``fullmatch`` mirrors ``re.Pattern.fullmatch`` but returns a bool; it is a function chosen
    for the pattern's shape when the glob is built (a plain string, a prefix and suffix, the
    general case), since it runs for every statement of every mocked call.

    Args:
        pattern: The glob text.
        escapes: ``\\`` escapes the next character (EC2 filter values); IAM has no escapes.
        ignore_case: Compare lower-cased pattern and text (IAM actions).
    """

    __slots__ = ("everything", "fullmatch", "literal")

    fullmatch: Callable[[str], bool]
    everything: bool  # True for a pattern of stars only
    literal: str | None  # the text a pattern without wildcards matches (case-sensitive only)

    def __init__(self, pattern: str, *, escapes: bool = False, ignore_case: bool = False) -> None:
        if ignore_case:
            pattern = pattern.lower()
        self._setup(_split(((pattern, True),), escapes), ignore_case)

    @classmethod
    def from_chunks(cls, chunks: Chunks, *, ignore_case: bool = False) -> Glob:
        """A glob from ``(text, wildcards_active)`` chunks (IAM, after policy variables)."""
        glob = cls.__new__(cls)
        if ignore_case:
            chunks = [(text.lower(), active) for text, active in chunks]
        glob._setup(_split(chunks, False), ignore_case)
        return glob

    def _setup(self, split: list[list[str | None]], fold: bool) -> None:
        pieces = [_compact(items) for items in split]
        if len(pieces) > 2:
            # Consecutive stars are one star: drop the empty pieces between them.
            pieces = [pieces[0], *(piece for piece in pieces[1:-1] if piece), pieces[-1]]
        self.everything = pieces == ["", ""]
        only = pieces[0]
        self.literal = only if len(pieces) == 1 and isinstance(only, str) and not fold else None
        match = _matcher(pieces)
        self.fullmatch = (lambda text: match(text.lower())) if fold else match


def _length(piece: _Piece) -> int:
    return len(piece) if isinstance(piece, str) else piece.length


def _matcher(pieces: list[_Piece]) -> Callable[[str], bool]:
    """``fullmatch`` for the pieces between stars (at least one piece)."""
    fixed = sum(len(piece) if isinstance(piece, str) else piece.length for piece in pieces)
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:  # no star
        if isinstance(first, str):
            return first.__eq__
        return lambda text: len(text) == fixed and first.at(text, 0)
    strings = [piece for piece in pieces if isinstance(piece, str)]
    if len(strings) == 2 == len(pieces):  # prefix*suffix
        prefix, suffix = strings
        if not fixed:
            return _anything
        return lambda text: len(text) >= fixed and text.startswith(prefix) and text.endswith(suffix)
    if len(strings) == len(pieces):
        return _plain_matcher(strings, fixed)
    middle = tuple(pieces[1:-1])
    first_length, last_length = _length(first), _length(last)

    def fullmatch(text: str) -> bool:
        if len(text) < fixed:
            return False
        end = len(text) - last_length
        if not (_at(first, text, 0) and _at(last, text, end)):
            return False
        position = first_length
        for piece in middle:
            if isinstance(piece, str):
                found = text.find(piece, position, end)
                if found < 0:
                    return False
                position = found + len(piece)
            else:
                found = piece.find(text, position, end)
                if found < 0:
                    return False
                position = found + piece.length
        return True

    return fullmatch


def _plain_matcher(pieces: list[str], fixed: int) -> Callable[[str], bool]:
    """``fullmatch`` for pieces without ``?`` (the common case, so str methods only)."""
    first, last, middle = pieces[0], pieces[-1], tuple(pieces[1:-1])
    first_length, last_length = len(first), len(last)

    def fullmatch(text: str) -> bool:
        if len(text) < fixed or not text.startswith(first) or not text.endswith(last):
            return False
        end = len(text) - last_length
        position = first_length
        for piece in middle:
            position = text.find(piece, position, end)
            if position < 0:
                return False
            position += len(piece)
        return True

    return fullmatch


def _anything(text: str) -> bool:
    return True


class ArnGlob:
    """An ARN pattern matched per component, as IAM's ARN condition operators do.

    An ARN has six colon-separated components, the last absorbing any further colons, and each is
    matched on its own, so a wildcard in the first five cannot cross a colon (IAM User Guide,
    "Amazon Resource Name (ARN) condition operators"). A text with fewer than six components
    matches nothing. Build it with :func:`chunk_glob`, which keeps patterns with fewer than six
    components as a whole-string :class:`Glob`.
    """

    __slots__ = ("fullmatch",)

    fullmatch: Callable[[str], bool]

    def __init__(self, segments: Sequence[Chunks]) -> None:
        globs = [Glob.from_chunks(segment) for segment in segments]
        # Leading components without wildcards are one string compare: "arn:aws:ec2:".
        lead = 0
        while lead < 5 and globs[lead].literal is not None:
            lead += 1
        prefix = "".join(f"{glob.literal}:" for glob in globs[:lead])
        splits = 5 - lead
        # A component that is only ``*`` needs no check.
        checks = tuple(
            (index - lead, glob.fullmatch)
            for index, glob in enumerate(globs)
            if index >= lead and not glob.everything
        )

        def components(text: str) -> list[str] | None:
            if not text.startswith(prefix):
                return None
            parts = text[len(prefix) :].split(":", splits)
            return parts if len(parts) > splits else None

        def fullmatch(text: str) -> bool:
            parts = components(text)
            return parts is not None and all(match(parts[index]) for index, match in checks)

        if len(checks) == 1:  # the common case, without a generator
            ((index, match),) = checks

            def fullmatch(text: str) -> bool:
                parts = components(text)
                return parts is not None and match(parts[index])

        self.fullmatch = fullmatch


def _arn_segments(chunks: Chunks) -> list[list[tuple[str, bool]]]:
    """The chunks of each of the six components (split at the first five colons)."""
    segments: list[list[tuple[str, bool]]] = [[]]
    for text, active in chunks:
        while len(segments) < 6 and ":" in text:
            head, _, text = text.partition(":")
            segments[-1].append((head, active))
            segments.append([])
        segments[-1].append((text, active))
    return segments


def _build(chunks: Chunks, arn: bool) -> Glob | ArnGlob:
    if arn and sum(text.count(":") for text, _ in chunks) >= 5:
        return ArnGlob(_arn_segments(chunks))
    return Glob.from_chunks(chunks)


# Resolved patterns, without and with ARN components. Only short ones are remembered, and at most
# 4096 of each: policy variables may resolve to request values, which may be 100 KB long.
_cache: tuple[dict[tuple[tuple[str, bool], ...], Glob | ArnGlob], ...] = ({}, {})
_CACHED_LENGTH = 256
_CACHED_COUNT = 4096


def chunk_glob(chunks: Chunks, *, arn: bool = False) -> Glob | ArnGlob:
    """The matcher for a resolved policy string (memoised: variables take few values).

    With ``arn=True`` a pattern of six or more components is matched per component
    (:class:`ArnGlob`); one with fewer falls back to a whole-string match.
    """
    key = tuple(chunks)
    cache = _cache[arn]
    glob = cache.get(key)
    if glob is None:
        glob = _build(key, arn)
        if sum(len(text) for text, _ in key) <= _CACHED_LENGTH:
            if len(cache) >= _CACHED_COUNT:
                cache.clear()
            cache[key] = glob
    return glob
