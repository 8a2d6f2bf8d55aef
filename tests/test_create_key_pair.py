"""CreateKeyPair through real boto3 clients, against SPEC §2, §6 and §7."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from ec2_keypair_mock import KeyPairsBackend
from ec2_keypair_mock._state import KEY_PAIR_QUOTA, Pair
from tests.helpers import assert_client_error, assert_valid_output


def _tags(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": "key-pair", "Tags": [{"Key": k, "Value": v} for k, v in pairs]}]


@pytest.mark.parametrize(
    ("kwargs", "header", "key_type"),
    [
        ({}, "-----BEGIN RSA PRIVATE KEY-----\n", "rsa"),
        ({"KeyType": "rsa", "KeyFormat": "pem"}, "-----BEGIN RSA PRIVATE KEY-----\n", "rsa"),
        ({"KeyType": "ed25519"}, "-----BEGIN OPENSSH PRIVATE KEY-----\n", "ed25519"),
        ({"KeyFormat": "ppk"}, "PuTTY-User-Key-File-2: ssh-rsa\n", "rsa"),
        (
            {"KeyType": "ed25519", "KeyFormat": "ppk"},
            "PuTTY-User-Key-File-2: ssh-ed25519\n",
            "ed25519",
        ),
    ],
)
def test_create_returns_valid_response(
    ec2: BaseClient, backend: KeyPairsBackend, kwargs: dict[str, str], header: str, key_type: str
) -> None:
    """Each type/format returns real material, an id `key-0`+16 hex and no Tags without tags."""
    response = ec2.create_key_pair(KeyName="deploy", **kwargs)
    assert_valid_output(ec2, "CreateKeyPair", response)
    assert set(response) == {
        "KeyName",
        "KeyFingerprint",
        "KeyMaterial",
        "KeyPairId",
        "ResponseMetadata",
    }
    assert response["KeyName"] == "deploy"
    assert response["KeyMaterial"].startswith(header)
    assert re.fullmatch(r"key-0[0-9a-f]{16}", response["KeyPairId"])
    if key_type == "rsa":
        assert re.fullmatch(r"([0-9a-f]{2}:){19}[0-9a-f]{2}", response["KeyFingerprint"])
    else:
        assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", response["KeyFingerprint"])
    [record] = backend.key_pairs()
    assert (record.name, record.key_pair_id, record.fingerprint, record.key_type) == (
        "deploy",
        response["KeyPairId"],
        response["KeyFingerprint"],
        key_type,
    )


def test_ppk_comment_is_key_name(ec2: BaseClient) -> None:
    """PPK material carries `Comment: <KeyName>`."""
    material = ec2.create_key_pair(KeyName="putty-key", KeyFormat="ppk")["KeyMaterial"]
    assert "\nEncryption: none\nComment: putty-key\n" in material


def test_material_passes_ssh_keygen_and_matches_fingerprint(
    ec2: BaseClient, tmp_path: Path
) -> None:
    """`ssh-keygen -y` reads the returned ed25519 key; `ssh-keygen -l` agrees on the fingerprint."""
    response = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    key = tmp_path / "k"
    key.write_text(response["KeyMaterial"] + "\n")
    key.chmod(0o600)
    public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], check=True, capture_output=True, text=True
    ).stdout
    (tmp_path / "k.pub").write_text(public)
    listing = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "k.pub")], check=True, capture_output=True, text=True
    ).stdout
    assert listing.split()[1] == "SHA256:" + response["KeyFingerprint"].rstrip("=")


def test_rsa_fingerprint_matches_openssl(ec2: BaseClient, tmp_path: Path) -> None:
    """RSA fingerprint = SHA-1 of the PKCS#8 DER private key, as openssl computes it."""
    response = ec2.create_key_pair(KeyName="deploy")
    pem = tmp_path / "k.pem"
    pem.write_text(response["KeyMaterial"] + "\n")
    der = subprocess.run(
        [
            "openssl",
            "pkcs8",
            "-in",
            str(pem),
            "-inform",
            "PEM",
            "-outform",
            "DER",
            "-topk8",
            "-nocrypt",
        ],
        check=True,
        capture_output=True,
    ).stdout
    digest = subprocess.run(
        ["openssl", "sha1", "-c"], input=der, check=True, capture_output=True
    ).stdout.decode()
    assert digest.strip().split()[-1] == response["KeyFingerprint"]


