"""The key module against the real tools: ssh-keygen, puttygen and openssl (SPEC §2, §3).

Every expected value here is computed by a tool, not by the code under test, so a wrong
fingerprint, a bad MAC or a mis-encoded blob fails a test.
"""

from __future__ import annotations

import base64
import contextlib
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_ssh_private_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2_keypair_mock._import import KeyFormatInvalid, parse_public_key_material
from ec2_keypair_mock._keys import (
    KeyFormat,
    KeyType,
    NewKey,
    create_key,
    generate_private_key,
    key_type_of_blob,
    material_for,
    public_key_line,
)
from ec2_keypair_mock._ppk import (
    PrivateKey,
    ppk_v2,
    ppk_v3,
    rsa_public_blob,
    ssh_mpint,
    ssh_string,
)
from tests.helpers_tools import run, run_ok

KEY_TYPES: list[KeyType] = ["rsa", "ed25519"]
NAME = "deploy-key"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch directory for the module: the tools read and write files there."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def keys() -> dict[KeyType, PrivateKey]:
    """One private key per type, generated once: RSA generation is the slow part."""
    return {key_type: generate_private_key(key_type) for key_type in KEY_TYPES}


@pytest.fixture(scope="module")
def new_keys(keys: dict[KeyType, PrivateKey]) -> dict[tuple[KeyType, KeyFormat], NewKey]:
    """The material EC2 would return for each key in each format."""
    formats: list[KeyFormat] = ["pem", "ppk"]
    return {(t, f): material_for(keys[t], f, NAME) for t in KEY_TYPES for f in formats}


def write(directory: Path, name: str, content: str | bytes) -> Path:
    """Write a file the tools will read; private keys get mode 0600 or ssh-keygen refuses them."""
    path = directory / name
    path.write_bytes(content.encode("ascii") if isinstance(content, str) else content)
    path.chmod(0o600)
    return path


def openssh_private_file(material: str) -> str:
    """What a user saves: OpenSSH needs a final newline that EC2's material lacks (SPEC §2.1)."""
    return material + "\n" if "OPENSSH" in material else material


def without_comment(line: str) -> str:
    """``public_key_line`` minus the name, i.e. what ``ssh-keygen -y`` prints for the key."""
    alg, blob, _name = line.rstrip("\n").split(" ")
    return f"{alg} {blob}"


def digest_hex(openssl_output: bytes) -> str:
    """Pull the colon hex out of ``openssl <digest> -c`` output (``MD5(stdin)= 0a:1b:...``)."""
    match = re.search(rb"= ([0-9a-f:]+)\s*$", openssl_output)
    if match is None:
        pytest.fail(f"openssl printed no digest: {openssl_output!r}")
    return match.group(1).decode("ascii")


def ssh_keygen_fingerprint(path: Path) -> str:
    """``ssh-keygen -l``'s ``SHA256:`` value in EC2's form: padded, without the prefix."""
    fields = run_ok(["ssh-keygen", "-l", "-f", str(path)], cwd=path.parent).split()
    if not fields[1].startswith(b"SHA256:"):
        pytest.fail(f"unexpected ssh-keygen -l output: {fields!r}")
    return fields[1].decode("ascii").removeprefix("SHA256:") + "="


# --------------------------------------------------------------------------- created keys


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_pem_material_derives_the_described_public_key(
    key_type: KeyType, new_keys: dict[tuple[KeyType, KeyFormat], NewKey], work: Path
) -> None:
    """ssh-keygen loads every pem material and derives the key DescribeKeyPairs will show."""
    new = new_keys[key_type, "pem"]
    path = write(work, f"derive-{key_type}.pem", openssh_private_file(new.material))
    derived = run_ok(["ssh-keygen", "-y", "-f", str(path)], cwd=work).decode("ascii")
    assert derived == without_comment(public_key_line(new.public_blob, NAME)) + "\n"


