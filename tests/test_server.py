"""The local endpoint (``_server.py``) and the HTTP request reader it shares (``_http.py``).

Most tests run the endpoint in a thread against a small echo backend, so they test the HTTP
layer alone: every answer, malformed input included, is EC2-style XML; keep-alive, concurrency,
limits and timeouts hold. A few run the real backend (boto3 and STS through the endpoint) and
the command line as a subprocess (``Listening on`` line, signals, warnings, exit codes).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2_keypair_mock import _server
from ec2_keypair_mock._http import _parse_form, wire_request_from_http
from ec2_keypair_mock._server import LocalEndpoint
from ec2_keypair_mock._wire import (
    EC2_NAMESPACE,
    WireRequest,
    WireResponse,
    new_request_id,
    response_headers,
)

REPO = Path(__file__).resolve().parent.parent


class EchoBackend:
    """Answers every request with ``<ActionResponse>`` and remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[WireRequest] = []
        self._lock = threading.Lock()

    def dispatch(self, request: WireRequest) -> WireResponse:
        with self._lock:
            self.requests.append(request)
        request_id = new_request_id()
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{request.action}Response '
            f'xmlns="{EC2_NAMESPACE}"><requestId>{request_id}</requestId>'
            f"</{request.action}Response>"
        )
        return WireResponse(200, body.encode(), response_headers(request_id), request_id)


class BrokenBackend:
    def dispatch(self, request: WireRequest) -> WireResponse:
        msg = "a bug in the backend"
        raise RuntimeError(msg)


@pytest.fixture
def backend() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
def endpoint(backend: EchoBackend) -> Iterator[LocalEndpoint]:
    with LocalEndpoint(backend, timeout=1.0) as running:
        yield running


def request(
    endpoint: LocalEndpoint,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=5)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def raw(endpoint: LocalEndpoint, data: bytes, *, half_close: bool = False) -> tuple[int, bytes]:
    """Send bytes as they are; return the status and body of the one answer."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            return response.status, response.read()
        finally:
            response.close()


def error_code(body: bytes) -> str:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    assert b"<html" not in body.lower()
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


# -- serving ---------------------------------------------------------------------------------


def test_get_query_string(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """A GET's query string is the request; the answer has EC2's headers and Content-Length."""
    status, headers, body = request(
        endpoint, "GET", "/?Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=deploy"
    )
    assert status == 200
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeKeyPairsResponse')
    assert headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert headers["Server"] == "AmazonEC2"
    assert headers["Content-Length"] == str(len(body))
    assert headers["x-amzn-requestid"] in body.decode()
    [seen] = backend.requests
    assert seen == WireRequest(
        action="DescribeKeyPairs",
        params={"KeyName.1": "deploy"},
        region="us-east-1",
        service="ec2",
        access_key_id=None,
        session_token=None,
        secure_transport=False,
        source_ip="127.0.0.1",
    )


def test_post_form_with_sigv4_scope(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """A POST form is read; caller, region and service come from the SigV4 credential scope."""
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/eu-west-1/ec2/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123abcd"
    )
    body = b"Action=CreateKeyPair&Version=2016-11-15&KeyName=deploy+key&KeyType=ed25519"
    status, _, answer = request(
        endpoint,
        "POST",
        "/",
        body,
        {**FORM, "Authorization": auth, "X-Amz-Security-Token": "token"},
    )
    assert status == 200, answer
    [seen] = backend.requests
    assert seen.action == "CreateKeyPair"
    assert seen.params == {"KeyName": "deploy key", "KeyType": "ed25519"}
    assert (seen.region, seen.service) == ("eu-west-1", "ec2")
    assert (seen.access_key_id, seen.session_token) == ("AKIAIOSFODNN7EXAMPLE", "token")


def test_keep_alive_two_requests_one_connection(endpoint: LocalEndpoint) -> None:
    """HTTP/1.1 keep-alive: two requests (the first an error) travel on the same socket."""
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=5)
    try:
        connection.request("POST", "/nowhere", body=b"Action=DescribeKeyPairs", headers=FORM)
        first = connection.getresponse()
        assert first.status == 404
        assert error_code(first.read()) == "NotFound"
        assert not first.will_close
        sock = connection.sock
        connection.request("POST", "/", body=b"Action=DescribeKeyPairs", headers=FORM)
        second = connection.getresponse()
        assert second.status == 200
        second.read()
        assert connection.sock is sock
    finally:
        connection.close()


def test_concurrent_clients(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """Eight clients, each on its own keep-alive connection, are all served."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=5)
        try:
            for call in range(20):
                connection.request("GET", f"/?Action=DescribeKeyPairs&KeyName.1=k{number}-{call}")
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert statuses == [200] * 160
    names = {seen.params["KeyName.1"] for seen in backend.requests}
    assert len(names) == 160


