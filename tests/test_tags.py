"""CreateTags, DeleteTags and DescribeTags on key pairs through real boto3 clients (SPEC §6).

The mock serves these three operations for key pair resources only: a call mixing key pair ids
with other ids gets an EC2-style error and changes nothing, and in strict mode a call about
other resources only raises ``UnmockedOperationError``.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from ec2_keypair_mock import KeyPairsBackend, UnmockedOperationError
from tests.helpers import assert_client_error, assert_valid_output

KEY_PAIRS = [{"Name": "resource-type", "Values": ["key-pair"]}]
LIMIT = ("TagLimitExceeded", "The maximum number of tags for a resource has been reached.")


@pytest.fixture
def ids(ec2: BaseClient) -> dict[str, str]:
    """Two pairs: `web` tagged env=prod, team=blue; `db` untagged. Name → id."""
    web = ec2.create_key_pair(
        KeyName="web",
        KeyType="ed25519",
        TagSpecifications=[
            {
                "ResourceType": "key-pair",
                "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "blue"}],
            }
        ],
    )
    db = ec2.create_key_pair(KeyName="db", KeyType="ed25519")
    return {"web": web["KeyPairId"], "db": db["KeyPairId"]}


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _stored(backend: KeyPairsBackend) -> dict[str, dict[str, str]]:
    return {record.name: dict(record.tags) for record in backend.key_pairs()}


def _described(ec2: BaseClient, name: str) -> list[dict[str, str]]:
    [pair] = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
    return list(pair["Tags"])


def _error(call: Any, code: str, message: str, status: int = 400, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert_client_error(excinfo, code, message, status)


# --------------------------------------------------------------------------- CreateTags


def test_create_tags(ec2: BaseClient, ids: dict[str, str]) -> None:
    """CreateTags on a key pair id adds the tags; the answer carries nothing but metadata."""
    response = ec2.create_tags(Resources=[ids["db"]], Tags=_tags(role="database", tier=""))
    assert_valid_output(ec2, "CreateTags", response)
    assert _described(ec2, "db") == _tags(role="database", tier="")


def test_create_tags_overwrites_values(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """An existing key gets the new value (in place); new keys are added after."""
    ec2.create_tags(Resources=[ids["web"]], Tags=_tags(env="staging", owner="alice"))
    assert _described(ec2, "web") == _tags(env="staging", team="blue", owner="alice")


def test_create_tags_on_several_pairs(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """Several ids (one repeated) in one call are all tagged."""
    ec2.create_tags(Resources=[ids["web"], ids["db"], ids["web"]], Tags=_tags(backup="daily"))
    assert _stored(backend) == {
        "web": {"env": "prod", "team": "blue", "backup": "daily"},
        "db": {"backup": "daily"},
    }


def test_tag_limit_counts_existing_tags(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """50 tags per pair including existing ones; overwriting an existing key does not count."""
    ec2.create_tags(Resources=[ids["web"]], Tags=_tags(**{f"k{i}": "v" for i in range(47)}))
    before = _stored(backend)
    _error(ec2.create_tags, *LIMIT, Resources=[ids["web"]], Tags=_tags(new1="v", new2="v", env="x"))
    assert _stored(backend) == before
    ec2.create_tags(Resources=[ids["web"]], Tags=_tags(new1="v", env="x", team="y"))
    assert len(_stored(backend)["web"]) == 50
    ec2.create_tags(Resources=[ids["web"]], Tags=_tags(env="z"))
    _error(ec2.create_tags, *LIMIT, Resources=[ids["web"]], Tags=_tags(one_more="v"))


def test_tag_limit_is_all_or_nothing(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """If one pair would exceed 50 tags, no pair in the call is tagged."""
    ec2.create_tags(Resources=[ids["web"]], Tags=_tags(**{f"k{i}": "v" for i in range(48)}))
    before = _stored(backend)
    _error(
        ec2.create_tags, *LIMIT, Resources=[ids["db"], ids["web"]], Tags=_tags(x="1", y="2", z="3")
    )
    assert _stored(backend) == before


def test_more_than_fifty_tags_in_one_call(ec2: BaseClient, ids: dict[str, str]) -> None:
    """51 tags in one CreateTags call exceed the limit on their own."""
    _error(
        ec2.create_tags,
        *LIMIT,
        Resources=[ids["db"]],
        Tags=_tags(**{f"k{i}": "v" for i in range(51)}),
    )


@pytest.mark.parametrize(
    ("tags", "code", "message"),
    [
        (
            _tags(**{"aws:owner": "me"}),
            "InvalidParameterValue",
            "Tag keys starting with 'aws:' are reserved for internal use",
        ),
        (
            _tags(**{"AWS:owner": "me"}),
            "InvalidParameterValue",
            "Tag keys starting with 'aws:' are reserved for internal use",
        ),
        (
            _tags(**{"k" * 129: "v"}),
            "InvalidParameterValue",
            "Tag key exceeds the maximum length of 128 characters",
        ),
        (
            _tags(k="v" * 257),
            "InvalidParameterValue",
            "Tag value exceeds the maximum length of 256 characters",
        ),
        (
            [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
            "InvalidParameterValue",
            "Duplicate tag key 'a' specified.",
        ),
        ([{"Key": "", "Value": "1"}], "InvalidParameterValue", "Tag key cannot be empty"),
        ([], "MissingParameter", "The request must contain the parameter Tag"),
    ],
)
def test_create_tags_errors_change_nothing(
    ec2: BaseClient,
    backend: KeyPairsBackend,
    ids: dict[str, str],
    tags: list[dict[str, str]],
    code: str,
    message: str,
) -> None:
    """Tag rules of SPEC §6 apply to CreateTags, and a rejected call changes nothing."""
    before = _stored(backend)
    _error(ec2.create_tags, code, message, Resources=[ids["web"], ids["db"]], Tags=tags)
    assert _stored(backend) == before


def test_boundary_lengths(ec2: BaseClient, ids: dict[str, str]) -> None:
    """128-character keys and 256-character values are accepted."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(**{"k" * 128: "v" * 256}))
    assert _described(ec2, "db") == _tags(**{"k" * 128: "v" * 256})


