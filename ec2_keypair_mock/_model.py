"""Model-driven translation between the Query wire format and structured data.

Strictly private. Element and parameter names come from botocore's service model, so they are
right by construction; element *order* follows SPEC.md, which records what EC2 really sends
(the model's member order differs). The model is loaded lazily: importing the package must stay
cheap, and the botocore door hands us the client's already-loaded operation model anyway.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NoReturn
from weakref import WeakKeyDictionary

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from ._wire import XML_DECLARATION, xml_text

__all__ = [
    "InvalidQueryParameter",
    "RenderedXML",
    "operation_model",
    "parse_query",
    "render_xml",
    "wire_name",
]

_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()

# SPEC §2–§5: the order EC2 really sends elements in (requestId always comes first).
_ORDER: dict[str, tuple[str, ...]] = {
    "CreateKeyPair": ("KeyName", "KeyFingerprint", "KeyMaterial", "KeyPairId", "Tags"),
    "ImportKeyPair": ("KeyName", "KeyPairId", "KeyFingerprint", "Tags"),
    "DeleteKeyPair": ("Return", "KeyPairId"),
    "KeyPairInfo": (
        "KeyName",
        "KeyPairId",
        "KeyFingerprint",
        "KeyType",
        "PublicKey",
        "CreateTime",
        "Tags",
    ),
    "TagDescription": ("ResourceId", "ResourceType", "Key", "Value"),
    "DescribeTags": ("Tags", "NextToken"),
}
# Lists EC2 sends even when empty (`<tagSet/>`, `<keySet/>`); elsewhere an absent list is omitted.
_ALWAYS_LISTS = {
    ("KeyPairInfo", "Tags"),
    ("DescribeKeyPairs", "KeyPairs"),
    ("DescribeTags", "Tags"),
}

_INDEX = re.compile(r"[1-9][0-9]{0,8}\Z")


class InvalidQueryParameter(Exception):
    """A Query parameter is unknown or its value does not fit its modelled type."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def service_model(service: str) -> ServiceModel:
    """The botocore service model for ``service``, loaded once per process on first use."""
    model = _models.get(service)
    if model is None:
        with _models_lock:
            model = _models.get(service)
            if model is None:
                import botocore.session

                model = botocore.session.get_session().get_service_model(service)
                _models[service] = model
    return model


def remember_service_model(model: ServiceModel) -> None:
    """Reuse a model a botocore client already loaded (saves ~100 ms of JSON on first use)."""
    _models.setdefault(model.service_name, model)


def operation_model(service: str, action: str) -> OperationModel:
    """The operation model for ``action``."""
    return service_model(service).operation_model(action)


def wire_name(name: str, shape: Shape, service: str = "ec2") -> str:
    """The Query parameter name botocore's serializer uses for a member."""
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    if service == "ec2" and "name" in serialization:
        located = str(serialization["name"])
        return located[0].upper() + located[1:]
    return name


def parse_query(
    shape: StructureShape | None, params: Mapping[str, str], service: str = "ec2"
) -> dict[str, Any]:
    """Turn flat Query parameters into the structured input botocore's user would have passed.

    Raises :class:`InvalidQueryParameter` for a parameter the operation does not have, a list
    index that is not a positive integer, or a value that does not fit its type.
    """
    if shape is None:
        if params:
            _unknown(next(iter(params)))
        return {}
    if not any("." in key for key in params):
        # Only top-level parameters (the common call): the tree below would be ``params``.
        return _structure(shape, params, "", service)
    tree: dict[str, Any] = {}
    for key, value in params.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                _unknown(key)
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict):
            _unknown(key)
        node[last] = value
    return _structure(shape, tree, "", service)


def _unknown(key: str) -> NoReturn:
    raise InvalidQueryParameter("UnknownParameter", f"The parameter {key} is not recognized")


def _structure(
    shape: StructureShape, tree: Mapping[str, Any], prefix: str, service: str
) -> dict[str, Any]:
    names = _query_names(shape, service)
    out: dict[str, Any] = {}
    for key, value in tree.items():
        found = names.get(key)
        if found is None:
            _unknown(prefix + key)
        name, member = found
        out[name] = _value(member, value, prefix + key, service)
    return out


_query_name_maps: WeakKeyDictionary[Shape, dict[str, dict[str, tuple[str, Shape]]]] = (
    WeakKeyDictionary()
)


def _query_names(shape: StructureShape, service: str) -> dict[str, tuple[str, Shape]]:
    """Wire name → (member name, member shape), computed once per shape (not per call).

    Keyed weakly by the shape: every botocore client builds its own model objects, and a test
    suite creates thousands of clients.
    """
    per_service = _query_name_maps.get(shape)
    if per_service is None:
        per_service = _query_name_maps.setdefault(shape, {})
    names = per_service.get(service)
    if names is None:
        names = per_service[service] = {
            wire_name(name, member, service): (name, member)
            for name, member in shape.members.items()
        }
    return names


def _value(shape: Shape, value: Any, key: str, service: str) -> Any:
    if isinstance(shape, ListShape):
        if not isinstance(value, dict):
            _unknown(key)
        for index in value:
            if not _INDEX.match(index):
                _unknown(f"{key}.{index}")
        return [
            _value(shape.member, value[index], f"{key}.{index}", service)
            for index in sorted(value, key=int)
        ]
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            _unknown(key)
        return _structure(shape, value, key + ".", service)
    if isinstance(value, dict):
        _unknown(key + "." + next(iter(value)))
    return _scalar(shape, value, key)


