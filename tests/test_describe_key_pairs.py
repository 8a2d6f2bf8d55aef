"""DescribeKeyPairs through real boto3 clients, against SPEC §4."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, WaiterError

from ec2_keypair_mock import KeyPairsBackend
from tests.helpers import assert_client_error, assert_valid_output
from tests.helpers_tools import run_ok


def _tags(**tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": "key-pair", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


@pytest.fixture
def pairs(ec2: BaseClient) -> dict[str, dict[str, Any]]:
    """Three pairs in creation order: `web` and `db` tagged, `ci` untagged."""
    created = {}
    for name, tags in (
        ("web", {"env": "prod", "team": "blue", "a:b": "colon"}),
        ("db", {"env": "staging", "Name": "Main DB"}),
        ("ci", {}),
    ):
        kwargs: dict[str, Any] = {"TagSpecifications": _tags(**tags)} if tags else {}
        created[name] = ec2.create_key_pair(KeyName=name, KeyType="ed25519", **kwargs)
    return created


def _names(response: dict[str, Any]) -> list[str]:
    return [pair["KeyName"] for pair in response["KeyPairs"]]


def _describe_error(ec2: BaseClient, code: str, message: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_key_pairs(**kwargs)
    assert_client_error(excinfo, code, message)


# --------------------------------------------------------------------------- items


def test_no_pairs_is_an_empty_list(ec2: BaseClient) -> None:
    """No key pairs → `KeyPairs: []` (the XML has `<keySet/>`)."""
    response = ec2.describe_key_pairs()
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    assert response["KeyPairs"] == []


def test_all_pairs_in_creation_order(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """Without selectors: every pair of the region, in creation order [dec], each item complete."""
    response = ec2.describe_key_pairs()
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    assert _names(response) == ["web", "db", "ci"]
    for item in response["KeyPairs"]:
        created = pairs[item["KeyName"]]
        assert set(item) == {
            "KeyName",
            "KeyPairId",
            "KeyFingerprint",
            "KeyType",
            "CreateTime",
            "Tags",
        }
        assert item["KeyPairId"] == created["KeyPairId"]
        assert item["KeyFingerprint"] == created["KeyFingerprint"]
        assert item["KeyType"] == "ed25519"
        assert item["Tags"] == created.get("Tags", [])


def test_untagged_pair_has_empty_tags(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """An untagged pair has `Tags: []` (`<tagSet/>`), never a missing key."""
    [item] = ec2.describe_key_pairs(KeyNames=["ci"])["KeyPairs"]
    assert item["Tags"] == []


def test_key_type_always_present(ec2: BaseClient) -> None:
    """KeyType is `rsa` or `ed25519` for created pairs of each type."""
    ec2.create_key_pair(KeyName="r", KeyType="rsa")
    ec2.create_key_pair(KeyName="e", KeyType="ed25519", KeyFormat="ppk")
    types = {p["KeyName"]: p["KeyType"] for p in ec2.describe_key_pairs()["KeyPairs"]}
    assert types == {"r": "rsa", "e": "ed25519"}


def test_create_time_is_utc_with_millisecond_precision(
    ec2: BaseClient, backend: KeyPairsBackend
) -> None:
    """CreateTime is a timezone-aware datetime, whole milliseconds, the moment of creation."""
    before = datetime.now(timezone.utc).replace(microsecond=0)
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    after = datetime.now(timezone.utc)
    [item] = ec2.describe_key_pairs()["KeyPairs"]
    created = item["CreateTime"]
    assert isinstance(created, datetime)
    assert created.tzinfo is not None
    assert created.microsecond % 1000 == 0
    assert before <= created <= after
    assert created == backend.key_pairs()[0].create_time


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_include_public_key_matches_ssh_keygen(
    ec2: BaseClient, tmp_path: Path, key_type: str
) -> None:
    """IncludePublicKey: `<alg> <blob> <KeyName>\\n`, the key `ssh-keygen -y` derives."""
    material = ec2.create_key_pair(KeyName="web server", KeyType=key_type)["KeyMaterial"]
    key = tmp_path / "key"
    key.write_text(material + "\n")
    key.chmod(0o600)
    derived = run_ok(["ssh-keygen", "-y", "-f", str(key)], cwd=tmp_path).decode().split()
    response = ec2.describe_key_pairs(IncludePublicKey=True)
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    [item] = response["KeyPairs"]
    assert item["PublicKey"] == f"{derived[0]} {derived[1]} web server\n"


@pytest.mark.parametrize("kwargs", [{}, {"IncludePublicKey": False}])
def test_public_key_only_when_asked(
    ec2: BaseClient, pairs: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    """Without IncludePublicKey=true there is no PublicKey."""
    assert all("PublicKey" not in p for p in ec2.describe_key_pairs(**kwargs)["KeyPairs"])


def test_other_regions_are_invisible(backend: KeyPairsBackend, pairs: dict[str, Any]) -> None:
    """A region sees only its own pairs; another region's name and id are unknown there."""
    west = boto3.client("ec2", region_name="eu-west-1")
    assert west.describe_key_pairs()["KeyPairs"] == []
    _describe_error(
        west, "InvalidKeyPair.NotFound", "The key pair 'web' does not exist", KeyNames=["web"]
    )
    web_id = pairs["web"]["KeyPairId"]
    _describe_error(
        west,
        "InvalidParameterValue",
        f"Invalid value '{web_id}' for keyPairId.",
        KeyPairIds=[web_id],
    )