def test_openssh_material_needs_the_newline_users_add(
    new_keys: dict[tuple[KeyType, KeyFormat], NewKey], work: Path
) -> None:
    """The Ed25519 material ends without a newline, as EC2's does; ssh-keygen needs one (§2.1)."""
    path = write(work, "bare-ed25519.pem", new_keys["ed25519", "pem"].material)
    assert run(["ssh-keygen", "-y", "-f", str(path)], cwd=work).returncode != 0


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("version", [2, 3])
def test_ppk_is_byte_identical_to_puttygen(
    key_type: KeyType, version: int, keys: dict[KeyType, PrivateKey], work: Path
) -> None:
    """puttygen converting the same key, with the same comment, writes exactly our file."""
    key = keys[key_type]
    source_format = PrivateFormat.TraditionalOpenSSL if key_type == "rsa" else PrivateFormat.OpenSSH
    source = write(
        work,
        f"src-{key_type}.pem",
        key.private_bytes(Encoding.PEM, source_format, NoEncryption()),
    )
    out = work / f"ref-{key_type}-{version}.ppk"
    run_ok(
        [
            "puttygen",
            str(source),
            "-O",
            "private",
            "-o",
            str(out),
            "-C",
            NAME,
            "--ppk-param",
            f"version={version}",
        ],
        cwd=work,
    )
    ours = ppk_v2(key, NAME) if version == 2 else ppk_v3(key, NAME)
    assert ours == out.read_text("ascii")


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_ppk_material_loads_in_puttygen_with_the_same_key(
    key_type: KeyType,
    keys: dict[KeyType, PrivateKey],
    new_keys: dict[tuple[KeyType, KeyFormat], NewKey],
    work: Path,
) -> None:
    """puttygen verifies the MAC, exports the same private key, and lists the described key."""
    new = new_keys[key_type, "ppk"]
    path = write(work, f"load-{key_type}.ppk", new.material)
    out = work / f"load-{key_type}.openssh"
    run_ok(["puttygen", str(path), "-O", "private-openssh", "-o", str(out)], cwd=work)
    exported_text = out.read_bytes()
    exported = (
        load_ssh_private_key(exported_text, password=None)
        if b"OPENSSH" in exported_text
        else load_pem_private_key(exported_text, password=None)
    )
    raw = PrivateFormat.PKCS8
    assert exported.private_bytes(Encoding.DER, raw, NoEncryption()) == keys[
        key_type
    ].private_bytes(Encoding.DER, raw, NoEncryption())
    listed = run_ok(["puttygen", str(path), "-L"], cwd=work).decode("ascii")
    assert listed == public_key_line(new.public_blob, NAME)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_puttygen_rejects_a_corrupted_mac(
    key_type: KeyType, new_keys: dict[tuple[KeyType, KeyFormat], NewKey], work: Path
) -> None:
    """A changed MAC digit makes puttygen refuse the file, so the acceptance test can fail."""
    material = new_keys[key_type, "ppk"].material
    head, mac = material.rstrip("\n").rsplit(": ", 1)
    flipped = ("0" if mac[0] != "0" else "1") + mac[1:]
    path = write(work, f"bad-mac-{key_type}.ppk", f"{head}: {flipped}\n")
    result = run(["puttygen", str(path), "-O", "private-openssh", "-o", str(work / "x")], cwd=work)
    assert result.returncode != 0
    assert b"MAC" in result.stderr or b"corrupt" in result.stderr.lower()


def test_rsa_created_fingerprint_is_sha1_of_pkcs8_der(
    new_keys: dict[tuple[KeyType, KeyFormat], NewKey], work: Path
) -> None:
    """The RSA fingerprint is what AWS documents: openssl pkcs8 -topk8 DER piped to sha1 -c."""
    new = new_keys["rsa", "pem"]
    path = write(work, "fp-rsa.pem", new.material)
    der = run_ok(
        [
            *("openssl", "pkcs8", "-in", str(path), "-inform", "PEM", "-outform", "DER"),
            *("-topk8", "-nocrypt"),
        ],
        cwd=work,
    )
    expected = digest_hex(run_ok(["openssl", "sha1", "-c"], cwd=work, stdin=der))
    assert new.fingerprint == expected
    assert len(new.fingerprint) == 59
    assert new_keys["rsa", "ppk"].fingerprint == new.fingerprint


def test_ed25519_fingerprint_is_ssh_keygen_sha256_padded(
    new_keys: dict[tuple[KeyType, KeyFormat], NewKey], work: Path
) -> None:
    """The Ed25519 fingerprint is ssh-keygen -l's SHA256 value with '=' and without the prefix."""
    new = new_keys["ed25519", "pem"]
    pub = write(work, "fp-ed25519.pub", public_key_line(new.public_blob, NAME))
    assert new.fingerprint == ssh_keygen_fingerprint(pub)
    assert len(new.fingerprint) == 44
    assert new_keys["ed25519", "ppk"].fingerprint == new.fingerprint


