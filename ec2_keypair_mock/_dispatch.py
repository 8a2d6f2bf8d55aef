"""The one dispatcher: a wire request in, a wire response out (DESIGN.md). Strictly private.

Every front door calls :func:`dispatch`, so the botocore hook, the HTTP server and the
``requests`` door answer identically. Order for every call: parse the Query parameters against
the botocore model → authorize (the fake IAM policy) → DryRun → the operation's own checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from itertools import chain
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from botocore.model import OperationModel

from ._authmsg import (
    InvalidAuthorizationMessage,
    PrincipalInfo,
    decode_authorization_message,
    encode_authorization_message,
    unauthorized_message,
)
from ._evaluate import Decision, decide
from ._frozen import Frozen
from ._keys import KeyFormat, KeyType, NewKey
from ._model import InvalidQueryParameter, operation_model, parse_query, render_xml
from ._ops import OPERATIONS
from ._state import NO_KEYS, RegionState
from ._wire import (
    EC2Error,
    WireRequest,
    WireResponse,
    error_response,
    new_request_id,
    response_headers,
    xml_text,
)

if TYPE_CHECKING:
    from ._backend import KeyPairsBackend
    from ._principals import Principal

__all__ = ["Call", "CallRecord", "dispatch"]

_NO_RESOURCE_ACTIONS = frozenset({"ec2:DescribeKeyPairs", "ec2:DescribeTags"})
_REDACTED = "<redacted>"


class CallRecord(Frozen):
    """One intercepted call, as ``backend.calls`` lists them (read-only).

    ``params`` is the structured input (botocore's names, e.g. ``{"KeyName": "k",
    "DryRun": True}``) with key material replaced by ``"<redacted>"``; ``error_code`` is None on
    success. ``decision`` is the IAM decision that stopped the call (the denied check) or, when
    every check allowed it, the decision for the operation's own action (``ec2:CreateKeyPair``,
    not the second ``ec2:CreateTags`` check of a tagged create); None when the call never
    reached authorization (an unknown action, unparsable parameters). ``decisions`` lists every
    check made, in order.

    Example::

        record = backend.calls[-1]
        record.decision.outcome            # "allowed", "implicitDeny" or "explicitDeny"
        record.decision.policy_kind        # e.g. "permissions boundary" (None when allowed)
        record.decision.statement.sid      # the deciding statement (None for implicit deny)
        record.decision.context["ec2:KeyPairType"]
    """

    # The log keeps a record per call for the life of the backend, so a record keeps what the
    # call was given in the compact form it arrived in (the flat Query values; the key names
    # are shared by every call of the same shape) and rebuilds ``params`` from it when first
    # read: the structured form costs several times more memory than the call's key pair.
    __slots__ = (
        "_params",
        "account_id",
        "caller_arn",
        "decisions",
        "error_code",
        "operation",
        "region",
        "request_id",
        "status",
    )
    # What ==, repr and hash see (Frozen): ``params`` is read through its property.
    _fields = (
        "operation",
        "region",
        "account_id",
        "caller_arn",
        "params",
        "status",
        "error_code",
        "request_id",
        "decisions",
    )

    operation: str
    region: str
    account_id: str
    caller_arn: str
    status: int
    error_code: str | None
    request_id: str
    decisions: tuple[Decision, ...]
    _params: Mapping[str, Any] | _LoggedQuery

    def __init__(
        self,
        operation: str,
        region: str,
        account_id: str,
        caller_arn: str,
        params: Mapping[str, Any] | _LoggedQuery,
        status: int,
        error_code: str | None,
        request_id: str,
        decisions: tuple[Decision, ...] = (),
    ) -> None:
        put = object.__setattr__
        put(self, "operation", operation)
        put(self, "region", region)
        put(self, "account_id", account_id)
        put(self, "caller_arn", caller_arn)
        put(self, "_params", params)
        put(self, "status", status)
        put(self, "error_code", error_code)
        put(self, "request_id", request_id)
        put(self, "decisions", decisions)

    @property
    def params(self) -> Mapping[str, Any]:
        """The call's structured input, key material redacted (read-only)."""
        params = self._params
        if isinstance(params, tuple):
            params = MappingProxyType(_parse_logged(self.operation, params))
            object.__setattr__(self, "_params", params)  # parsed once, on first read
        return params

    @property
    def decision(self) -> Decision | None:
        """The check that denied the call, else the first check; None when none was made."""
        decisions = self.decisions
        for decision in decisions:
            if not decision.allowed:
                return decision
        return decisions[0] if decisions else None

    @property
    def dry_run(self) -> bool:
        """Whether the call had ``DryRun=True``."""
        return bool(self.params.get("DryRun"))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        # Frozen's restores fields by name; ``params`` is stored as ``_params``.
        names = tuple("_params" if name == "params" else name for name in self._fields)
        for name, value in zip(names, state, strict=True):
            object.__setattr__(self, name, value)


