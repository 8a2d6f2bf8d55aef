"""The local endpoint: EC2 Query (and STS DecodeAuthorizationMessage) over plain HTTP.

Strictly private; ``python -m ec2_keypair_mock serve`` (``__main__.py``) is its front, and
:class:`LocalEndpoint` runs it in a thread for tests. Any SDK or the AWS CLI can talk to it with
``--endpoint-url http://127.0.0.1:5454``.

Why the standard library's ``http.server.ThreadingHTTPServer``: the traffic is one developer's
tests on loopback, a few requests at a time, and every answer is a few kilobytes computed in
memory, so a thread per connection is plenty and an extra dependency (an ASGI stack, werkzeug,
aiohttp) would earn nothing; the project allows only boto3, cryptography and responses at run
time. What the standard server lacks is added here, each a few lines: HTTP/1.1 keep-alive with an
exact ``Content-Length``; a per-connection socket timeout and a whole-body deadline, so a slow or
silent client cannot hold a thread for ever; a body limit; EC2-style XML for every error,
including the server's own protocol errors (``send_error`` would write HTML); a lingering close
after refusing a body, so the client reads the refusal instead of a connection reset; no reverse
DNS for the server name (``HTTPServer.server_bind`` calls ``getfqdn``, which can hang and leaves
loopback); and quiet logs that never contain a body or a query string.

Limits (what the README's server section should say): request body at most
:data:`MAX_BODY_BYTES` (1 MiB; an ImportKeyPair is under 3 KiB) → ``413``; request line 64 KiB
and 100 header lines (``http.server``'s own limits) → ``414``/``431``; each socket read or write
at most ``timeout`` seconds (default 10) and the whole body within the same time → connection
closed; ``Transfer-Encoding`` (chunked bodies: no SDK sends them for Query) → ``411``. Threads
are not capped (one per open connection): the endpoint is for loopback, not for load.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class Dispatcher(Protocol):
    """What the endpoint serves: ``KeyPairsBackend`` (or a test's fake)."""

    def dispatch(self, request: WireRequest) -> WireResponse: ...


class _Server(ThreadingHTTPServer):
    """Strictly private. Carries the endpoint's settings to its handlers."""

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
        # Skip HTTPServer.server_bind: its getfqdn() is a DNS lookup (slow, and not loopback).
        socketserver.TCPServer.server_bind(self)
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


class _Handler(BaseHTTPRequestHandler):
    """Strictly private. One connection; possibly several requests (keep-alive)."""

    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux loopback) on every keep-alive request.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # Per server, not per class (StreamRequestHandler.timeout is a class variable).
        self.connection.settimeout(self.server.socket_timeout)

    # Every method reaches _serve, which answers anything but GET/POST with an XML 405;
    # methods not listed here get send_error(501), mapped to the same 405 below.
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        refusal = self._refuse_framing()
        if refusal is not None:
            self._send(refusal)
            self._linger()
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer http.server's own protocol errors with EC2-style XML, never HTML."""
        if self.request_version == "HTTP/0.9":
            # Only a malformed request line leaves this; a 0.9 answer would have no status line.
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        if code == 501:
            self._send(_method_not_allowed(self.command or "?"))
        elif code == 414:
            self._send(
                error_response("RequestURITooLong", "The request line exceeds 65536 bytes.", 414)
            )
        elif code == 431:
            self._send(
                error_response("RequestHeaderFieldsTooLarge", f"{message or 'Bad headers'}.", 431)
            )
        else:
            self._send(error_response("BadRequest", f"Malformed HTTP request: {message}.", 400))

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            self.server.log.write(f"{self.address_string()} - {format % args}\n")
            self.server.log.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Logged from _send with the action instead, never with a query string or body.
        return

    def _serve(self) -> None:
        started = time.monotonic()
        refusal = self._refuse_framing()
        if refusal is not None:
            self._send(refusal)
            self._linger()
            return
        body = self._read_body(int(self.headers.get("Content-Length") or 0), started)
        if body is None:
            # The client went silent or away mid-body; there is nobody to answer.
            self.close_connection = True
            return
        if isinstance(body, WireResponse):
            self._send(body)
            return
        parsed = wire_request_from_http(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            source_ip=str(self.client_address[0]),
            secure=False,
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
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            return error_response(
                "MissingContentLength",
                "Send the request body with a Content-Length header; "
                "Transfer-Encoding is not supported.",
                411,
            )
        lengths = set(self.headers.get_all("Content-Length") or [])
        if not lengths:
            return None
        length = lengths.pop().strip()
        if lengths or not length.isascii() or not length.isdigit():
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
        if self.request_version == "HTTP/0.9":
            # A well-formed HTTP/0.9 request ("GET /", or "GET / HTTP/0.9") would otherwise be
            # answered with the bare body: no status line, no headers, which no HTTP/1.x
            # client can read. Answer in 1.0 and close, as send_error does.
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        self.send_response_only(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()
        if self.server.verbose:
            path = urlsplit(getattr(self, "path", "")).path
            outcome = response.error_code or "OK"
            self.log_message(
                "%s %s %s -> %d %s", self.command, path, action or "-", response.status, outcome
            )

    def _linger(self) -> None:
        try:
            self.wfile.flush()
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
