"""The EC2 key pair operations, each checking in EC2's order (SPEC §2–§7). Strictly private.

Every operation takes a :class:`~._dispatch.Call` (parsed input, caller, region state,
authorization) and returns the structured output botocore's user would see (without
``ResponseMetadata``), or raises :class:`EC2Error`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._import import KeyFormatInvalid, parse_public_key_material
from ._keys import public_key_line
from ._state import KEY_PAIR_QUOTA, Pair, RegionState
from ._validate import (
    Wildcard,
    check_enum,
    check_key_name,
    check_tags,
    invalid,
    missing,
    tag_specification_tags,
    wildcard,
)
from ._wire import EC2Error

if TYPE_CHECKING:
    from ._dispatch import Call

__all__ = ["OPERATIONS", "pair_output", "served", "serves_tags", "unmocked_message"]

Output = dict[str, Any]

_KEY_PAIR_ID = re.compile(r"key-[0-9a-f]{17}\Z")
# Any EC2 resource id: a lowercase prefix, then 8 or 17 lowercase hex digits (i-…, vol-…, sg-…).
_EC2_ID = re.compile(r"[a-z]+(?:-[a-z]+)*-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")
_MAX_MATERIAL = 2048


def _now() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _duplicate() -> EC2Error:
    return EC2Error("InvalidKeyPair.Duplicate", "The keypair already exists")


def _check_room(state: RegionState, name: str) -> None:
    if name in state.by_name:
        raise _duplicate()
    if len(state.by_name) >= KEY_PAIR_QUOTA:
        raise EC2Error("KeyPairLimitExceeded", f"Maximum of {KEY_PAIR_QUOTA} keypairs reached.")


def _authorize_create(call: Call, action: str, name: str, tags: dict[str, str] | None) -> None:
    """The creation check, plus a second ``ec2:CreateTags`` check when tags are given (§8)."""
    resource = call.key_pair_arn(name)
    request_tags = call.request_tag_context(tags)
    extra: dict[str, Any] = dict(request_tags)
    if action == "ec2:CreateKeyPair":
        extra["ec2:KeyPairType"] = call.params.get("KeyType") or "rsa"
    call.authorize(action, resource, extra)
    if tags:  # a TagSpecification without tags tags nothing: no CreateTags check
        create_action = action.split(":", 1)[1]
        call.authorize(
            "ec2:CreateTags", resource, {**request_tags, "ec2:CreateAction": create_action}
        )


def _raw_tags(call: Call) -> dict[str, str] | None:
    """Tags for the authorization context, before validation (malformed ones are checked later)."""
    specs = call.params.get("TagSpecifications")
    if not specs:
        return None
    return {
        str(tag.get("Key") or ""): str(tag.get("Value") or "")
        for spec in specs
        for tag in spec.get("Tags") or ()
    }


def create_key_pair(call: Call) -> Output:
    """CreateKeyPair: auth → DryRun → required → KeyName → enums → tags → duplicate → quota."""
    params = call.params
    name = params.get("KeyName") or ""
    _authorize_create(call, "ec2:CreateKeyPair", name, _raw_tags(call))
    call.check_dry_run()
    check_key_name(name)
    key_type = params.get("KeyType") or "rsa"
    key_format = params.get("KeyFormat") or "pem"
    check_enum(
        [
            ("keyType", params.get("KeyType"), ("rsa", "ed25519")),
            ("keyFormat", params.get("KeyFormat"), ("ppk", "pem")),
        ]
    )
    tags = tag_specification_tags(params.get("TagSpecifications"))
    with call.lock:
        _check_room(call.state, name)
    # Generate outside the lock: RSA takes tens of milliseconds.
    new = call.new_key(key_type, key_format, name)
    with call.lock:
        state = call.state
        _check_room(state, name)
        pair = Pair(name, state.new_id(), new.fingerprint, key_type, new.public_blob, _now())
        pair.tags = tags or {}
        state.add(pair)
    output: Output = {
        "KeyName": name,
        "KeyFingerprint": new.fingerprint,
        "KeyMaterial": new.material,
        "KeyPairId": pair.key_pair_id,
    }
    if tags:
        output["Tags"] = _tag_list(tags)
    return output


def import_key_pair(call: Call) -> Output:
    """ImportKeyPair: auth → DryRun → KeyName → material present → tags → duplicate → material."""
    params = call.params
    name = params.get("KeyName") or ""
    _authorize_create(call, "ec2:ImportKeyPair", name, _raw_tags(call))
    call.check_dry_run()
    check_key_name(name)
    material: bytes = params.get("PublicKeyMaterial") or b""
    if not material:
        raise missing("PublicKeyMaterial")
    tags = tag_specification_tags(params.get("TagSpecifications"))
    with call.lock:
        if name in call.state.by_name:
            raise _duplicate()  # reported before the material is examined [rec]
    if len(material) > _MAX_MATERIAL:
        raise invalid(
            "Value for parameter PublicKeyMaterial is invalid. Length exceeds maximum of 2048."
        )
    if not material.isascii():
        raise invalid(
            "Value for parameter PublicKeyMaterial is invalid. "
            "Character sets beyond ASCII are not supported."
        )
    try:
        imported = parse_public_key_material(material)
    except KeyFormatInvalid:
        raise EC2Error(
            "InvalidKey.Format", "Key is not in valid OpenSSH public key format"
        ) from None
    with call.lock:
        state = call.state
        _check_room(state, name)
        pair = Pair(
            name,
            state.new_id(),
            imported.fingerprint,
            imported.key_type,
            imported.public_blob,
            _now(),
        )
        pair.tags = tags or {}
        state.add(pair)
    output: Output = {
        "KeyName": name,
        "KeyPairId": pair.key_pair_id,
        "KeyFingerprint": imported.fingerprint,
    }
    if tags:
        output["Tags"] = _tag_list(tags)
    return output


def pair_output(pair: Pair, include_public_key: bool) -> Output:
    """One ``KeyPairInfo`` item as DescribeKeyPairs returns it (SPEC §4)."""
    item: Output = {
        "KeyName": pair.name,
        "KeyPairId": pair.key_pair_id,
        "KeyFingerprint": pair.fingerprint,
        "KeyType": pair.key_type,
        "CreateTime": pair.create_time,
        "Tags": _tag_list(pair.tags),
    }
    if include_public_key:
        item["PublicKey"] = public_key_line(pair.public_blob, pair.name)
    return item


_PAIR_FILTERS: dict[str, Callable[[Pair], Iterable[str]]] = {
    "key-pair-id": lambda pair: (pair.key_pair_id,),
    "fingerprint": lambda pair: (pair.fingerprint,),
    "key-name": lambda pair: (pair.name,),
    "tag-key": lambda pair: pair.tags.keys(),
    "tag-value": lambda pair: pair.tags.values(),
}


def _filter_test(name: str, values: list[Wildcard]) -> Callable[[Pair], bool]:
    """One DescribeKeyPairs filter: true when any of the pair's values matches any pattern."""
    getter = _PAIR_FILTERS.get(name)
    if getter is None:
        if not name.startswith("tag:"):
            raise invalid(f"The filter '{name}' is invalid")
        key = name[4:]

        def getter(pair: Pair) -> Iterable[str]:
            value = pair.tags.get(key)
            return () if value is None else (value,)

    found = getter
    return lambda pair: any(p.fullmatch(v) for v in found(pair) for p in values)


