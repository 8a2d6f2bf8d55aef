"""The dormant botocore hook: how the botocore door reaches every client. Strictly private.

* botocore gives every *session* the rows of ``botocore.handlers.BUILTIN_HANDLERS`` when the
  session is created, and every client copies its session's emitter when the client is created
  (``copy.copy`` in ``botocore/args.py``). Importing this package appends two rows to
  ``BUILTIN_HANDLERS``, so every session — and every client — created after the import carries
  the handler. While no ``mock_keypairs`` activation is active the handler returns ``None`` at
  once and botocore goes on as if it were not there.
* boto3's default session, if it already exists at import, gets the same rows registered on it.
* A client created before the import has neither: :func:`attach_client` (``backend.attach``)
  registers the handler on that one client for the rest of the activation.

This module is all the package import costs: the call path (``_botocore`` and everything behind
it) is imported when the first activation starts.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import botocore.handlers

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from ._backend import KeyPairsBackend

__all__ = ["EVENTS", "attach_client", "detach_clients", "set_current", "set_door"]

_UNIQUE_ID = "ec2_keypair_mock"

Active = tuple["KeyPairsBackend", bool]
_current: Callable[[], Active | None] = lambda: None  # noqa: E731
_door: Callable[..., Any] | None = None
_attached: list[BaseClient] = []
_lock = threading.Lock()


def set_current(getter: Callable[[], Active | None]) -> None:
    """Tell the handler how to find the active backend and its strictness (set by ``_mock``)."""
    global _current
    _current = getter


def set_door(door: Callable[..., Any]) -> None:
    """Install the call path (``_botocore.handle``), once the first activation imports it."""
    global _door
    _door = door


def _handler(
    model: Any,
    params: dict[str, Any],
    request_signer: Any = None,
    context: dict[str, Any] | None = None,
    **_: Any,
) -> Any:
    active = _current()
    if active is None or _door is None:
        return None
    return _door(active, model, params, request_signer, context)


EVENTS: tuple[tuple[str, Callable[..., Any], str], ...] = (
    ("before-call.ec2", _handler, _UNIQUE_ID + ".ec2"),
    ("before-call.sts.DecodeAuthorizationMessage", _handler, _UNIQUE_ID + ".sts"),
)
"""The one table of handler rows: every registration and every removal reads it."""


def _register_builtin() -> None:
    """Give every botocore session created from now on the (dormant) handler."""
    for event, handler, _unique in EVENTS:
        if (event, handler) not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append((event, handler))
    boto3 = sys.modules.get("boto3")  # not imported yet → no default session to reach
    session = getattr(boto3, "DEFAULT_SESSION", None)
    if session is not None:
        for event, handler, unique_id in EVENTS:
            session.events.register(event, handler, unique_id=unique_id)


def attach_client(client: BaseClient) -> None:
    """Register the handler on one existing client until the last activation stops."""
    with _lock:
        for event, handler, unique_id in EVENTS:
            client.meta.events.register(event, handler, unique_id=unique_id)
        _attached.append(client)


def detach_clients() -> None:
    """Undo every :func:`attach_client` (when the last activation stops)."""
    with _lock:
        for client in _attached:
            for event, _, unique_id in EVENTS:
                client.meta.events.unregister(event, unique_id=unique_id)
        _attached.clear()


_register_builtin()