# What the call log keeps of a request's parameters: the parameter names (one tuple shared by
# every call of the same shape) followed by the values, key material left out.
_LoggedQuery = tuple[Any, ...]
_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_SHAPES = 4096


def _logged_query(query: Mapping[str, str]) -> _LoggedQuery:
    """What the call log keeps of a request's parameters (they parsed without error)."""
    keys = tuple(query)
    shared = _SHAPES.get(keys)
    if shared is None:
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[keys] = keys
        shared = keys
    if _MATERIAL in query:
        return (shared, *(_REDACTED if k == _MATERIAL else v for k, v in query.items()))
    return (shared, *query.values())


def _parse_logged(operation: str, logged: _LoggedQuery) -> dict[str, Any]:
    query = dict(zip(logged[0], logged[1:], strict=True))
    redacted = query.pop(_MATERIAL, None) is not None
    params = parse_query(operation_model("ec2", operation).input_shape, query)
    if redacted:
        params[_MATERIAL] = _REDACTED
    return params


_MATERIAL = "PublicKeyMaterial"


class _RequestTags(Mapping[str, Any]):
    """The context keys of a request's tags, as a read-only view. Strictly private.

    ``aws:RequestTag/<key>`` per tag and ``aws:TagKeys`` (a list, in request order). Built once
    per call and shared by its checks; the keys are spelled out only when read.
    """

    __slots__ = ("_items",)

    def __init__(self, tags: Mapping[str, str]) -> None:
        self._items = tuple(chain.from_iterable(tags.items()))  # key, value, key, value, ...

    def __getitem__(self, key: str) -> Any:
        items = self._items
        if key == "aws:TagKeys":
            return list(items[::2])
        if key.startswith(_REQUEST_TAG):
            wanted = key[len(_REQUEST_TAG) :]
            for index in range(0, len(items), 2):
                if items[index] == wanted:
                    return items[index + 1]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        for key in self._items[::2]:
            yield _REQUEST_TAG + key
        yield "aws:TagKeys"

    def __len__(self) -> int:
        return len(self._items) // 2 + 1


_REQUEST_TAG = "aws:RequestTag/"


