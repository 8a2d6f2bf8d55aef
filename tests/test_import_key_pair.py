"""ImportKeyPair through real boto3 clients, against SPEC §3, §6 and §7.

Keys come from the real tools (ssh-keygen, openssl) and fingerprints are checked against what
those tools compute. The parser itself is tested exhaustively in test_keys.py; these tests prove
the API around it: the response, the stored pair, the errors and their order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ec2_keypair_mock import KeyPairsBackend
from ec2_keypair_mock._state import KEY_PAIR_QUOTA, Pair
from tests.helpers import assert_client_error, assert_valid_output
from tests.helpers_tools import run_ok

FORMAT_ERROR = ("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
TOO_LONG = (
    "InvalidParameterValue",
    "Value for parameter PublicKeyMaterial is invalid. Length exceeds maximum of 2048.",
)
NOT_ASCII = (
    "InvalidParameterValue",
    "Value for parameter PublicKeyMaterial is invalid. "
    "Character sets beyond ASCII are not supported.",
)
NO_MATERIAL = ("MissingParameter", "The request must contain the parameter PublicKeyMaterial")
DUPLICATE = ("InvalidKeyPair.Duplicate", "The keypair already exists")
DRY_RUN = ("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def _md5_colon(work: Path, der: bytes) -> str:
    """`openssl md5 -c` of ``der``: EC2's imported-RSA fingerprint (SPEC §2.2)."""
    return run_ok(["openssl", "md5", "-c"], cwd=work, stdin=der).decode().split()[-1]


