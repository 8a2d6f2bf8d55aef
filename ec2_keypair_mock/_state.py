"""In-memory EC2 state: account → region → key pairs. Strictly private.

Only public material is kept: AWS does not store a created key pair's private key, and neither
do we (SPEC §9). Every mutation happens under the owning backend's lock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from random import getrandbits
from types import MappingProxyType
from typing import Any

__all__ = [
    "KEY_PAIR_ID",
    "KEY_PAIR_QUOTA",
    "NO_KEYS",
    "Pair",
    "RegionState",
    "new_key_pair_id",
    "now",
    "pair_context",
    "tag_list",
]

KEY_PAIR_QUOTA = 5000  # per account and region (SPEC §7)
KEY_PAIR_ID = re.compile(r"key-[0-9a-f]{17}\Z")
"""A well-formed key pair id: ``key-`` and 17 lowercase hex digits."""


class Pair:
    """One key pair as EC2 keeps it (public data only). Strictly private.

    A plain class: ``@dataclass`` costs import time (it generates and execs its methods).
    Compared by identity.
    """

    __slots__ = (
        "create_time",
        "fingerprint",
        "key_pair_id",
        "key_type",
        "name",
        "public_blob",
        "tags",
    )

    def __init__(
        self,
        name: str,
        key_pair_id: str,
        fingerprint: str,
        key_type: str,
        public_blob: bytes,
        create_time: datetime,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.key_pair_id = key_pair_id
        self.fingerprint = fingerprint
        self.key_type = key_type
        self.public_blob = public_blob
        self.create_time = create_time
        self.tags: dict[str, str] = {} if tags is None else tags

    def __repr__(self) -> str:
        return (
            f"Pair(name={self.name!r}, key_pair_id={self.key_pair_id!r}, "
            f"fingerprint={self.fingerprint!r}, key_type={self.key_type!r}, "
            f"public_blob={self.public_blob!r}, create_time={self.create_time!r}, "
            f"tags={self.tags!r})"
        )


class RegionState:
    """The key pairs of one account in one region, in creation order."""

    __slots__ = ("by_id", "by_name", "issued_ids")

    def __init__(self) -> None:
        self.by_name: dict[str, Pair] = {}
        self.by_id: dict[str, Pair] = {}
        self.issued_ids: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"RegionState(by_name={self.by_name!r}, by_id={self.by_id!r}, "
            f"issued_ids={self.issued_ids!r})"
        )

    def add(self, pair: Pair) -> None:
        """Store ``pair``; the caller has checked name uniqueness and the quota."""
        self.by_name[pair.name] = pair
        self.by_id[pair.key_pair_id] = pair
        self.issued_ids.add(pair.key_pair_id)

    def remove(self, pair: Pair) -> None:
        """Forget ``pair`` and its tags; its id stays issued (deletes stay idempotent)."""
        del self.by_name[pair.name]
        del self.by_id[pair.key_pair_id]

    def new_id(self) -> str:
        """A fresh id, never issued before in this region: ``key-0`` + 16 hex (SPEC §2.3)."""
        while True:
            key_pair_id = new_key_pair_id()
            if key_pair_id not in self.issued_ids:
                return key_pair_id


def new_key_pair_id() -> str:
    """``key-0`` followed by 16 random lowercase hex digits.

    From Python's ``random`` (reseeded in forked children): an id is a label, not a secret, and
    ``secrets`` costs a system call per id; :meth:`RegionState.new_id` rules out repeats.
    """
    return f"key-0{getrandbits(64):016x}"


def now() -> datetime:
    """The current UTC time at EC2's millisecond precision (SPEC §2.3)."""
    current = datetime.now(timezone.utc)
    return current.replace(microsecond=current.microsecond // 1000 * 1000)


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as EC2 lists them: ``[{"Key": ..., "Value": ...}]`` in insertion order."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


NO_KEYS: Mapping[str, Any] = MappingProxyType({})
"""No context keys, no parameters: one shared read-only empty mapping."""


def pair_context(pair: Pair | None) -> Mapping[str, Any]:
    """The IAM context keys an existing pair contributes (SPEC §8: name, type, its tags).

    A new mapping per pair (a snapshot: the call log keeps it); no pair, no keys.
    """
    if pair is None:
        return NO_KEYS
    context: dict[str, Any] = {"ec2:KeyPairName": pair.name, "ec2:KeyPairType": pair.key_type}
    for key, value in pair.tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        context[f"ec2:ResourceTag/{key}"] = value
    return context
