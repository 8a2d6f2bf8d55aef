"""The wire-level request and response every front door speaks (EC2 Query protocol, SPEC §1).

Strictly private. Each door (botocore hook, HTTP server, ``responses`` callback) turns what it
receives into a :class:`WireRequest`, hands it to the dispatcher, and turns the
:class:`WireResponse` back into its own kind of answer, so the doors cannot drift apart.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from random import getrandbits

from ._frozen import Frozen

__all__ = [
    "EC2_NAMESPACE",
    "EC2Error",
    "WireRequest",
    "WireResponse",
    "error_response",
    "new_request_id",
    "xml_text",
]

EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


@functools.cache
def not_xml() -> re.Pattern[str]:
    """Characters XML 1.0 cannot carry at all: C0 controls other than TAB, LF and CR, surrogates,
    U+FFFE and U+FFFF. SPEC §7: they are replaced by U+FFFD so every answer stays parseable.

    Compiled on first use: a class reaching past U+00FF makes ``re`` build a 64K-entry table
    (about 0.6 ms of a fresh process). ASCII text, nearly all text, is screened with the ASCII
    part alone, which is cheap to compile, and only needs this when it holds a control character.
    """
    return re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# The ASCII part of not_xml().
_ASCII_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class WireRequest(Frozen):
    """One EC2 (or STS) Query request as it arrived, before any validation."""

    __slots__ = _fields = (
        "action",
        "params",
        "region",
        "service",
        "access_key_id",
        "session_token",
        "secure_transport",
        "source_ip",
    )
    action: str
    params: Mapping[str, str]
    """Flat Query parameters (``KeyName``, ``TagSpecification.1.Tag.1.Key``, …) without
    ``Action`` and ``Version``. Values are the decoded form-field strings."""
    region: str
    service: str
    access_key_id: str | None
    session_token: str | None
    secure_transport: bool
    source_ip: str

    def __init__(
        self,
        action: str,
        params: Mapping[str, str],
        region: str = "us-east-1",
        service: str = "ec2",
        access_key_id: str | None = None,
        session_token: str | None = None,
        secure_transport: bool = True,
        source_ip: str = "127.0.0.1",
    ) -> None:
        put = object.__setattr__
        put(self, "action", action)
        put(self, "params", params)
        put(self, "region", region)
        put(self, "service", service)
        put(self, "access_key_id", access_key_id)
        put(self, "session_token", session_token)
        put(self, "secure_transport", secure_transport)
        put(self, "source_ip", source_ip)


class WireResponse(Frozen):
    """What EC2 would send back: status, headers and the XML body."""

    __slots__ = _fields = ("status", "body", "headers", "request_id", "error_code")
    status: int
    body: bytes
    headers: Mapping[str, str]
    request_id: str
    error_code: str | None

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        request_id: str = "",
        error_code: str | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "status", status)
        put(self, "body", body)
        put(self, "headers", {} if headers is None else headers)
        put(self, "request_id", request_id)
        put(self, "error_code", error_code)


def new_request_id() -> str:
    """A fresh lowercase UUID4, as EC2 uses for ``requestId``.

    The same text ``str(uuid.uuid4())`` gives (version 4, RFC 4122 variant), from Python's
    ``random`` (reseeded in forked children): a request id is a label, not a secret, and
    ``os.urandom`` is a system call per request.
    """
    text = f"{getrandbits(128) & _UUID_KEEP | _UUID_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# Version 4 in bits 76-79, the RFC 4122 variant (binary 10) in bits 62-63.
_UUID_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_SET = (0x4 << 76) | (0x2 << 62)


def xml_text(value: str) -> str:
    """Escape ``value`` for XML character data, replacing what XML 1.0 cannot carry."""
    if not value.isascii() or _ASCII_NOT_XML.search(value):
        value = not_xml().sub("\ufffd", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def response_headers(request_id: str) -> dict[str, str]:
    """The headers EC2 sends with every Query answer (SPEC §1)."""
    return {
        "Content-Type": "text/xml;charset=UTF-8",
        "x-amzn-requestid": request_id,
        "Server": "AmazonEC2",
    }


def error_response(code: str, message: str, status: int = 400) -> WireResponse:
    """An EC2-style error answer (SPEC §1): no namespace, ``RequestID`` capitalised."""
    request_id = new_request_id()
    body = (
        f"{XML_DECLARATION}<Response><Errors><Error><Code>{xml_text(code)}</Code>"
        f"<Message>{xml_text(message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    )
    return WireResponse(
        status=status,
        body=body.encode("utf-8"),
        headers=response_headers(request_id),
        request_id=request_id,
        error_code=code,
    )


class EC2Error(Exception):
    """An error EC2 itself would answer with; the dispatcher turns it into a wire response."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def response(self) -> WireResponse:
        """This error as an EC2 wire response."""
        return error_response(self.code, self.message, self.status)
