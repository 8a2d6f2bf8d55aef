"""What botocore's EC2 parser makes of a rendered success body, without parsing it.

Strictly private. The botocore door promises what ``EC2QueryParser.parse`` returns for the XML
the dispatcher rendered (DESIGN.md). Rendering and then parsing cost more than the rest of a
call: expat, then dateutil for every timestamp (a 5,000-pair DescribeKeyPairs spends most of a
second there). For the shapes the mock renders, this module computes the same result from the
structured output the XML was rendered from, mirroring ``BaseXMLResponseParser`` step by step:

* a structure keeps the members present in the XML, in the *model's* member order; a list EC2
  always sends (``_ALWAYS_LISTS``) is ``[]`` when absent;
* a string is the text as XML gives it back: characters XML cannot carry were replaced by
  U+FFFD when rendering, and the XML parser reads CR LF and a lone CR as LF;
* a boolean is ``text == "true"``; an integer is ``int(text)``;
* a timestamp is what the parser's timestamp parser returns for ``…Z`` text: the wall clock as
  written, with the tzinfo that parser chose for a probe in the current local zone (checked on
  a winter and a summer probe; if it does anything else, each value goes through the parser);
* ``ResponseMetadata`` is ``RequestId`` from ``<requestId>``, then the status and a copy of the
  (lowercase) headers.

Any other shape or value makes :func:`parsed_output` return None, and the door parses the XML.
``tests/test_fast_path.py`` compares both results for every operation, every optional member,
awkward text and several time zones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from weakref import WeakKeyDictionary

from botocore.model import ListShape, Shape, StructureShape

from ._model import RenderedXML, _plain_text, _render_plan, format_time
from ._wire import not_xml

__all__ = ["parsed_output"]

_Stamp = Callable[[datetime], Any]
_Convert = Callable[[Any, _Stamp], Any]

# Per shape: its converter, or None when the direct path does not cover it. Keyed weakly:
# every botocore client builds its own model objects.
_converters: WeakKeyDictionary[Shape, _Convert | None] = WeakKeyDictionary()


class _NotDirect(Exception):
    """A value the direct path does not mirror; the caller parses the XML instead."""


def parsed_output(
    body: RenderedXML,
    status: int,
    headers: Mapping[str, str],
    timestamp_parser: Callable[[str], Any],
) -> dict[str, Any] | None:
    """What ``EC2QueryParser.parse`` returns for ``body``, or None (then parse the XML).

    ``headers`` are the lowercase headers the door would hand to the parser;
    ``timestamp_parser`` is that parser's.
    """
    operation = body.operation
    shape = operation.output_shape
    parsed: dict[str, Any] = {}
    if shape is not None:
        convert = _converter(shape, operation.name)
        if convert is None:
            return None
        try:
            parsed = convert(body.output, _LazyStamp(timestamp_parser))
        except _NotDirect:
            return None
    parsed["ResponseMetadata"] = {
        "RequestId": body.request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": dict(headers),
    }
    return parsed


def _converter(shape: Shape, order_key: str | None = None) -> _Convert | None:
    try:
        return _converters[shape]
    except KeyError:
        pass
    convert: _Convert | None
    if isinstance(shape, StructureShape):
        convert = _structure(shape, order_key or shape.name)
    elif isinstance(shape, ListShape):
        convert = _list(shape)
    else:
        convert = _SCALARS.get(shape.type_name)
    _converters[shape] = convert
    return convert


def _structure(shape: StructureShape, order_key: str) -> _Convert | None:
    sent = {member.name: member for member in _render_plan(shape, order_key)}
    steps: list[tuple[str, bool, _Convert]] = []
    for name, member_shape in shape.members.items():  # the model's order, as botocore walks
        member = sent.get(name)
        if member is None:
            continue  # never rendered, so never parsed
        convert = _converter(member_shape)
        if convert is None:
            return None
        steps.append((name, member.always, convert))

    def structure(value: Any, stamp: _Stamp) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _NotDirect
        out: dict[str, Any] = {}
        for name, always, convert in steps:
            item = value.get(name)
            if item is not None:
                out[name] = convert(item, stamp)
            elif always:
                out[name] = []
        return out

    return structure


def _list(shape: ListShape) -> _Convert | None:
    convert = _converter(shape.member)
    if convert is None or shape.serialization.get("flattened"):
        return None

    def items(value: Any, stamp: _Stamp) -> list[Any]:
        if isinstance(value, (str, bytes, Mapping)):
            raise _NotDirect
        return [convert(item, stamp) for item in value]

    return items


# ASCII characters the text may not come back with: what rendering replaces, and CR. Text that is
# not ASCII is always cleaned (a no-op when there is nothing to replace; see _model).
_ASCII_NEEDS_CLEANING = re.compile("[\r\x00-\x08\x0b\x0c\x0e-\x1f]")


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else _plain_text(value)
    if not text.isascii() or _ASCII_NEEDS_CLEANING.search(text):
        text = not_xml().sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    return text


def _string(value: Any, stamp: _Stamp) -> str:
    return _text(value)


def _boolean(value: Any, stamp: _Stamp) -> bool:
    return _text(value) == "true"


def _integer(value: Any, stamp: _Stamp) -> int:
    if type(value) is int:
        return value
    raise _NotDirect


def _timestamp(value: Any, stamp: _Stamp) -> Any:
    if not isinstance(value, datetime):
        raise _NotDirect
    return stamp(value)


_SCALARS: dict[str, _Convert] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _integer,
    "long": _integer,
    "timestamp": _timestamp,
}

# Per timestamp parser and local zone (as ``time`` describes it after the last ``tzset``, which
# is what dateutil's ``tzlocal`` reads): what the parser returns for a datetime rendered as EC2
# text. Names alone are not enough: TZ=UTC and TZ=UTC+3 both call themselves "UTC".
_stampers: dict[tuple[Any, ...], _Stamp] = {}
_PROBES = ("2001-02-03T04:05:06.007Z", "2001-07-08T09:10:11.012Z")  # winter and summer


class _LazyStamp:
    """Looks the stamper up on the first timestamp only (most answers carry none)."""

    __slots__ = ("_parse", "_stamp")

    def __init__(self, parse: Callable[[str], Any]) -> None:
        self._parse = parse
        self._stamp: _Stamp | None = None

    def __call__(self, value: datetime) -> Any:
        stamp = self._stamp
        if stamp is None:
            stamp = self._stamp = _stamper(self._parse)
        return stamp(value)


def _stamper(parse: Callable[[str], Any]) -> _Stamp:
    key = (parse, *time.tzname, time.timezone, time.altzone, time.daylight)
    stamp = _stampers.get(key)
    if stamp is None:
        stamp = _stampers[key] = _make_stamper(parse)
    return stamp


def _make_stamper(parse: Callable[[str], Any]) -> _Stamp:
    def slow(value: datetime) -> Any:
        return parse(format_time(value))

    zone = getattr(parse(_PROBES[0]), "tzinfo", None)
    if zone is None:
        return slow
    for probe in _PROBES:
        got = parse(probe)
        wall = datetime.strptime(probe, "%Y-%m-%dT%H:%M:%S.%fZ")
        if not (
            type(got) is datetime
            and got.replace(tzinfo=None) == wall
            and type(got.tzinfo) is type(zone)
            and got.utcoffset() == timedelta(0)
        ):
            return slow

    def fast(value: datetime) -> datetime:
        utc = value.astimezone(timezone.utc)
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000, tzinfo=zone)

    return fast