def _synthetic_spki(bits: int) -> bytes:
    """DER SPKI of an RSA public key with an exactly ``bits``-bit modulus.

    Only the public numbers matter to ImportKeyPair; this avoids generating an 8192-bit key
    (tens of seconds with openssl). The modulus is odd with its top bit set.
    """
    n = (1 << (bits - 1)) | int.from_bytes(b"\x5a" * (bits // 8), "big") >> 1 | 1
    n &= (1 << bits) - 1
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _ssh_line_of_spki(work: Path, name: str, spki: bytes) -> bytes:
    """ssh-keygen's OpenSSH line for a DER SPKI (`ssh-keygen -i -m PKCS8`)."""
    pem = work / f"{name}.pem"
    pem.write_bytes(
        b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki) + b"-----END PUBLIC KEY-----\n"
    )
    return run_ok(["ssh-keygen", "-i", "-m", "PKCS8", "-f", str(pem)], cwd=work)


@dataclass(frozen=True)
class Keys:
    """Public keys written by the real tools, with the fingerprints the tools compute."""

    work: Path
    rsa_line: bytes  # `ssh-keygen -y`, comment `alice@laptop`
    rsa_rfc4716: bytes  # `ssh-keygen -e`
    rsa_der_b64: bytes  # `openssl rsa -pubout -outform DER | openssl base64` (64 columns)
    rsa_der_b64_one_line: bytes  # `openssl base64 -A`
    rsa_fingerprint: str  # `openssl rsa -pubout -outform DER | openssl md5 -c`
    rsa_spki_pem: bytes  # BEGIN PUBLIC KEY (rejected)
    rsa_pkcs1_pem: bytes  # BEGIN RSA PUBLIC KEY (rejected)
    rsa_pkcs1_der_b64: bytes  # base64 PKCS#1 DER (rejected)
    ed_line: bytes  # ssh-keygen ed25519 .pub, comment `bob@host`
    ed_rfc4716: bytes  # rejected
    ed_spki_pem: bytes  # openssl ed25519 BEGIN PUBLIC KEY (rejected)
    ed_fingerprint: str  # `ssh-keygen -lf` without `SHA256:`, plus `=`
    ecdsa_line: bytes  # rejected
    rsa_512_der_b64: bytes  # `openssl genrsa 512` (ssh-keygen refuses keys this small)
    rsa_512_fingerprint: str
    rsa_1024_line: bytes  # `openssl genrsa 1024` then `ssh-keygen -y`
    rsa_1024_fingerprint: str
    rsa_8192_line: bytes  # `ssh-keygen -i -m PKCS8` of an 8192-bit public key
    rsa_8192_fingerprint: str

    def blob_b64(self, line: bytes) -> str:
        return line.split()[1].decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Every key the module imports, made once by ssh-keygen and openssl."""
    work = tmp_path_factory.mktemp("import-keys")

    def tool(*args: str, stdin: bytes = b"") -> bytes:
        return run_ok(list(args), cwd=work, stdin=stdin)

    tool(
        "ssh-keygen",
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-m",
        "PEM",
        "-N",
        "",
        "-C",
        "alice@laptop",
        "-f",
        "rsa",
    )
    rsa_der = tool("openssl", "rsa", "-in", "rsa", "-pubout", "-outform", "DER")
    tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob@host", "-f", "ed")
    ed_listing = tool("ssh-keygen", "-lf", "ed.pub").decode().split()[1]
    tool("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", "ecdsa")
    tool("openssl", "genpkey", "-algorithm", "ed25519", "-out", "ed-openssl.pem")
    tool("openssl", "genrsa", "-out", "rsa512.pem", "512")
    rsa512_der = tool("openssl", "rsa", "-in", "rsa512.pem", "-pubout", "-outform", "DER")
    tool("openssl", "genrsa", "-out", "rsa1024.pem", "1024")
    rsa1024_der = tool("openssl", "rsa", "-in", "rsa1024.pem", "-pubout", "-outform", "DER")
    spki_8192 = _synthetic_spki(8192)
    # openssl must read the synthetic key back unchanged, so it is a real SPKI.
    assert (
        tool("openssl", "pkey", "-pubin", "-inform", "DER", "-outform", "DER", stdin=spki_8192)
        == spki_8192
    )
    return Keys(
        work=work,
        rsa_line=(work / "rsa.pub").read_bytes(),
        rsa_rfc4716=tool("ssh-keygen", "-e", "-f", "rsa.pub"),
        rsa_der_b64=tool("openssl", "base64", stdin=rsa_der),
        rsa_der_b64_one_line=tool("openssl", "base64", "-A", stdin=rsa_der),
        rsa_fingerprint=_md5_colon(work, rsa_der),
        rsa_spki_pem=tool("openssl", "rsa", "-in", "rsa", "-pubout"),
        rsa_pkcs1_pem=tool("openssl", "rsa", "-in", "rsa", "-RSAPublicKey_out"),
        rsa_pkcs1_der_b64=tool(
            "openssl",
            "base64",
            stdin=tool("openssl", "rsa", "-in", "rsa", "-RSAPublicKey_out", "-outform", "DER"),
        ),
        ed_line=(work / "ed.pub").read_bytes(),
        ed_rfc4716=tool("ssh-keygen", "-e", "-f", "ed.pub"),
        ed_spki_pem=tool("openssl", "pkey", "-in", "ed-openssl.pem", "-pubout"),
        ed_fingerprint=ed_listing.removeprefix("SHA256:") + "=",
        ecdsa_line=(work / "ecdsa.pub").read_bytes(),
        rsa_512_der_b64=tool("openssl", "base64", stdin=rsa512_der),
        rsa_512_fingerprint=_md5_colon(work, rsa512_der),
        rsa_1024_line=tool("ssh-keygen", "-y", "-f", "rsa1024.pem"),
        rsa_1024_fingerprint=_md5_colon(work, rsa1024_der),
        rsa_8192_line=_ssh_line_of_spki(work, "rsa8192", spki_8192),
        rsa_8192_fingerprint=_md5_colon(work, spki_8192),
    )


def _tags(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": "key-pair", "Tags": [{"Key": k, "Value": v} for k, v in pairs]}]


def _import_error(
    ec2: BaseClient, name: str, material: bytes | str, *error: Any, **kwargs: Any
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material, **kwargs)
    assert_client_error(excinfo, *error)


# --------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize(
    ("form", "key_type"),
    [
        ("rsa_line", "rsa"),
        ("rsa_line_no_comment", "rsa"),
        ("rsa_line_no_newline", "rsa"),
        ("rsa_rfc4716", "rsa"),
        ("rsa_der_b64", "rsa"),
        ("rsa_der_b64_one_line", "rsa"),
        ("ed_line", "ed25519"),
        ("ed_line_no_comment", "ed25519"),
    ],
)
def test_import_accepted_forms(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys, form: str, key_type: str
) -> None:
    """Each accepted spelling imports: name, id, tool-computed fingerprint, no Tags, no material."""
    materials = {
        "rsa_line": keys.rsa_line,
        "rsa_line_no_comment": b" ".join(keys.rsa_line.split()[:2]) + b"\n",
        "rsa_line_no_newline": keys.rsa_line.rstrip(b"\n"),
        "rsa_rfc4716": keys.rsa_rfc4716,
        "rsa_der_b64": keys.rsa_der_b64,
        "rsa_der_b64_one_line": keys.rsa_der_b64_one_line,
        "ed_line": keys.ed_line,
        "ed_line_no_comment": b" ".join(keys.ed_line.split()[:2]),
    }
    response = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=materials[form])
    assert_valid_output(ec2, "ImportKeyPair", response)
    assert set(response) == {"KeyName", "KeyPairId", "KeyFingerprint", "ResponseMetadata"}
    expected = keys.rsa_fingerprint if key_type == "rsa" else keys.ed_fingerprint
    assert response["KeyName"] == "laptop"
    assert response["KeyFingerprint"] == expected
    [record] = backend.key_pairs()
    assert (record.key_pair_id, record.fingerprint, record.key_type) == (
        response["KeyPairId"],
        expected,
        key_type,
    )


def test_rsa_fingerprint_is_openssl_md5_of_spki(ec2: BaseClient, keys: Keys) -> None:
    """Imported RSA: `openssl rsa -pubout -outform DER | openssl md5 -c` (47 chars, SPEC §2.2)."""
    response = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.rsa_line)
    assert response["KeyFingerprint"] == keys.rsa_fingerprint
    assert len(response["KeyFingerprint"]) == 47


def test_ed25519_fingerprint_is_ssh_keygen_with_padding(ec2: BaseClient, keys: Keys) -> None:
    """Imported Ed25519: `ssh-keygen -lf` without `SHA256:`, with `=` (44 chars, SPEC §2.2)."""
    response = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line)
    assert response["KeyFingerprint"] == keys.ed_fingerprint
    assert len(response["KeyFingerprint"]) == 44
    assert response["KeyFingerprint"].endswith("=")


def test_one_rsa_key_in_three_forms_is_one_fingerprint(ec2: BaseClient, keys: Keys) -> None:
    """OpenSSH, RFC 4716 and DER spellings of one key: one fingerprint, one normalised line."""
    forms = {"line": keys.rsa_line, "rfc": keys.rsa_rfc4716, "der": keys.rsa_der_b64}
    fingerprints = {
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)["KeyFingerprint"]
        for name, material in forms.items()
    }
    assert fingerprints == {keys.rsa_fingerprint}
    described = ec2.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]
    blob = keys.blob_b64(keys.rsa_line)
    assert [(p["KeyName"], p["PublicKey"]) for p in described] == [
        (name, f"ssh-rsa {blob} {name}\n") for name in forms
    ]


def test_same_material_under_several_names(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys
) -> None:
    """The same material imports under several names, each its own pair with its own id."""
    first = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line)
    second = ec2.import_key_pair(KeyName="desktop", PublicKeyMaterial=keys.ed_line)
    assert first["KeyFingerprint"] == second["KeyFingerprint"]
    assert first["KeyPairId"] != second["KeyPairId"]
    assert [r.name for r in backend.key_pairs()] == ["laptop", "desktop"]


def test_material_may_be_text(ec2: BaseClient, keys: Keys) -> None:
    """boto3 also takes the material as str (it base64-encodes it the same way)."""
    response = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line.decode())
    assert response["KeyFingerprint"] == keys.ed_fingerprint


@pytest.mark.parametrize(
    ("key_name", "material_of"),
    [
        ("rsa-512", lambda k: (k.rsa_512_der_b64, k.rsa_512_fingerprint)),
        ("rsa-1024", lambda k: (k.rsa_1024_line, k.rsa_1024_fingerprint)),
        ("rsa-2048", lambda k: (k.rsa_line, k.rsa_fingerprint)),
        ("rsa-8192", lambda k: (k.rsa_8192_line, k.rsa_8192_fingerprint)),
    ],
)
def test_rsa_sizes_512_to_8192_import(
    ec2: BaseClient, keys: Keys, key_name: str, material_of: Any
) -> None:
    """RSA keys of 512 to 8192 bits import with openssl's md5 fingerprint (SPEC §3)."""
    material, fingerprint = material_of(keys)
    response = ec2.import_key_pair(KeyName=key_name, PublicKeyMaterial=material)
    assert_valid_output(ec2, "ImportKeyPair", response)
    assert response["KeyFingerprint"] == fingerprint
    [pair] = ec2.describe_key_pairs(KeyNames=[key_name])["KeyPairs"]
    assert pair["KeyType"] == "rsa"


@pytest.mark.parametrize("bits", [511, 8193])
def test_rsa_sizes_outside_range_are_format_errors(
    ec2: BaseClient, backend: KeyPairsBackend, bits: int
) -> None:
    """A 511- or 8193-bit modulus is InvalidKey.Format; nothing is imported."""
    material = base64.encodebytes(_synthetic_spki(bits))
    _import_error(ec2, "odd-size", material, *FORMAT_ERROR)
    assert backend.key_pairs() == []


# --------------------------------------------------------------------------- describe after import


def test_describe_shows_imported_pair(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys
) -> None:
    """Describe: KeyType for imported keys, Tags [], ms CreateTime; the name replaces a comment."""
    before = datetime.now(timezone.utc).replace(microsecond=0)
    imported = ec2.import_key_pair(KeyName="ci runner", PublicKeyMaterial=keys.ed_line)
    response = ec2.describe_key_pairs(IncludePublicKey=True)
    assert_valid_output(ec2, "DescribeKeyPairs", response)
    [pair] = response["KeyPairs"]
    assert pair["KeyName"] == "ci runner"
    assert pair["KeyPairId"] == imported["KeyPairId"]
    assert pair["KeyFingerprint"] == keys.ed_fingerprint
    assert pair["KeyType"] == "ed25519"
    assert pair["Tags"] == []
    assert pair["PublicKey"] == f"ssh-ed25519 {keys.blob_b64(keys.ed_line)} ci runner\n"
    assert "bob@host" not in pair["PublicKey"]
    created = pair["CreateTime"]
    assert created.tzinfo is not None
    assert created.microsecond % 1000 == 0
    assert before <= created <= datetime.now(timezone.utc)
    assert created == backend.key_pairs()[0].create_time


@pytest.mark.parametrize("form", ["rsa_rfc4716", "rsa_der_b64"])
def test_rfc4716_and_der_imports_describe_in_openssh_form(
    ec2: BaseClient, keys: Keys, form: str
) -> None:
    """RFC 4716 and DER imports come back as an OpenSSH line ending in the pair's name (SPEC §4)."""
    ec2.import_key_pair(KeyName="build", PublicKeyMaterial=getattr(keys, form))
    [pair] = ec2.describe_key_pairs(KeyNames=["build"], IncludePublicKey=True)["KeyPairs"]
    assert pair["PublicKey"] == f"ssh-rsa {keys.blob_b64(keys.rsa_line)} build\n"
    assert pair["KeyType"] == "rsa"


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "material_of",
    [
        pytest.param(lambda k: k.rsa_spki_pem, id="BEGIN-PUBLIC-KEY"),
        pytest.param(lambda k: k.rsa_pkcs1_pem, id="BEGIN-RSA-PUBLIC-KEY"),
        pytest.param(lambda k: k.rsa_pkcs1_der_b64, id="base64-PKCS1-DER"),
        pytest.param(lambda k: b'from="10.0.0.1" ' + k.rsa_line, id="options-prefix"),
        pytest.param(lambda k: k.ed_rfc4716, id="ed25519-RFC4716"),
        pytest.param(lambda k: k.ed_spki_pem, id="ed25519-PEM"),
        pytest.param(lambda k: k.ecdsa_line, id="ecdsa"),
        pytest.param(
            lambda k: b"ssh-dss " + base64.b64encode(b"\0\0\0\x07ssh-dss" + b"\0\0\0\x01\x05" * 4),
            id="dsa",
        ),
        pytest.param(lambda k: b"this is not a key", id="arbitrary-text"),
        pytest.param(lambda k: k.ed_line + b"trailing text\n", id="text-after-key"),
        pytest.param(lambda k: b"# my laptop\n" + k.ed_line, id="leading-hash-line"),
    ],
)
def test_format_errors(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys, material_of: Any
) -> None:
    """Every rejected spelling of SPEC §3 is InvalidKey.Format, and nothing is imported."""
    _import_error(ec2, "laptop", material_of(keys), *FORMAT_ERROR)
    assert backend.key_pairs() == []


