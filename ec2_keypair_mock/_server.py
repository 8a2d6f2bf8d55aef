"""The local endpoint: EC2 Query (and STS DecodeAuthorizationMessage) over plain HTTP.

Strictly private; ``python -m ec2_keypair_mock serve`` (``__main__.py``) is its front, and
:class:`LocalEndpoint` runs it in a thread for tests. Any SDK or the AWS CLI can talk to it with
``--endpoint-url http://127.0.0.1:5454``.

Why the standard library's ``socketserver.ThreadingTCPServer``: the traffic is one developer's
tests on loopback, a few requests at a time, and every answer is a few kilobytes computed in
memory, so a thread per connection is plenty and an extra dependency (an ASGI stack, werkzeug,
aiohttp) would earn nothing; the project allows only boto3, cryptography and responses at run
time. The HTTP/1.1 layer on top is this module's own, a small reader of the request line and
header fields in place of ``http.server``'s, which parses headers with the general-purpose
``email`` package, several times slower. It gives: keep-alive with an exact
``Content-Length``; a per-connection socket timeout and a whole-body deadline, so a slow or silent
client cannot hold a thread for ever; a body limit; EC2-style XML for every error, including
protocol errors; the status line, headers and body in one write; a lingering close after refusing
a body, so the client reads the refusal instead of a connection reset; no reverse DNS for the
server name (``HTTPServer.server_bind`` calls ``getfqdn``, which can hang and leaves loopback);
and quiet logs that never contain a body or a query string.

Reading a request follows ``http.server`` where it has a rule: the request line is ``METHOD
TARGET HTTP/x.y``, without a version it is HTTP/0.9 (GET only; answered in HTTP/1.1, then the
connection is closed), a malformed version or 2.0 and up is a ``400``; lines end in CRLF or a
bare LF; ``Connection: close``/``keep-alive`` and ``Expect: 100-continue`` are honoured. Header
fields follow RFC 9110/9112, because ``http.server`` hands them to a mail parser that silently
skips what it cannot read (and every field after it): a line that is not ``token ":" value``
(no colon, a space in the name, CR or NUL in the value) is a ``400``; names are matched without
regard to case; the spaces and tabs around a value are not part of it; an obs-fold line (one
starting with a space or a tab) continues the previous value after one space; a repeated field
keeps its last value, except ``Content-Length``, whose copies must all be equal (``400``
otherwise). Methods other than GET and POST are a ``405``: PUT, DELETE, PATCH, HEAD and OPTIONS
once their body is read, any other at once, closing the connection.

Limits (what the README's server section should say): request body at most
:data:`MAX_BODY_BYTES` (1 MiB; an ImportKeyPair is under 3 KiB) → ``413``; request line 64 KiB
→ ``414``; header lines 64 KiB each and 100 of them, counting the blank line that ends them
(``http.server``'s limits) → ``431``; each socket read or write at most ``timeout`` seconds
(default 10) and the whole body within the same time → connection closed;
``Transfer-Encoding`` (chunked bodies: no SDK sends them for Query) → ``411``. Threads are not
capped (one per open connection): the endpoint is for loopback, not for load.
"""

from __future__ import annotations

import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol, TextIO
from urllib.parse import urlsplit

from ._http import wire_request_from_http
from ._wire import WireRequest, WireResponse, error_response

__all__ = ["DEFAULT_PORT", "MAX_BODY_BYTES", "Dispatcher", "LocalEndpoint"]

DEFAULT_PORT = 5454
"""Not moto's 5000 nor LocalStack's 4566, so all three can run side by side."""
MAX_BODY_BYTES = 1 << 20
DEFAULT_TIMEOUT = 10.0
# After refusing a body we read and discard what the client is still sending, for at most this
# long, so that closing the socket does not send a TCP reset that destroys our answer.
_LINGER_SECONDS = 1.0
_LINGER_MAX_BYTES = 16 << 20
# http.server's limits: a request line or header line of at most 64 KiB, and at most 100 header
# lines counting the blank line that ends them (http.client's _MAXHEADERS).
_MAX_LINE = 65536
_MAX_HEADER_LINES = 100
# Methods read to the end of their body and answered by wire_request_from_http (405 for all but
# GET and POST, keeping the connection); any other method is a 405 that closes it.
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_END_OF_HEADERS = frozenset({b"\r\n", b"\n", b""})
_FOLD_START = frozenset({" ", "\t"})
# A field name is a token (RFC 9110 §5.1). Names seen before are looked up instead of checked
# again (lower-cased), up to a bound so that made-up names cannot grow the table for ever.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_NAMES: dict[str, str] = {}
_FIELD_NAMES_KEPT = 256
_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in HTTPStatus
}