# --------------------------------------------------------------------------- resource errors


@pytest.mark.parametrize("operation", ["create_tags", "delete_tags"])
def test_mixing_key_pairs_with_other_resources(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str], operation: str
) -> None:
    """A call naming a key pair and another resource is rejected whole; nothing changes."""
    before = _stored(backend)
    _error(
        getattr(ec2, operation),
        "InvalidParameterValue",
        "Resource 'i-0123456789abcdef0' is not a key pair: this mock serves tags on key pairs "
        "only, so tag other resources in a separate call.",
        Resources=[ids["web"], "i-0123456789abcdef0"],
        Tags=_tags(env="x"),
    )
    assert _stored(backend) == before


@pytest.mark.parametrize("operation", ["create_tags", "delete_tags"])
def test_unknown_key_pair_id(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str], operation: str
) -> None:
    """An unknown (never issued, deleted, or other region's) key pair id fails the whole call."""
    east_only = boto3.client("ec2", region_name="eu-west-1").create_key_pair(
        KeyName="elsewhere", KeyType="ed25519"
    )["KeyPairId"]
    gone = ec2.create_key_pair(KeyName="gone", KeyType="ed25519")["KeyPairId"]
    ec2.delete_key_pair(KeyPairId=gone)
    before = _stored(backend)
    for unknown in ("key-0123456789abcdef0", gone, east_only):
        _error(
            getattr(ec2, operation),
            "InvalidKeyPair.NotFound",
            f"The key pair ID '{unknown}' does not exist",
            Resources=[ids["web"], unknown],
            Tags=_tags(env="x"),
        )
    assert _stored(backend) == before


@pytest.mark.parametrize("operation", ["create_tags", "delete_tags"])
@pytest.mark.parametrize(
    "bad_id", ["key-bad", "key-0123", "KEY-0123456789ABCDEF0", "2014-10-21T13:34:24.000Z", "i-xyz"]
)
def test_malformed_id(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str], operation: str, bad_id: str
) -> None:
    """A malformed id next to a key pair id is EC2's `InvalidID`; nothing changes."""
    before = _stored(backend)
    _error(
        getattr(ec2, operation),
        "InvalidID",
        f"The ID '{bad_id}' is not valid",
        Resources=[ids["web"], bad_id],
        Tags=_tags(env="x"),
    )
    assert _stored(backend) == before


@pytest.mark.parametrize("operation", ["create_tags", "delete_tags"])
def test_other_resources_only_are_not_served(
    ec2: BaseClient, ids: dict[str, str], operation: str
) -> None:
    """Strict mode: tagging only non-key-pair resources raises UnmockedOperationError."""
    with pytest.raises(UnmockedOperationError) as excinfo:
        getattr(ec2, operation)(Resources=["i-0123456789abcdef0"], Tags=_tags(env="x"))
    message = str(excinfo.value)
    name = "CreateTags" if operation == "create_tags" else "DeleteTags"
    assert message.startswith(f"mock_keypairs does not serve ec2.{name} (region us-east-1).")
    assert "mock_keypairs(strict=False)" in message