def test_head_answers_headers_only(endpoint: LocalEndpoint) -> None:
    """HEAD is not a Query method: 405 with the length of the error, and no body."""
    status, headers, body = request(endpoint, "HEAD", "/?Action=DescribeKeyPairs")
    assert status == 405
    assert body == b""
    assert int(headers["Content-Length"]) > 0


def test_backend_bug_is_a_500_and_logged() -> None:
    """An exception in the backend is an XML InternalError; the traceback goes to the log."""
    log = io.StringIO()
    with LocalEndpoint(BrokenBackend(), log=log) as endpoint:
        status, _, body = request(endpoint, "GET", "/?Action=DescribeKeyPairs")
        assert status == 500
        assert error_code(body) == "InternalError"
        status, _, _ = request(endpoint, "GET", "/?Action=DescribeKeyPairs")
        assert status == 500
    assert "RuntimeError: a bug in the backend" in log.getvalue()


def test_verbose_log_has_no_parameters(backend: EchoBackend) -> None:
    """--verbose logs method, path, action and outcome, never the query string or the body."""
    log = io.StringIO()
    with LocalEndpoint(backend, verbose=True, log=log) as endpoint:
        request(endpoint, "GET", "/?Action=ImportKeyPair&PublicKeyMaterial=c2VjcmV0")
        request(endpoint, "POST", "/", b"Action=DeleteKeyPair&KeyName=hidden-name", FORM)
    lines = log.getvalue().splitlines()
    assert lines == [
        "127.0.0.1 - GET / ImportKeyPair -> 200 OK",
        "127.0.0.1 - POST / DeleteKeyPair -> 200 OK",
    ]


def test_ipv6_loopback(backend: EchoBackend) -> None:
    """An IPv6 host binds an IPv6 socket and the URL brackets it."""
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    try:
        endpoint = LocalEndpoint(backend, host="::1")
        endpoint.start()
    except OSError:
        pytest.skip("IPv6 loopback is not configured on this machine")
    try:
        assert endpoint.url == f"http://[::1]:{endpoint.port}"
        assert request(endpoint, "GET", "/?Action=DescribeKeyPairs")[0] == 200
    finally:
        endpoint.stop()


def test_stop_twice_and_unbound_use(backend: EchoBackend) -> None:
    """stop() is idempotent; asking an unbound endpoint for its URL says what to do."""
    endpoint = LocalEndpoint(backend)
    with pytest.raises(RuntimeError, match=r"^The endpoint is not bound; call start\(\)"):
        _ = endpoint.url
    endpoint.start()
    endpoint.stop()
    endpoint.stop()


# -- malformed input: always EC2-style XML, never HTML, never a crash -------------------------