def test_rsa_pem_layout(new_keys: dict[tuple[KeyType, KeyFormat], NewKey]) -> None:
    """PKCS#1 armor, 64-column base64, LF only, no final newline, RSA-2048 with e=65537."""
    material = new_keys["rsa", "pem"].material
    lines = material.split("\n")
    assert lines[0] == "-----BEGIN RSA PRIVATE KEY-----"
    assert lines[-1] == "-----END RSA PRIVATE KEY-----"
    assert not material.endswith("\n")
    assert "\r" not in material
    body = lines[1:-1]
    assert all(len(line) == 64 for line in body[:-1])
    assert 0 < len(body[-1]) <= 64
    key = load_pem_private_key(material.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537


def test_ed25519_pem_layout(new_keys: dict[tuple[KeyType, KeyFormat], NewKey]) -> None:
    """OpenSSH armor, 70-column base64 like ssh-keygen, no final newline, empty comment."""
    material = new_keys["ed25519", "pem"].material
    lines = material.split("\n")
    assert lines[0] == "-----BEGIN OPENSSH PRIVATE KEY-----"
    assert lines[-1] == "-----END OPENSSH PRIVATE KEY-----"
    assert not material.endswith("\n")
    body = lines[1:-1]
    assert all(len(line) == 70 for line in body[:-1])
    assert 0 < len(body[-1]) <= 70
    fields = openssh_private_fields(base64.b64decode("".join(body)))
    assert fields["cipher"] == b"none"
    assert fields["comment"] == b""
    assert fields["padding"] == bytes(range(1, len(fields["padding"]) + 1))


def openssh_private_fields(blob: bytes) -> dict[str, bytes]:
    """Split an unencrypted openssh-key-v1 blob (PROTOCOL.key) into the fields the tests check."""
    magic = b"openssh-key-v1\0"
    assert blob.startswith(magic)
    offset = len(magic)

    def string(data: bytes) -> bytes:
        nonlocal offset
        length = int.from_bytes(data[offset : offset + 4], "big")
        offset += 4 + length
        return data[offset - length : offset]

    cipher, _kdf, _kdf_options = string(blob), string(blob), string(blob)
    offset += 4  # number of keys
    _public, private = string(blob), string(blob)
    offset = 8  # two check integers
    _type, _public_key, _private_key, comment = (string(private) for _ in range(4))
    return {"cipher": cipher, "comment": comment, "padding": private[offset:]}


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_ppk_layout(key_type: KeyType, new_keys: dict[tuple[KeyType, KeyFormat], NewKey]) -> None:
    """PPK v2 headers in order, 64-column base64, lowercase hex MAC, LF, final newline."""
    material = new_keys[key_type, "ppk"].material
    alg = "ssh-rsa" if key_type == "rsa" else "ssh-ed25519"
    assert material.endswith("\n")
    assert not material.endswith("\n\n")
    assert "\r" not in material
    lines = material.rstrip("\n").split("\n")
    assert lines[:3] == [f"PuTTY-User-Key-File-2: {alg}", "Encryption: none", f"Comment: {NAME}"]
    public_count = int(lines[3].removeprefix("Public-Lines: "))
    public = lines[4 : 4 + public_count]
    private_header = lines[4 + public_count]
    private_count = int(private_header.removeprefix("Private-Lines: "))
    private = lines[5 + public_count : 5 + public_count + private_count]
    assert lines[5 + public_count + private_count :] == [lines[-1]]
    assert re.fullmatch(r"Private-MAC: [0-9a-f]{40}", lines[-1])
    for block in (public, private):
        assert all(len(line) == 64 for line in block[:-1])
        assert 0 < len(block[-1]) <= 64
    assert base64.b64decode("".join(public)) == new_keys[key_type, "ppk"].public_blob


def test_create_key_returns_fresh_keys_of_the_asked_type() -> None:
    """create_key generates a new key per call and labels it with its type."""
    first, second = create_key("ed25519", "pem", NAME), create_key("ed25519", "pem", NAME)
    assert first.key_type == "ed25519"
    assert first.public_blob != second.public_blob
    assert create_key("rsa", "ppk", NAME).key_type == "rsa"


def test_bad_arguments_raise_sentences(keys: dict[KeyType, PrivateKey]) -> None:
    """Misuse raises ValueError/TypeError with a readable message, never an AttributeError."""
    with pytest.raises(ValueError, match=r"Key type must be 'rsa' or 'ed25519', not 'dsa'\."):
        generate_private_key("dsa")  # type: ignore[arg-type]  # deliberate misuse
    with pytest.raises(ValueError, match=r"Key format must be 'pem' or 'ppk', not 'der'\."):
        material_for(keys["rsa"], "der", NAME)  # type: ignore[arg-type]  # deliberate misuse
    with pytest.raises(TypeError, match=r"Only RSA and Ed25519 private keys are supported"):
        material_for(ec.generate_private_key(ec.SECP256R1()), "pem", NAME)  # type: ignore[arg-type]  # deliberate misuse
    with pytest.raises(ValueError, match=r"does not start with 'ssh-rsa' or 'ssh-ed25519'"):
        key_type_of_blob(ssh_string(b"ssh-dss") + b"\0")


def test_public_key_line_and_key_type(new_keys: dict[tuple[KeyType, KeyFormat], NewKey]) -> None:
    """publicKey is '<alg> <base64 blob> <name>' plus a newline; the blob names its type."""
    for key_type in KEY_TYPES:
        blob = new_keys[key_type, "pem"].public_blob
        alg = "ssh-rsa" if key_type == "rsa" else "ssh-ed25519"
        encoded = base64.b64encode(blob).decode("ascii")
        assert public_key_line(blob, "web server") == f"{alg} {encoded} web server\n"
        assert key_type_of_blob(blob) == key_type


# --------------------------------------------------------------------------- imported keys


class ToolKeys:
    """Public keys of the module's keys (and a few others) in the spellings the tools write."""

    def __init__(self, keys: dict[KeyType, PrivateKey], work: Path) -> None:
        self.work = work
        rsa_pem = write(
            work,
            "import-rsa.pem",
            keys["rsa"].private_bytes(
                Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
            ),
        )
        ed_pem = write(
            work,
            "import-ed25519.pem",
            keys["ed25519"].private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        )
        ed_openssh = write(
            work,
            "import-ed25519.key",
            keys["ed25519"].private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()),
        )
        self.rsa_pem = rsa_pem
        self.rsa_line = self.ssh_keygen("-y", "-f", str(rsa_pem))
        self.rsa_pub = write(work, "import-rsa.pub", self.rsa_line)
        self.rsa_rfc4716 = self.ssh_keygen("-e", "-f", str(self.rsa_pub))
        self.rsa_spki_der = run_ok(
            ["openssl", "rsa", "-in", str(rsa_pem), "-pubout", "-outform", "DER"], cwd=work
        )
        self.rsa_spki_pem = run_ok(["openssl", "rsa", "-in", str(rsa_pem), "-pubout"], cwd=work)
        self.rsa_pkcs1_pem = run_ok(
            ["openssl", "rsa", "-in", str(rsa_pem), "-RSAPublicKey_out"], cwd=work
        )
        self.rsa_pkcs1_der = run_ok(
            ["openssl", "rsa", "-in", str(rsa_pem), "-RSAPublicKey_out", "-outform", "DER"],
            cwd=work,
        )
        self.ed_line = self.ssh_keygen("-y", "-f", str(ed_openssh))
        self.ed_pub = write(work, "import-ed25519.pub", self.ed_line)
        self.ed_rfc4716 = self.ssh_keygen("-e", "-f", str(self.ed_pub))
        self.ed_spki_pem = run_ok(["openssl", "pkey", "-in", str(ed_pem), "-pubout"], cwd=work)
        self.ed_spki_der = run_ok(
            ["openssl", "pkey", "-in", str(ed_pem), "-pubout", "-outform", "DER"], cwd=work
        )
        ecdsa = work / "import-ecdsa"
        run_ok(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "", "-f", str(ecdsa)], cwd=work)
        self.ecdsa_line = ecdsa.with_suffix(".pub").read_bytes()
        self.ecdsa_rfc4716 = self.ssh_keygen("-e", "-f", str(ecdsa.with_suffix(".pub")))
        # DSA comes from cryptography, written out by hand: OpenSSH 9.8+ builds without DSA key
        # generation, and cryptography's SSH DSA serializer warns (an error under -W error).
        dsa_numbers = dsa.generate_private_key(1024).public_key().public_numbers()
        params = dsa_numbers.parameter_numbers
        dsa_blob = ssh_string(b"ssh-dss") + b"".join(
            ssh_mpint(value) for value in (params.p, params.q, params.g, dsa_numbers.y)
        )
        self.dsa_line = b"ssh-dss " + b64(dsa_blob) + b" dsa@host\n"

    def ssh_keygen(self, *args: str) -> bytes:
        return run_ok(["ssh-keygen", *args], cwd=self.work)

    def openssl_md5(self, der: bytes) -> str:
        return digest_hex(run_ok(["openssl", "md5", "-c"], cwd=self.work, stdin=der))


