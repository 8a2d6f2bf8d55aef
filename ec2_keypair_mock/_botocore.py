"""The botocore door's call path: answer a served call from the backend. Strictly private.

``_hook`` (imported with the package) holds the dormant handler rows; the first activation
imports this module and hands :func:`handle` to the hook. Answering at ``before-call``
short-circuits signing and HTTP: no credentials are needed and no socket is opened. The answer
is what botocore's own parser makes of the EC2 XML, so responses and ``ClientError`` look
exactly as they do against AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.credentials
from botocore.awsrequest import AWSResponse
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


def handle(
    active: tuple[KeyPairsBackend, bool],
    model: OperationModel,
    params: dict[str, Any],
    request_signer: Any,
    context: dict[str, Any] | None,
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """Answer one ``before-call`` event for the active backend, or None to let it pass."""
    backend, strict = active
    service_model = model.service_model
    service = service_model.service_name
    action = model.name
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
    remember_service_model(service_model)
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
    response = backend.dispatch(request, model if service == "ec2" else None)
    headers = {key.lower(): value for key, value in response.headers.items()}
    headers["content-length"] = str(len(response.body))
    parser = _parser(service_model.protocol)
    parsed: dict[str, Any] | None = None
    if isinstance(response.body, RenderedXML):
        # What the parser would make of this XML, built from the output it was rendered from
        # (see _parsed; tests/test_fast_path.py proves the two equal).
        timestamp_parser = getattr(parser, "_timestamp_parser", None)
        if timestamp_parser is not None:
            parsed = parsed_output(response.body, response.status, headers, timestamp_parser)
    if parsed is None:
        parsed = parser.parse(
            {"body": response.body, "headers": headers, "status_code": response.status},
            model.output_shape,
        )
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return AWSResponse(None, response.status, headers, None), parsed


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
