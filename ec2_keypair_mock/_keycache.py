"""The process-wide key cache: generated keys reused across activations. Strictly private.

An RSA-2048 key costs tens of milliseconds to generate, which would make a test suite that
creates a few RSA key pairs per test spend most of its time in OpenSSL. Tests almost never care
that a key is new to the *process*; they care that it is a real key and that two key pairs of one
test never share one. So every activation draws keys from one shared, append-only list per key
type, with its own cursor:

* within one activation (one backend) no key is ever handed out twice: the cursor only moves
  forward, and every entry of the list was generated separately;
* a later (or concurrent, or nested) activation starts again at the beginning of the list and
  gets the same keys the earlier one got;
* the list holds at most :data:`CAPACITY` keys per type; a cursor that runs past the end of a
  full list gets keys nobody else ever gets, generated on demand (or taken from a few spares
  the filler thread made ahead);
* the backend holds only its cursor (two integers), never private material; the cache holds
  the keys and each key's PEM answer (it does not depend on the key pair's name).

``mock_keypairs(fresh_keys=True)`` or ``EC2_KEYPAIR_MOCK_FRESH_KEYS=1`` bypasses the cache, and
the local endpoint (``serve``) always does: a long-lived server hands keys to programs that may
use them, and there a reused key would be a surprise.

The filler thread: when a draw finds fewer RSA keys ready than the cursor will soon want, a
daemon thread named :data:`THREAD_NAME` generates up to :data:`LOOKAHEAD` keys ahead (OpenSSL
releases the GIL while it generates, so on a multi-core machine this overlaps with the test).
It is never started at import, exits by itself as soon as its target is met, and is restarted
on the next draw that needs it. :func:`stop` stops it and waits for it (for tests that check no
thread is left running); an ``atexit`` hook does the same so that interpreter shutdown never
races a thread inside OpenSSL. Ed25519 keys take microseconds and are made by the drawing
thread itself.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable

from ._keys import (
    KeyFormat,
    KeyType,
    NewKey,
    PrivateKey,
    create_key,
    generate_private_key,
    material_for,
)

__all__ = [
    "CAPACITY",
    "LOOKAHEAD",
    "THREAD_NAME",
    "KeyCache",
    "KeySource",
    "key_source",
    "stop",
]

CAPACITY = 64
"""Most keys of one type the shared list ever holds (reused across activations)."""
LOOKAHEAD: dict[KeyType, int] = {"rsa": 4, "ed25519": 0}
"""How many keys beyond a cursor's next draw the filler thread prepares, per key type."""
THREAD_NAME = "ec2-keypair-mock key cache"

KeySource = Callable[[KeyType, KeyFormat, str], NewKey]
"""What a backend calls for a new key pair's material: ``(key_type, key_format, name)``."""

_TYPES: tuple[KeyType, ...] = ("rsa", "ed25519")


class _Entry:
    """One generated key and its comment-free PEM answer (computed once, off the hot path)."""

    __slots__ = ("pem", "private_key")

    def __init__(self, private_key: PrivateKey, pem: NewKey) -> None:
        self.private_key = private_key
        self.pem = pem

    def material(self, key_format: KeyFormat, comment: str) -> NewKey:
        # PPK files carry the key pair's name as their comment, so they are written per draw.
        return self.pem if key_format == "pem" else material_for(self.private_key, "ppk", comment)


def _new_entry(key_type: KeyType) -> _Entry:
    private_key = generate_private_key(key_type)
    return _Entry(private_key, material_for(private_key, "pem", ""))


