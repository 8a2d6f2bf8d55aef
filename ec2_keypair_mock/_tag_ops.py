"""The tag operations on key pairs: CreateTags, DeleteTags, DescribeTags (SPEC §6).

Strictly private. They are served only when they are about key pairs (:func:`serves_tags`);
the mock knows no other resource.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._state import KEY_PAIR_ID, NO_KEYS, Pair, pair_context
from ._validate import Wildcard, check_tags, invalid, missing, wildcard
from ._wire import EC2Error

if TYPE_CHECKING:
    from ._dispatch import Call

__all__ = ["create_tags", "delete_tags", "describe_tags", "serves_tags"]

Output = dict[str, Any]

# Any EC2 resource id: a lowercase prefix, then 8 or 17 lowercase hex digits (i-…, vol-…, sg-…).
_EC2_ID = re.compile(r"[a-z]+(?:-[a-z]+)*-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")


def serves_tags(action: str, params: Mapping[str, str]) -> bool:
    """Whether a tag call is about key pairs, so this mock (and not another handler) answers it.

    DescribeTags is about key pairs when one of its filters alone confines it to them (filters
    AND): a ``resource-type`` filter whose values are all ``key-pair``, or a ``resource-id``
    filter whose values are all key pair ids. Filters are read one by one, not merged by name,
    so two such filters (or a repeated value) still count.
    """
    if action == "DescribeTags":
        filters: dict[str, list[str]] = {}
        for key, value in params.items():
            parts = key.split(".")
            if len(parts) == 4 and parts[0] == "Filter" and parts[2] == "Value":
                filters.setdefault(parts[1], []).append(value)
        for index, values in filters.items():
            name = params.get(f"Filter.{index}.Name", "")
            if name == "resource-type" and all(value == "key-pair" for value in values):
                return True
            if name == "resource-id" and all(value.startswith("key-") for value in values):
                return True
        return False
    resources = [value for key, value in params.items() if key.lower().startswith("resourceid.")]
    return any(resource.startswith("key-") for resource in resources)


def _tagged_pairs(call: Call) -> list[Pair]:
    resources: list[str] = call.params.get("Resources") or []
    if not resources:
        raise missing("ResourceId")
    for resource in resources:
        # EC2 checks the shape of every id first [rec for CreateTags on other resource types].
        shape = KEY_PAIR_ID if resource.startswith("key-") else _EC2_ID
        if not shape.match(resource):
            raise EC2Error("InvalidID", f"The ID '{resource}' is not valid")
    others = [resource for resource in resources if not resource.startswith("key-")]
    if others:
        raise invalid(
            f"Resource '{others[0]}' is not a key pair: this mock serves tags on key pairs only, "
            "so tag other resources in a separate call."
        )
    pairs = []
    with call.lock:
        for resource in dict.fromkeys(resources):
            pair = call.state.by_id.get(resource)
            if pair is None:
                # AWS's answer for a well-formed key pair id that does not exist is not recorded
                # [dec]: EC2's NotFound code for key pairs, worded for an id.
                raise EC2Error(
                    "InvalidKeyPair.NotFound", f"The key pair ID '{resource}' does not exist"
                )
            pairs.append(pair)
    return pairs


def _authorized_pairs(call: Call, action: str) -> tuple[list[Pair], list[Mapping[str, Any]]]:
    """The named pairs and requested tags, once ``action`` is allowed on every pair (SPEC §8:
    request tags, the pair's tags, name and type) and DryRun has answered."""
    pairs = _tagged_pairs(call)
    wanted: list[Mapping[str, Any]] = call.params.get("Tags") or []
    tag_keys = call.request_tags(
        {str(t.get("Key") or ""): str(t.get("Value") or "") for t in wanted}
    )
    for pair in pairs:
        call.authorize(action, call.key_pair_arn(pair.name), pair_context(pair), tag_keys)
    call.check_dry_run()
    return pairs, wanted


def create_tags(call: Call) -> Output:
    """CreateTags on key pairs: all-or-nothing, overwrites existing values (SPEC §6)."""
    pairs, wanted = _authorized_pairs(call, "ec2:CreateTags")
    if not wanted:
        raise missing("Tag")
    tags = check_tags(wanted)
    with call.lock:
        for pair in pairs:
            new_keys = sum(1 for key in tags if key not in pair.tags)
            check_tags([], existing=len(pair.tags) + new_keys)
        for pair in pairs:
            if call.state.by_id.get(pair.key_pair_id) is pair:
                pair.tags.update(tags)
    return {}


def delete_tags(call: Call) -> Output:
    """DeleteTags on key pairs: a given value must match; no tags means all tags (SPEC §6)."""
    pairs, wanted = _authorized_pairs(call, "ec2:DeleteTags")
    for tag in wanted:
        key = tag.get("Key") or ""
        if key.lower().startswith("aws:"):
            raise invalid("Tag keys starting with 'aws:' are reserved for internal use")
    with call.lock:
        for pair in pairs:
            if not wanted:
                pair.tags.clear()
            for tag in wanted:
                key = tag.get("Key") or ""
                if key in pair.tags and ("Value" not in tag or pair.tags[key] == tag["Value"]):
                    del pair.tags[key]
    return {}


_TAG_FILTERS: dict[str, Callable[[Pair, str, str], str]] = {
    "resource-type": lambda pair, key, value: "key-pair",
    "resource-id": lambda pair, key, value: pair.key_pair_id,
    "key": lambda pair, key, value: key,
    "value": lambda pair, key, value: value,
}


def describe_tags(call: Call) -> Output:
    """DescribeTags for key pairs, with its four filters and MaxResults/NextToken paging."""
    params = call.params
    call.authorize("ec2:DescribeTags", "*", NO_KEYS)
    call.check_dry_run()
    tests: list[tuple[Callable[[Pair, str, str], str], list[Wildcard]]] = []
    for spec in params.get("Filters") or ():
        name = str(spec.get("Name") or "null")
        if name not in _TAG_FILTERS:
            raise invalid(f"The filter '{name}' is invalid")
        tests.append((_TAG_FILTERS[name], [wildcard(v) for v in spec.get("Values") or ()]))
    max_results = params.get("MaxResults")
    if max_results is not None and not 5 <= max_results <= 1000:
        raise invalid(
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            "Expecting a value greater than 5."
            if max_results < 5
            else f"Value ( {max_results} ) for parameter maxResults is invalid. "
            "Expecting a value less than 1000."
        )
    start = _decode_token(params.get("NextToken"))
    with call.lock:
        items = [
            {"ResourceId": pair.key_pair_id, "ResourceType": "key-pair", "Key": k, "Value": v}
            for pair in call.state.by_name.values()
            for k, v in pair.tags.items()
            if all(any(p.fullmatch(get(pair, k, v)) for p in values) for get, values in tests)
        ]
    output: Output = {"Tags": items[start:]}
    if max_results is not None and len(items) > start + max_results:
        output["Tags"] = items[start : start + max_results]
        token = base64.urlsafe_b64encode(f"tags:{start + max_results}".encode()).decode()
        output["NextToken"] = token
    return output


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        kind, _, offset = text.partition(":")
        if kind == "tags" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise EC2Error("InvalidParameterValue", f"Invalid value '{token}' for NextToken.")