# --------------------------------------------------------------------------- selectors


def test_by_names(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """KeyName.N selects those pairs (creation order, whatever the request order)."""
    response = ec2.describe_key_pairs(KeyNames=["ci", "web"])
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    assert _names(response) == ["web", "ci"]


def test_same_name_twice_is_deduplicated(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """The same name twice yields the pair once."""
    assert _names(ec2.describe_key_pairs(KeyNames=["db", "db"])) == ["db"]


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        (["nope"], "nope"),
        (["web", "nope", "db", "gone"], "nope"),
        (["gone", "web", "nope"], "gone"),
        (["Web"], "Web"),
    ],
)
def test_unknown_name_fails_the_whole_call(
    ec2: BaseClient, pairs: dict[str, Any], names: list[str], missing: str
) -> None:
    """Any unknown name fails the call, naming the first missing one in request order [dec]."""
    _describe_error(
        ec2, "InvalidKeyPair.NotFound", f"The key pair '{missing}' does not exist", KeyNames=names
    )


@pytest.mark.parametrize("names", [[""], ["web", ""], ["", "nope"]])
def test_blank_name(ec2: BaseClient, pairs: dict[str, Any], names: list[str]) -> None:
    """A blank KeyName.N is InvalidParameterValue (checked before existence)."""
    _describe_error(
        ec2,
        "InvalidParameterValue",
        "Invalid value '' for keyPairNames. It should not be blank",
        KeyNames=names,
    )


