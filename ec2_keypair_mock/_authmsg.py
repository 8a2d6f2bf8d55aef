"""UnauthorizedOperation message text and the encoded authorization failure message (SPEC §8).

Strictly private. The encoded message is self-contained, so any instance of the library can
decode it, with no registry: base64url (no padding) of a magic header, the zlib-compressed
DecodedMessage JSON and a keyed BLAKE2b checksum. The checksum is not a secret, only a seal:
it makes tokens from elsewhere (real AWS, other mocks) or altered ones fail to decode.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib

from ._errors import MockKeypairsError
from ._evaluate import Decision, MatchedStatement
from ._frozen import Frozen
from ._lazy import lazy_pattern
from ._policy import article

__all__ = [
    "InvalidAuthorizationMessage",
    "PrincipalInfo",
    "decode_authorization_message",
    "encode_authorization_message",
    "unauthorized_message",
]

_MAGIC = b"EC2KPM\x01"  # "ec2-keypair-mock", token format 1
_SEAL_KEY = b"ec2-keypair-mock authorization message"
_SEAL_SIZE = 12
_MAX_DECODED = 1 << 20  # a decoded message larger than this was not minted here
_token = lazy_pattern(r"[A-Za-z0-9_-]{16,}")


class InvalidAuthorizationMessage(MockKeypairsError, ValueError):
    """The token was not minted by this library (or was altered); STS answers
    ``InvalidAuthorizationMessageException``."""


class PrincipalInfo(Frozen):
    """Who made the denied request, as the decoded message reports it.

    Attributes:
        id: The unique id (``aws:userid``): ``AIDA...`` for a user, ``AROA...:session`` for a
            role session.
        name: The friendly name; omitted from the decoded message when None.
        arn: The principal's ARN.
    """

    _fields = ("id", "name", "arn")
    id: str
    name: str | None
    arn: str

    def __init__(self, id: str, name: str | None, arn: str) -> None:
        put = object.__setattr__
        put(self, "id", id)
        put(self, "name", name)
        put(self, "arn", arn)


def unauthorized_message(*, principal_arn: str, decision: Decision, encoded: str | None) -> str:
    """The ``UnauthorizedOperation`` message for a denied ``decision`` (SPEC §8 [rec]).

    For resource ``*`` (actions without resource-level permissions, such as
    ``ec2:DescribeKeyPairs``) the text has no ``on resource:`` part and no encoded message, as
    recorded from AWS for the implicit deny; the mock uses the same shortening for an explicit
    deny [dec]. Without ``encoded``, the encoded-message sentence is left out too.
    """
    if decision.allowed or decision.policy_kind is None:
        msg = "unauthorized_message() needs a denied Decision; this one allows the request."
        raise ValueError(msg)
    action = decision.action
    text = (
        "You are not authorized to perform this operation. "
        f"User: {principal_arn} is not authorized to perform: {action}"
    )
    if decision.resource != "*":
        text += f" on resource: {decision.resource}"
    if decision.explicit_deny:
        text += f" with an explicit deny in {article(decision.policy_kind)}"
    else:
        text += f" because no {decision.policy_kind} allows the {action} action"
    if decision.resource == "*" or encoded is None:
        return text
    return f"{text}. Encoded authorization failure message: {encoded}"


def _items(values: object) -> dict[str, list[dict[str, str]]]:
    listed = values if isinstance(values, list | tuple) else [values]
    return {"items": [{"value": _text(value)} for value in listed]}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _statement_item(matched: MatchedStatement, principal: PrincipalInfo) -> dict[str, object]:
    source = matched.statement
    item: dict[str, object] = {
        "statementId": matched.sid or "",
        "effect": matched.effect.upper(),
        # AWS lists the principal's unique id without the session part (AWS CLI example for
        # sts decode-authorization-message: "AROA123456789EXAMPLE").
        "principals": {"items": [{"value": principal.id.split(":", 1)[0]}]},
        "principalGroups": {"items": []},
        "actions": _items(source.get("Action", [])),
        "resources": _items(source.get("Resource", [] if "NotResource" in source else "*")),
    }
    # The AWS example shows only Action/Resource; NotAction/NotResource are reported under
    # their own names [dec] so the statement can still be recognised.
    if "NotAction" in source:
        item["notActions"] = _items(source["NotAction"])
    if "NotResource" in source:
        item["notResources"] = _items(source["NotResource"])
    conditions = []
    block = source.get("Condition", {})
    if isinstance(block, dict):
        for operator, tests in block.items():
            if isinstance(tests, dict):
                for key, values in tests.items():
                    conditions.append({"key": key, "operator": operator, "values": _items(values)})
    item["conditions"] = {"items": conditions}
    return item


def _decoded_document(decision: Decision, principal: PrincipalInfo) -> dict[str, object]:
    who: dict[str, str] = {"id": principal.id}
    if principal.name is not None:
        who["name"] = principal.name
    who["arn"] = principal.arn
    denying = [m for m in decision.matched_statements if m.effect == "Deny"]
    return {
        "allowed": decision.allowed,
        "explicitDeny": decision.explicit_deny,
        "matchedStatements": {"items": [_statement_item(m, principal) for m in denying]},
        "failures": {"items": []},
        "context": {
            "principal": who,
            "action": decision.action,
            "resource": decision.resource,
            "conditions": {
                "items": [
                    {"key": key, "values": _items(value)} for key, value in decision.context.items()
                ]
            },
        },
    }


def _seal(body: bytes) -> bytes:
    return hashlib.blake2b(body, key=_SEAL_KEY, digest_size=_SEAL_SIZE).digest()


def encode_authorization_message(decision: Decision, principal: PrincipalInfo) -> str:
    """Mint the opaque token of an ``UnauthorizedOperation`` message for ``decision``."""
    document = json.dumps(_decoded_document(decision, principal), separators=(",", ":"))
    body = _MAGIC + zlib.compress(document.encode("utf-8"), 9)
    return base64.urlsafe_b64encode(body + _seal(body)).rstrip(b"=").decode("ascii")


def decode_authorization_message(token: str) -> str:
    """The DecodedMessage JSON string of a token minted by :func:`encode_authorization_message`.

    Raises:
        InvalidAuthorizationMessage: The token is not one of ours, or it was altered.
    """
    invalid = InvalidAuthorizationMessage(
        "The encoded authorization message was not issued by ec2_keypair_mock or was altered; "
        "only the tokens in this library's UnauthorizedOperation messages can be decoded."
    )
    compact = str(token).strip()
    if not _token().fullmatch(compact):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    body, seal = raw[:-_SEAL_SIZE], raw[-_SEAL_SIZE:]
    if not body.startswith(_MAGIC) or not hmac.compare_digest(seal, _seal(body)):
        raise invalid
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(body[len(_MAGIC) :], _MAX_DECODED).decode("utf-8")
        document = json.loads(text)
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if inflater.unconsumed_tail or not isinstance(document, dict):
        raise invalid
    return text