def test_non_ascii_material(ec2: BaseClient, backend: KeyPairsBackend, keys: Keys) -> None:
    """Non-ASCII bytes (a comment `café`) → InvalidParameterValue, character sets."""
    _import_error(ec2, "laptop", keys.ed_line.rstrip() + " café".encode(), *NOT_ASCII)
    assert backend.key_pairs() == []


def test_length_limit_is_2048_bytes(ec2: BaseClient, backend: KeyPairsBackend, keys: Keys) -> None:
    """2048 bytes of material import; 2049 bytes → InvalidParameterValue, length."""
    line = keys.ed_line.rstrip()
    exact = line + b" " + b"c" * (2048 - len(line) - 1)
    assert len(exact) == 2048
    ec2.import_key_pair(KeyName="exact", PublicKeyMaterial=exact)
    _import_error(ec2, "over", exact + b"c", *TOO_LONG)
    assert [r.name for r in backend.key_pairs()] == ["exact"]


def test_empty_material_is_missing(ec2: BaseClient, backend: KeyPairsBackend) -> None:
    """Empty material → MissingParameter PublicKeyMaterial."""
    _import_error(ec2, "laptop", b"", *NO_MATERIAL)
    assert backend.key_pairs() == []


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("", "MissingParameter", "The request must contain the parameter KeyName"),
        (
            "k" * 256,
            "InvalidParameterValue",
            "Value for parameter KeyName is invalid. Length exceeds maximum of 255.",
        ),
        (
            "clé",
            "InvalidParameterValue",
            "Value for parameter KeyName is invalid. "
            "Character sets beyond ASCII are not supported.",
        ),
        (
            " laptop",
            "InvalidParameterValue",
            "Invalid value ' laptop' for keyName. It should be trimmed",
        ),
    ],
)
def test_key_name_errors(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys, name: str, code: str, message: str
) -> None:
    """ImportKeyPair applies CreateKeyPair's KeyName rules (SPEC §7)."""
    _import_error(ec2, name, keys.ed_line, code, message)
    assert backend.key_pairs() == []