@pytest.fixture(scope="module")
def tool_keys(keys: dict[KeyType, PrivateKey], work: Path) -> ToolKeys:
    """The tool-written public keys, built once for the module."""
    return ToolKeys(keys, work)


def b64(data: bytes, width: int | None = None) -> bytes:
    """Base64 text of ``data``, on one line or wrapped like the ``base64``/``openssl`` tools."""
    text = base64.b64encode(data).decode("ascii")
    return ("\n".join(textwrap.wrap(text, width)) + "\n" if width else text).encode("ascii")


def rejected(material: bytes) -> None:
    with pytest.raises(KeyFormatInvalid, match=r"^Key is not in valid OpenSSH public key format"):
        parse_public_key_material(material)


def test_imported_rsa_fingerprint_is_md5_of_spki_der(tool_keys: ToolKeys) -> None:
    """openssl rsa -pubout -outform DER | openssl md5 -c is the imported RSA fingerprint."""
    expected = tool_keys.openssl_md5(tool_keys.rsa_spki_der)
    imported = parse_public_key_material(tool_keys.rsa_line)
    assert imported.key_type == "rsa"
    assert imported.fingerprint == expected
    assert len(expected) == 47


def test_one_rsa_key_in_every_accepted_spelling_is_one_key(tool_keys: ToolKeys) -> None:
    """OpenSSH line, RFC 4716 block and base64 SPKI DER import as the same blob and fingerprint."""
    der = tool_keys.rsa_spki_der
    line = tool_keys.rsa_line.rstrip(b"\n")
    spellings = {
        "openssh line": line,
        "openssh line with newline": line + b"\n",
        "openssh line with comment": line + b" alice@laptop",
        "openssh line with spaced comment and CRLF": line + b" build box (2024)\r\n",
        "rfc4716 from ssh-keygen -e": tool_keys.rsa_rfc4716,
        "rfc4716 with CRLF": tool_keys.rsa_rfc4716.replace(b"\n", b"\r\n"),
        "der base64 one line": b64(der),
        "der base64 openssl base64 (64 columns)": run_ok(
            ["openssl", "base64"], cwd=tool_keys.work, stdin=der
        ),
        "der base64 coreutils width (76 columns)": b64(der, 76),
    }
    results = {name: parse_public_key_material(text) for name, text in spellings.items()}
    expected_blob = base64.b64decode(line.split(b" ")[1])
    for name, result in results.items():
        assert (result.public_blob, result.fingerprint) == (
            expected_blob,
            tool_keys.openssl_md5(der),
        ), name
    described = public_key_line(results["rfc4716 from ssh-keygen -e"].public_blob, NAME)
    assert described == f"{line.decode()} {NAME}\n"


