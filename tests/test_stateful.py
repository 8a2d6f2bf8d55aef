"""A Hypothesis state machine checks the key pair API against a plain dict model.

Random sequences of create (Ed25519, for speed), import, describe, delete and tag calls run
through real boto3 clients in two regions; after every step the mock must agree with a model
that is nothing more than ``{region: {name: pair}}`` plus each region's deleted ids.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ec2_keypair_mock import KeyPairsBackend, KeyPairsMock, mock_keypairs

REGIONS = ("us-east-1", "eu-west-1")
NAMES = ("web", "db", "ci", "a b")
TAG_KEYS = ("env", "team", "Name")
NEVER_ISSUED = "key-0123456789abcdef0"


@dataclass
class Pair:
    """What the model knows about one pair."""

    key_pair_id: str
    fingerprint: str
    key_type: str
    tags: dict[str, str] = field(default_factory=dict)
    blob: str | None = None  # base64 SSH blob, known for imported pairs


@dataclass(frozen=True)
class PublicKey:
    """An importable public key and the fingerprint EC2 gives it (computed independently)."""

    line: bytes
    fingerprint: str
    key_type: str


def _public_keys() -> list[PublicKey]:
    keys = []
    for _ in range(2):
        public = ed25519.Ed25519PrivateKey.generate().public_key()
        line = public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
        blob = base64.b64decode(line.split()[1])
        fingerprint = base64.b64encode(hashlib.sha256(blob).digest()).decode()
        keys.append(PublicKey(line + b" user@host\n", fingerprint, "ed25519"))
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    spki = rsa_public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    md5 = hashlib.md5(spki).hexdigest()
    keys.append(
        PublicKey(
            rsa_public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH),
            ":".join(md5[i : i + 2] for i in range(0, 32, 2)),
            "rsa",
        )
    )
    return keys


PUBLIC_KEYS = _public_keys()

regions = st.sampled_from(REGIONS)
names = st.sampled_from(NAMES)
tag_maps = st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(["", "x", "Y"]), max_size=3)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _spec(tags: dict[str, str]) -> dict[str, Any]:
    return (
        {"TagSpecifications": [{"ResourceType": "key-pair", "Tags": _tag_list(tags)}]}
        if tags
        else {}
    )


def _error(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"]
    pytest.fail(f"{call.__name__}({kwargs}) succeeded; the model expected an error")


class KeyPairMachine(RuleBasedStateMachine):
    """The mock, driven through boto3, against ``{region: {name: Pair}}``."""

    # Set by the test and shared by every example: creating clients costs ~0.1 s each.
    clients: ClassVar[dict[str, BaseClient]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.mock: KeyPairsMock = mock_keypairs()
        self.backend: KeyPairsBackend = self.mock.start()
        self.model: dict[str, dict[str, Pair]] = {region: {} for region in REGIONS}
        self.deleted: dict[str, list[str]] = {region: [] for region in REGIONS}

    def teardown(self) -> None:
        self.mock.stop()

    # -- creating -------------------------------------------------------------------------

    @rule(region=regions, name=names, tags=tag_maps)
    def create(self, region: str, name: str, tags: dict[str, str]) -> None:
        ec2 = self.clients[region]
        pairs = self.model[region]
        if name in pairs:
            assert _error(ec2.create_key_pair, KeyName=name, KeyType="ed25519", **_spec(tags)) == (
                "InvalidKeyPair.Duplicate",
                "The keypair already exists",
            )
            return
        response = ec2.create_key_pair(KeyName=name, KeyType="ed25519", **_spec(tags))
        assert response["KeyName"] == name
        assert response.get("Tags", []) == _tag_list(tags)
        pairs[name] = Pair(response["KeyPairId"], response["KeyFingerprint"], "ed25519", tags)

    @rule(region=regions, name=names, key=st.sampled_from(PUBLIC_KEYS), tags=tag_maps)
    def import_(self, region: str, name: str, key: PublicKey, tags: dict[str, str]) -> None:
        ec2 = self.clients[region]
        pairs = self.model[region]
        kwargs = {"KeyName": name, "PublicKeyMaterial": key.line, **_spec(tags)}
        if name in pairs:
            assert _error(ec2.import_key_pair, **kwargs) == (
                "InvalidKeyPair.Duplicate",
                "The keypair already exists",
            )
            return
        response = ec2.import_key_pair(**kwargs)
        assert response["KeyFingerprint"] == key.fingerprint
        assert response.get("Tags", []) == _tag_list(tags)
        blob = key.line.split()[1].decode()
        pairs[name] = Pair(response["KeyPairId"], key.fingerprint, key.key_type, tags, blob)

    # -- deleting -------------------------------------------------------------------------

    @rule(region=regions, name=names)
    def delete_by_name(self, region: str, name: str) -> None:
        response = self.clients[region].delete_key_pair(KeyName=name)
        assert response["Return"] is True
        pair = self.model[region].pop(name, None)
        if pair is None:
            assert "KeyPairId" not in response
        else:
            assert response["KeyPairId"] == pair.key_pair_id
            self.deleted[region].append(pair.key_pair_id)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), name=names)
    def delete_by_id(self, data: st.DataObject, name: str) -> None:
        """By id, with a (possibly different) name alongside: the id wins."""
        region = data.draw(st.sampled_from([r for r in REGIONS if self.model[r]]))
        victim = data.draw(st.sampled_from(sorted(self.model[region])))
        key_pair_id = self.model[region][victim].key_pair_id
        response = self.clients[region].delete_key_pair(KeyPairId=key_pair_id, KeyName=name)
        assert response["KeyPairId"] == key_pair_id
        del self.model[region][victim]
        self.deleted[region].append(key_pair_id)

    @precondition(lambda self: any(self.deleted.values()))
    @rule(data=st.data())
    def delete_deleted_id(self, data: st.DataObject) -> None:
        region = data.draw(st.sampled_from([r for r in REGIONS if self.deleted[r]]))
        key_pair_id = data.draw(st.sampled_from(self.deleted[region]))
        response = self.clients[region].delete_key_pair(KeyPairId=key_pair_id)
        assert response["Return"] is True
        assert "KeyPairId" not in response

    @rule(region=regions)
    def delete_never_issued_id(self, region: str) -> None:
        assert _error(self.clients[region].delete_key_pair, KeyPairId=NEVER_ISSUED) == (
            "InvalidParameterValue",
            f"Invalid value '{NEVER_ISSUED}' for keyPairId.",
        )

    # -- tags -----------------------------------------------------------------------------

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), tags=tag_maps.filter(bool))
    def create_tags(self, data: st.DataObject, tags: dict[str, str]) -> None:
        region = data.draw(st.sampled_from([r for r in REGIONS if self.model[r]]))
        name = data.draw(st.sampled_from(sorted(self.model[region])))
        pair = self.model[region][name]
        self.clients[region].create_tags(Resources=[pair.key_pair_id], Tags=_tag_list(tags))
        pair.tags.update(tags)

    @precondition(lambda self: any(self.model.values()))
    @rule(
        data=st.data(),
        keys=st.lists(
            st.tuples(st.sampled_from(TAG_KEYS), st.none() | st.sampled_from(["", "x"])),
            max_size=3,
        ),
    )
    def delete_tags(self, data: st.DataObject, keys: list[tuple[str, str | None]]) -> None:
        region = data.draw(st.sampled_from([r for r in REGIONS if self.model[r]]))
        name = data.draw(st.sampled_from(sorted(self.model[region])))
        pair = self.model[region][name]
        wanted = [{"Key": k} if v is None else {"Key": k, "Value": v} for k, v in keys]
        self.clients[region].delete_tags(Resources=[pair.key_pair_id], Tags=wanted)
        if not wanted:
            pair.tags.clear()
        for key, value in keys:
            if key in pair.tags and (value is None or pair.tags[key] == value):
                del pair.tags[key]

    # -- reading --------------------------------------------------------------------------

    @rule(region=regions, wanted=st.lists(names, max_size=3))
    def describe_by_names(self, region: str, wanted: list[str]) -> None:
        ec2 = self.clients[region]
        pairs = self.model[region]
        missing = [name for name in wanted if name not in pairs]
        if missing:
            assert _error(ec2.describe_key_pairs, KeyNames=wanted) == (
                "InvalidKeyPair.NotFound",
                f"The key pair '{missing[0]}' does not exist",
            )
            return
        response = ec2.describe_key_pairs(KeyNames=wanted)
        expected = [name for name in pairs if name in wanted] if wanted else list(pairs)
        assert [p["KeyName"] for p in response["KeyPairs"]] == expected

    @rule(region=regions, tag_key=st.sampled_from(TAG_KEYS))
    def describe_by_tag_filter(self, region: str, tag_key: str) -> None:
        response = self.clients[region].describe_key_pairs(
            Filters=[{"Name": "tag-key", "Values": [tag_key]}]
        )
        expected = [name for name, pair in self.model[region].items() if tag_key in pair.tags]
        assert [p["KeyName"] for p in response["KeyPairs"]] == expected

    @rule(region=regions)
    def describe_tags(self, region: str) -> None:
        response = self.clients[region].describe_tags(
            Filters=[{"Name": "resource-type", "Values": ["key-pair"]}]
        )
        expected = [
            {"ResourceId": pair.key_pair_id, "ResourceType": "key-pair", "Key": k, "Value": v}
            for pair in self.model[region].values()
            for k, v in pair.tags.items()
        ]
        assert response["Tags"] == expected

    @invariant()
    def describe_matches_model(self) -> None:
        """Every region's DescribeKeyPairs (and the backend's records) equal the model."""
        for region in REGIONS:
            items = self.clients[region].describe_key_pairs(IncludePublicKey=True)["KeyPairs"]
            pairs = self.model[region]
            assert [item["KeyName"] for item in items] == list(pairs)
            for item in items:
                pair = pairs[item["KeyName"]]
                assert item["KeyPairId"] == pair.key_pair_id
                assert item["KeyFingerprint"] == pair.fingerprint
                assert item["KeyType"] == pair.key_type
                assert item["Tags"] == _tag_list(pair.tags)
                assert item["PublicKey"].endswith(f" {item['KeyName']}\n")
                if pair.blob is not None:
                    assert item["PublicKey"].split(" ")[1] == pair.blob
            records = self.backend.key_pairs(region=region)
            assert [(r.name, r.key_pair_id, dict(r.tags)) for r in records] == [
                (name, pair.key_pair_id, pair.tags) for name, pair in pairs.items()
            ]


def test_key_pair_api_agrees_with_a_dict_model() -> None:
    """No sequence of calls makes the mock diverge from the dict model."""
    KeyPairMachine.clients = {r: boto3.client("ec2", region_name=r) for r in REGIONS}
    try:
        run_state_machine_as_test(
            KeyPairMachine,
            settings=settings(
                max_examples=30,
                stateful_step_count=20,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        KeyPairMachine.clients = {}


def test_concurrent_creates_of_one_name_make_one_pair() -> None:
    """Eight threads creating the same name: exactly one succeeds, the rest are Duplicate."""
    with mock_keypairs() as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        barrier = threading.Barrier(8)

        def create(_: int) -> str:
            barrier.wait()
            try:
                return str(ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")["KeyPairId"])
            except ClientError as error:
                return str(error.response["Error"]["Code"])

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(create, range(8)))
        [record] = backend.key_pairs()
    assert sorted(results) == sorted([record.key_pair_id] + ["InvalidKeyPair.Duplicate"] * 7)


def test_concurrent_creates_of_many_names_keep_every_pair() -> None:
    """Threads creating and tagging distinct names concurrently lose nothing."""
    with mock_keypairs() as backend:
        ec2 = boto3.client("ec2", region_name="us-east-1")

        def create(i: int) -> str:
            key_pair_id = str(
                ec2.create_key_pair(KeyName=f"key-{i}", KeyType="ed25519")["KeyPairId"]
            )
            ec2.create_tags(Resources=[key_pair_id], Tags=[{"Key": "n", "Value": str(i)}])
            return key_pair_id

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, range(40)))
        records = backend.key_pairs()
    assert len(set(ids)) == 40
    assert sorted((r.key_pair_id, dict(r.tags)["n"]) for r in records) == sorted(
        (key_pair_id, str(i)) for i, key_pair_id in enumerate(ids)
    )