# --------------------------------------------------------------------------- duplicate and order


def test_duplicate_name(ec2: BaseClient, backend: KeyPairsBackend, keys: Keys) -> None:
    """A second import (or create) under an existing name is InvalidKeyPair.Duplicate."""
    ec2.create_key_pair(KeyName="laptop", KeyType="ed25519")
    _import_error(ec2, "laptop", keys.ed_line, *DUPLICATE)
    assert len(backend.key_pairs()) == 1


@pytest.mark.parametrize(
    "material",
    [
        pytest.param(b"garbage", id="garbage"),
        pytest.param(b"x" * 2049, id="too-long"),
        pytest.param("ssh-ed25519 café".encode(), id="non-ascii"),
    ],
)
def test_duplicate_is_reported_before_the_material(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys, material: bytes
) -> None:
    """Duplicate name + bad material → Duplicate: the material is not examined [rec]."""
    ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line)
    _import_error(ec2, "laptop", material, *DUPLICATE)


@pytest.mark.parametrize(
    ("name", "material", "tags", "error"),
    [
        pytest.param(
            "",
            b"",
            None,
            ("MissingParameter", "The request must contain the parameter KeyName"),
            id="missing-name-before-missing-material",
        ),
        pytest.param(
            "laptop ",
            b"",
            None,
            ("InvalidParameterValue", "Invalid value 'laptop ' for keyName. It should be trimmed"),
            id="name-syntax-before-missing-material",
        ),
        pytest.param(
            "k" * 256,
            b"garbage",
            _tags(("aws:x", "y")),
            (
                "InvalidParameterValue",
                "Value for parameter KeyName is invalid. Length exceeds maximum of 255.",
            ),
            id="name-before-tags-and-format",
        ),
        pytest.param(
            "laptop",
            b"",
            _tags(("aws:x", "y")),
            NO_MATERIAL,
            id="missing-material-before-tags",
        ),
        pytest.param(
            "existing",
            b"garbage",
            _tags(("aws:x", "y")),
            (
                "InvalidParameterValue",
                "Tag keys starting with 'aws:' are reserved for internal use",
            ),
            id="tags-before-duplicate",
        ),
        pytest.param(
            "existing",
            b"",
            None,
            NO_MATERIAL,
            id="missing-material-before-duplicate",
        ),
        pytest.param(
            "laptop",
            "é".encode() * 1025,
            None,
            TOO_LONG,
            id="length-before-non-ascii",
        ),
        pytest.param("laptop", b"x" * 2049, None, TOO_LONG, id="length-before-format"),
        pytest.param("laptop", "clé".encode(), None, NOT_ASCII, id="non-ascii-before-format"),
    ],
)
def test_validation_order(
    ec2: BaseClient,
    backend: KeyPairsBackend,
    name: str,
    material: bytes,
    tags: list[dict[str, Any]] | None,
    error: tuple[str, str],
) -> None:
    """ImportKeyPair checks in SPEC §7's order: KeyName → material present → tags → duplicate →
    length → non-ASCII → format."""
    ec2.create_key_pair(KeyName="existing", KeyType="ed25519")
    kwargs = {"TagSpecifications": tags} if tags else {}
    _import_error(ec2, name, material, *error, **kwargs)
    assert [r.name for r in backend.key_pairs()] == ["existing"]