# (id, raw request, status, EC2-style code)
MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("put", b"PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "MethodNotAllowed"),
    ("unknown-method", b"BREW / HTTP/1.1\r\n\r\n", 405, "MethodNotAllowed"),
    ("garbage-request-line", b"HELLO\r\n\r\n", 400, "BadRequest"),
    ("bad-version", b"GET / HTTP/9.1\r\n\r\n", 400, "BadRequest"),
    ("path", b"GET /x?Action=DescribeKeyPairs HTTP/1.1\r\n\r\n", 404, "NotFound"),
    ("length-not-a-number", b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "BadRequest"),
    ("negative-length", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "BadRequest"),
    (
        "two-lengths",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nAc",
        400,
        "BadRequest",
    ),
    (
        "absurd-length",
        b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 40 + b"\r\n\r\n",
        413,
        "RequestEntityTooLarge",
    ),
    (
        "chunked",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        411,
        "MissingContentLength",
    ),
    (
        "json-body",
        b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        415,
        "UnsupportedMediaType",
    ),
    ("bad-percent", b"GET /?Action=A%zz HTTP/1.1\r\n\r\n", 400, "MalformedQueryString"),
    ("not-utf8", b"GET /?Action=%ff%fe HTTP/1.1\r\n\r\n", 400, "MalformedQueryString"),
    ("no-action", b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nKeyName=k", 400, "MissingAction"),
    (
        "long-request-line",
        b"GET /?" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        414,
        "RequestURITooLong",
    ),
    (
        "too-many-headers",
        b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n",
        431,
        "RequestHeaderFieldsTooLarge",
    ),
]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_requests(endpoint: LocalEndpoint, data: bytes, status: int, code: str) -> None:
    """Each malformed request gets its EC2-style XML error, and the server keeps serving."""
    got_status, body = raw(endpoint, data)
    assert (got_status, error_code(body)) == (status, code)
    assert request(endpoint, "GET", "/?Action=DescribeKeyPairs")[0] == 200


def test_oversized_body_is_refused_and_read(endpoint: LocalEndpoint) -> None:
    """A body over 1 MiB is refused with 413 even while the client is still sending it."""
    data = b"POST / HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n" + b"a" * 300_000
    status, body = raw(endpoint, data)
    assert (status, error_code(body)) == (413, "RequestEntityTooLarge")


def test_oversized_body_with_expect_continue(endpoint: LocalEndpoint) -> None:
    """With ``Expect: 100-continue`` the refusal comes before the body is sent."""
    head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n"
    status, body = raw(endpoint, head)
    assert (status, error_code(body)) == (413, "RequestEntityTooLarge")


def test_truncated_body(endpoint: LocalEndpoint) -> None:
    """A body shorter than its Content-Length (client done sending) is IncompleteBody."""
    data = b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nAction=DescribeKeyPairs"
    status, body = raw(endpoint, data, half_close=True)
    assert (status, error_code(body)) == (400, "IncompleteBody")
    assert b"ended after 23 of the 100 bytes" in body


def test_burst_of_bad_requests_then_a_good_one(endpoint: LocalEndpoint) -> None:
    """200 malformed or oversized requests in a row leave the server healthy."""
    samples = [case[1] for case in MALFORMED]
    samples.append(b"POST / HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n" + b"a" * 65536)
    for number in range(200):
        status, body = raw(endpoint, samples[number % len(samples)])
        assert status >= 400
        error_code(body)
    assert request(endpoint, "GET", "/?Action=DescribeKeyPairs")[0] == 200


def test_silent_client_is_dropped(endpoint: LocalEndpoint) -> None:
    """A client that sends half a request and stalls is disconnected after the timeout."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Le")
        started = time.monotonic()
        assert sock.recv(1024) == b""
        assert 0.8 < time.monotonic() - started < 3
    assert request(endpoint, "GET", "/?Action=DescribeKeyPairs")[0] == 200


def test_trickling_body_is_dropped(endpoint: LocalEndpoint) -> None:
    """A body sent a byte at a time cannot hold the thread much past the timeout."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\n")
        started = time.monotonic()
        dropped_after = None
        while dropped_after is None and time.monotonic() - started < 5:
            try:
                sock.sendall(b"A")
                readable, _, _ = select.select([sock], [], [], 0.25)
                if readable and sock.recv(1024) == b"":
                    dropped_after = time.monotonic() - started
            except ConnectionError:
                dropped_after = time.monotonic() - started
        assert dropped_after is not None
        assert 0.9 < dropped_after < 2.0


