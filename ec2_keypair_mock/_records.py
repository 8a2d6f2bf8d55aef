"""``KeyPairRecord``: the read-only view ``backend.key_pairs()`` and ``add_key_pair`` return.

Kept apart from ``_backend`` so that a process that never asks for records does not pay for the
dataclass (about a millisecond of generated code at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._keys import public_key_line

if TYPE_CHECKING:
    from ._state import Pair

__all__ = ["KeyPairRecord", "record"]


@dataclass(frozen=True)
class KeyPairRecord:
    """A read-only view of one key pair (never private material)."""

    name: str
    key_pair_id: str
    fingerprint: str
    key_type: str
    public_key: str
    """``<alg> <base64> <name>\\n``, exactly as DescribeKeyPairs' ``PublicKey``."""
    create_time: datetime
    tags: Mapping[str, str]
    region: str
    account_id: str


def record(pair: Pair, region: str, account_id: str) -> KeyPairRecord:
    """The record of ``pair`` as it is now (its tags are copied)."""
    return KeyPairRecord(
        name=pair.name,
        key_pair_id=pair.key_pair_id,
        fingerprint=pair.fingerprint,
        key_type=pair.key_type,
        public_key=public_key_line(pair.public_blob, pair.name),
        create_time=pair.create_time,
        tags=MappingProxyType(dict(pair.tags)),
        region=region,
        account_id=account_id,
    )