def test_by_ids(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """KeyPairId.N selects those pairs; a repeated id yields the pair once."""
    ids = [pairs["ci"]["KeyPairId"], pairs["db"]["KeyPairId"], pairs["ci"]["KeyPairId"]]
    response = ec2.describe_key_pairs(KeyPairIds=ids)
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    assert _names(response) == ["db", "ci"]


@pytest.mark.parametrize(
    "bad_id", ["key-0123456789abcdef0", "bad", "key-", "KEY-0123456789ABCDEF0", ""]
)
def test_unknown_id(ec2: BaseClient, pairs: dict[str, Any], bad_id: str) -> None:
    """An id never issued, well-formed or not, is `Invalid value '<id>' for keyPairId.`."""
    _describe_error(
        ec2,
        "InvalidParameterValue",
        f"Invalid value '{bad_id}' for keyPairId.",
        KeyPairIds=[pairs["web"]["KeyPairId"], bad_id],
    )


def test_first_unknown_id_in_request_order(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """With several unknown ids, the first in request order is reported [dec]."""
    _describe_error(
        ec2,
        "InvalidParameterValue",
        "Invalid value 'key-0000000000000000b' for keyPairId.",
        KeyPairIds=[pairs["web"]["KeyPairId"], "key-0000000000000000b", "key-0000000000000000a"],
    )


def test_deleted_id_is_unknown(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """A deleted pair's id is reported like a never-issued one [dec]."""
    db_id = pairs["db"]["KeyPairId"]
    ec2.delete_key_pair(KeyPairId=db_id)
    _describe_error(
        ec2, "InvalidParameterValue", f"Invalid value '{db_id}' for keyPairId.", KeyPairIds=[db_id]
    )


def test_deleted_name_is_not_found(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """A deleted pair's name is InvalidKeyPair.NotFound."""
    ec2.delete_key_pair(KeyName="db")
    _describe_error(
        ec2, "InvalidKeyPair.NotFound", "The key pair 'db' does not exist", KeyNames=["db"]
    )


def test_names_and_ids_together(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """KeyName.N with KeyPairId.N is InvalidParameterCombination (even when both would match)."""
    _describe_error(
        ec2,
        "InvalidParameterCombination",
        "The parameter 'keyPairId' may not be used in combination with 'keyName'",
        KeyNames=["web"],
        KeyPairIds=[pairs["web"]["KeyPairId"]],
    )


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("key-name", ["web"])], ["web"]),
        ([("key-name", ["w*"])], ["web"]),
        ([("key-name", ["?b"])], ["db"]),
        ([("key-name", ["*"])], ["web", "db", "ci"]),
        ([("key-name", ["WEB"])], []),
        ([("key-name", ["ci", "web"])], ["web", "ci"]),
        ([("key-name", ["we"])], []),
        ([("key-name", [])], []),
        ([("tag-key", ["env"])], ["web", "db"]),
        ([("tag-key", ["ENV"])], []),
        ([("tag-key", ["N*"])], ["db"]),
        ([("tag-value", ["prod"])], ["web"]),
        ([("tag-value", ["*"])], ["web", "db"]),
        ([("tag-value", ["main db"])], []),
        ([("tag-value", ["Main DB", "blue"])], ["web", "db"]),
        ([("tag:env", ["prod"])], ["web"]),
        ([("tag:env", ["*"])], ["web", "db"]),
        ([("tag:env", ["?????"])], []),
        ([("tag:env", ["???????"])], ["db"]),
        ([("tag:Env", ["prod"])], []),
        ([("tag:a:b", ["colon"])], ["web"]),
        ([("tag:Name", ["Main *"])], ["db"]),
        ([("tag:env", [])], []),
        ([("key-name", ["*"]), ("tag:env", ["staging"])], ["db"]),
        ([("tag-key", ["env"]), ("tag-value", ["blue"])], ["web"]),
        ([("tag-key", ["team"]), ("tag:env", ["staging"])], []),
        ([("key-name", ["web", "db"]), ("key-name", ["db", "ci"])], ["db"]),
    ],
)
def test_filters(
    ec2: BaseClient,
    pairs: dict[str, Any],
    filters: list[tuple[str, list[str]]],
    expected: list[str],
) -> None:
    """Filters: wildcards, case-sensitive, OR across values, AND across filters, [] matches none."""
    response = ec2.describe_key_pairs(Filters=[{"Name": n, "Values": v} for n, v in filters])
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    assert _names(response) == expected


def test_id_and_fingerprint_filters(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """`key-pair-id` and `fingerprint` filters, with and without wildcards."""
    db = pairs["db"]
    ids = ec2.describe_key_pairs(Filters=[{"Name": "key-pair-id", "Values": [db["KeyPairId"]]}])
    assert _names(ids) == ["db"]
    every = ec2.describe_key_pairs(Filters=[{"Name": "key-pair-id", "Values": ["key-0*"]}])
    assert _names(every) == ["web", "db", "ci"]
    by_fingerprint = ec2.describe_key_pairs(
        Filters=[{"Name": "fingerprint", "Values": [db["KeyFingerprint"]]}]
    )
    assert _names(by_fingerprint) == ["db"]
    prefix = pairs["web"]["KeyFingerprint"][:10]
    assert _names(
        ec2.describe_key_pairs(Filters=[{"Name": "fingerprint", "Values": [prefix + "*"]}])
    ) == ["web"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a*b", ["a*b", "axb", "a?b", "a\\b", "a+b", "ab"]),
        ("a?b", ["a*b", "axb", "a?b", "a\\b", "a+b"]),
        ("a\\*b", ["a*b"]),
        ("a\\?b", ["a?b"]),
        ("a\\\\b", ["a\\b"]),
        ("a+b", ["a+b"]),
        ("a\\xb", ["axb"]),
    ],
)
def test_wildcards_and_escapes(ec2: BaseClient, pattern: str, expected: list[str]) -> None:
    """`*` any run, `?` one character, `\\` escapes the next; regex characters are literal."""
    for name in ("a*b", "axb", "a?b", "a\\b", "a+b", "ab"):
        ec2.create_key_pair(KeyName=name, KeyType="ed25519")
    response = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [pattern]}])
    assert _names(response) == expected