class KeyCache:
    """A bounded, shared pool of generated keys with per-activation cursors. Strictly private.

    ``make_entry`` exists for tests (a cheap fake generator); production uses real keys.
    """

    def __init__(
        self,
        capacity: int = CAPACITY,
        lookahead: dict[KeyType, int] | None = None,
        make_entry: Callable[[KeyType], _Entry] = _new_entry,
    ) -> None:
        self.capacity = capacity
        self._lookahead = dict(LOOKAHEAD if lookahead is None else lookahead)
        self._make_entry = make_entry
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._shared: dict[KeyType, list[_Entry]] = {kt: [] for kt in _TYPES}
        # Keys for cursors past the end of a full shared list: each is handed out once.
        self._spare: dict[KeyType, deque[_Entry]] = {kt: deque() for kt in _TYPES}
        self._wanted: dict[KeyType, int] = dict.fromkeys(_TYPES, 0)
        self._spare_wanted: dict[KeyType, int] = dict.fromkeys(_TYPES, 0)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- drawing ------------------------------------------------------------------------------

    def source(self) -> KeySource:
        """A key source for one activation: its own cursor over the shared keys."""
        # itertools.count: next() is atomic, so two threads of one activation never get the
        # same position (and so never the same key).
        cursors = {key_type: itertools.count() for key_type in _TYPES}

        def draw(key_type: KeyType, key_format: KeyFormat, comment: str) -> NewKey:
            return self._take(key_type, next(cursors[key_type])).material(key_format, comment)

        return draw

    def _take(self, key_type: KeyType, index: int) -> _Entry:
        shared = self._shared[key_type]
        lookahead = self._lookahead.get(key_type, 0)
        with self._lock:
            if index >= self.capacity:
                spare = self._spare[key_type]
                self._spare_wanted[key_type] = lookahead
                if spare:
                    entry = spare.popleft()
                    if len(spare) < lookahead:
                        self._start_filler()
                    return entry
                if lookahead:
                    self._start_filler()
            else:
                ready = index < len(shared)
                target = min(self.capacity, index + 1 + lookahead)
                self._wanted[key_type] = max(self._wanted[key_type], target)
                # When the key is not ready this thread makes it, so the filler only needs to
                # work on the positions after it.
                if target > max(len(shared), index + 1):
                    self._start_filler()
                if ready:
                    return shared[index]
        # Not ready: generate it here (in parallel with the filler, if it is running).
        entry = self._make_entry(key_type)
        if index >= self.capacity:
            return entry  # a key only this cursor ever sees
        with self._lock:
            if index < len(shared):
                # Filled meanwhile (by the filler or another thread). Ours goes after it, where
                # this cursor's later draws find it, so no position is handed out twice.
                if len(shared) < self.capacity:
                    shared.append(entry)
                return shared[index]
            if len(shared) == index:
                shared.append(entry)
        # Either ours now sits at our position, or a draw for an earlier position is still
        # generating (two threads of one activation): then ours stays unshared.
        return entry

    # -- the filler thread --------------------------------------------------------------------

    def _start_filler(self) -> None:
        # Called with the lock held.
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._fill, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def _next_job(self) -> tuple[KeyType, bool] | None:
        # Called with the lock held: (key type, for the spares?) or None when nothing is wanted.
        for key_type in _TYPES:
            if len(self._shared[key_type]) < min(self._wanted[key_type], self.capacity):
                return key_type, False
            if len(self._spare[key_type]) < self._spare_wanted[key_type]:
                return key_type, True
        return None

    def _fill(self) -> None:
        while True:
            with self._lock:
                job = None if self._stopping else self._next_job()
                if job is None:
                    self._thread = None
                    self._idle.notify_all()
                    return
            key_type, spare = job
            try:
                entry = self._make_entry(key_type)
            except BaseException:
                with self._lock:
                    self._thread = None
                    self._idle.notify_all()
                raise
            with self._lock:
                if spare:
                    if len(self._spare[key_type]) < self._spare_wanted[key_type]:
                        self._spare[key_type].append(entry)
                elif len(self._shared[key_type]) < self.capacity:
                    self._shared[key_type].append(entry)

    @property
    def filling(self) -> bool:
        """Whether the filler thread is running."""
        with self._lock:
            return self._thread is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the filler thread has met its target and exited; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._thread is None, timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the filler thread after the key it is making, and wait; False on timeout.

        The next draw that needs a key generates it (and may start the filler again).
        """
        with self._lock:
            self._stopping = True
            thread = self._thread
        try:
            if thread is not None:
                thread.join(timeout)
            return thread is None or not thread.is_alive()
        finally:
            with self._lock:
                self._stopping = False
                self._wanted = {kt: len(self._shared[kt]) for kt in _TYPES}
                self._spare_wanted = {kt: len(self._spare[kt]) for kt in _TYPES}

    def size(self, key_type: KeyType) -> int:
        """How many keys of ``key_type`` the shared list holds."""
        with self._lock:
            return len(self._shared[key_type])

    def clear(self) -> None:
        """Forget every key (stops the filler first). For tests."""
        self.stop()
        with self._lock:
            for key_type in _TYPES:
                self._shared[key_type].clear()
                self._spare[key_type].clear()
                self._wanted[key_type] = 0
                self._spare_wanted[key_type] = 0

    def _after_fork(self) -> None:
        # The child has no filler thread, and the lock may have been held by one at fork time.
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread = None
        self._stopping = False


KEY_CACHE = KeyCache()
"""The one process-wide cache every activation with ``fresh_keys=False`` draws from."""


def key_source(fresh_keys: bool) -> KeySource:
    """The key source for a new backend: a fresh key per draw, or a cursor over the cache."""
    if fresh_keys:
        return create_key
    return KEY_CACHE.source()


def stop(timeout: float | None = None) -> bool:
    """Stop the process-wide cache's filler thread and wait for it (see the module docstring)."""
    return KEY_CACHE.stop(timeout)


atexit.register(KEY_CACHE.stop, 5.0)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=KEY_CACHE._after_fork)
