"""The backend handle: read-only records, reset, the call log, seeding, and the raw wire.

``with mock_keypairs() as backend`` gives the handle. These tests prove what a test author
relies on: ``backend.key_pairs()`` never exposes private material and cannot be mutated,
``backend.calls`` records every call with key material redacted, ``backend.add_key_pair``
seeds pairs boto3 then sees, and ``backend.dispatch`` answers with the element order SPEC
§2–§6 records, validated against botocore's output shapes.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.validate import validate_parameters

from ec2_keypair_mock import CallRecord, KeyPairRecord, KeyPairsBackend
from ec2_keypair_mock._model import operation_model
from ec2_keypair_mock._wire import WireRequest, WireResponse
from tests.helpers import assert_client_error
from tests.helpers_tools import run_ok

ACCOUNT = "123456789012"
DEFAULT_ARN = f"arn:aws:iam::{ACCOUNT}:user/mock-user"
OTHER_ACCOUNT = "210987654321"


@pytest.fixture(scope="module")
def ed_line(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An Ed25519 public key line from ssh-keygen, with the comment `alice@laptop`."""
    work = tmp_path_factory.mktemp("handle-keys")
    run_ok(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f", "ed"],
        cwd=work,
    )
    return (work / "ed.pub").read_text()


def _fingerprint(line: str, work: Path) -> str:
    (work / "k.pub").write_text(line)
    listing = run_ok(["ssh-keygen", "-lf", "k.pub"], cwd=work).decode().split()[1]
    return listing.removeprefix("SHA256:") + "="


# --------------------------------------------------------------------------- key_pairs()