def test_names_and_filters_intersect(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """KeyName.N with filters: the named pairs that also match; unknown names still fail."""
    env = [{"Name": "tag-key", "Values": ["env"]}]
    assert _names(ec2.describe_key_pairs(KeyNames=["web", "ci"], Filters=env)) == ["web"]
    assert _names(ec2.describe_key_pairs(KeyNames=["ci"], Filters=env)) == []
    _describe_error(
        ec2,
        "InvalidKeyPair.NotFound",
        "The key pair 'nope' does not exist",
        KeyNames=["web", "nope"],
        Filters=env,
    )


def test_ids_and_filters_intersect(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """KeyPairId.N with filters: the given pairs that also match."""
    ids = [pairs["web"]["KeyPairId"], pairs["db"]["KeyPairId"]]
    response = ec2.describe_key_pairs(
        KeyPairIds=ids, Filters=[{"Name": "tag:env", "Values": ["staging"]}]
    )
    assert _names(response) == ["db"]


@pytest.mark.parametrize(
    "name", ["key-type", "Key-Name", "tag-keys", "tag", "key-pair-name", "resource-type"]
)
def test_invalid_filter(ec2: BaseClient, pairs: dict[str, Any], name: str) -> None:
    """Any other filter name, `key-type` included, is `The filter '<name>' is invalid`."""
    _describe_error(
        ec2,
        "InvalidParameterValue",
        f"The filter '{name}' is invalid",
        Filters=[{"Name": "key-name", "Values": ["*"]}, {"Name": name, "Values": ["x"]}],
    )


# --------------------------------------------------------------------------- DryRun and waiter


def test_dry_run(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """DryRun → 412 DryRunOperation, even with a selector that would fail."""
    for kwargs in ({}, {"KeyNames": ["nope"]}):
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_key_pairs(DryRun=True, **kwargs)
        assert_client_error(
            excinfo,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            412,
        )


def test_key_pair_exists_waiter(ec2: BaseClient, pairs: dict[str, Any]) -> None:
    """The `key_pair_exists` waiter passes for an existing pair and fails fast for a missing one."""
    waiter = ec2.get_waiter("key_pair_exists")
    config = {"Delay": 0, "MaxAttempts": 1}
    started = time.monotonic()
    waiter.wait(KeyNames=["web"], WaiterConfig=config)
    waiter.wait(KeyPairIds=[pairs["db"]["KeyPairId"]], WaiterConfig=config)
    with pytest.raises(WaiterError) as excinfo:
        waiter.wait(KeyNames=["nope"], WaiterConfig=config)
    assert excinfo.value.last_response["Error"]["Code"] == "InvalidKeyPair.NotFound"
    assert time.monotonic() - started < 5


def test_waiter_sees_a_pair_created_between_attempts(ec2: BaseClient) -> None:
    """The waiter retries on InvalidKeyPair.NotFound and succeeds once the pair appears."""
    waiter = ec2.get_waiter("key_pair_exists")
    attempts: list[str] = []

    def create_on_second_attempt(**_: Any) -> None:
        attempts.append("describe")
        if len(attempts) == 2:
            boto3.client("ec2", region_name="us-east-1").create_key_pair(
                KeyName="late", KeyType="ed25519"
            )

    ec2.meta.events.register("before-call.ec2.DescribeKeyPairs", create_on_second_attempt)
    waiter.wait(KeyNames=["late"], WaiterConfig={"Delay": 0, "MaxAttempts": 3})
    assert len(attempts) >= 2