def _matcher(filters: Sequence[Mapping[str, Any]] | None) -> Callable[[Pair], bool]:
    """AND across filters, OR across values; an empty value list matches nothing (SPEC §4)."""
    tests: list[Callable[[Pair], bool]] = []
    for spec in filters or ():
        values = [wildcard(value) for value in spec.get("Values") or ()]
        tests.append(_filter_test(str(spec.get("Name") or "null"), values))
    return lambda pair: all(test(pair) for test in tests)


def describe_key_pairs(call: Call) -> Output:
    """DescribeKeyPairs with its selectors and filters (SPEC §4)."""
    params = call.params
    call.authorize("ec2:DescribeKeyPairs", "*", {})
    call.check_dry_run()
    names: list[str] = params.get("KeyNames") or []
    ids: list[str] = params.get("KeyPairIds") or []
    if names and ids:
        raise EC2Error(
            "InvalidParameterCombination",
            "The parameter 'keyPairId' may not be used in combination with 'keyName'",
        )
    for name in names:
        if not name:
            raise invalid("Invalid value '' for keyPairNames. It should not be blank")
    matches = _matcher(params.get("Filters"))
    with call.lock:
        state = call.state
        if names:
            for name in names:
                if name not in state.by_name:
                    raise EC2Error(
                        "InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist"
                    )
            wanted = set(names)
            selected = [pair for pair in state.by_name.values() if pair.name in wanted]
        elif ids:
            for key_pair_id in ids:
                if key_pair_id not in state.by_id:
                    raise invalid(f"Invalid value '{key_pair_id}' for keyPairId.")
            wanted = set(ids)
            selected = [pair for pair in state.by_name.values() if pair.key_pair_id in wanted]
        else:
            selected = list(state.by_name.values())
        include = bool(params.get("IncludePublicKey"))
        items = [pair_output(pair, include) for pair in selected if matches(pair)]
    return {"KeyPairs": items}