def test_rfc4716_headers_and_continuations_are_accepted(tool_keys: ToolKeys) -> None:
    """RFC 4716 headers of any tag, quoted comments and '\\' continuation lines are skipped."""
    lines = tool_keys.rsa_rfc4716.decode("ascii").splitlines()
    body = lines[2:-1]
    block = "\n".join(
        [
            lines[0],
            'Comment: "a comment so long that it has to be continued on \\',
            'the following line of the header"',
            "x-generated-by: test_keys",
            "Subject: alice",
            "Comment:",
            *body,
            lines[-1],
        ]
    )
    expected = parse_public_key_material(tool_keys.rsa_line)
    assert parse_public_key_material(block.encode("ascii")) == expected


def test_ed25519_import_fingerprint_is_ssh_keygen_sha256(tool_keys: ToolKeys) -> None:
    """An imported Ed25519 line gets ssh-keygen -l's SHA256 fingerprint, padded, no prefix."""
    imported = parse_public_key_material(tool_keys.ed_line)
    assert imported.key_type == "ed25519"
    assert imported.fingerprint == ssh_keygen_fingerprint(tool_keys.ed_pub)
    commented = parse_public_key_material(tool_keys.ed_line.rstrip(b"\n") + b" me@host\n")
    assert commented == imported
    assert public_key_line(imported.public_blob, NAME) == (
        tool_keys.ed_line.decode().rstrip("\n") + f" {NAME}\n"
    )