def test_tags_on_create(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Tags given at creation come back in `Tags` and are stored with the pair."""
    response = ec2.create_key_pair(
        KeyName="deploy", TagSpecifications=_tags(("team", "blue"), ("env", ""))
    )
    assert_valid_output(ec2, "CreateKeyPair", response)
    assert response["Tags"] == [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": ""}]
    assert dict(backend.key_pairs()[0].tags) == {"team": "blue", "env": ""}


def test_private_key_is_not_stored(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """The backend keeps no private material (SPEC §9)."""
    material = ec2.create_key_pair(KeyName="deploy")["KeyMaterial"]
    body = material.splitlines()[1]
    state = repr(backend._regions) + repr(backend.calls)
    assert body not in state
    assert "PRIVATE" not in state


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"KeyName": ""}, "MissingParameter", "The request must contain the parameter KeyName"),
        (
            {"KeyName": "k" * 256},
            "InvalidParameterValue",
            "Value for parameter KeyName is invalid. Length exceeds maximum of 255.",
        ),
        (
            {"KeyName": "clé"},
            "InvalidParameterValue",
            "Value for parameter KeyName is invalid. "
            "Character sets beyond ASCII are not supported.",
        ),
        (
            {"KeyName": " deploy"},
            "InvalidParameterValue",
            "Invalid value ' deploy' for keyName. It should be trimmed",
        ),
        (
            {"KeyName": "deploy "},
            "InvalidParameterValue",
            "Invalid value 'deploy ' for keyName. It should be trimmed",
        ),
        (
            {"KeyName": "a\nb"},
            "InvalidParameterValue",
            "Value for parameter a\nb is invalid. KeyName",
        ),
        (
            {"KeyName": "a\x01b"},
            "InvalidParameterValue",
            "Value for parameter a\ufffdb is invalid. KeyName",
        ),
        (
            {"KeyName": "k", "KeyType": "ecdsa"},
            "InvalidParameterValue",
            "1 validation error detected: Value 'ecdsa' at 'keyType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [rsa, ed25519]",
        ),
        (
            {"KeyName": "k", "KeyFormat": "der"},
            "InvalidParameterValue",
            "1 validation error detected: Value 'der' at 'keyFormat' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ppk, pem]",
        ),
        (
            {"KeyName": "k", "KeyType": "dsa", "KeyFormat": "der"},
            "InvalidParameterValue",
            "2 validation errors detected: Value 'dsa' at 'keyType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [rsa, ed25519]; Value 'der' at "
            "'keyFormat' failed to satisfy constraint: Member must satisfy enum value set: "
            "[ppk, pem]",
        ),
        (
            {
                "KeyName": "k",
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}
                ],
            },
            "InvalidParameterValue",
            "'instance' is not a valid taggable resource type for this operation.",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("a", "1")) + _tags(("b", "2"))},
            "InvalidParameterValue",
            "The same resource type may not be specified more than once in tag specifications.",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(*[(f"k{i}", "v") for i in range(51)])},
            "TagLimitExceeded",
            "The maximum number of tags for a resource has been reached.",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("aws:owner", "me"))},
            "InvalidParameterValue",
            "Tag keys starting with 'aws:' are reserved for internal use",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("team", "a"), ("team", "b"))},
            "InvalidParameterValue",
            "Duplicate tag key 'team' specified.",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("t" * 129, "v"))},
            "InvalidParameterValue",
            "Tag key exceeds the maximum length of 128 characters",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("t", "v" * 257))},
            "InvalidParameterValue",
            "Tag value exceeds the maximum length of 256 characters",
        ),
        (
            {"KeyName": "k", "TagSpecifications": _tags(("", "v"))},
            "InvalidParameterValue",
            "Tag key cannot be empty",
        ),
    ],
)
def test_create_errors(
    ec2: BaseClient, backend: KeyPairsBackend, kwargs: dict[str, Any], code: str, message: str
) -> None:
    """Every CreateKeyPair validation error has EC2's code, message and status; nothing is made."""
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(**kwargs)
    assert_client_error(excinfo, code, message)
    assert backend.key_pairs() == []


def test_boundary_lengths_accepted(ec2: BaseClient) -> None:
    """255-character names, 50 tags, 128-character keys and 256-character values are fine."""
    tags = [(f"k{i}", "v") for i in range(49)] + [("t" * 128, "v" * 256)]
    response = ec2.create_key_pair(
        KeyName="k" * 255, KeyType="ed25519", TagSpecifications=_tags(*tags)
    )
    assert len(response["Tags"]) == 50


def test_duplicate_name(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """A second pair with the same name is `InvalidKeyPair.Duplicate`."""
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert_client_error(excinfo, "InvalidKeyPair.Duplicate", "The keypair already exists")
    assert len(backend.key_pairs()) == 1


def test_duplicate_checked_after_tags(ec2: BaseClient) -> None:
    """Tag errors come before the duplicate check (SPEC §7 order)."""
    ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", TagSpecifications=_tags(("aws:x", "y")))
    assert_client_error(
        excinfo,
        "InvalidParameterValue",
        "Tag keys starting with 'aws:' are reserved for internal use",
    )


def test_quota(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """The 5,001st pair in an account and region is `KeyPairLimitExceeded`; others are free."""
    state = backend._region_state(backend.account_id, "us-east-1")
    for i in range(KEY_PAIR_QUOTA - 1):
        state.add(Pair(f"seed-{i}", f"key-0{i:016x}", "fp", "rsa", b"", _utc_now()))
    ec2.create_key_pair(KeyName="last", KeyType="ed25519")
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="one-too-many", KeyType="ed25519")
    assert_client_error(excinfo, "KeyPairLimitExceeded", "Maximum of 5000 keypairs reached.")
    west = boto3.client("ec2", region_name="us-west-2")
    west.create_key_pair(KeyName="one-too-many", KeyType="ed25519")


def _utc_now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_regions_are_partitioned(backend: KeyPairsBackend) -> None:
    """The same name may exist in two regions; nothing is visible across regions."""
    east = boto3.client("ec2", region_name="us-east-1")
    west = boto3.client("ec2", region_name="eu-west-1")
    a = east.create_key_pair(KeyName="deploy", KeyType="ed25519")
    b = west.create_key_pair(KeyName="deploy", KeyType="ed25519")
    assert a["KeyPairId"] != b["KeyPairId"]
    assert [r.key_pair_id for r in backend.key_pairs(region="us-east-1")] == [a["KeyPairId"]]
    assert [r.key_pair_id for r in backend.key_pairs(region="eu-west-1")] == [b["KeyPairId"]]
    assert backend.key_pairs(region="ap-south-1") == []


def test_dry_run_allowed_is_412(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """DryRun with the default (allow-all) policy answers 412 DryRunOperation, creates nothing."""
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName="deploy", DryRun=True)
    assert_client_error(
        excinfo, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
    )
    assert backend.key_pairs() == []


def test_dry_run_precedes_validation(ec2: BaseClient) -> None:
    """DryRun answers 412 even for a request that would fail validation (SPEC §7)."""
    with pytest.raises(ClientError) as excinfo:
        ec2.create_key_pair(KeyName=" bad ", KeyType="ecdsa", DryRun=True)
    assert_client_error(
        excinfo, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
    )


def test_error_xml_escapes_user_input(backend: KeyPairsBackend) -> None:
    """A name with XML metacharacters and controls still yields well-formed XML (SPEC §7)."""
    from ec2_keypair_mock._wire import WireRequest

    response = backend.dispatch(WireRequest("CreateKeyPair", {"KeyName": " <a&b>\x00"}))
    assert response.status == 400
    assert b"&lt;a&amp;b&gt;\xef\xbf\xbd" in response.body