def test_idle_keep_alive_connection_is_closed(endpoint: LocalEndpoint) -> None:
    """An idle keep-alive connection is closed after the timeout, not held for ever."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(b"GET /?Action=DescribeKeyPairs HTTP/1.1\r\nHost: x\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            response.read()
            assert response.status == 200
            assert sock.recv(1024) == b""
        finally:
            response.close()


# -- the endpoint's own HTTP/1.1 reader: request line, header fields, connection ---------------

Answer = tuple[int, dict[str, str], bytes]


def converse(endpoint: LocalEndpoint, data: bytes, quiet: float = 0.3) -> tuple[list[Answer], bool]:
    """Send bytes as they are and read until the server closes or says nothing for ``quiet``
    seconds; the answers (status, lower-cased headers, body) and whether it closed."""
    stream = b""
    closed = False
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(data)
        sock.settimeout(quiet)
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            stream += chunk
    answers: list[Answer] = []
    while stream:
        head, _, stream = stream.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        answers.append((int(status_line.split()[1]), headers, stream[:length]))
        stream = stream[length:]
    return answers, closed


def message(body: bytes) -> str:
    return body.split(b"<Message>", 1)[1].split(b"</Message>", 1)[0].decode()


SCOPE = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/eu-west-1/ec2/aws4_request"
DESCRIBE = b"Action=DescribeKeyPairs"


def test_header_names_ignore_case(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """Field names are matched without regard to case (RFC 9110 §5.1)."""
    data = (
        b"POST / HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        b"CONTENT-LENGTH: 23\r\naUtHoRiZaTiOn: " + SCOPE.encode() + b"\r\n"
        b"x-AMZ-security-TOKEN: tok\r\n\r\n" + DESCRIBE
    )
    [(status, _, _)], closed = converse(endpoint, data)
    assert (status, closed) == (200, False)
    [seen] = backend.requests
    assert (seen.action, seen.region, seen.session_token) == (
        "DescribeKeyPairs",
        "eu-west-1",
        "tok",
    )


def test_spaces_around_values_are_not_part_of_them(
    endpoint: LocalEndpoint, backend: EchoBackend
) -> None:
    """Spaces and tabs around a value are dropped; inside it they stay."""
    data = (
        b"POST / HTTP/1.1\r\nContent-Length: \t 23 \t\r\n"
        b"X-Amz-Security-Token:\ttok en  \r\n\r\n" + DESCRIBE
    )
    [(status, _, _)], _ = converse(endpoint, data)
    assert status == 200
    assert backend.requests[0].session_token == "tok en"


def test_obs_fold_continues_the_previous_value(
    endpoint: LocalEndpoint, backend: EchoBackend
) -> None:
    """A line starting with a space or a tab continues the previous field after one space."""
    credential, rest = SCOPE.split(" ", 1)
    data = (
        b"POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded;\r\n"
        b"\t charset=utf-8\r\nAuthorization: " + credential.encode() + b"\r\n"
        b"   " + rest.encode() + b"  \r\n \r\nContent-Length: 23\r\n\r\n" + DESCRIBE
    )
    [(status, _, body)], _ = converse(endpoint, data)
    assert status == 200, body
    assert backend.requests[0].region == "eu-west-1"


def test_repeated_fields(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """A repeated field keeps its last value; equal copies of Content-Length are one length."""
    data = (
        b"POST / HTTP/1.1\r\nX-Amz-Security-Token: first\r\nContent-Length: 23\r\n"
        b"x-amz-security-token: last\r\ncontent-length:  23\r\n\r\n" + DESCRIBE
    )
    [(status, _, _)], _ = converse(endpoint, data)
    assert status == 200
    assert backend.requests[0].session_token == "last"


@pytest.mark.parametrize(
    "line",
    [
        b"NoColon",
        b"Space In-Name: x",
        b"Name : x",
        b": no name",
        b"X(y): z",
        b"X-\xe9: v",
        b"X-A: b\rc",
        b"X-A: b\x00c",
        b" folded, but there is nothing to continue",
    ],
)
def test_malformed_header_lines(endpoint: LocalEndpoint, backend: EchoBackend, line: bytes) -> None:
    """A header line that is not ``token ":" value`` is a 400 and the connection closes; none
    of the request reaches the backend (a mail parser would have skipped it and the rest)."""
    data = b"POST / HTTP/1.1\r\n" + line + b"\r\nContent-Length: 23\r\n\r\n" + DESCRIBE
    [(status, headers, body)], closed = converse(endpoint, data)
    assert (status, error_code(body), closed) == (400, "BadRequest", True)
    assert message(body).startswith("Malformed HTTP request: Bad header line (")
    assert headers["connection"] == "close"
    assert backend.requests == []
    assert request(endpoint, "GET", "/?Action=DescribeKeyPairs")[0] == 200


def test_header_limits(endpoint: LocalEndpoint) -> None:
    """Header lines of up to 64 KiB, and 100 lines counting the blank one; then 431."""
    get = b"GET /?Action=DescribeKeyPairs HTTP/1.1\r\n"
    ninety_nine = b"X-A: b\r\n" * 99
    [(status, _, _)], _ = converse(endpoint, get + ninety_nine + b"\r\n")
    assert status == 200
    [(status, _, body)], closed = converse(endpoint, get + ninety_nine + b"X-A: b\r\n\r\n")
    assert (status, error_code(body), message(body), closed) == (
        431,
        "RequestHeaderFieldsTooLarge",
        "Too many headers.",
        True,
    )
    longest = b"X-Pad: " + b"a" * (65536 - 9) + b"\r\n"
    [(status, _, _)], _ = converse(endpoint, get + longest + b"\r\n")
    assert status == 200
    [(status, _, body)], _ = converse(endpoint, get + longest[:-2] + b"a\r\n\r\n")
    assert (status, message(body)) == (431, "Line too long.")


def test_request_line_limit(endpoint: LocalEndpoint) -> None:
    """A request line of 64 KiB (line end included) is read; one byte more is a 414."""
    start, end = b"GET /?Action=DescribeKeyPairs&Pad=", b" HTTP/1.1\r\n"
    longest = start + b"a" * (65536 - len(start) - len(end)) + end
    [(status, _, _)], _ = converse(endpoint, longest + b"\r\n")
    assert status == 200
    [(status, _, body)], closed = converse(endpoint, longest.replace(b"=", b"=a", 1) + b"\r\n")
    assert (status, error_code(body), closed) == (414, "RequestURITooLong", True)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"GET / HTTP/2.0", "Invalid HTTP version (2.0)"),
        (b"GET / HTTP/1.x", "Bad request version ('HTTP/1.x')"),
        (b"GET / HTTP/1.1.1", "Bad request version ('HTTP/1.1.1')"),
        (b"GET / HTTP/\xb2.1", "Bad request version ('HTTP/\xb2.1')"),
        (b"GET / HTTP/12345678901.1", "Bad request version ('HTTP/12345678901.1')"),
        (b"GET / FTP/1.1", "Bad request version ('FTP/1.1')"),
        (b"GET / HTTP/1.1 more", "Bad request version ('more')"),
        (b"GET /a /b HTTP/1.1", "Bad request syntax ('GET /a /b HTTP/1.1')"),
        (b"GET", "Bad request syntax ('GET')"),
        (b"POST /", "Bad HTTP/0.9 request type ('POST')"),
    ],
)
def test_malformed_request_lines(endpoint: LocalEndpoint, line: bytes, problem: str) -> None:
    """The request line's rules are http.server's, and so are the messages."""
    [(status, _, body)], closed = converse(endpoint, line + b"\r\n\r\n")
    assert (status, error_code(body), closed) == (400, "BadRequest", True)
    assert message(body) == f"Malformed HTTP request: {problem}."


def test_empty_request_line_closes_quietly(endpoint: LocalEndpoint) -> None:
    """A blank line where the request line belongs ends the connection without an answer."""
    assert converse(endpoint, b"\r\nGET /?Action=DescribeKeyPairs HTTP/1.1\r\n\r\n") == ([], True)


@pytest.mark.parametrize(
    ("head", "closed"),
    [
        (b"GET /?Action=DescribeKeyPairs HTTP/1.1\r\n\r\n", False),
        (b"GET /?Action=DescribeKeyPairs HTTP/1.1\r\nConnection: close\r\n\r\n", True),
        (b"GET /?Action=DescribeKeyPairs HTTP/1.0\r\n\r\n", True),
        (b"GET /?Action=DescribeKeyPairs HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", False),
        (b"GET /?Action=DescribeKeyPairs HTTP/0.9\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET /?Action=DescribeKeyPairs\r\n\r\n", True),
    ],
)
def test_connection_kept_or_closed(endpoint: LocalEndpoint, head: bytes, closed: bool) -> None:
    """HTTP/1.1 keeps the connection unless told to close; 1.0 closes unless told to keep it;
    an HTTP/0.9 request gets a full HTTP/1.1 answer (status line, headers) and a close."""
    [(status, headers, body)], got_closed = converse(endpoint, head)
    assert status == 200
    assert headers["content-length"] == str(len(body))
    assert got_closed is closed
    assert ("connection" in headers) is closed


def test_pipelined_requests_and_bare_lf(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """Requests sent back to back are answered in order; lines may end in a bare LF."""
    data = (
        b"POST / HTTP/1.1\r\nContent-Length: 23\r\n\r\n"
        + DESCRIBE
        + b"GET /?Action=First HTTP/1.1\n"
        b"Host: x\n\nGET //?Action=Second HTTP/1.1\r\n\r\n"
    )
    answers, closed = converse(endpoint, data)
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert closed is False
    assert [seen.action for seen in backend.requests] == ["DescribeKeyPairs", "First", "Second"]


def test_expect_continue_then_the_answer(endpoint: LocalEndpoint, backend: EchoBackend) -> None:
    """``Expect: 100-continue`` with an acceptable body: 100 Continue, then the answer."""
    data = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 23\r\n\r\n" + DESCRIBE
    answers, _ = converse(endpoint, data)
    assert [status for status, _, _ in answers] == [100, 200]
    assert backend.requests[0].action == "DescribeKeyPairs"


def test_other_methods(endpoint: LocalEndpoint) -> None:
    """PUT is a 405 after its body is read (the connection stays); an unknown method closes."""
    data = b"PUT / HTTP/1.1\r\nContent-Length: 23\r\n\r\n" + DESCRIBE
    data += b"GET /?Action=DescribeKeyPairs HTTP/1.1\r\n\r\n"
    answers, closed = converse(endpoint, data)
    assert [status for status, _, _ in answers] == [405, 200]
    assert closed is False
    answers, closed = converse(endpoint, b"BREW / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
    assert [(status, error_code(body)) for status, _, body in answers] == [
        (405, "MethodNotAllowed")
    ]
    assert closed is True


def test_answer_headers(endpoint: LocalEndpoint) -> None:
    """Status line, EC2's headers, Date and Content-Length, in one answer."""
    [(status, headers, body)], _ = converse(endpoint, b"GET /?Action=X HTTP/1.1\r\n\r\n")
    assert status == 200
    assert list(headers) == ["content-type", "x-amzn-requestid", "server", "date", "content-length"]
    assert re.fullmatch(
        r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", headers["date"]
    )
    assert headers["content-length"] == str(len(body))