def synthetic_rsa(bits: int) -> tuple[int, int]:
    """(e, n) with an n of exactly ``bits`` bits: the parser only sees public numbers, and this
    avoids generating an 8192-bit key (seconds) or a 512-bit one (cryptography refuses)."""
    return 65537, (1 << (bits - 1)) | int.from_bytes(b"\x5a" * (bits // 8), "big") >> 1 | 1


def rsa_spellings(e: int, n: int) -> dict[str, bytes]:
    public = rsa.RSAPublicNumbers(e, n).public_key()
    blob = rsa_public_blob(e, n)
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    rfc4716 = (
        b"---- BEGIN SSH2 PUBLIC KEY ----\n" + b64(blob, 70) + b"---- END SSH2 PUBLIC KEY ----\n"
    )
    return {"openssh": b"ssh-rsa " + b64(blob), "rfc4716": rfc4716, "der": b64(spki, 64)}


@pytest.mark.parametrize("bits", [512, 1024, 3072, 4096, 8192])
def test_rsa_sizes_from_512_to_8192_bits_are_accepted(bits: int, tool_keys: ToolKeys) -> None:
    """EC2 imports RSA keys of 512 to 8192 bits in every accepted spelling (SPEC §3)."""
    e, n = synthetic_rsa(bits)
    spki = (
        rsa.RSAPublicNumbers(e, n)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    expected = tool_keys.openssl_md5(spki)
    for spelling, text in rsa_spellings(e, n).items():
        imported = parse_public_key_material(text)
        assert imported.fingerprint == expected, spelling
        assert imported.public_blob == rsa_public_blob(e, n), spelling


@pytest.mark.parametrize("bits", [511, 8193])
def test_rsa_sizes_outside_512_to_8192_bits_are_rejected(bits: int) -> None:
    """Moduli just outside the accepted range are rejected in every spelling [dec]."""
    for text in rsa_spellings(*synthetic_rsa(bits)).values():
        rejected(text)


def test_real_512_bit_key_from_openssl_is_accepted(work: Path) -> None:
    """A real 512-bit key (openssl still makes them) imports with openssl's md5 fingerprint."""
    pem = work / "small.pem"
    run_ok(["openssl", "genrsa", "-out", str(pem), "512"], cwd=work)
    der = run_ok(["openssl", "rsa", "-in", str(pem), "-pubout", "-outform", "DER"], cwd=work)
    imported = parse_public_key_material(b64(der))
    assert imported.fingerprint == digest_hex(run_ok(["openssl", "md5", "-c"], cwd=work, stdin=der))


def _line(key: bytes) -> bytes:
    return key.rstrip(b"\n")


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda k: k.rsa_spki_pem, id="rsa-BEGIN-PUBLIC-KEY"),
        pytest.param(lambda k: k.rsa_pkcs1_pem, id="rsa-BEGIN-RSA-PUBLIC-KEY"),
        pytest.param(lambda k: b64(k.rsa_pkcs1_der), id="rsa-base64-PKCS1-DER"),
        pytest.param(lambda k: k.ed_rfc4716, id="ed25519-RFC4716"),
        pytest.param(lambda k: k.ed_spki_pem, id="ed25519-BEGIN-PUBLIC-KEY"),
        pytest.param(lambda k: b64(k.ed_spki_der), id="ed25519-base64-SPKI-DER"),
        pytest.param(lambda k: k.ecdsa_line, id="ecdsa-line"),
        pytest.param(lambda k: k.ecdsa_rfc4716, id="ecdsa-RFC4716"),
        pytest.param(lambda k: k.dsa_line, id="dsa-line"),
        pytest.param(lambda k: b'from="10.0.0.1" ' + _line(k.rsa_line), id="options-prefix"),
        pytest.param(lambda k: b"no-pty " + _line(k.ed_line), id="options-prefix-ed25519"),
        pytest.param(lambda k: b"# my laptop\n" + k.rsa_line, id="leading-hash-line"),
        pytest.param(lambda k: _line(k.rsa_line) + b"\nmore text", id="text-after-line"),
        pytest.param(lambda k: k.rsa_line + k.ed_line, id="two-keys"),
        pytest.param(lambda k: k.rsa_rfc4716 + b"trailing text\n", id="text-after-rfc4716"),
        pytest.param(lambda k: b"junk\n" + k.rsa_rfc4716, id="text-before-rfc4716"),
        pytest.param(lambda k: b64(k.rsa_spki_der) + b" comment", id="text-after-der"),
        pytest.param(
            lambda k: b"ssh-rsa-cert-v01@openssh.com " + k.rsa_line.split(b" ")[1],
            id="certificate-algorithm",
        ),
        pytest.param(lambda k: b"hello world", id="arbitrary-text"),
        pytest.param(lambda k: b"ssh-rsa", id="algorithm-only"),
        pytest.param(lambda k: b"ssh-ed25519 AAAA", id="tiny-blob"),
        pytest.param(lambda k: b"ssh-rsa\t" + b64(b"not a blob"), id="garbage-blob"),
        pytest.param(lambda k: b"=", id="lone-padding"),
    ],
)
def test_material_ec2_rejects(build: Callable[[ToolKeys], bytes], tool_keys: ToolKeys) -> None:
    """Each rejected spelling of SPEC §3 (tool-written where a tool writes it) is a format error."""
    rejected(build(tool_keys))


