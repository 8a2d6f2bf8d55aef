"""DeleteKeyPair through real boto3 clients, against SPEC §5."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from ec2_keypair_mock import KeyPairsBackend
from tests.helpers import assert_client_error, assert_valid_output

NEVER_ISSUED = "key-0123456789abcdef0"


@pytest.fixture
def deploy(ec2: BaseClient) -> str:
    """A tagged pair named `deploy`; returns its id."""
    response = ec2.create_key_pair(
        KeyName="deploy",
        KeyType="ed25519",
        TagSpecifications=[
            {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}
        ],
    )
    return str(response["KeyPairId"])


def _names(backend: KeyPairsBackend) -> list[str]:
    return [record.name for record in backend.key_pairs()]


def _delete_error(ec2: BaseClient, code: str, message: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_key_pair(**kwargs)
    assert_client_error(excinfo, code, message)


@pytest.mark.parametrize("by", ["KeyName", "KeyPairId"])
def test_delete_existing(ec2: BaseClient, backend: KeyPairsBackend, deploy: str, by: str) -> None:
    """An existing pair, by name or by id: 200, Return true, the deleted pair's KeyPairId."""
    response = ec2.delete_key_pair(**{by: "deploy" if by == "KeyName" else deploy})
    assert_valid_output(ec2, "DeleteKeyPair", response)
    assert response["Return"] is True
    assert response["KeyPairId"] == deploy
    assert backend.key_pairs() == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_missing_name_is_idempotent(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """A name that does not exist (never, or no longer): 200, Return true, no KeyPairId."""
    for _ in range(2):
        response = ec2.delete_key_pair(KeyName="nope")
        assert_valid_output(ec2, "DeleteKeyPair", response)
        assert response["Return"] is True
        assert "KeyPairId" not in response
    ec2.delete_key_pair(KeyName="deploy")
    again = ec2.delete_key_pair(KeyName="deploy")
    assert again["Return"] is True
    assert "KeyPairId" not in again


def test_deleted_id_is_idempotent(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """An id that existed and was deleted: 200, Return true, no KeyPairId."""
    ec2.delete_key_pair(KeyPairId=deploy)
    response = ec2.delete_key_pair(KeyPairId=deploy)
    assert_valid_output(ec2, "DeleteKeyPair", response)
    assert response["Return"] is True
    assert "KeyPairId" not in response


def test_never_issued_id(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """A well-formed id never issued: `Invalid value '<id>' for keyPairId.`; nothing deleted."""
    _delete_error(
        ec2,
        "InvalidParameterValue",
        f"Invalid value '{NEVER_ISSUED}' for keyPairId.",
        KeyPairId=NEVER_ISSUED,
    )
    assert _names(backend) == ["deploy"]


def test_id_from_another_region_was_never_issued_here(backend: KeyPairsBackend) -> None:
    """Ids are region-scoped: another region's id is a never-issued id."""
    east = boto3.client("ec2", region_name="us-east-1")
    west = boto3.client("ec2", region_name="us-west-2")
    east_id = east.create_key_pair(KeyName="deploy", KeyType="ed25519")["KeyPairId"]
    _delete_error(
        west,
        "InvalidParameterValue",
        f"Invalid value '{east_id}' for keyPairId.",
        KeyPairId=east_id,
    )
    assert _names(backend) == ["deploy"]


@pytest.mark.parametrize(
    "bad_id", ["bad", "key-", "key-0123", "key-0123456789abcdef01", "KEY-0123456789ABCDEF0"]
)
def test_malformed_id(ec2: BaseClient, backend: KeyPairsBackend, deploy: str, bad_id: str) -> None:
    """A malformed id: `Value for parameter keyPairId is invalid.`; nothing deleted."""
    _delete_error(
        ec2, "InvalidParameterValue", "Value for parameter keyPairId is invalid.", KeyPairId=bad_id
    )
    assert _names(backend) == ["deploy"]


def test_id_wins_over_name(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """Name and id together: the id's pair is deleted and the named pair survives."""
    other = ec2.create_key_pair(KeyName="other", KeyType="ed25519")["KeyPairId"]
    response = ec2.delete_key_pair(KeyName="deploy", KeyPairId=other)
    assert response["KeyPairId"] == other
    assert _names(backend) == ["deploy"]


@pytest.mark.parametrize(
    ("key_pair_id", "error"),
    [
        (NEVER_ISSUED, f"Invalid value '{NEVER_ISSUED}' for keyPairId."),
        ("bad", "Value for parameter keyPairId is invalid."),
    ],
)
def test_id_errors_win_over_an_existing_name(
    ec2: BaseClient, backend: KeyPairsBackend, deploy: str, key_pair_id: str, error: str
) -> None:
    """With both, a bad id is reported even though the name exists; the named pair survives."""
    _delete_error(ec2, "InvalidParameterValue", error, KeyName="deploy", KeyPairId=key_pair_id)
    assert _names(backend) == ["deploy"]


def test_deleted_id_with_existing_name_deletes_nothing(
    ec2: BaseClient, backend: KeyPairsBackend, deploy: str
) -> None:
    """A deleted id next to an existing name: Return true, no KeyPairId, the name is ignored."""
    gone = ec2.create_key_pair(KeyName="gone", KeyType="ed25519")["KeyPairId"]
    ec2.delete_key_pair(KeyPairId=gone)
    response = ec2.delete_key_pair(KeyName="deploy", KeyPairId=gone)
    assert response["Return"] is True
    assert "KeyPairId" not in response
    assert _names(backend) == ["deploy"]


@pytest.mark.parametrize("kwargs", [{}, {"KeyName": ""}, {"KeyName": "", "KeyPairId": ""}])
def test_neither_name_nor_id(ec2: BaseClient, kwargs: dict[str, str]) -> None:
    """Neither (or both empty): MissingParameter `KeyName or KeyPairId must be provided`."""
    _delete_error(ec2, "MissingParameter", "KeyName or KeyPairId must be provided", **kwargs)


def test_tags_go_with_the_pair(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """Deleting a pair deletes its tags: DescribeTags no longer lists them."""
    by_id = [{"Name": "resource-id", "Values": [deploy]}]
    assert ec2.describe_tags(Filters=by_id)["Tags"] == [
        {"Key": "team", "ResourceId": deploy, "ResourceType": "key-pair", "Value": "blue"}
    ]
    ec2.delete_key_pair(KeyName="deploy")
    response = ec2.describe_tags(Filters=by_id)
    assert_valid_output(ec2, "DescribeTags", response)
    assert response["Tags"] == []
    every = [{"Name": "resource-type", "Values": ["key-pair"]}]
    assert ec2.describe_tags(Filters=every)["Tags"] == []


def test_recreated_name_gets_a_new_id_and_no_old_tags(
    ec2: BaseClient, backend: KeyPairsBackend, deploy: str
) -> None:
    """A pair re-created under a deleted name is a new pair: new id, no old tags."""
    ec2.delete_key_pair(KeyName="deploy")
    again = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert again["KeyPairId"] != deploy
    [item] = ec2.describe_key_pairs()["KeyPairs"]
    assert item["Tags"] == []
    # The old id stays "deleted", not "never issued".
    assert "KeyPairId" not in ec2.delete_key_pair(KeyPairId=deploy)
    assert _names(backend) == ["deploy"]


def test_delete_in_one_region_only(backend: KeyPairsBackend) -> None:
    """Deleting by name removes only the caller's region's pair of that name."""
    east = boto3.client("ec2", region_name="us-east-1")
    west = boto3.client("ec2", region_name="us-west-2")
    east.create_key_pair(KeyName="deploy", KeyType="ed25519")
    west.create_key_pair(KeyName="deploy", KeyType="ed25519")
    east.delete_key_pair(KeyName="deploy")
    assert backend.key_pairs(region="us-east-1") == []
    assert [r.name for r in backend.key_pairs(region="us-west-2")] == ["deploy"]


def test_dry_run_deletes_nothing(ec2: BaseClient, backend: KeyPairsBackend, deploy: str) -> None:
    """DryRun → 412 DryRunOperation (even with neither parameter); nothing is deleted."""
    for kwargs in ({"KeyName": "deploy"}, {"KeyPairId": deploy}, {}):
        with pytest.raises(ClientError) as excinfo:
            ec2.delete_key_pair(DryRun=True, **kwargs)
        assert_client_error(
            excinfo,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            412,
        )
    assert _names(backend) == ["deploy"]