def test_dry_run_answers_412_before_validation(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys
) -> None:
    """DryRun → 412 for a good request and for one that would fail validation; nothing imported."""
    _import_error(ec2, "laptop", keys.ed_line, *DRY_RUN, DryRun=True)
    _import_error(ec2, " bad ", b"garbage", *DRY_RUN, DryRun=True)
    assert backend.key_pairs() == []


# --------------------------------------------------------------------------- tags, regions, quota


def test_tags_on_import(ec2: BaseClient, backend: KeyPairsBackend, keys: Keys) -> None:
    """Tags given at import come back in `Tags`, in order, and are stored with the pair."""
    response = ec2.import_key_pair(
        KeyName="laptop",
        PublicKeyMaterial=keys.rsa_line,
        TagSpecifications=_tags(("owner", "alice"), ("env", "")),
    )
    assert_valid_output(ec2, "ImportKeyPair", response)
    assert response["Tags"] == [{"Key": "owner", "Value": "alice"}, {"Key": "env", "Value": ""}]
    [pair] = ec2.describe_key_pairs()["KeyPairs"]
    assert pair["Tags"] == response["Tags"]
    assert dict(backend.key_pairs()[0].tags) == {"owner": "alice", "env": ""}


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (
            [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
            "'instance' is not a valid taggable resource type for this operation.",
        ),
        (
            _tags(("a", "1")) + _tags(("b", "2")),
            "The same resource type may not be specified more than once in tag specifications.",
        ),
        (_tags(("aws:owner", "me")), "Tag keys starting with 'aws:' are reserved for internal use"),
        (_tags(("team", "a"), ("team", "b")), "Duplicate tag key 'team' specified."),
        (_tags(("t" * 129, "v")), "Tag key exceeds the maximum length of 128 characters"),
        (_tags(("t", "v" * 257)), "Tag value exceeds the maximum length of 256 characters"),
    ],
)
def test_tag_errors_import_nothing(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys, specs: Any, message: str
) -> None:
    """Tag errors on import are CreateKeyPair's; tagging is atomic, so nothing is imported."""
    _import_error(
        ec2, "laptop", keys.ed_line, "InvalidParameterValue", message, TagSpecifications=specs
    )
    assert backend.key_pairs() == []


