"""Turn a plain HTTP request into a :class:`WireRequest` (EC2 Query protocol, SPEC §1).

Strictly private. The two doors that receive real HTTP requests, the local endpoint
(``_server.py``) and the ``requests`` door (``_requests_door.py``), share this one parser, so
``curl``, the AWS CLI and ``requests.post(...)`` are read the same way. The botocore door never
gets here: it hands the dispatcher botocore's own serialized parameters.

Malformed input is answered, never raised: :func:`wire_request_from_http` returns an EC2-style
:class:`WireResponse` error instead of a request, because a test tool that crashes (or answers
HTML) on a bad request hides the bug the user was looking for.

Decisions, where real EC2's behaviour is unknown (SPEC's [dec]):

* **Where parameters come from.** GET reads the query string; POST reads the query string *and*
  the form body (a SigV4 presigned POST puts its ``X-Amz-*`` parameters in the query string). A
  name given in both is taken from the body, which is what the caller's SDK serialized. Within
  one source a repeated name keeps its **first** value (what Java servlet containers, and so most
  Query services, do); EC2 never needs a name twice because lists are numbered (``KeyName.1``).
* **Strict encoding.** A ``%`` not followed by two hex digits, or bytes that are not UTF-8 after
  percent-decoding, are answered with ``400 MalformedQueryString``; ``urllib``'s lenient
  parsing would silently pass ``%zz`` through or replace bad bytes, and the request would then
  fail later with a confusing message (or not at all).
* **Action.** A missing or empty ``Action`` is ``400 MissingAction`` (the code AWS documents for
  Query services); an unknown one is the dispatcher's business (``InvalidAction``).
  ``Version`` is accepted and ignored: the mock speaks 2016-11-15 only.
* **Method, path, content type.** Only ``GET`` and ``POST`` on path ``/`` are served (``405
  MethodNotAllowed``, ``404 NotFound`` otherwise, so a mistyped ``--endpoint-url`` is noticed). A
  POST body must be ``application/x-www-form-urlencoded`` (a body without a Content-Type is read
  as a form too); anything else is ``415 UnsupportedMediaType``.
* **Service, region and caller.** Taken from the SigV4 credential scope
  (``Credential=AKID/20260101/us-east-1/ec2/aws4_request``, in the ``Authorization`` header or
  the presigned ``X-Amz-Credential`` parameter), else from the host name
  (``ec2.<region>.amazonaws.com``, ``ec2.<region>.api.aws``, ``sts[.<region>].amazonaws.com``),
  else ``us-east-1`` and the service that owns the action (``DecodeAuthorizationMessage`` is STS,
  everything else EC2). The session token comes from ``X-Amz-Security-Token``.
* **Signatures are not verified.** The mock's callers are tests and local tools with fake
  credentials (``AKIAIOSFODNN7EXAMPLE``); the access key id only selects *who* is calling, so
  the fake IAM policy can be exercised, and verifying HMACs would add failure modes (clock skew,
  proxies rewriting headers) without making any test more faithful to what it checks. This is why
  the local endpoint binds to loopback by default and warns loudly otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes, urlsplit

from ._wire import WireRequest, WireResponse, error_response

__all__ = ["ALLOWED_METHODS", "wire_request_from_http"]

ALLOWED_METHODS = frozenset({"GET", "POST"})

# Signing parameters (SigV4 presigned and legacy SigV2): they describe the request, they are not
# operation input, so the dispatcher must not see them (EC2 rejects unknown parameters).
_AUTH_PARAMS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "Signature",
        "Timestamp",
        "Expires",
        "SecurityToken",
    }
)
_PROTOCOL_PARAMS = frozenset({"Action", "Version"})

# AKID / yyyymmdd / region / service / aws4_request
_SCOPE = re.compile(r"^([^/\s,]+)/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request$")
_AUTH_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_AWS_HOST = re.compile(
    r"^(ec2|sts)(?:-fips)?(?:\.([a-z0-9-]+))?\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$"
)
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_SERVICE_OF_ACTION = {"DecodeAuthorizationMessage": "sts"}
_DEFAULT_REGION = "us-east-1"


def wire_request_from_http(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    source_ip: str,
    secure: bool,
) -> WireRequest | WireResponse:
    """Read an EC2 Query (or STS) request; answer malformed input with an EC2-style error.

    ``url`` is either absolute (``https://ec2.us-east-1.amazonaws.com/?Action=…``, as ``requests``
    has it) or a request target (``/?Action=…``, as an HTTP server receives it, the host then
    coming from the ``Host`` header). ``headers`` may be any mapping; names are matched
    case-insensitively.
    """
    header = {name.lower(): value for name, value in headers.items()}
    if method not in ALLOWED_METHODS:
        return error_response(
            "MethodNotAllowed",
            f"The HTTP method {method} is not allowed; send EC2 Query requests with GET or POST.",
            405,
        )
    parts = urlsplit(url)
    path = parts.path or "/"
    if path != "/":
        return error_response(
            "NotFound",
            f"There is no EC2 Query endpoint at path '{path}'; send requests to '/'.",
            404,
        )
    params = _parse_form(_raw(parts.query), "query string")
    if isinstance(params, WireResponse):
        return params
    if method == "POST":
        media_type = header.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in ("", "application/x-www-form-urlencoded"):
            return error_response(
                "UnsupportedMediaType",
                f"The request body must be application/x-www-form-urlencoded, not {media_type}.",
                415,
            )
        form = _parse_form(body, "request body")
        if isinstance(form, WireResponse):
            return form
        params = {**params, **form} if params else form

    action = params.get("Action", "")
    if not action:
        return error_response("MissingAction", "The request must contain the parameter Action", 400)

    access_key_id, scope_region, scope_service = _credential_scope(header, params)
    host_service = host_region = None
    if not (scope_service and scope_region):  # (SDKs sign requests: the scope names both)
        host_service, host_region = _from_host(parts.hostname or _host_name(header.get("host", "")))
    service = scope_service or host_service or _SERVICE_OF_ACTION.get(action, "ec2")
    region = scope_region or host_region or _DEFAULT_REGION
    session_token = (
        header.get("x-amz-security-token")
        or params.get("X-Amz-Security-Token")
        or params.get("SecurityToken")
    )
    return WireRequest(
        action=action,
        params={
            name: value
            for name, value in params.items()
            if name not in _PROTOCOL_PARAMS and name not in _AUTH_PARAMS
        },
        region=region,
        service=service,
        access_key_id=access_key_id,
        session_token=session_token or None,
        secure_transport=secure,
        source_ip=source_ip,
    )


def _raw(text: str) -> bytes:
    # An HTTP server hands over the request target decoded as Latin-1 (http.server does), so
    # encoding it back gives the exact bytes on the wire; requests' URLs are ASCII already.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _parse_form(data: bytes, where: str) -> dict[str, str] | WireResponse:
    """Parse ``a=1&b=2`` strictly: valid %-escapes, UTF-8 after decoding, first value wins."""
    params: dict[str, str] = {}
    if b"%" not in data:
        # Nothing to unescape (what SDKs send for most requests): decode once. Splitting at the
        # ASCII '&' and '=' cannot cut a UTF-8 sequence, so this accepts exactly what decoding
        # field by field would.
        try:
            text = data.replace(b"+", b" ").decode("utf-8")
        except UnicodeDecodeError:
            return _not_utf8(where)
        for pair in text.split("&"):
            key, _, text_value = pair.partition("=")
            if key:
                params.setdefault(key, text_value)
        return params
    for field in data.split(b"&"):
        if not field:
            continue
        raw_name, _, raw_value = field.partition(b"=")
        decoded: list[str] = []
        for raw in (raw_name, raw_value):
            if _BAD_PERCENT.search(raw):
                return error_response(
                    "MalformedQueryString",
                    f"The {where} contains a '%' that is not followed by two hexadecimal digits.",
                    400,
                )
            try:
                decoded.append(unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8"))
            except UnicodeDecodeError:
                return _not_utf8(where)
        name, value = decoded
        if name:
            params.setdefault(name, value)
    return params


def _not_utf8(where: str) -> WireResponse:
    return error_response(
        "MalformedQueryString", f"The {where} is not valid UTF-8 after percent-decoding.", 400
    )


def _credential_scope(
    header: Mapping[str, str], params: Mapping[str, str]
) -> tuple[str | None, str | None, str | None]:
    """(access key id, region, service) from a SigV4 scope; (SigV2 key id, None, None) else."""
    credential = params.get("X-Amz-Credential")
    authorization = header.get("authorization", "")
    if authorization.startswith("AWS4-"):
        found = _AUTH_CREDENTIAL.search(authorization)
        credential = found.group(1) if found else credential
    if credential:
        scope = _SCOPE.match(credential)
        if scope:
            return scope.group(1), scope.group(2), scope.group(3)
        # A scope we cannot read still names the key id before its first slash.
        return credential.split("/", 1)[0] or None, None, None
    return params.get("AWSAccessKeyId") or None, None, None


def _host_name(host: str) -> str:
    """``Host`` header without its port (``[::1]:5454`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _from_host(hostname: str) -> tuple[str | None, str | None]:
    found = _AWS_HOST.match(hostname.lower())
    if not found:
        return None, None
    service, region = found.group(1), found.group(2)
    # The global names (ec2.amazonaws.com, sts.amazonaws.com) are us-east-1.
    return service, region or _DEFAULT_REGION