def test_records_describe_each_pair(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """A record: name, id, fingerprint, type, public key, create time, tags, region, account."""
    created = ec2.create_key_pair(
        KeyName="deploy",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    [described] = ec2.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]
    [record] = backend.key_pairs(region="us-east-1")
    assert isinstance(record, KeyPairRecord)
    assert {f.name for f in dataclasses.fields(record)} == {
        "name",
        "key_pair_id",
        "fingerprint",
        "key_type",
        "public_key",
        "create_time",
        "tags",
        "region",
        "account_id",
    }
    assert record.name == "deploy"
    assert record.key_pair_id == created["KeyPairId"]
    assert record.fingerprint == created["KeyFingerprint"]
    assert record.key_type == "ed25519"
    assert record.public_key == described["PublicKey"]
    assert record.create_time == described["CreateTime"]
    assert dict(record.tags) == {"team": "a"}
    assert (record.region, record.account_id) == ("us-east-1", ACCOUNT)


def test_records_hold_no_private_material(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Nothing in a record (or the call log) contains the private key CreateKeyPair returned."""
    material = ec2.create_key_pair(KeyName="deploy", KeyFormat="ppk")["KeyMaterial"]
    private_line = material.splitlines()[-2]  # a Private-Lines base64 line
    text = repr(backend.key_pairs()) + repr(backend.calls)
    assert private_line not in text
    assert "PRIVATE" not in text
    assert "Private-" not in text


def test_records_are_read_only_snapshots(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Records are frozen, their tags cannot be changed, and later calls do not alter them."""
    ec2.create_key_pair(
        KeyName="deploy",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    [record] = backend.key_pairs()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "other"  # type: ignore[misc]  # proving the dataclass is frozen
    with pytest.raises(TypeError):
        record.tags["team"] = "b"  # type: ignore[index]  # proving the mapping is read-only
    ec2.create_tags(Resources=[record.key_pair_id], Tags=[{"Key": "team", "Value": "b"}])
    ec2.delete_key_pair(KeyName="deploy")
    assert dict(record.tags) == {"team": "a"}
    assert backend.key_pairs() == []


def test_records_by_region_and_account(backend: KeyPairsBackend) -> None:
    """`region` and `account_id` select; None means the activation's account."""
    boto3.client("ec2", region_name="eu-west-1").create_key_pair(KeyName="eu", KeyType="ed25519")
    ops = backend.create_principal("ops", account_id=OTHER_ACCOUNT)
    boto3.client(
        "ec2",
        region_name="eu-west-1",
        aws_access_key_id=ops.access_key_id,
        aws_secret_access_key=ops.secret_access_key,
    ).create_key_pair(KeyName="ops-key", KeyType="ed25519")
    assert backend.key_pairs() == []
    assert [r.name for r in backend.key_pairs(region="eu-west-1")] == ["eu"]
    assert [r.name for r in backend.key_pairs(region="eu-west-1", account_id=None)] == ["eu"]
    [other] = backend.key_pairs(region="eu-west-1", account_id=OTHER_ACCOUNT)
    assert (other.name, other.account_id, other.region) == ("ops-key", OTHER_ACCOUNT, "eu-west-1")


# --------------------------------------------------------------------------- reset()


def test_reset_forgets_pairs_and_calls_but_keeps_policies(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """reset() empties every region and the call log; the policy set before stays in force."""
    east_id = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")["KeyPairId"]
    boto3.client("ec2", region_name="eu-west-1").create_key_pair(KeyName="eu", KeyType="ed25519")
    backend.policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ec2:DescribeKeyPairs", "Resource": "*"},
        ],
    }
    backend.reset()
    assert backend.key_pairs() == []
    assert backend.key_pairs(region="eu-west-1") == []
    assert backend.calls == []
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_key_pairs()
    assert_client_error(
        excinfo,
        "UnauthorizedOperation",
        f"You are not authorized to perform this operation. User: {DEFAULT_ARN} is not "
        "authorized to perform: ec2:DescribeKeyPairs with an explicit deny in an "
        "identity-based policy",
        403,
    )
    backend.policy = None
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")  # the name is free again
    # Everything is forgotten, issued ids included: the old id is now a never-issued one.
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_key_pair(KeyPairId=east_id)
    assert_client_error(
        excinfo, "InvalidParameterValue", f"Invalid value '{east_id}' for keyPairId."
    )


# --------------------------------------------------------------------------- calls


def test_call_log_records_each_call(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Each call: operation, region, account, caller ARN, params, status, error code, request id."""
    created = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    with pytest.raises(ClientError):
        ec2.describe_key_pairs(KeyNames=["nope"])
    boto3.client("ec2", region_name="eu-west-1").describe_key_pairs()
    first, second, third = backend.calls
    assert isinstance(first, CallRecord)
    assert (first.operation, first.region, first.account_id, first.caller_arn) == (
        "CreateKeyPair",
        "us-east-1",
        ACCOUNT,
        DEFAULT_ARN,
    )
    assert first.params == {"KeyName": "deploy", "KeyType": "ed25519"}
    assert (first.status, first.error_code, first.dry_run) == (200, None, False)
    assert first.request_id == created["ResponseMetadata"]["RequestId"]
    assert (second.operation, second.status, second.error_code) == (
        "DescribeKeyPairs",
        400,
        "InvalidKeyPair.NotFound",
    )
    assert second.params == {"KeyNames": ["nope"]}
    assert (third.operation, third.region, third.params) == ("DescribeKeyPairs", "eu-west-1", {})


def test_call_log_redacts_key_material(
    ec2: BaseClient, backend: KeyPairsBackend, ed_line: str
) -> None:
    """ImportKeyPair's PublicKeyMaterial is logged as "<redacted>", on success and on error."""
    ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=ed_line.encode())
    with pytest.raises(ClientError):
        ec2.import_key_pair(KeyName="bad", PublicKeyMaterial=b"garbage")
    ok, failed = backend.calls
    assert ok.params == {"KeyName": "laptop", "PublicKeyMaterial": "<redacted>"}
    assert (ok.status, ok.error_code) == (200, None)
    assert failed.params == {"KeyName": "bad", "PublicKeyMaterial": "<redacted>"}
    assert (failed.status, failed.error_code) == (400, "InvalidKey.Format")
    blob = ed_line.split()[1]
    assert blob not in repr(backend.calls)
    assert base64.b64encode(ed_line.encode()).decode()[:40] not in repr(backend.calls)


def test_call_log_names_the_principal(backend: KeyPairsBackend) -> None:
    """Calls signed with a principal's keys are logged with its ARN and account."""
    ops = backend.create_principal("ops", account_id=OTHER_ACCOUNT)
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id=ops.access_key_id,
        aws_secret_access_key=ops.secret_access_key,
    )
    ec2.describe_key_pairs()
    [call] = backend.calls
    assert (call.caller_arn, call.account_id) == (
        f"arn:aws:iam::{OTHER_ACCOUNT}:user/ops",
        OTHER_ACCOUNT,
    )


def test_call_log_shows_a_dry_run_before_the_real_call(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """Example: prove that code under test checked permission with DryRun before deleting."""

    def delete_if_allowed(client: BaseClient, name: str) -> None:
        try:
            client.delete_key_pair(KeyName=name, DryRun=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "DryRunOperation":
                raise
        client.delete_key_pair(KeyName=name)

    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    delete_if_allowed(ec2, "deploy")
    deletes = [c for c in backend.calls if c.operation == "DeleteKeyPair"]
    assert [(c.dry_run, c.status, c.error_code) for c in deletes] == [
        (True, 412, "DryRunOperation"),
        (False, 200, None),
    ]
    assert deletes[0].params == {"KeyName": "deploy", "DryRun": True}


def test_calls_is_a_snapshot(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """`backend.calls` is a copy: changing it does not change the log; records are frozen."""
    ec2.describe_key_pairs()
    calls = backend.calls
    calls.clear()
    [call] = backend.calls
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.status = 500  # type: ignore[misc]  # proving the dataclass is frozen


def test_call_log_keeps_nested_params_exactly(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Lists, nested structures, booleans and integers read back as the caller passed them,
    however often they are read; records compare equal across snapshots and show params."""
    specs = [
        {
            "ResourceType": "key-pair",
            "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": ""}],
        }
    ]
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519", TagSpecifications=specs)
    ec2.describe_key_pairs(
        Filters=[{"Name": "tag:team", "Values": ["blue", "gr*"]}], IncludePublicKey=True
    )
    ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["key-pair"]}], MaxResults=5)
    create, describe, tags = backend.calls
    expected = {"KeyName": "deploy", "KeyType": "ed25519", "TagSpecifications": specs}
    assert create.params == expected
    assert create.params == expected  # a second read gives the same
    assert describe.params == {
        "Filters": [{"Name": "tag:team", "Values": ["blue", "gr*"]}],
        "IncludePublicKey": True,
    }
    assert tags.params == {
        "Filters": [{"Name": "resource-type", "Values": ["key-pair"]}],
        "MaxResults": 5,
    }
    assert backend.calls == [create, describe, tags]
    assert copy.copy(create) == create  # as with the dataclass it replaced
    assert create != describe
    assert "'TagSpecifications': [{'ResourceType': 'key-pair'" in repr(create)
    with pytest.raises(TypeError):
        create.params["KeyName"] = "other"  # type: ignore[index]  # proving it is read-only
    with pytest.raises(TypeError):
        create.decision.context["aws:TagKeys"] = []  # type: ignore[index, union-attr]


def test_call_log_decision_is_the_denied_check(backend: KeyPairsBackend) -> None:
    """A tagged create allowed to create but not to tag: the log's decision is the denial."""
    backend.policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:CreateKeyPair", "Resource": "*"}],
    }
    ec2 = boto3.client("ec2", region_name="us-east-1")
    with pytest.raises(ClientError):
        ec2.create_key_pair(
            KeyName="deploy",
            TagSpecifications=[
                {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}
            ],
        )
    [record] = backend.calls
    allowed, denied = record.decisions
    assert (allowed.outcome, denied.outcome) == ("allowed", "implicitDeny")
    assert record.decision is denied
    assert denied.action == "ec2:CreateTags"


# --------------------------------------------------------------------------- add_key_pair()


def test_add_generated_pair(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """add_key_pair without a key: a fresh pair of `key_type`, visible to boto3, not logged."""
    record = backend.add_key_pair("seeded", key_type="ed25519", tags={"team": "a"})
    assert backend.key_pairs() == [record]
    assert backend.calls == []
    [item] = ec2.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]
    assert item["KeyName"] == "seeded"
    assert item["KeyPairId"] == record.key_pair_id
    assert re.fullmatch(r"key-0[0-9a-f]{16}", record.key_pair_id)
    assert item["KeyFingerprint"] == record.fingerprint
    assert item["KeyType"] == "ed25519"
    assert item["PublicKey"] == record.public_key
    assert item["Tags"] == [{"Key": "team", "Value": "a"}]
    assert item["CreateTime"] == record.create_time


def test_add_generated_rsa_by_default(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """The default key type is rsa, with the created-RSA (SHA-1, 59 characters) fingerprint."""
    record = backend.add_key_pair("seeded")
    assert record.key_type == "rsa"
    assert re.fullmatch(r"([0-9a-f]{2}:){19}[0-9a-f]{2}", record.fingerprint)


def test_add_imported_pair(backend: KeyPairsBackend, ed_line: str, tmp_path: Path) -> None:
    """With `public_key` (str or bytes) the pair is as if imported, in any region and account."""
    record = backend.add_key_pair(
        "laptop", ed_line, region="eu-west-1", account_id=OTHER_ACCOUNT, tags={"a": "b"}
    )
    assert record.fingerprint == _fingerprint(ed_line, tmp_path)
    assert record.key_type == "ed25519"
    assert record.public_key == " ".join(ed_line.split()[:2]) + " laptop\n"
    assert (record.region, record.account_id) == ("eu-west-1", OTHER_ACCOUNT)
    assert backend.key_pairs(region="eu-west-1") == []
    assert backend.key_pairs(region="eu-west-1", account_id=OTHER_ACCOUNT) == [record]
    again = backend.add_key_pair("laptop", ed_line.encode(), region="eu-west-1")
    assert again.fingerprint == record.fingerprint


def test_seeded_pair_behaves_like_any_other(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Seeded pairs can be tagged, collide with names and be deleted through boto3."""
    record = backend.add_key_pair("seeded", key_type="ed25519")
    ec2.create_tags(Resources=[record.key_pair_id], Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="seeded", KeyType="ed25519")
    assert_client_error(excinfo, "InvalidKeyPair.Duplicate", "The keypair already exists")
    assert ec2.delete_key_pair(KeyName="seeded")["KeyPairId"] == record.key_pair_id


def test_add_ignores_the_policy(backend: KeyPairsBackend) -> None:
    """Seeding is not a call: a deny-everything policy does not stop it."""
    backend.policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    backend.add_key_pair("seeded", key_type="ed25519")
    assert [r.name for r in backend.key_pairs()] == ["seeded"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("",), {}, "The request must contain the parameter KeyName"),
        ((" x",), {}, "Invalid value ' x' for keyName. It should be trimmed"),
        (
            ("k" * 256,),
            {},
            "Value for parameter KeyName is invalid. Length exceeds maximum of 255.",
        ),
        (
            ("taken",),
            {},
            f"A key pair named 'taken' already exists in {ACCOUNT}/us-east-1.",
        ),
        (
            ("k", "ssh-dss AAAA"),
            {},
            "public_key is not in a format ImportKeyPair accepts (OpenSSH, RFC 4716, DER).",
        ),
        (
            ("k", "ssh-ed25519 café"),
            {},
            "public_key is not in a format ImportKeyPair accepts (OpenSSH, RFC 4716, DER).",
        ),
        (
            ("k",),
            {"tags": {"aws:x": "y"}},
            "Tag keys starting with 'aws:' are reserved for internal use",
        ),
        (
            ("k",),
            {"tags": {f"k{i}": "v" for i in range(51)}},
            "The maximum number of tags for a resource has been reached.",
        ),
        (("k",), {"key_type": "dsa"}, "Key type must be 'rsa' or 'ed25519', not 'dsa'."),
        (
            ("k", "ssh-ed25519 " + "A" * 2037),
            {},
            "public_key is longer than the 2048 bytes ImportKeyPair accepts.",
        ),
    ],
)
def test_add_invalid_input_raises_value_error(
    backend: KeyPairsBackend, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    """Invalid seeding input raises ValueError with a sentence; nothing is added."""
    backend.add_key_pair("taken", key_type="ed25519")
    with pytest.raises(ValueError, match=r"^" + re.escape(message) + r"$"):
        backend.add_key_pair(*args, **kwargs)
    assert [r.name for r in backend.key_pairs()] == ["taken"]


# --------------------------------------------------------------------------- dispatch(): raw wire

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


def _wire(backend: KeyPairsBackend, action: str, params: Mapping[str, str]) -> ET.Element:
    """Dispatch a raw Query request; check the envelope and botocore's output shape."""
    response: WireResponse = backend.dispatch(WireRequest(action, params, "us-east-1"))
    assert response.status == 200, response.body
    request_id = response.request_id
    assert _UUID.fullmatch(request_id)
    assert response.headers == {
        "Content-Type": "text/xml;charset=UTF-8",
        "x-amzn-requestid": request_id,
        "Server": "AmazonEC2",
    }
    assert response.body.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<'
        + action.encode()
        + b'Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>'
        + request_id.encode()
        + b"</requestId>"
    )
    model = operation_model("ec2", action)
    parsed = create_parser("ec2").parse(
        {"body": response.body, "headers": {}, "status_code": 200}, model.output_shape
    )
    parsed.pop("ResponseMetadata", None)
    if model.output_shape is not None:
        validate_parameters(parsed, model.output_shape)
    return ET.fromstring(response.body)


def _children(element: ET.Element | None) -> list[str]:
    assert element is not None
    return [child.tag.removeprefix(_NS) for child in element]


def _find(element: ET.Element, path: str) -> ET.Element:
    found = element.find("/".join(_NS + part for part in path.split("/")))
    assert found is not None, path
    return found


_TAG_SPEC = {
    "TagSpecification.1.ResourceType": "key-pair",
    "TagSpecification.1.Tag.1.Key": "team",
    "TagSpecification.1.Tag.1.Value": "blue",
}


def test_wire_create_key_pair(backend: KeyPairsBackend) -> None:
    """CreateKeyPair: requestId, keyName, keyFingerprint, keyMaterial, keyPairId[, tagSet]."""
    plain = _wire(backend, "CreateKeyPair", {"KeyName": "a", "KeyType": "ed25519"})
    assert _children(plain) == [
        "requestId",
        "keyName",
        "keyFingerprint",
        "keyMaterial",
        "keyPairId",
    ]
    tagged = _wire(backend, "CreateKeyPair", {"KeyName": "b", "KeyType": "ed25519", **_TAG_SPEC})
    assert _children(tagged) == [
        "requestId",
        "keyName",
        "keyFingerprint",
        "keyMaterial",
        "keyPairId",
        "tagSet",
    ]
    assert _children(_find(tagged, "tagSet/item")) == ["key", "value"]


def test_wire_import_key_pair(backend: KeyPairsBackend, ed_line: str) -> None:
    """ImportKeyPair: requestId, keyName, keyPairId, keyFingerprint[, tagSet]."""
    material = base64.b64encode(ed_line.encode()).decode()
    plain = _wire(backend, "ImportKeyPair", {"KeyName": "a", "PublicKeyMaterial": material})
    assert _children(plain) == ["requestId", "keyName", "keyPairId", "keyFingerprint"]
    tagged = _wire(
        backend, "ImportKeyPair", {"KeyName": "b", "PublicKeyMaterial": material, **_TAG_SPEC}
    )
    assert _children(tagged) == ["requestId", "keyName", "keyPairId", "keyFingerprint", "tagSet"]


def test_wire_describe_key_pairs(backend: KeyPairsBackend) -> None:
    """DescribeKeyPairs: `<keySet/>` when empty; item order with publicKey, `<tagSet/>`."""
    response = backend.dispatch(WireRequest("DescribeKeyPairs", {}, "us-east-1"))
    assert b"<keySet/>" in response.body
    assert _children(_wire(backend, "DescribeKeyPairs", {})) == ["requestId", "keySet"]
    backend.add_key_pair("a", key_type="ed25519")
    backend.add_key_pair("b", key_type="ed25519", tags={"team": "blue"})
    root = _wire(backend, "DescribeKeyPairs", {"IncludePublicKey": "true"})
    untagged, tagged = _find(root, "keySet")
    assert _children(untagged) == [
        "keyName",
        "keyPairId",
        "keyFingerprint",
        "keyType",
        "publicKey",
        "createTime",
        "tagSet",
    ]
    assert _children(_find(untagged, "tagSet")) == []
    assert _children(_find(tagged, "tagSet/item")) == ["key", "value"]
    created = _find(untagged, "createTime").text or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created)
    root = _wire(backend, "DescribeKeyPairs", {"KeyName.1": "a"})
    [item] = _find(root, "keySet")
    assert "publicKey" not in _children(item)
    body = backend.dispatch(WireRequest("DescribeKeyPairs", {"KeyName.1": "a"})).body
    assert b"<tagSet/>" in body


def test_wire_delete_key_pair(backend: KeyPairsBackend) -> None:
    """DeleteKeyPair: requestId, return, keyPairId; no keyPairId when nothing was deleted."""
    record = backend.add_key_pair("a", key_type="ed25519")
    root = _wire(backend, "DeleteKeyPair", {"KeyName": "a"})
    assert _children(root) == ["requestId", "return", "keyPairId"]
    assert (_find(root, "return").text, _find(root, "keyPairId").text) == (
        "true",
        record.key_pair_id,
    )
    assert _children(_wire(backend, "DeleteKeyPair", {"KeyName": "a"})) == ["requestId", "return"]


def test_wire_tag_operations(backend: KeyPairsBackend) -> None:
    """CreateTags/DeleteTags: requestId, return; DescribeTags: tagSet items, then nextToken."""
    record = backend.add_key_pair("a", key_type="ed25519")
    tags = {f"Tag.{i}.Key": f"k{i}" for i in range(1, 7)}
    root = _wire(backend, "CreateTags", {"ResourceId.1": record.key_pair_id, **tags})
    assert _children(root) == ["requestId", "return"]
    assert _find(root, "return").text == "true"
    page = _wire(
        backend,
        "DescribeTags",
        {"Filter.1.Name": "resource-type", "Filter.1.Value.1": "key-pair", "MaxResults": "5"},
    )
    assert _children(page) == ["requestId", "tagSet", "nextToken"]
    assert _children(_find(page, "tagSet/item")) == ["resourceId", "resourceType", "key", "value"]
    root = _wire(backend, "DeleteTags", {"ResourceId.1": record.key_pair_id})
    assert _children(root) == ["requestId", "return"]
    empty = {"Filter.1.Name": "resource-id", "Filter.1.Value.1": record.key_pair_id}
    assert _children(_wire(backend, "DescribeTags", empty)) == ["requestId", "tagSet"]
    assert b"<tagSet/>" in backend.dispatch(WireRequest("DescribeTags", empty)).body


def test_wire_error_envelope(backend: KeyPairsBackend) -> None:
    """Errors: `<Response><Errors><Error>` with Code and Message, then `RequestID`, status 400."""
    response = backend.dispatch(WireRequest("DescribeKeyPairs", {"KeyName.1": "nope"}))
    assert response.status == 400
    assert response.error_code == "InvalidKeyPair.NotFound"
    assert response.body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        b"<Code>InvalidKeyPair.NotFound</Code>"
        b"<Message>The key pair 'nope' does not exist</Message></Error></Errors>"
        b"<RequestID>" + response.request_id.encode() + b"</RequestID></Response>"
    )


def test_wire_unknown_parameter(backend: KeyPairsBackend) -> None:
    """A parameter the operation does not model is rejected, not silently ignored."""
    response = backend.dispatch(WireRequest("DeleteKeyPair", {"KeyName": "a", "Force": "true"}))
    assert (response.status, response.error_code) == (400, "UnknownParameter")
    assert b"<Message>The parameter Force is not recognized</Message>" in response.body


def test_request_ids_are_uuid4_text() -> None:
    """Request ids read as ``str(uuid.uuid4())`` does: version 4, RFC 4122 variant, distinct."""
    from ec2_keypair_mock._wire import new_request_id

    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # Every hex digit outside the fixed ones varies (the formatting drops no random bits).
    fixed = (8, 13, 14, 18, 19, 23)  # the dashes, the version digit, the variant digit
    assert {len({text[i] for text in ids}) for i in range(36) if i not in fixed} == {16}
    assert {text[19] for text in ids} == set("89ab")