class Dispatcher(Protocol):
    """What the endpoint serves: ``KeyPairsBackend`` (or a test's fake)."""

    def dispatch(self, request: WireRequest) -> WireResponse: ...


class _Server(socketserver.ThreadingTCPServer):
    """Strictly private. Carries the endpoint's settings to its handlers."""

    allow_reuse_address = True  # as http.server's servers: a restart can reuse the port at once
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        backend: Dispatcher,
        *,
        verbose: bool,
        timeout: float,
        max_body_bytes: int,
        log: TextIO,
    ) -> None:
        # IPv6 literals (``::1``) need an AF_INET6 socket; the class default is AF_INET.
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.backend = backend
        self.verbose = verbose
        self.socket_timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.log = log
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Unlike http.server's HTTPServer, no getfqdn(): a DNS lookup (slow, and not loopback).
        super().server_bind()
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer is normal; anything else is a bug worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        self.log.write(f"ec2-keypair-mock: error while serving {client_address}:\n")
        self.log.write(traceback.format_exc())
        self.log.flush()


class _Handler(socketserver.StreamRequestHandler):
    """Strictly private. One connection; possibly several requests (keep-alive)."""

    server: _Server
    # Answers leave in one write, but a 100 Continue precedes its answer; with Nagle's algorithm
    # a second small write waits for the client's delayed ACK (40 ms on Linux loopback).
    disable_nagle_algorithm = True

    # The request being served (set by _handle_one and _read_head).
    command: str
    path: str
    headers: dict[str, str]
    lengths: list[str]
    close_connection: bool

    def setup(self) -> None:
        super().setup()
        # Per server, not per class (StreamRequestHandler.timeout is a class variable).
        self.connection.settimeout(self.server.socket_timeout)
        self.source_ip = str(self.client_address[0])

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self) -> None:
        self.command = self.path = ""
        self.headers = {}
        self.lengths = []
        self.close_connection = True
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self._refuse(
                    error_response(
                        "RequestURITooLong", "The request line exceeds 65536 bytes.", 414
                    )
                )
                return
            if not line or not self._read_head(line):
                return
            if self.command not in _METHODS:
                self._refuse(_method_not_allowed(self.command))
                return
            self._serve()
        except TimeoutError as error:
            self.close_connection = True
            if self.server.verbose:
                self._log(f"Request timed out: {error!r}")

    def _read_head(self, raw: bytes) -> bool:
        """Read the request line and the headers; False if the request has been answered."""
        request_line = str(raw, "iso-8859-1").rstrip("\r\n")
        words = request_line.split()
        if not words:
            return False
        version = (0, 9)  # a request line without a version is HTTP/0.9
        if len(words) >= 3:
            parsed = _http_version(words[-1])
            if parsed is None:
                return self._bad_request(f"Bad request version ({words[-1]!r})")
            if parsed >= (2, 0):
                return self._bad_request(f"Invalid HTTP version ({words[-1][5:]})")
            version = parsed
        if not 2 <= len(words) <= 3:
            return self._bad_request(f"Bad request syntax ({request_line!r})")
        if len(words) == 2 and words[0] != "GET":
            return self._bad_request(f"Bad HTTP/0.9 request type ({words[0]!r})")
        self.command, path = words[0], words[1]
        # As http.server does: '//host/x' would read as a network path to some clients.
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path

        headers = self.headers
        readline = self.rfile.readline
        known = _FIELD_NAMES
        name = ""
        lines = 0
        while True:
            raw_line = readline(_MAX_LINE + 1)
            if len(raw_line) > _MAX_LINE:
                return self._headers_too_large("Line too long")
            lines += 1  # the blank line that ends the headers counts, as in http.client
            if lines > _MAX_HEADER_LINES:
                return self._headers_too_large("Too many headers")
            if raw_line in _END_OF_HEADERS:
                break
            line = raw_line.rstrip(b"\r\n").decode("iso-8859-1")
            if line[:1] in _FOLD_START:
                # obs-fold (RFC 9112 §5.2): more of the previous field's value, after one space.
                more = line.strip(" \t")
                if not name or "\r" in more or "\x00" in more:
                    return self._bad_header(line)
                if more:
                    headers[name] = value = f"{headers[name]} {more}".lstrip(" ")
                    if name == "content-length":
                        self.lengths[-1] = value
                continue
            field, colon, value = line.partition(":")
            if not colon:
                return self._bad_header(line)
            name = known.get(field, "")
            if not name:
                if _TOKEN.fullmatch(field) is None:
                    return self._bad_header(line)
                name = field.lower()
                if len(known) < _FIELD_NAMES_KEPT:
                    known[field] = name
            # RFC 9110 §5.5: no CR or NUL in a value; the whitespace around it is not part of it.
            value = value.strip(" \t")
            if "\r" in value or "\x00" in value:
                return self._bad_header(line)
            # Later duplicates win, except Content-Length: every copy must agree.
            headers[name] = value
            if name == "content-length":
                self.lengths.append(value)

        if version >= (1, 1):
            self.close_connection = False
        connection = headers.get("connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if version < (1, 0):
            # Answered with a status line and headers (no HTTP/1.x client can read a bare
            # HTTP/0.9 body), then the connection is closed.
            self.close_connection = True
        elif version >= (1, 1) and headers.get("expect", "").lower() == "100-continue":
            # Refuse an oversized body before the client sends it.
            refusal = self._refuse_framing()
            if refusal is not None:
                self._send(refusal)
                self._linger()
                return False
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _bad_request(self, problem: str) -> bool:
        self._refuse(error_response("BadRequest", f"Malformed HTTP request: {problem}.", 400))
        return False

    def _bad_header(self, line: str) -> bool:
        shown = line[:100]
        return self._bad_request(f"Bad header line ({shown!r})")

    def _headers_too_large(self, problem: str) -> bool:
        self._refuse(error_response("RequestHeaderFieldsTooLarge", f"{problem}.", 431))
        return False

    def _refuse(self, response: WireResponse) -> None:
        """Answer a request whose framing cannot be trusted, and close the connection."""
        self.close_connection = True
        self._send(response)

    def _serve(self) -> None:
        started = time.monotonic()
        refusal = self._refuse_framing()
        if refusal is not None:
            self._send(refusal)
            self._linger()
            return
        body = self._read_body(int(self.lengths[0]) if self.lengths else 0, started)
        if body is None:
            # The client went silent or away mid-body; there is nobody to answer.
            self.close_connection = True
            return
        if isinstance(body, WireResponse):
            self._send(body)
            return
        parsed = wire_request_from_http(
            self.command, self.path, self.headers, body, source_ip=self.source_ip, secure=False
        )
        if isinstance(parsed, WireResponse):
            self._send(parsed)
            return
        try:
            answer = self.server.backend.dispatch(parsed)
        except Exception:
            self.server.handle_error(self.request, self.client_address)
            answer = error_response(
                "InternalError", "An internal error has occurred; see the server's log.", 500
            )
        self._send(answer, parsed.action)

    def _refuse_framing(self) -> WireResponse | None:
        """An error for a body we will not read (bad length, chunked, too big), else None."""
        if "transfer-encoding" in self.headers:
            self.close_connection = True
            return error_response(
                "MissingContentLength",
                "Send the request body with a Content-Length header; "
                "Transfer-Encoding is not supported.",
                411,
            )
        if not self.lengths:
            return None
        length = self.lengths[0]
        if any(other != length for other in self.lengths) or not (
            length.isascii() and length.isdigit()
        ):
            self.close_connection = True
            return error_response(
                "BadRequest", "The Content-Length header must be one non-negative integer.", 400
            )
        # (Checking the digit count first keeps int() away from absurdly long numbers.)
        if len(length) > 15 or int(length) > self.server.max_body_bytes:
            self.close_connection = True
            return error_response(
                "RequestEntityTooLarge",
                f"The request body exceeds the limit of {self.server.max_body_bytes} bytes.",
                413,
            )
        return None

    def _read_body(self, length: int, started: float) -> bytes | WireResponse | None:
        deadline = started + self.server.socket_timeout
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                if time.monotonic() > deadline:
                    return None
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    self.close_connection = True
                    return error_response(
                        "IncompleteBody",
                        f"The request body ended after {length - remaining} of the "
                        f"{length} bytes its Content-Length announced.",
                        400,
                    )
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError:
            return None
        return b"".join(chunks)

    def _send(self, response: WireResponse, action: str | None = None) -> None:
        """Status line, headers and body in one write (HEAD: no body)."""
        status = response.status
        head = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in response.headers.items())
        head.append(_date_header())
        head.append(f"Content-Length: {len(response.body)}\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        data = "".join(head).encode("latin-1")
        self.connection.sendall(data if self.command == "HEAD" else data + response.body)
        if self.server.verbose:
            path = urlsplit(self.path).path or "-"
            outcome = response.error_code or "OK"
            self._log(f"{self.command or '-'} {path} {action or '-'} -> {status} {outcome}")

    def _log(self, text: str) -> None:
        self.server.log.write(f"{self.source_ip} - {text}\n")
        self.server.log.flush()

    def _linger(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.2)
            deadline = time.monotonic() + _LINGER_SECONDS
            drained = 0
            while time.monotonic() < deadline and drained < _LINGER_MAX_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass


def _http_version(text: str) -> tuple[int, int] | None:
    """``HTTP/1.1`` → (1, 1); None unless ``HTTP/`` and two numbers of at most 10 digits."""
    if text == "HTTP/1.1":
        return (1, 1)
    if not text.startswith("HTTP/"):
        return None
    numbers = text[5:].split(".")
    if len(numbers) != 2 or not all(
        number.isascii() and number.isdigit() and len(number) <= 10 for number in numbers
    ):
        return None
    return int(numbers[0]), int(numbers[1])


def _date_header() -> str:
    """``Date: …\\r\\n`` for now, formatted once per second."""
    global _date_cache  # one tuple, swapped whole: threads see the old or the new one
    now = int(time.time())
    cached = _date_cache
    if cached[0] != now:
        cached = _date_cache = (now, f"Date: {formatdate(now, usegmt=True)}\r\n")
    return cached[1]


_date_cache: tuple[int, str] = (0, "")


def _method_not_allowed(method: str) -> WireResponse:
    return error_response(
        "MethodNotAllowed",
        f"The HTTP method {method} is not allowed; send EC2 Query requests with GET or POST.",
        405,
    )


class LocalEndpoint:
    """A local EC2 Query endpoint for one backend, on loopback by default.

    Example::

        backend = KeyPairsBackend(policy=None, fresh_keys=True)
        with LocalEndpoint(backend) as endpoint:      # port 0: a free port
            ec2 = boto3.client("ec2", endpoint_url=endpoint.url, region_name="us-east-1")
            ec2.create_key_pair(KeyName="deploy-key")

    ``start()`` serves from a daemon thread and returns the URL; ``serve_forever()`` serves from
    the calling thread (the command line uses it so signals stop it). ``stop()`` ends either.
    """

    def __init__(
        self,
        backend: Dispatcher,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        max_body_bytes: int = MAX_BODY_BYTES,
        log: TextIO | None = None,
    ) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving_in: threading.Thread | None = None
        self._settings = (backend, host, port, verbose, timeout, max_body_bytes)
        self._log = log

    def bind(self) -> str:
        """Open the listening socket (raises ``OSError`` if the port is taken); returns the URL."""
        if self._server is None:
            backend, host, port, verbose, timeout, max_body = self._settings
            self._server = _Server(
                (host, port),
                backend,
                verbose=verbose,
                timeout=timeout,
                max_body_bytes=max_body,
                log=self._log or sys.stderr,
            )
        return self.url

    @property
    def host(self) -> str:
        """The address actually bound (``127.0.0.1``, ``::1``, ``0.0.0.0``…)."""
        return self._bound().server_name

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return self._bound().server_port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (IPv6 hosts in brackets), for ``endpoint_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> str:
        """Bind if needed and serve from a daemon thread; returns the URL."""
        url = self.bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._bound().serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"ec2-keypair-mock {url}",
                daemon=True,
            )
            self._thread.start()
        return url

    def serve_forever(self) -> None:
        """Bind if needed and serve from the calling thread until ``stop()`` or an exception."""
        self.bind()
        self._serving_in = threading.current_thread()
        try:
            self._bound().serve_forever(poll_interval=0.05)
        finally:
            self._serving_in = None

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None:
            return
        serving_in = thread or self._serving_in
        # shutdown() waits for the serving loop to notice, so it must not be called from the
        # serving thread itself (a signal handler, say): that thread is leaving the loop anyway.
        if serving_in is not None and serving_in is not threading.current_thread():
            server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    def __enter__(self) -> LocalEndpoint:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bound(self) -> _Server:
        if self._server is None:
            msg = "The endpoint is not bound; call start() or bind() first."
            raise RuntimeError(msg)
        return self._server