def test_verbose_log_of_malformed_requests(backend: EchoBackend) -> None:
    """A request without a usable method or path is logged with dashes, and a timeout is
    logged as such."""
    log = io.StringIO()
    with LocalEndpoint(backend, verbose=True, log=log, timeout=0.3) as endpoint:
        converse(endpoint, b"GET / HTTP/7.0\r\n\r\n")
        converse(endpoint, b"GET /?Action=A HTTP/1.1\r\nHost: x", quiet=1.0)
    assert log.getvalue().splitlines() == [
        "127.0.0.1 - - - - -> 400 BadRequest",
        "127.0.0.1 - Request timed out: TimeoutError('timed out')",
    ]


def test_field_name_table_is_bounded(endpoint: LocalEndpoint) -> None:
    """Names are remembered once checked, but made-up names cannot grow the table for ever."""
    for batch in range(4):
        names = b"".join(b"X-%d-%d: v\r\n" % (batch, number) for number in range(90))
        [(status, _, _)], _ = converse(endpoint, b"GET /?Action=A HTTP/1.1\r\n" + names + b"\r\n")
        assert status == 200
    assert len(_server._FIELD_NAMES) <= _server._FIELD_NAMES_KEPT


# -- the request reader, directly -------------------------------------------------------------


def read(
    method: str = "POST",
    url: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> WireRequest:
    parsed = wire_request_from_http(
        method, url, {**FORM, **(headers or {})}, body, source_ip="10.0.0.1", secure=True
    )
    assert isinstance(parsed, WireRequest), parsed.body
    return parsed


def test_body_wins_over_query_and_first_value_wins() -> None:
    """A name in both query and body is taken from the body; repeated, its first value counts."""
    parsed = read(
        url="/?Action=DescribeKeyPairs&KeyName.1=from-query&Only=query",
        body=b"Action=CreateKeyPair&KeyName=first&KeyName=second&KeyName.1=from-body",
    )
    assert parsed.action == "CreateKeyPair"
    assert parsed.params == {"KeyName": "first", "KeyName.1": "from-body", "Only": "query"}


def test_encoding_rules() -> None:
    """'+' is a space, %2B a plus, raw UTF-8 and %-encoded UTF-8 both decode, empty fields skip."""
    parsed = read(body="Action=X&&A=a+b%2Bc&B=%C3%A9&C=é&D&=e".encode())
    assert parsed.params == {"A": "a b+c", "B": "é", "C": "é", "D": ""}


def field_by_field(data: bytes) -> dict[str, str] | None:
    """The form rules spelled out one field at a time (None: not UTF-8 or a bad escape)."""
    params: dict[str, str] = {}
    for field in data.split(b"&"):
        raw_name, _, raw_value = field.partition(b"=")
        try:
            name, value = (
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
                for raw in (raw_name, raw_value)
            )
        except UnicodeDecodeError:
            return None
        if name:
            params.setdefault(name, value)
    return params


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(
            [b"&", b"=", b"+", b"a", b"B", b"\xc3\xa9", b"\xc3", b"\xa9", b"\xff", b" "]
        ),
        max_size=20,
    ).map(b"".join)
)
def test_form_without_escapes_reads_as_field_by_field(data: bytes) -> None:
    """A form with no '%' is decoded in one piece: the same parameters (or the same error) as
    decoding field by field."""
    parsed = _parse_form(data, "request body")
    expected = field_by_field(data)
    if expected is None:
        assert isinstance(parsed, WireResponse)
        assert error_code(parsed.body) == "MalformedQueryString"
        assert b"is not valid UTF-8 after percent-decoding" in parsed.body
    else:
        assert parsed == expected


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("https://ec2.eu-west-1.amazonaws.com/", {}, ("ec2", "eu-west-1")),
        ("https://ec2.amazonaws.com/", {}, ("ec2", "us-east-1")),
        ("https://ec2.ap-south-1.api.aws/", {}, ("ec2", "ap-south-1")),
        ("https://ec2-fips.us-west-2.amazonaws.com/", {}, ("ec2", "us-west-2")),
        ("https://ec2.cn-north-1.amazonaws.com.cn/", {}, ("ec2", "cn-north-1")),
        ("https://sts.amazonaws.com/", {}, ("sts", "us-east-1")),
        ("/", {"Host": "sts.eu-central-1.amazonaws.com"}, ("sts", "eu-central-1")),
        ("/", {"Host": "127.0.0.1:5454"}, ("ec2", "us-east-1")),
        (
            "https://ec2.eu-west-1.amazonaws.com/",
            {"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/sa-east-1/ec2/aws4_request"},
            ("ec2", "sa-east-1"),
        ),
    ],
)
def test_service_and_region(url: str, headers: dict[str, str], expected: tuple[str, str]) -> None:
    """The credential scope wins over the host name, which wins over the defaults."""
    parsed = read(url=url, body=b"Action=DescribeKeyPairs", headers=headers)
    assert (parsed.service, parsed.region) == expected