def test_tag_limit_on_import(ec2: BaseClient, backend: KeyPairsBackend, keys: Keys) -> None:
    """50 tags import; 51 → TagLimitExceeded and nothing is imported."""
    fifty = _tags(*[(f"k{i}", "v") for i in range(50)])
    assert (
        len(
            ec2.import_key_pair(
                KeyName="fifty", PublicKeyMaterial=keys.ed_line, TagSpecifications=fifty
            )["Tags"]
        )
        == 50
    )
    _import_error(
        ec2,
        "fifty-one",
        keys.ed_line,
        "TagLimitExceeded",
        "The maximum number of tags for a resource has been reached.",
        TagSpecifications=_tags(*[(f"k{i}", "v") for i in range(51)]),
    )
    assert [r.name for r in backend.key_pairs()] == ["fifty"]


def test_regions_are_separate(backend: KeyPairsBackend, keys: Keys) -> None:
    """One name and one material import in two regions: two pairs, each visible only at home."""
    east = boto3.client("ec2", region_name="us-east-1")
    west = boto3.client("ec2", region_name="eu-west-1")
    a = east.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line)
    b = west.import_key_pair(KeyName="laptop", PublicKeyMaterial=keys.ed_line)
    assert a["KeyFingerprint"] == b["KeyFingerprint"]
    assert a["KeyPairId"] != b["KeyPairId"]
    assert [p["KeyPairId"] for p in east.describe_key_pairs()["KeyPairs"]] == [a["KeyPairId"]]
    assert [p["KeyPairId"] for p in west.describe_key_pairs()["KeyPairs"]] == [b["KeyPairId"]]


def test_quota_comes_after_the_format_check(
    ec2: BaseClient, backend: KeyPairsBackend, keys: Keys
) -> None:
    """At 5,000 pairs: a good import → KeyPairLimitExceeded; bad material and duplicate names
    still get their own errors first (SPEC §7: … duplicate → … format → quota)."""
    state = backend._region_state(backend.account_id, "us-east-1")
    now = datetime.now(timezone.utc)
    for i in range(KEY_PAIR_QUOTA):
        state.add(Pair(f"seed-{i}", f"key-0{i:016x}", "fp", "ed25519", b"", now))
    _import_error(ec2, "laptop", b"garbage", *FORMAT_ERROR)
    _import_error(ec2, "seed-0", keys.ed_line, *DUPLICATE)
    _import_error(
        ec2, "laptop", keys.ed_line, "KeyPairLimitExceeded", "Maximum of 5000 keypairs reached."
    )
