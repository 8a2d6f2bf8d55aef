"""The ``requests`` door: EC2 Query calls made with ``requests`` are answered by the mock.

Strictly private; ``_mock.py`` calls :func:`install` when the first activation starts and
:func:`uninstall` when the last one stops (it reference-counts, so these two need not).

Why ``responses``: it is already a run-time dependency, it patches ``HTTPAdapter.send`` (the one
place every ``requests`` call goes through, sessions and custom adapters included), and it lets a
callback build the answer from the :class:`PreparedRequest`, which ``_http`` reads exactly as the
local endpoint reads a socket, so both doors answer alike.

What is intercepted, and what is not:

* ``http(s)://ec2.<region>.amazonaws.com``, ``ec2.amazonaws.com`` (us-east-1), the ``.com.cn``
  partition, ``ec2-fips.<region>…`` and the dual-stack ``ec2.<region>.api.aws`` names: every one of
  them is EC2, and a test that picked the dual-stack endpoint must not reach the real one. Served
  actions get the mock's answer; malformed requests its EC2 error; an EC2 action the mock does
  not serve raises :class:`UnmockedOperationError` in strict mode (never the network silently),
  and in non-strict mode goes on as if the mock were not there.
* STS ``DecodeAuthorizationMessage`` (``sts[.<region>].amazonaws.com``), so the mock's encoded
  authorization messages can be decoded; any other STS call passes through.
* Everything else passes through untouched (``add_passthru``). Passing through calls whatever
  ``HTTPAdapter.send`` was when :func:`install` ran, so a ``responses`` or ``requests-mock``
  activation started *before* the mock keeps answering its own URLs. One started *after* it sees
  EC2 URLs first (its own rules win, and it refuses what it does not know); stop such mocks in
  the reverse order of starting them, as ``unittest.mock.patch`` requires.

The caller is ``127.0.0.1`` (``aws:SourceIp``); ``aws:SecureTransport`` follows the URL scheme.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

import responses
from requests import PreparedRequest
from requests.adapters import HTTPAdapter

from ._errors import UnmockedOperationError
from ._http import wire_request_from_http
from ._ops import served, unmocked_message
from ._wire import WireRequest, WireResponse

__all__ = ["install", "installed", "uninstall"]

_HOSTS = r"(?:-fips)?(?:\.[a-z0-9-]+)?\.(?:amazonaws\.com(?:\.cn)?|api\.aws)(?::[0-9]+)?"
_EC2_URL = re.compile(rf"^https?://ec2{_HOSTS}(?:[/?#].*)?$", re.IGNORECASE | re.DOTALL)
_STS_URL = re.compile(rf"^https?://sts{_HOSTS}(?:[/?#].*)?$", re.IGNORECASE | re.DOTALL)
_EVERYTHING = re.compile(r".*", re.DOTALL)
# Every method: GET/POST are served, the others get the EC2-style 405 rather than passing through.
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_SOURCE_IP = "127.0.0.1"


class _Dispatcher(Protocol):
    def dispatch(self, request: WireRequest) -> WireResponse: ...


_lock = threading.Lock()
_active: responses.RequestsMock | None = None


def install(
    get_backend: Callable[[], _Dispatcher],
    *,
    is_strict: Callable[[], bool] = lambda: True,
) -> None:
    """Start answering EC2 URLs from ``get_backend()``; a no-op while already installed.

    ``get_backend`` and ``is_strict`` are called on every request, so they follow the activation
    stack (the innermost activation answers, with its own strictness).
    """
    global _active
    with _lock:
        if _active is not None:
            return
        mock = responses.RequestsMock(
            assert_all_requests_are_fired=False,
            # Whatever send() is now (the real one, or another mock's) handles passthrough.
            # (cast: responses' alias for send() is narrower than requests' own signature.)
            real_adapter_send=cast("Any", HTTPAdapter.send),
        )

        def answer(request: PreparedRequest) -> tuple[int, Mapping[str, str], bytes]:
            # responses keeps every call it answers; drop them so a long test does not grow.
            mock.calls.reset()
            for registered in mock.registered():
                registered.calls.reset()
            parsed = _parse(request)
            if isinstance(parsed, WireRequest):
                if not _served(parsed):
                    # Only reached in strict mode: ec2_matcher lets it pass through otherwise.
                    raise UnmockedOperationError(
                        unmocked_message(parsed.service, parsed.action, parsed.region)
                    )
                parsed = get_backend().dispatch(parsed)
            body = b"" if request.method == "HEAD" else parsed.body
            return parsed.status, dict(parsed.headers), body

        def ec2_matcher(request: PreparedRequest) -> tuple[bool, str]:
            parsed = _parse(request)
            if isinstance(parsed, WireRequest) and not _served(parsed) and not is_strict():
                return False, f"mock_keypairs does not serve {parsed.action} (strict=False)"
            return True, ""

        def sts_matcher(request: PreparedRequest) -> tuple[bool, str]:
            parsed = _parse(request)
            if isinstance(parsed, WireRequest) and parsed.action == "DecodeAuthorizationMessage":
                return True, ""
            return False, "only STS DecodeAuthorizationMessage is served"

        for method in _METHODS:
            for url, matcher in ((_EC2_URL, ec2_matcher), (_STS_URL, sts_matcher)):
                mock.add_callback(method, url, answer, content_type=None, match=[matcher])
        mock.add_passthru(_EVERYTHING)
        mock.start()
        _active = mock


def uninstall() -> None:
    """Stop answering EC2 URLs; a no-op when not installed."""
    global _active
    with _lock:
        mock, _active = _active, None
    if mock is not None:
        mock.stop(allow_assert=False)


def installed() -> bool:
    """Whether the door is currently installed (for leak checks in tests)."""
    return _active is not None


def _parse(request: PreparedRequest) -> WireRequest | WireResponse:
    url = request.url or ""
    body = _body_bytes(request.body)
    # A generator body can be read once; keep the bytes for the next matcher and the callback.
    request.body = body
    return wire_request_from_http(
        request.method or "GET",
        url,
        {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        },
        body,
        source_ip=_SOURCE_IP,
        secure=url.lower().startswith("https:"),
    )


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        # What http.client would put on the wire for a str body (it encodes Latin-1, and
        # raises the same UnicodeEncodeError for anything else).
        return body.encode("iso-8859-1")
    if isinstance(body, Iterable):
        # A generator body (requests sends it chunked); only bytes/str chunks make sense.
        return b"".join(_body_bytes(chunk) for chunk in body)
    msg = f"Cannot read a request body of type {type(body).__name__}."
    raise TypeError(msg)


def _served(request: WireRequest) -> bool:
    return served(request.service, request.action, request.params)