def test_decode_authorization_message_is_sts_by_action() -> None:
    """Without a scope or an AWS host name, DecodeAuthorizationMessage goes to STS."""
    parsed = read(body=b"Action=DecodeAuthorizationMessage&EncodedMessage=abc")
    assert (parsed.service, parsed.params) == ("sts", {"EncodedMessage": "abc"})


def test_presigned_parameters_are_read_and_removed() -> None:
    """SigV4 query signing gives caller and scope; signing parameters never reach the backend."""
    parsed = read(
        "GET",
        "/?Action=DescribeKeyPairs&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-west-1%2Fec2%2Faws4_request"
        "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=abc&X-Amz-Security-Token=tok&KeyName.1=k",
    )
    assert parsed.params == {"KeyName.1": "k"}
    assert (parsed.access_key_id, parsed.session_token) == ("AKIAEXAMPLE", "tok")
    assert (parsed.region, parsed.secure_transport, parsed.source_ip) == (
        "us-west-1",
        True,
        "10.0.0.1",
    )


def test_get_ignores_a_body() -> None:
    """GET reads only its query string."""
    parsed = read("GET", "/?Action=DescribeKeyPairs", b"Action=CreateKeyPair&KeyName=k")
    assert (parsed.action, parsed.params) == ("DescribeKeyPairs", {})