@pytest.mark.parametrize("operation", ["create_tags", "delete_tags"])
def test_dry_run_changes_nothing(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str], operation: str
) -> None:
    """DryRun → 412 DryRunOperation; tags are unchanged."""
    before = _stored(backend)
    _error(
        getattr(ec2, operation),
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
        412,
        Resources=[ids["web"]],
        Tags=_tags(env="x"),
        DryRun=True,
    )
    assert _stored(backend) == before


# --------------------------------------------------------------------------- DeleteTags


def test_delete_tags_by_key(ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]) -> None:
    """A tag given without a value is deleted whatever its value; unknown keys are ignored."""
    response = ec2.delete_tags(Resources=[ids["web"]], Tags=[{"Key": "env"}, {"Key": "nope"}])
    assert_valid_output(ec2, "DeleteTags", response)
    assert _stored(backend)["web"] == {"team": "blue"}


def test_delete_tags_with_value(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """A tag given with a value is deleted only if the value matches (case-sensitive)."""
    ec2.delete_tags(Resources=[ids["web"]], Tags=_tags(env="staging", team="Blue"))
    assert _stored(backend)["web"] == {"env": "prod", "team": "blue"}
    ec2.delete_tags(Resources=[ids["web"]], Tags=_tags(env="prod"))
    assert _stored(backend)["web"] == {"team": "blue"}


def test_delete_tags_with_empty_value(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """An empty value deletes the tag only when its value is empty."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(flag="", role="db"))
    ec2.delete_tags(Resources=[ids["db"]], Tags=_tags(flag="", role=""))
    assert _stored(backend)["db"] == {"role": "db"}


def test_delete_tags_without_tags_deletes_all(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """DeleteTags with no Tag.N deletes every tag of the named pairs."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(role="db"))
    ec2.delete_tags(Resources=[ids["web"]])
    assert _stored(backend) == {"web": {}, "db": {"role": "db"}}
    assert _described(ec2, "web") == []


def test_delete_tags_reserved_key(
    ec2: BaseClient, backend: KeyPairsBackend, ids: dict[str, str]
) -> None:
    """An `aws:` key in DeleteTags is rejected; nothing is deleted."""
    before = _stored(backend)
    _error(
        ec2.delete_tags,
        "InvalidParameterValue",
        "Tag keys starting with 'aws:' are reserved for internal use",
        Resources=[ids["web"]],
        Tags=[{"Key": "env"}, {"Key": "aws:cloudformation:stack-name"}],
    )
    assert _stored(backend) == before


# --------------------------------------------------------------------------- DescribeTags


def test_describe_tags_lists_key_pair_tags(ec2: BaseClient, ids: dict[str, str]) -> None:
    """resource-type=key-pair: every tag of every pair, `ResourceType` `key-pair`."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(role="db"))
    response = ec2.describe_tags(Filters=KEY_PAIRS)
    assert_valid_output(ec2, "DescribeTags", response)
    assert response["Tags"] == [
        {"ResourceId": ids["web"], "ResourceType": "key-pair", "Key": "env", "Value": "prod"},
        {"ResourceId": ids["web"], "ResourceType": "key-pair", "Key": "team", "Value": "blue"},
        {"ResourceId": ids["db"], "ResourceType": "key-pair", "Key": "role", "Value": "db"},
    ]
    assert "NextToken" not in response


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("key", ["env"])], [("web", "env")]),
        ([("key", ["*e*"])], [("web", "env"), ("web", "team"), ("db", "role")]),
        ([("key", ["ENV"])], []),
        ([("value", ["prod", "db"])], [("web", "env"), ("db", "role")]),
        ([("value", ["?????"])], []),
        ([("value", ["b???"])], [("web", "team")]),
        ([("key", ["env", "role"]), ("value", ["db"])], [("db", "role")]),
        ([("key", [])], []),
    ],
)
def test_describe_tags_filters(
    ec2: BaseClient,
    ids: dict[str, str],
    filters: list[tuple[str, list[str]]],
    expected: list[tuple[str, str]],
) -> None:
    """`key` and `value` filters: wildcards, OR across values, AND across filters."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(role="db"))
    response = ec2.describe_tags(
        Filters=[*KEY_PAIRS, *({"Name": n, "Values": v} for n, v in filters)]
    )
    assert_valid_output(ec2, "DescribeTags", response)
    by_id = {value: key for key, value in ids.items()}
    assert [(by_id[t["ResourceId"]], t["Key"]) for t in response["Tags"]] == expected


def test_describe_tags_by_resource_id(ec2: BaseClient, ids: dict[str, str]) -> None:
    """resource-id filter (alone it is enough for the mock to serve the call)."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(role="db"))
    response = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ids["db"]]}])
    assert_valid_output(ec2, "DescribeTags", response)
    assert response["Tags"] == [
        {"ResourceId": ids["db"], "ResourceType": "key-pair", "Key": "role", "Value": "db"}
    ]
    both = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": list(ids.values())}])
    assert len(both["Tags"]) == 3


def test_describe_tags_region_scoped(backend: KeyPairsBackend, ids: dict[str, str]) -> None:
    """Another region's DescribeTags sees none of this region's tags."""
    west = boto3.client("ec2", region_name="eu-west-1")
    assert west.describe_tags(Filters=KEY_PAIRS)["Tags"] == []


def test_describe_tags_paging(ec2: BaseClient, ids: dict[str, str]) -> None:
    """MaxResults/NextToken pages through all tags, in order, without repeats."""
    ec2.create_tags(Resources=[ids["db"]], Tags=_tags(**{f"k{i}": str(i) for i in range(10)}))
    everything = ec2.describe_tags(Filters=KEY_PAIRS)["Tags"]
    assert len(everything) == 12
    first = ec2.describe_tags(Filters=KEY_PAIRS, MaxResults=5)
    assert_valid_output(ec2, "DescribeTags", first)
    assert first["Tags"] == everything[:5]
    second = ec2.describe_tags(Filters=KEY_PAIRS, MaxResults=5, NextToken=first["NextToken"])
    assert second["Tags"] == everything[5:10]
    third = ec2.describe_tags(Filters=KEY_PAIRS, MaxResults=5, NextToken=second["NextToken"])
    assert third["Tags"] == everything[10:]
    assert "NextToken" not in third
    exact = ec2.describe_tags(Filters=KEY_PAIRS, MaxResults=6, NextToken=second["NextToken"])
    assert exact["Tags"] == everything[10:]
    pages = ec2.get_paginator("describe_tags").paginate(
        Filters=KEY_PAIRS, PaginationConfig={"PageSize": 5}
    )
    assert [tag for page in pages for tag in page["Tags"]] == everything


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"MaxResults": 4},
            "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5.",
        ),
        (
            {"MaxResults": 1001},
            "Value ( 1001 ) for parameter maxResults is invalid. Expecting a value less than 1000.",
        ),
        ({"NextToken": "not-a-token"}, "Invalid value 'not-a-token' for NextToken."),
    ],
)
def test_describe_tags_paging_errors(
    ec2: BaseClient, ids: dict[str, str], kwargs: dict[str, Any], message: str
) -> None:
    """MaxResults outside 5–1000 and a token the mock did not issue are InvalidParameterValue."""
    _error(ec2.describe_tags, "InvalidParameterValue", message, Filters=KEY_PAIRS, **kwargs)


def test_describe_tags_invalid_filter(ec2: BaseClient, ids: dict[str, str]) -> None:
    """A filter DescribeTags does not know is `The filter '<name>' is invalid`."""
    _error(
        ec2.describe_tags,
        "InvalidParameterValue",
        "The filter 'tag-key' is invalid",
        Filters=[*KEY_PAIRS, {"Name": "tag-key", "Values": ["env"]}],
    )


@pytest.mark.parametrize(
    ("filters", "count"),
    [
        ([{"Name": "resource-type", "Values": ["key-pair", "key-pair"]}], 2),
        ([KEY_PAIRS[0], KEY_PAIRS[0]], 2),
        ([{"Name": "resource-type", "Values": ["instance"]}, KEY_PAIRS[0]], 0),
        ([{"Name": "resource-id", "Values": ["i-0123456789abcdef0"]}, KEY_PAIRS[0]], 0),
        ([{"Name": "resource-id", "Values": ["key-0123456789abcdef0", "key-0"]}], 0),
    ],
)
def test_describe_tags_confined_to_key_pairs_by_any_filter(
    ec2: BaseClient, ids: dict[str, str], filters: list[dict[str, Any]], count: int
) -> None:
    """One filter confining the call to key pairs is enough for the mock to serve it (AND)."""
    response = ec2.describe_tags(Filters=filters)
    assert_valid_output(ec2, "DescribeTags", response)
    assert len(response["Tags"]) == count


@pytest.mark.parametrize(
    "filters",
    [
        [],
        [{"Name": "resource-type", "Values": ["instance"]}],
        [{"Name": "resource-type", "Values": ["key-pair", "instance"]}],
        [{"Name": "resource-id", "Values": ["i-0123456789abcdef0"]}],
        [{"Name": "key", "Values": ["env"]}],
    ],
)
def test_describe_tags_beyond_key_pairs_is_not_served(
    ec2: BaseClient, ids: dict[str, str], filters: list[dict[str, Any]]
) -> None:
    """Strict mode: DescribeTags not limited to key pairs raises UnmockedOperationError."""
    with pytest.raises(UnmockedOperationError, match=r"does not serve ec2\.DescribeTags"):
        ec2.describe_tags(Filters=filters)
