"""The one dispatcher: a wire request in, a wire response out (DESIGN.md). Strictly private.

Every front door calls :func:`dispatch`, so the botocore hook, the HTTP server and the
``requests`` door answer identically. Order for every call: parse the Query parameters against
the botocore model → authorize (the fake IAM policy) → DryRun → the operation's own checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
from ._keys import KeyFormat, KeyType, NewKey
from ._model import InvalidQueryParameter, operation_model, parse_query, render_xml
from ._ops import OPERATIONS
from ._state import RegionState
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


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One intercepted call, as ``backend.calls`` lists them.

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

    operation: str
    region: str
    account_id: str
    caller_arn: str
    params: Mapping[str, Any]
    status: int
    error_code: str | None
    decision: Decision | None
    request_id: str
    decisions: tuple[Decision, ...] = ()

    @property
    def dry_run(self) -> bool:
        """Whether the call had ``DryRun=True``."""
        return bool(self.params.get("DryRun"))


class _Layered(Mapping[str, Any]):
    """A read-only request context made of layers, first wins. Strictly private.

    The layers are the check's own keys, the call's keys and the caller's keys (shared by every
    call of that principal). Every call-log decision keeps its context alive, so a view is kept
    instead of a merged copy per check: this is most of what the call log costs per call.
    """

    __slots__ = ("_layers",)

    def __init__(self, *layers: Mapping[str, Any]) -> None:
        self._layers = layers

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers:
            if key in layer:
                return layer[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for layer in self._layers:
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
        "decision",
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
        self.decision: Decision | None = None
        self.decisions: list[Decision] = []
        self._state: RegionState | None = None
        self._base: dict[str, Any] | None = None

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
    def request_tag_context(tags: Mapping[str, str] | None) -> dict[str, Any]:
        """``aws:RequestTag/<k>`` and ``aws:TagKeys`` for tags in the request (none: no keys)."""
        if not tags:
            return {}
        context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        context["aws:TagKeys"] = list(tags)
        return context

    def context(self, extra: Mapping[str, Any]) -> Mapping[str, Any]:
        """The full request context: keys every call carries plus the call's own (SPEC §8).

        The keys every check of this call shares (time, region, transport, caller) are built
        once per call, so the two checks of a tagged create see the same ``aws:CurrentTime``.
        """
        base = self._base
        if base is None:
            current_time, epoch_time = _time_strings()
            request = self.request
            base = self._base = {
                "aws:CurrentTime": current_time,
                "aws:EpochTime": epoch_time,
                "aws:RequestedRegion": self.region,
                "ec2:Region": self.region,
                "aws:SecureTransport": "true" if request.secure_transport else "false",
                "aws:SourceIp": request.source_ip,
            }
        # The operations hand over a fresh dict of their own keys per check; no copy needed.
        return _Layered(extra, base, self.caller.context_keys)

    def authorize(self, action: str, resource: str, extra: Mapping[str, Any]) -> None:
        """Decide ``action`` on ``resource``; raise ``UnauthorizedOperation`` when denied."""
        caller = self.caller
        backend = self.backend
        decision = decide(
            action,
            resource,
            self.context(extra),
            caller.policies,
            permissions_boundary=caller.permissions_boundary,
            session_policy=caller.session_policy,
            scps=backend._scps,
        )
        self.decisions.append(decision)
        if self.decision is None or not decision.allowed:
            self.decision = decision
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


# (second, aws:CurrentTime, aws:EpochTime): formatting a time costs more than the rest of the
# context together, and IAM's time keys have one-second resolution, so format once a second.
# A tuple is replaced in one assignment, so threads never see a torn value.
_clock: tuple[int, str, str] = (-1, "", "")


def _time_strings() -> tuple[str, str]:
    """``aws:CurrentTime`` (ISO 8601, UTC, seconds) and ``aws:EpochTime`` for now."""
    global _clock
    second = int(time.time())
    clock = _clock
    if clock[0] != second:
        clock = _clock = (
            second,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)),
            str(second),
        )
    return clock[1], clock[2]


def _redact(params: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only view for the call log, without key material.

    The parsed parameters belong to this one call and nothing changes them after it, so a view
    suffices (a copy would double what the log keeps per call).
    """
    if "PublicKeyMaterial" in params:
        return MappingProxyType({**params, "PublicKeyMaterial": _REDACTED})
    return MappingProxyType(params)


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
                {},
                400,
                response.error_code,
                None,
                response.request_id,
            )
        )
        return response
    if model is None:
        model = operation_model("ec2", action)
    params: dict[str, Any] = {}
    call: Call | None = None
    try:
        params = parse_query(model.input_shape, request.params)
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
            params=_redact(params),
            status=response.status,
            error_code=response.error_code,
            decision=call.decision if call else None,
            request_id=response.request_id,
            decisions=tuple(call.decisions) if call else (),
        )
    )
    return response


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
    decision: Decision | None = None
    if request.action != "DecodeAuthorizationMessage":
        response = _sts_error(
            "InvalidAction",
            f"Could not find operation {request.action} for version 2011-06-15",
            400,
        )
    else:
        call = Call(backend, request, caller, {})
        try:
            call.authorize("sts:DecodeAuthorizationMessage", "*", {})
        except EC2Error:
            decision = call.decision
            response = _sts_error("AccessDenied", _access_denied(caller, call.decision), 403)
        else:
            decision = call.decision
            response = _decode(request.params.get("EncodedMessage"))
    backend._log(
        CallRecord(
            request.action,
            request.region,
            caller.account_id,
            caller.arn,
            {"EncodedMessage": _REDACTED},
            response.status,
            response.error_code,
            decision,
            response.request_id,
            () if decision is None else (decision,),
        )
    )
    return response


_EC2_PREFIX = "You are not authorized to perform this operation. "


def _access_denied(caller: Principal, decision: Decision | None) -> str:
    """STS's AccessDenied text: EC2's sentence without its EC2-only first sentence.

    e.g. ``User: <arn> is not authorized to perform: sts:DecodeAuthorizationMessage because no
    identity-based policy allows the sts:DecodeAuthorizationMessage action``.
    """
    if decision is None:  # pragma: no cover - authorize() always records its decision
        return f"User: {caller.arn} is not authorized to perform: sts:DecodeAuthorizationMessage"
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