# -- the real backend through the endpoint ----------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.mark.usefixtures("aws_env")
def test_boto3_and_sts_through_the_endpoint() -> None:
    """boto3 talks to the endpoint; a denied call's encoded message decodes through STS."""
    import boto3
    from botocore.exceptions import ClientError

    from ec2_keypair_mock._backend import KeyPairsBackend

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:DescribeKeyPairs", "ec2:CreateKeyPair"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"},
            {"Sid": "NoDelete", "Effect": "Deny", "Action": "ec2:DeleteKeyPair", "Resource": "*"},
        ],
    }  # fmt: skip
    with LocalEndpoint(KeyPairsBackend(policy=policy, fresh_keys=True)) as endpoint:
        ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=endpoint.url)
        sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=endpoint.url)
        try:
            created = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
            listed = ec2.describe_key_pairs()["KeyPairs"]
            assert [pair["KeyPairId"] for pair in listed] == [created["KeyPairId"]]
            with pytest.raises(ClientError) as denied:
                ec2.delete_key_pair(KeyName="deploy")
            error = denied.value.response["Error"]
            assert error["Code"] == "UnauthorizedOperation"
            encoded = error["Message"].rsplit("Encoded authorization failure message: ", 1)[1]
            decoded = sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
            assert '"explicitDeny":true' in decoded.replace(" ", "")
        finally:
            ec2.close()
            sts.close()