def delete_key_pair(call: Call) -> Output:
    """DeleteKeyPair: idempotent, the id wins over the name (SPEC §5)."""
    params = call.params
    name: str = params.get("KeyName") or ""
    key_pair_id: str = params.get("KeyPairId") or ""
    with call.lock:
        state = call.state
        pair = state.by_id.get(key_pair_id) if key_pair_id else state.by_name.get(name)
        resource_name = pair.name if pair else (name or key_pair_id)
        context = _pair_context(call, pair)
    call.authorize("ec2:DeleteKeyPair", call.key_pair_arn(resource_name), context)
    call.check_dry_run()
    if not name and not key_pair_id:
        raise EC2Error("MissingParameter", "KeyName or KeyPairId must be provided")
    with call.lock:
        state = call.state
        if key_pair_id:
            if not _KEY_PAIR_ID.match(key_pair_id):
                raise invalid("Value for parameter keyPairId is invalid.")
            if key_pair_id not in state.issued_ids:
                raise invalid(f"Invalid value '{key_pair_id}' for keyPairId.")
            pair = state.by_id.get(key_pair_id)
        else:
            pair = state.by_name.get(name)
        if pair is None:
            return {"Return": True}
        state.remove(pair)
    return {"Return": True, "KeyPairId": pair.key_pair_id}


def _pair_context(call: Call, pair: Pair | None) -> dict[str, Any]:
    if pair is None:
        return {}
    context: dict[str, Any] = {"ec2:KeyPairName": pair.name, "ec2:KeyPairType": pair.key_type}
    for key, value in pair.tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        context[f"ec2:ResourceTag/{key}"] = value
    return context


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
        shape = _KEY_PAIR_ID if resource.startswith("key-") else _EC2_ID
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


def create_tags(call: Call) -> Output:
    """CreateTags on key pairs: all-or-nothing, overwrites existing values (SPEC §6)."""
    pairs = _tagged_pairs(call)
    wanted: list[Mapping[str, Any]] = call.params.get("Tags") or []
    raw = {str(t.get("Key") or ""): str(t.get("Value") or "") for t in wanted}
    for pair in pairs:
        call.authorize(
            "ec2:CreateTags",
            call.key_pair_arn(pair.name),
            {**_pair_context(call, pair), **call.request_tag_context(raw)},
        )
    call.check_dry_run()
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
    pairs = _tagged_pairs(call)
    wanted: list[Mapping[str, Any]] = call.params.get("Tags") or []
    raw = {str(t.get("Key") or ""): str(t.get("Value") or "") for t in wanted}
    for pair in pairs:
        call.authorize(
            "ec2:DeleteTags",
            call.key_pair_arn(pair.name),
            {**_pair_context(call, pair), **call.request_tag_context(raw or None)},
        )
    call.check_dry_run()
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
    call.authorize("ec2:DescribeTags", "*", {})
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


OPERATIONS: dict[str, Callable[[Call], Output]] = {
    "CreateKeyPair": create_key_pair,
    "ImportKeyPair": import_key_pair,
    "DescribeKeyPairs": describe_key_pairs,
    "DeleteKeyPair": delete_key_pair,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
"""Every EC2 operation this mock serves, by name."""

_TAG_OPERATIONS = frozenset({"CreateTags", "DeleteTags", "DescribeTags"})


def served(service: str, action: str, params: Mapping[str, str]) -> bool:
    """Whether this mock answers a call (every door asks this one function).

    EC2's key pair operations, the tag operations only when they are about key pairs, and of
    STS only DecodeAuthorizationMessage.
    """
    if service == "sts":
        return action == "DecodeAuthorizationMessage"
    if action not in OPERATIONS:
        return False
    return action not in _TAG_OPERATIONS or serves_tags(action, params)


def unmocked_message(service: str, action: str, region: str) -> str:
    """What strict mode says about an operation this mock does not serve."""
    return (
        f"mock_keypairs does not serve {service}.{action} (region {region}).\n"
        f"Served operations: {', '.join(sorted(OPERATIONS))} (the tag operations for key pair "
        "ids only).\nTo let other EC2 calls reach their normal handlers, use "
        "mock_keypairs(strict=False); see README#strict-mode."
    )