def blob_line(alg: bytes, blob: bytes) -> bytes:
    return alg + b" " + b64(blob)


@pytest.mark.parametrize(
    ("alg", "blob"),
    [
        pytest.param(b"ssh-ed25519", rsa_public_blob(*synthetic_rsa(2048)), id="alg-mismatch"),
        pytest.param(b"ssh-rsa", rsa_public_blob(*synthetic_rsa(2048)) + b"\0", id="trailing-byte"),
        pytest.param(b"ssh-rsa", rsa_public_blob(*synthetic_rsa(2048))[:-1], id="truncated"),
        pytest.param(
            b"ssh-rsa",
            ssh_string(b"ssh-rsa") + ssh_string(b"\0\x01\0\x01") + rsa_public_blob(3, 5)[15:],
            id="non-minimal-mpint",
        ),
        pytest.param(
            b"ssh-rsa",
            ssh_string(b"ssh-rsa") + ssh_string(b"\x01\0\x01") + ssh_string(b"\xff" * 256),
            id="negative-modulus",
        ),
        pytest.param(b"ssh-rsa", rsa_public_blob(65537, 1 << 2047), id="even-modulus"),
        pytest.param(b"ssh-rsa", rsa_public_blob(1, synthetic_rsa(2048)[1]), id="exponent-1"),
        pytest.param(
            b"ssh-rsa", rsa_public_blob(65536, synthetic_rsa(2048)[1]), id="even-exponent"
        ),
        pytest.param(
            b"ssh-ed25519", ssh_string(b"ssh-ed25519") + ssh_string(b"k" * 31), id="ed-31"
        ),
        pytest.param(
            b"ssh-ed25519", ssh_string(b"ssh-ed25519") + ssh_string(b"k" * 33), id="ed-33"
        ),
        pytest.param(b"ssh-ed25519", ssh_string(b"ssh-ed25519"), id="ed-missing-key"),
        pytest.param(b"ssh-rsa", b"\xff\xff\xff\xff", id="huge-length"),
        pytest.param(b"ssh-rsa", b"", id="empty-blob"),
    ],
)
def test_malformed_blobs_are_rejected(alg: bytes, blob: bytes) -> None:
    """A blob that does not parse, or is not its key's canonical encoding, is a format error."""
    rejected(blob_line(alg, blob))