# -- the command line -------------------------------------------------------------------------


def start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m ec2_keypair_mock serve ARGS``; return it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ec2_keypair_mock", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("Listening on http://"):
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"unexpected first line {line!r}; stderr: {err}")
    return process, line.removeprefix("Listening on ").strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_stops_on_signal_within_a_second(sig: signal.Signals) -> None:
    """`serve` prints one Listening line, serves, and exits 0 within 1 s of SIGTERM/SIGINT."""
    process, url = start_cli("--port", "0")
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        assert host == "127.0.0.1"
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/?Action=DescribeKeyPairs")
        answer = connection.getresponse()
        assert answer.status == 200
        assert b"<keySet/>" in answer.read()
        # An open keep-alive connection must not delay the exit.
        started = time.monotonic()
        process.send_signal(sig)
        out, err = process.communicate(timeout=5)
        elapsed = time.monotonic() - started
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (0, "", "")
    assert elapsed < 1.0


def test_cli_warns_when_not_on_loopback() -> None:
    """Binding 0.0.0.0 works but prints a loud warning on stderr."""
    process, url = start_cli("--host", "0.0.0.0", "--port", "0")
    process.terminate()
    _, err = process.communicate(timeout=5)
    assert url.startswith("http://0.0.0.0:")
    assert err.startswith("WARNING: ec2-keypair-mock is listening on 0.0.0.0, which other machines")
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"Version": "2012-10-17", "Statement": [{"Action": "ec2:*", "Resource": "*"}]}', ""),
    ],
)
def test_cli_rejects_a_bad_policy_file(tmp_path: Path, content: str, message: str) -> None:
    """A malformed policy file is a one-line error on stderr and exit status 2."""
    policy = tmp_path / "policy.json"
    policy.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "ec2_keypair_mock", "serve", "--port", "0", "--policy", str(policy)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("ec2-keypair-mock: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_port_in_use(endpoint: LocalEndpoint) -> None:
    """A port that is taken is exit status 1 with a sentence on stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "ec2_keypair_mock", "serve", "--port", str(endpoint.port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"ec2-keypair-mock: cannot listen on 127.0.0.1:{endpoint.port}")


def test_cli_requires_a_command() -> None:
    """Without `serve` the usage is printed and the exit status is 2."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    result = subprocess.run(
        [sys.executable, "-m", "ec2_keypair_mock"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    assert "usage: ec2-keypair-mock" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "'70000' is not a port number"),
        (["--port", "-1"], "'-1' is not a port number"),
        (["--account-id", "12345"], "'12345' is not an AWS account id (12 digits)"),
    ],
)
def test_cli_rejects_bad_options(args: list[str], message: str) -> None:
    """Out-of-range ports and malformed account ids are usage errors (exit status 2)."""
    result = subprocess.run(
        [sys.executable, "-m", "ec2_keypair_mock", "serve", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_account_id_and_policy(tmp_path: Path) -> None:
    """--account-id names the default caller's account; --policy is its identity policy."""
    policy = tmp_path / "policy.json"
    policy.write_text(
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "ec2:DescribeKeyPairs", "Resource": "*"}]}'
    )
    process, url = start_cli("--port", "0", "--account-id", "111122223333", "--policy", str(policy))
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/?Action=CreateKeyPair&KeyName=k")
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
    finally:
        process.terminate()
        process.communicate(timeout=5)
    assert (answer.status, error_code(body)) == (403, "UnauthorizedOperation")
    assert b"User: arn:aws:iam::111122223333:" in body


def test_console_script_is_declared() -> None:
    """The `ec2-keypair-mock` console script runs the same main()."""
    from importlib.metadata import entry_points

    [script] = entry_points(group="console_scripts", name="ec2-keypair-mock")
    assert script.value == "ec2_keypair_mock.__main__:main"
