"""The botocore door's call path: answer a served call from the backend. Strictly private.

``_hook`` (imported with the package) holds the dormant handler rows; the first activation
imports this module and hands :func:`handle` to the hook. Answering at ``before-call``
short-circuits signing and HTTP: no credentials are needed and no socket is opened. The answer
is what botocore's own parser makes of the EC2 XML, so responses and ``ClientError`` look
exactly as they do against AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import botocore.credentials
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.parsers import ResponseParser, create_parser

from ._errors import UnmockedOperationError
from ._hook import detach_clients
from ._model import RenderedXML, remember_service_model
from ._ops import served, unmocked_message
from ._parsed import parsed_output
from ._wire import WireRequest

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from ._backend import KeyPairsBackend

__all__ = ["handle", "install_patches", "remove_patches"]

_parsers: dict[str, ResponseParser] = {}


def _parser(protocol: str) -> ResponseParser:
    parser = _parsers.get(protocol)
    if parser is None:
        parser = _parsers[protocol] = create_parser(protocol)
    return parser


def _credentials(request_signer: Any) -> tuple[str | None, str | None]:
    # RequestSigner keeps the client's credentials in a private attribute; reading it is the
    # only way to learn which principal calls. Unresolved or absent credentials → default caller.
    credentials = getattr(request_signer, "_credentials", None)
    if credentials is None:
        return None, None
    try:
        return credentials.access_key, credentials.token
    except NotImplementedError:
        # aiobotocore's refreshable credentials refuse synchronous reads (their refresh is a
        # coroutine); the values last fetched are the ones the client would sign with.
        return getattr(credentials, "_access_key", None), getattr(credentials, "_token", None)
    except Exception:
        return None, None


class _Operation:
    """What ``handle`` needs of one operation model, looked up once per model."""

    # Nothing here may refer to the model: it is the weak key of ``_operations``.
    __slots__ = ("action", "is_ec2", "parser", "service", "timestamp_parser")

    def __init__(self, model: OperationModel) -> None:
        service_model = model.service_model
        self.service: str = service_model.service_name
        self.action: str = model.name
        self.is_ec2 = self.service == "ec2"
        self.parser = _parser(service_model.protocol)
        self.timestamp_parser = getattr(self.parser, "_timestamp_parser", None)
        remember_service_model(service_model)


# Every botocore client builds its own model objects: keyed weakly, so they can go.
_operations: WeakKeyDictionary[OperationModel, _Operation] = WeakKeyDictionary()


def handle(
    active: tuple[KeyPairsBackend, bool],
    model: OperationModel,
    params: dict[str, Any],
    request_signer: Any,
    context: dict[str, Any] | None,
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """Answer one ``before-call`` event for the active backend, or None to let it pass."""
    backend, strict = active
    operation = _operations.get(model)
    if operation is None:
        operation = _operations[model] = _Operation(model)
    service = operation.service
    action = operation.action
    body = params.get("body")
    query: dict[str, str] = (
        {k: str(v) for k, v in body.items() if k not in ("Action", "Version")}
        if isinstance(body, dict)
        else {}
    )
    if not served(service, action, query):
        if service == "ec2" and strict:
            region = (context or {}).get("client_region") or "us-east-1"
            raise UnmockedOperationError(unmocked_message(service, action, region))
        return None
    access_key, token = _credentials(request_signer)
    region = (
        (context or {}).get("client_region")
        or getattr(request_signer, "region_name", None)
        or "us-east-1"
    )
    request = WireRequest(
        action=action,
        params=query,
        region=region,
        service=service,
        access_key_id=access_key,
        session_token=token,
    )
    response = backend.dispatch(request, model if operation.is_ec2 else None)
    headers = {key.lower(): value for key, value in response.headers.items()}
    headers["content-length"] = str(len(response.body))
    parsed: dict[str, Any] | None = None
    timestamp_parser = operation.timestamp_parser
    if timestamp_parser is not None and isinstance(response.body, RenderedXML):
        # What the parser would make of this XML, built from the output it was rendered from
        # (see _parsed; tests/test_fast_path.py proves the two equal).
        parsed = parsed_output(response.body, response.status, headers, timestamp_parser)
    if parsed is None:
        parsed = operation.parser.parse(
            {"body": response.body, "headers": headers, "status_code": response.status},
            model.output_shape,
        )
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return _http_response(response.status, headers), parsed


def _http_response(status: int, headers: dict[str, str]) -> AWSResponse:
    """``AWSResponse(None, status, headers, None)``, built quickly when we can.

    ``HeadersDict(headers)`` goes through ``MutableMapping.update``: several microseconds per
    call for the same few header names. When :func:`_direct_build_ok` found botocore's
    ``AWSResponse`` and ``HeadersDict`` to be the plain attribute holders :func:`_direct_build`
    fills, that is used; otherwise, the constructor.
    """
    if _FAST_HEADERS:
        return _direct_build(status, headers)
    return AWSResponse(None, status, headers, None)


_header_keys: dict[str, Any] = {}


def _direct_build(status: int, headers: dict[str, str]) -> AWSResponse:
    """Both objects filled directly, each header key made once per name."""
    keys = _header_keys
    table = {}
    for name, value in headers.items():
        key = keys.get(name)
        if key is None:
            key = keys[name] = next(iter(HeadersDict({name: ""})._dict))
        table[key] = value
    fast_headers = HeadersDict.__new__(HeadersDict)
    fast_headers._dict = table
    answer = AWSResponse.__new__(AWSResponse)
    answer.__dict__.update(
        url=None, status_code=status, headers=fast_headers, raw=None, _content=None
    )
    return answer


def _direct_build_ok() -> bool:
    """Whether :func:`_direct_build` gives what the constructor gives (botocore's internals are
    not a promise: this is checked once, and the constructor is used if anything differs)."""
    sample = {"content-type": "text/xml", "x-amzn-requestid": "r", "content-length": "7"}
    try:
        plain = AWSResponse(None, 200, sample, None)
        if set(vars(plain.headers)) != {"_dict"} or not isinstance(plain.headers._dict, dict):
            return False
        fast = _direct_build(200, sample)
        return (
            vars(fast).keys() == vars(plain).keys()
            and type(fast.headers) is type(plain.headers)
            and list(fast.headers.items()) == list(plain.headers.items())
            and fast.headers["Content-Length"] == "7"
            and fast.headers["X-Amzn-RequestId"] == "r"
            and repr(fast.headers) == repr(plain.headers)
            and (fast.url, fast.status_code, fast.raw) == (None, 200, None)
        )
    except Exception:
        return False


_FAST_HEADERS = _direct_build_ok()


def _no_credentials(self: Any) -> None:
    """Network credential providers answer "nothing here" while a mock is active."""
    return None


# While any activation is active, the two credential providers that reach the network (the
# EC2 instance metadata service and the container endpoint) find nothing, so creating a client
# with no credentials configured never opens a socket. Install and removal read this table.
_PATCHES: tuple[tuple[type[Any], str], ...] = (
    (botocore.credentials.InstanceMetadataProvider, "load"),
    (botocore.credentials.ContainerProvider, "load"),
)
_saved: dict[tuple[type[Any], str], Any] = {}


def install_patches() -> None:
    """Called when the first activation starts."""
    for owner, name in _PATCHES:
        _saved[(owner, name)] = owner.__dict__[name]
        setattr(owner, name, _no_credentials)


def remove_patches() -> None:
    """Called when the last activation stops: undo everything activations installed."""
    for owner, name in _PATCHES:
        original = _saved.pop((owner, name), None)
        if original is not None:
            setattr(owner, name, original)
    detach_clients()