def test_non_canonical_base64_is_rejected() -> None:
    """Unpadded base64, stray bits in the last character, or junk characters are refused."""
    alg, text = rsa_spellings(*synthetic_rsa(1024))["openssh"].split(b" ")
    assert text.endswith(b"==")  # a 151-byte blob: the last character carries 4 unused bits
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(text[-3])
    assert last % 16 == 0  # canonical: the 4 bits after the data are zero
    stray = alphabet[last + 1 : last + 2]  # same data bits, one stray bit set
    assert base64.b64decode(text[:-3] + stray + b"==") == base64.b64decode(text)
    parse_public_key_material(alg + b" " + text)
    rejected(alg + b" " + text.rstrip(b"="))
    rejected(alg + b" " + text[:-3] + stray + b"==")
    rejected(alg + b" " + text[:10] + b"*" + text[11:])


# --------------------------------------------------------------------------- fuzzing


def _valid_materials() -> list[bytes]:
    e, n = synthetic_rsa(1024)
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    ed_blob = ssh_string(b"ssh-ed25519") + ssh_string(
        ed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return [*rsa_spellings(e, n).values(), blob_line(b"ssh-ed25519", ed_blob) + b" c\n"]


VALID = _valid_materials()
ASCII = st.binary(max_size=600).map(lambda data: bytes(byte & 0x7F for byte in data))
FRAGMENTS = st.sampled_from(
    [
        b"ssh-rsa ",
        b"ssh-ed25519 ",
        b"---- BEGIN SSH2 PUBLIC KEY ----\n",
        b"---- END SSH2 PUBLIC KEY ----",
        b"Comment: \\\n",
        b"\n",
        b"\r\n",
        b" ",
        b"=",
        b"AAAA",
        b"AAAAB3NzaC1yc2E",
        b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
        b"AAAAC3NzaC1lZDI1NTE5",
    ]
)


def _blob_text(parts: list[bytes]) -> bytes:
    return b64(b"".join(parts))


FIELDS = st.lists(
    st.one_of(
        st.sampled_from([b"ssh-rsa", b"ssh-ed25519", b"ssh-dss"]).map(ssh_string),
        st.binary(max_size=40).map(ssh_string),
        st.integers(min_value=0, max_value=2**32 - 1).map(lambda v: v.to_bytes(4, "big")),
        st.binary(max_size=8),
    ),
    max_size=5,
)


@FUZZ
@given(ASCII)
def test_arbitrary_ascii_only_ever_raises_key_format_invalid(material: bytes) -> None:
    """No ASCII input makes the parser raise anything other than KeyFormatInvalid."""
    with contextlib.suppress(KeyFormatInvalid):
        parse_public_key_material(material)


@FUZZ
@given(st.lists(st.one_of(FRAGMENTS, ASCII.map(lambda b: b[:20])), max_size=12))
def test_key_shaped_text_only_ever_raises_key_format_invalid(parts: list[bytes]) -> None:
    """Text assembled from key-like pieces never escapes as another exception."""
    with contextlib.suppress(KeyFormatInvalid):
        parse_public_key_material(b"".join(parts))


@FUZZ
@given(st.sampled_from([b"ssh-rsa ", b"ssh-ed25519 ", b""]), FIELDS)
def test_structured_blobs_only_ever_raise_key_format_invalid(
    prefix: bytes, fields: list[bytes]
) -> None:
    """Blobs built from SSH wire fields (so they get past base64) never escape as another error."""
    for material in (
        prefix + _blob_text(fields),
        b"---- BEGIN SSH2 PUBLIC KEY ----\n"
        + _blob_text(fields)
        + b"---- END SSH2 PUBLIC KEY ----",
    ):
        with contextlib.suppress(KeyFormatInvalid):
            parse_public_key_material(material)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_keys_only_ever_raise_key_format_invalid(
    material: bytes, data: st.DataObject
) -> None:
    """Valid keys with one to three bytes changed, dropped or inserted stay inside the contract."""
    mutated = bytearray(material)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = data.draw(st.integers(0, 127))
        if kind == "replace" and mutated:
            mutated[position] = byte
        elif kind == "delete" and mutated:
            del mutated[position]
        else:
            mutated.insert(position, byte)
    with contextlib.suppress(KeyFormatInvalid):
        parse_public_key_material(bytes(mutated))


def test_valid_fuzz_seeds_are_valid() -> None:
    """The mutation test starts from materials the parser accepts, or it would prove little."""
    for material in VALID:
        parse_public_key_material(material)