def _scalar(shape: Shape, value: str, key: str) -> Any:
    kind = shape.type_name
    if kind == "string":
        return value
    if kind == "boolean":
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif kind in ("integer", "long"):
        if re.fullmatch(r"-?[0-9]{1,18}", value):
            return int(value)
    elif kind == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    else:
        return value
    msg = f"Value for parameter {key} is invalid."
    raise InvalidQueryParameter("InvalidParameterValue", msg)


def format_time(value: datetime) -> str:
    """EC2's timestamp form: UTC, millisecond precision, ``Z`` (SPEC §2.3)."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# -- rendering ------------------------------------------------------------------------------------


class RenderedXML(bytes):
    """A success body that remembers the structured output it was rendered from.

    Strictly private. It is the XML, byte for byte; the botocore door uses ``output`` and
    ``request_id`` to build what botocore's parser would make of these bytes without parsing
    them (:func:`parsed_output`; ``tests/test_fast_path.py`` proves the two equal).
    """

    operation: OperationModel
    output: Mapping[str, Any]
    request_id: str


class _Member:
    """One member as rendered. A plain class: dataclasses cost import time (generated code)."""

    __slots__ = ("always", "name", "shape", "tag")

    def __init__(self, name: str, tag: str, shape: Shape, always: bool) -> None:
        self.name = name  # botocore's member name
        self.tag = tag  # the XML element
        self.shape = shape
        self.always = always  # EC2 sends the (empty) list even when there is nothing in it


# Per structure shape: its members in the order EC2 sends them, only those EC2 sends.
_render_plans: WeakKeyDictionary[Shape, tuple[_Member, ...]] = WeakKeyDictionary()


def _render_plan(shape: StructureShape, order_key: str) -> tuple[_Member, ...]:
    plan = _render_plans.get(shape)
    if plan is None:
        members = shape.members
        plan = tuple(
            _Member(
                name,
                members[name].serialization.get("name", name),
                members[name],
                (order_key, name) in _ALWAYS_LISTS,
            )
            for name in _ORDER.get(order_key, tuple(members))
        )
        _render_plans[shape] = plan
    return plan


def render_xml(operation: OperationModel, output: Mapping[str, Any], request_id: str) -> bytes:
    """Render ``output`` (structured, botocore member names) as EC2's response XML."""
    name = operation.name
    parts = [f'{XML_DECLARATION}<{name}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">']
    parts.append(f"<requestId>{request_id}</requestId>")
    shape = operation.output_shape
    if shape is None:
        # CreateTags/DeleteTags have no modelled output, yet EC2 sends <return>true</return>.
        parts.append("<return>true</return>")
    else:
        _members_renderer(shape, name)(parts, output)
    parts.append(f"</{name}Response>")
    body = RenderedXML("".join(parts).encode("utf-8"))
    body.operation = operation
    body.output = output
    body.request_id = request_id
    return body


# Rendering walks a per-shape tree of small functions built once (tags, order and the
# always-sent lists resolved in advance), rather than re-inspecting the shapes on every call.
_Render = Callable[[list[str], Any], None]
_renderers: WeakKeyDictionary[Shape, _Render] = WeakKeyDictionary()


def _members_renderer(shape: StructureShape, order_key: str) -> _Render:
    render = _renderers.get(shape)
    if render is None:
        steps = tuple(
            (
                member.name,
                f"<{member.tag}/>" if member.always else None,
                _value_renderer(member.shape, member.tag),
            )
            for member in _render_plan(shape, order_key)
        )

        def render(parts: list[str], value: Any) -> None:
            get = value.get
            for name, empty, render_value in steps:
                item = get(name)
                if item is not None:
                    render_value(parts, item)
                elif empty is not None:
                    parts.append(empty)

        _renderers[shape] = render
    return render


def _value_renderer(shape: Shape, tag: str) -> _Render:
    start, end, empty = f"<{tag}>", f"</{tag}>", f"<{tag}/>"
    if isinstance(shape, ListShape):
        render_item = _value_renderer(shape.member, "item")

        def render_list(parts: list[str], value: Any) -> None:
            if not value:
                parts.append(empty)
                return
            parts.append(start)
            for item in value:
                render_item(parts, item)
            parts.append(end)

        return render_list
    if isinstance(shape, StructureShape):
        render_members = _members_renderer(shape, shape.name)

        def render_structure(parts: list[str], value: Any) -> None:
            parts.append(start)
            render_members(parts, value)
            parts.append(end)

        return render_structure

    def render_scalar(parts: list[str], value: Any) -> None:
        parts.append(start + _scalar_text(value) + end)

    return render_scalar


# ASCII text that needs no escaping (the common case) is used as it is. Other text goes through
# xml_text, which returns it unchanged when nothing needs escaping or replacing; a pattern for
# that test over all of Unicode would cost a fresh process 0.6 ms to compile (see _wire).
_ASCII_NEEDS_ESCAPE = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        if value.isascii() and not _ASCII_NEEDS_ESCAPE.search(value):
            return value
        return xml_text(value)
    return xml_text(_plain_text(value))


def _plain_text(value: Any) -> str:
    # The text of a scalar before XML escaping.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)
