"""The EC2 key pair operations, each checking in EC2's order (SPEC §2–§7). Strictly private.

Every operation takes a :class:`~._dispatch.Call` (parsed input, caller, region state,
authorization) and returns the structured output botocore's user would see (without
``ResponseMetadata``), or raises :class:`EC2Error`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._keys import public_key_line
from ._state import (
    KEY_PAIR_ID,
    KEY_PAIR_QUOTA,
    NO_KEYS,
    Pair,
    RegionState,
    now,
    pair_context,
    tag_list,
)
from ._tag_ops import create_tags, delete_tags, describe_tags, serves_tags
from ._validate import (
    Wildcard,
    check_enum,
    check_key_name,
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

_MAX_MATERIAL = 2048


def _duplicate() -> EC2Error:
    return EC2Error("InvalidKeyPair.Duplicate", "The keypair already exists")


def _check_room(state: RegionState, name: str) -> None:
    if name in state.by_name:
        raise _duplicate()
    if len(state.by_name) >= KEY_PAIR_QUOTA:
        raise EC2Error("KeyPairLimitExceeded", f"Maximum of {KEY_PAIR_QUOTA} keypairs reached.")


# A check's own context keys (SPEC §8), shared by every call that has them: the call log keeps
# each check's context, so the common ones are not rebuilt per call. Never changed.
_KEY_PAIR_TYPE: dict[str, Mapping[str, Any]] = {
    key_type: {"ec2:KeyPairType": key_type} for key_type in ("rsa", "ed25519")
}
_CREATE_ACTION: dict[str, Mapping[str, Any]] = {
    action: {"ec2:CreateAction": action.split(":", 1)[1]}
    for action in ("ec2:CreateKeyPair", "ec2:ImportKeyPair")
}


def _authorize_create(call: Call, action: str, name: str, tags: dict[str, str] | None) -> None:
    """The creation check, plus a second ``ec2:CreateTags`` check when tags are given (§8)."""
    resource = call.key_pair_arn(name)
    tag_keys = call.request_tags(tags)
    own = NO_KEYS
    if action == "ec2:CreateKeyPair":
        key_type = call.params.get("KeyType") or "rsa"  # authorized before it is validated
        own = _KEY_PAIR_TYPE.get(key_type) or {"ec2:KeyPairType": key_type}
    call.authorize(action, resource, own, tag_keys)
    if tags:  # a TagSpecification without tags tags nothing: no CreateTags check
        call.authorize("ec2:CreateTags", resource, _CREATE_ACTION[action], tag_keys)


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
        pair = Pair(name, state.new_id(), new.fingerprint, key_type, new.public_blob, now())
        pair.tags = tags or {}
        state.add(pair)
    output: Output = {
        "KeyName": name,
        "KeyFingerprint": new.fingerprint,
        "KeyMaterial": new.material,
        "KeyPairId": pair.key_pair_id,
    }
    if tags:
        output["Tags"] = tag_list(tags)
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
    from ._import import KeyFormatInvalid, parse_public_key_material  # ImportKeyPair only

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
            now(),
        )
        pair.tags = tags or {}
        state.add(pair)
    output: Output = {
        "KeyName": name,
        "KeyPairId": pair.key_pair_id,
        "KeyFingerprint": imported.fingerprint,
    }
    if tags:
        output["Tags"] = tag_list(tags)
    return output


def pair_output(pair: Pair, include_public_key: bool) -> Output:
    """One ``KeyPairInfo`` item as DescribeKeyPairs returns it (SPEC §4)."""
    item: Output = {
        "KeyName": pair.name,
        "KeyPairId": pair.key_pair_id,
        "KeyFingerprint": pair.fingerprint,
        "KeyType": pair.key_type,
        "CreateTime": pair.create_time,
        "Tags": tag_list(pair.tags),
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
    call.authorize("ec2:DescribeKeyPairs", "*", NO_KEYS)
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
        context = pair_context(pair)
    call.authorize("ec2:DeleteKeyPair", call.key_pair_arn(resource_name), context)
    call.check_dry_run()
    if not name and not key_pair_id:
        raise EC2Error("MissingParameter", "KeyName or KeyPairId must be provided")
    with call.lock:
        state = call.state
        if key_pair_id:
            if not KEY_PAIR_ID.match(key_pair_id):
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