class _Layered(Mapping[str, Any]):
    """A check's read-only request context, made of layers, first wins. Strictly private.

    The layers are the check's own keys, the request's tags, the keys every call of that
    second shares (time, region, transport) and the caller's keys (shared by every call of
    that principal). Every call-log decision keeps its context alive, so a view over shared
    parts is kept instead of a merged copy per check.
    """

    __slots__ = ("_base", "_caller", "_own", "_tags")

    def __init__(
        self,
        own: Mapping[str, Any],
        tags: Mapping[str, Any] | None,
        base: Mapping[str, Any],
        caller: Mapping[str, Any],
    ) -> None:
        self._own = own
        self._tags = tags
        self._base = base
        self._caller = caller

    def _layers(self) -> tuple[Mapping[str, Any], ...]:
        if self._tags is None:
            return (self._own, self._base, self._caller)
        return (self._own, self._tags, self._base, self._caller)

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers():
            if key in layer:
                return layer[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for layer in self._layers():
            for key in layer:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(dict(self))


class Call:
    """One call in flight: what the operations see. Strictly private."""

    __slots__ = (
        "_base",
        "_state",
        "backend",
        "caller",
        "decisions",
        "params",
        "region",
        "request",
    )

    def __init__(
        self,
        backend: KeyPairsBackend,
        request: WireRequest,
        caller: Principal,
        params: dict[str, Any],
    ) -> None:
        self.backend = backend
        self.request = request
        self.caller = caller
        self.params = params
        self.region = request.region
        self.decisions: list[Decision] = []
        self._state: RegionState | None = None
        self._base: Mapping[str, Any] | None = None

    @property
    def lock(self) -> threading.RLock:
        """The backend lock; hold it while reading or changing :attr:`state`."""
        return self.backend._lock

    @property
    def state(self) -> RegionState:
        """The caller's account's key pairs in the request's region."""
        if self._state is None:
            self._state = self.backend._region_state(self.caller.account_id, self.region)
        return self._state

    def key_pair_arn(self, name: str) -> str:
        """The IAM resource ARN of a key pair (SPEC §8)."""
        return f"arn:aws:ec2:{self.region}:{self.caller.account_id}:key-pair/{name}"

    def new_key(self, key_type: str, key_format: str, name: str) -> NewKey:
        """A new key pair's material, from the backend's key source."""
        kt: KeyType = "ed25519" if key_type == "ed25519" else "rsa"
        kf: KeyFormat = "ppk" if key_format == "ppk" else "pem"
        return self.backend._key_source(kt, kf, name)

    @staticmethod
    def request_tags(tags: Mapping[str, str] | None) -> Mapping[str, Any] | None:
        """``aws:RequestTag/<k>`` and ``aws:TagKeys`` for tags in the request (none: no keys)."""
        return _RequestTags(tags) if tags else None

    def authorize(
        self,
        action: str,
        resource: str,
        own: Mapping[str, Any],
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Decide ``action`` on ``resource``; raise ``UnauthorizedOperation`` when denied.

        The request context (SPEC §8) is the check's ``own`` keys, the request's ``tags`` keys
        (:meth:`request_tags`), the keys every call carries (time, region, transport; built
        once per call, so the two checks of a tagged create see the same ``aws:CurrentTime``)
        and the caller's keys. ``own`` is kept by the call log: callers pass a fresh or a
        never-changed mapping.
        """
        caller = self.caller
        base = self._base
        if base is None:
            request = self.request
            base = self._base = _base_context(
                self.region, request.secure_transport, request.source_ip
            )
        decision = decide(
            action,
            resource,
            _Layered(own, tags, base, caller.context_keys),
            caller.policies,
            permissions_boundary=caller.permissions_boundary,
            session_policy=caller.session_policy,
            scps=self.backend._scps,
        )
        self.decisions.append(decision)
        if decision.allowed:
            return
        encoded = None
        if action not in _NO_RESOURCE_ACTIONS:
            encoded = encode_authorization_message(decision, principal_info(caller))
        message = unauthorized_message(principal_arn=caller.arn, decision=decision, encoded=encoded)
        raise EC2Error("UnauthorizedOperation", message, 403)

    def check_dry_run(self) -> None:
        """DryRun answers 412 once the caller is authorized (SPEC §8)."""
        if self.params.get("DryRun"):
            raise EC2Error(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )


def principal_info(caller: Principal) -> PrincipalInfo:
    """Who was denied, as a decoded authorization message reports it.

    AWS names IAM users (``"name": "Bob"``) but gives only ``id`` and ``arn`` for an
    assumed-role session (AWS CLI example for ``sts decode-authorization-message``).
    """
    name = caller.name if caller.kind == "user" else None
    return PrincipalInfo(id=caller.user_id, name=name, arn=caller.arn)


# (second, aws:CurrentTime, aws:EpochTime, the context keys every call of that second shares
# by region and transport). Formatting a time costs more than the rest of the context together,
# and IAM's time keys have one-second resolution, so the shared keys are built once a second
# and every call-log decision of that second refers to the same read-only mapping. A tuple is
# replaced in one assignment, so threads never see a torn value.
_clock: tuple[int, str, str, dict[tuple[str, bool, str], Mapping[str, Any]]] = (-1, "", "", {})


def _base_context(region: str, secure: bool, source_ip: str) -> Mapping[str, Any]:
    """``aws:CurrentTime``, ``aws:EpochTime``, the region and transport keys, for now."""
    global _clock
    second = int(time.time())
    clock = _clock
    if clock[0] != second:
        current = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        clock = _clock = (second, current, str(second), {})
    shared = clock[3]
    key = (region, secure, source_ip)
    base = shared.get(key)
    if base is None:
        base = shared[key] = MappingProxyType(
            {
                "aws:CurrentTime": clock[1],
                "aws:EpochTime": clock[2],
                "aws:RequestedRegion": region,
                "ec2:Region": region,
                "aws:SecureTransport": "true" if secure else "false",
                "aws:SourceIp": source_ip,
            }
        )
    return base


def dispatch(
    backend: KeyPairsBackend, request: WireRequest, model: OperationModel | None = None
) -> WireResponse:
    """Answer one request exactly as EC2 (or STS, for DecodeAuthorizationMessage) would."""
    if request.service == "sts":
        return _dispatch_sts(backend, request)
    action = request.action
    operation = OPERATIONS.get(action)
    caller = backend._caller(request.access_key_id)
    if operation is None:
        response = error_response(
            "InvalidAction", f"The action {action} is not valid for this web service."
        )
        backend._log(
            CallRecord(
                action,
                request.region,
                caller.account_id,
                caller.arn,
                NO_KEYS,
                400,
                response.error_code,
                response.request_id,
            )
        )
        return response
    if model is None:
        model = operation_model("ec2", action)
    logged: Mapping[str, Any] | _LoggedQuery = NO_KEYS
    call: Call | None = None
    try:
        params = parse_query(model.input_shape, request.params)
        logged = _logged_query(request.params)
        call = Call(backend, request, caller, params)
        output = operation(call)
    except (EC2Error, InvalidQueryParameter) as error:
        response = error_response(error.code, error.message, getattr(error, "status", 400))
    else:
        request_id = new_request_id()
        response = WireResponse(
            status=200,
            body=render_xml(model, output, request_id),
            headers=response_headers(request_id),
            request_id=request_id,
        )
    backend._log(
        CallRecord(
            operation=action,
            region=request.region,
            account_id=caller.account_id,
            caller_arn=caller.arn,
            params=logged,
            status=response.status,
            error_code=response.error_code,
            request_id=response.request_id,
            decisions=tuple(call.decisions) if call else (),
        )
    )
    return response


_STS_PARAMS: Mapping[str, Any] = MappingProxyType({"EncodedMessage": _REDACTED})
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def _sts_error(code: str, message: str, status: int) -> WireResponse:
    request_id = new_request_id()
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{_STS_NS}"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>{xml_text(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return WireResponse(status, body.encode(), headers, request_id, code)


def _dispatch_sts(backend: KeyPairsBackend, request: WireRequest) -> WireResponse:
    """STS DecodeAuthorizationMessage for this mock's own tokens (SPEC §8)."""
    caller = backend._caller(request.access_key_id)
    decisions: tuple[Decision, ...] = ()
    if request.action != "DecodeAuthorizationMessage":
        response = _sts_error(
            "InvalidAction",
            f"Could not find operation {request.action} for version 2011-06-15",
            400,
        )
    else:
        call = Call(backend, request, caller, {})
        try:
            call.authorize("sts:DecodeAuthorizationMessage", "*", NO_KEYS)
        except EC2Error:
            response = _sts_error("AccessDenied", _access_denied(caller, call.decisions[-1]), 403)
        else:
            response = _decode(request.params.get("EncodedMessage"))
        decisions = tuple(call.decisions)
    backend._log(
        CallRecord(
            request.action,
            request.region,
            caller.account_id,
            caller.arn,
            _STS_PARAMS,
            response.status,
            response.error_code,
            response.request_id,
            decisions,
        )
    )
    return response


_EC2_PREFIX = "You are not authorized to perform this operation. "


def _access_denied(caller: Principal, decision: Decision) -> str:
    """STS's AccessDenied text: EC2's sentence without its EC2-only first sentence.

    e.g. ``User: <arn> is not authorized to perform: sts:DecodeAuthorizationMessage because no
    identity-based policy allows the sts:DecodeAuthorizationMessage action``.
    """
    text = unauthorized_message(principal_arn=caller.arn, decision=decision, encoded=None)
    return text.removeprefix(_EC2_PREFIX)


def _decode(token: str | None) -> WireResponse:
    if not token:
        return _sts_error(
            "MissingParameter", "The request must contain the parameter EncodedMessage", 400
        )
    try:
        decoded = decode_authorization_message(token)
    except InvalidAuthorizationMessage:
        return _sts_error(
            "InvalidAuthorizationMessageException",
            "The encoded message is invalid or was not issued by this service.",
            400,
        )
    request_id = new_request_id()
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<DecodeAuthorizationMessageResponse '
        f'xmlns="{_STS_NS}"><DecodeAuthorizationMessageResult><DecodedMessage>'
        f"{xml_text(decoded)}</DecodedMessage></DecodeAuthorizationMessageResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</DecodeAuthorizationMessageResponse>"
    )
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return WireResponse(200, body.encode(), headers, request_id)
