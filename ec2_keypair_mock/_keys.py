"""Key generation, the private key material EC2 returns, and EC2's fingerprints (SPEC §2).

Strictly private. Pure functions with no boto3 and no state: the backend calls
:func:`create_key` for CreateKeyPair and keeps only what a :class:`NewKey` carries besides the
material (EC2 never stores the private key, SPEC §9).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, NamedTuple

from cryptography.hazmat.primitives.asymmetric import ed25519

from ._ppk import (
    PrivateKey,
    ed25519_public_blob,
    ppk_v2,
    public_blob_of,
    ssh_string,
    supported_key,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "KeyFormat",
    "KeyType",
    "NewKey",
    "PrivateKey",
    "colon_hex",
    "create_key",
    "ed25519_fingerprint",
    "generate_private_key",
    "key_type_of_blob",
    "material_for",
    "public_key_line",
]

KeyType = Literal["rsa", "ed25519"]
KeyFormat = Literal["pem", "ppk"]
_FORMATS: frozenset[str] = frozenset(("pem", "ppk"))

# The algorithm name at the start of a public blob, for the two key types EC2 knows.
_ALGORITHMS: dict[bytes, KeyType] = {b"ssh-rsa": "rsa", b"ssh-ed25519": "ed25519"}

# OpenSSH's own width for `BEGIN OPENSSH PRIVATE KEY` bodies (ssh-keygen writes 70-character
# lines; cryptography writes 76). EC2's width is unknown (SPEC §2.1), so the mock follows
# ssh-keygen, which is what users compare against.
_OPENSSH_LINE = 70


# cryptography's `serialization` package and `rsa` module are imported only by the RSA paths below,
# when they first run: importing `serialization` loads its SSH key reader and with it the cipher
# modules, together about 9 ms of a fresh process that the Ed25519 path (our own writers,
# `*_bytes_raw`) never needs.


def _new_rsa() -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_GENERATORS: dict[str, Callable[[], PrivateKey]] = {
    "rsa": _new_rsa,
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


class NewKey(NamedTuple):
    """A freshly created key pair: what CreateKeyPair returns and what the backend keeps.

    Strictly private. ``material`` is the exact ``keyMaterial`` text; ``public_blob`` is the SSH
    wire-format public key, from which DescribeKeyPairs' ``publicKey`` is built. A NamedTuple
    rather than a frozen dataclass: as immutable, and a millisecond less import time.
    """

    key_type: KeyType
    material: str
    fingerprint: str
    public_blob: bytes


def colon_hex(digest: bytes) -> str:
    """Return ``digest`` as lowercase hex pairs joined by ``:``, EC2's RSA fingerprint form."""
    return ":".join(f"{byte:02x}" for byte in digest)


def ed25519_fingerprint(public_blob: bytes) -> str:
    """Return EC2's Ed25519 fingerprint: padded base64 of SHA-256 over the SSH blob.

    It is ssh-keygen's ``SHA256:`` value without the prefix and with the ``=`` padding that
    ssh-keygen strips (SPEC §2.2).
    """
    return base64.b64encode(hashlib.sha256(public_blob).digest()).decode("ascii")


def _rsa_created_fingerprint(private_key: rsa.RSAPrivateKey) -> str:
    """Return EC2's fingerprint for an RSA key it created: SHA-1 of the PKCS#8 DER private key.

    Created and imported RSA keys use different fingerprints on EC2 (SPEC §2.2); this one is
    only for keys the mock generated, see :mod:`._import` for the other.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return colon_hex(hashlib.sha1(der).digest())


def generate_private_key(key_type: KeyType) -> PrivateKey:
    """Generate a new private key of ``key_type``: RSA-2048 with e=65537, or Ed25519.

    This is the only place the mock generates keys; :mod:`._keycache` (the process-wide key
    cache that spares tests most RSA generations) calls it too.
    """
    # A table lookup rather than if/else so a stray string (the backend validates the enum, SPEC
    # §7, but mypy cannot see every caller) fails loudly instead of falling into a default.
    try:
        generate = _GENERATORS[key_type]
    except KeyError:
        msg = f"Key type must be 'rsa' or 'ed25519', not {key_type!r}."
        raise ValueError(msg) from None
    return generate()


def _rsa_pem(private_key: rsa.RSAPrivateKey) -> str:
    """Return the PKCS#1 PEM EC2 returns: 64-character lines and no newline after the END line.

    cryptography's "TraditionalOpenSSL" format is exactly PKCS#1 for RSA; only the final
    newline differs from EC2's recorded material (SPEC §2.1).
    """
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    return pem.decode("ascii").rstrip("\n")


_OPENSSH_MAGIC = b"openssh-key-v1\0"
_SSH_ED25519 = ssh_string(b"ssh-ed25519")
_NONE = ssh_string(b"none")
# ciphername "none", kdfname "none", empty kdfoptions, one key.
_OPENSSH_HEADER = _OPENSSH_MAGIC + _NONE + _NONE + ssh_string(b"") + (1).to_bytes(4, "big")
_OPENSSH_BLOCK = 8  # the "none" cipher's block size


def _openssh_ed25519(seed: bytes, public: bytes, check: bytes) -> str:
    """Return the ``openssh-key-v1`` private key EC2 returns for Ed25519 pem.

    ``seed`` and ``public`` are the raw 32-byte halves; ``check`` is the random check integer.
    The key is written with an empty comment (SPEC §2.1 decision) and the body is cut at
    OpenSSH's 70 columns. No newline follows the END line: the AWS CLI documentation's
    create-key-pair example shows ``"...\\n-----END OPENSSH PRIVATE KEY-----"`` with nothing after
    it, matching the RSA material, and SPEC §2.1 notes that users must add the newline
    ssh-keygen insists on.

    Written here rather than with cryptography's ``PrivateFormat.OpenSSH``: the file is a fixed
    layout of SSH strings (PROTOCOL.key), and cryptography's general writer, in Python, took half
    of a CreateKeyPair call. ``tests/test_fast_path.py`` proves the bytes equal cryptography's
    for the same key and check integer.
    """
    public_blob = _SSH_ED25519 + ssh_string(public)
    secrets = (
        check
        + check
        + _SSH_ED25519
        + ssh_string(public)
        + ssh_string(seed + public)
        + ssh_string(b"")  # comment
    )
    # Padding 1, 2, 3… as cryptography writes it (with the empty comment the section is always
    # 131 bytes, so this is also OpenSSH's "pad to the block size").
    secrets += bytes(range(1, 1 + _OPENSSH_BLOCK - len(secrets) % _OPENSSH_BLOCK))
    blob = _OPENSSH_HEADER + ssh_string(public_blob) + ssh_string(secrets)
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + _OPENSSH_LINE] for i in range(0, len(text), _OPENSSH_LINE)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----"]
    )


def material_for(private_key: PrivateKey, key_format: KeyFormat, comment: str) -> NewKey:
    """Return the :class:`NewKey` EC2 would hand out for ``private_key`` in ``key_format``.

    ``comment`` is the key pair's name; only PPK files carry it (``Comment:``). The fingerprint
    does not depend on the format (SPEC §2.2).
    """
    key = supported_key(private_key)
    if key_format not in _FORMATS:
        msg = f"Key format must be 'pem' or 'ppk', not {key_format!r}."
        raise ValueError(msg)
    if not isinstance(key, ed25519.Ed25519PrivateKey):  # RSA (supported_key checked)
        material = ppk_v2(key, comment) if key_format == "ppk" else _rsa_pem(key)
        return NewKey("rsa", material, _rsa_created_fingerprint(key), public_blob_of(key))
    # Ed25519: the raw public key is needed twice, and asking cryptography for it is the costly
    # part of this short path, so ask once.
    raw_public = key.public_key().public_bytes_raw()
    public_blob = ed25519_public_blob(raw_public)
    if key_format == "ppk":
        material = ppk_v2(key, comment)
    else:
        material = _openssh_ed25519(key.private_bytes_raw(), raw_public, os.urandom(4))
    return NewKey("ed25519", material, ed25519_fingerprint(public_blob), public_blob)


def create_key(key_type: KeyType, key_format: KeyFormat, comment: str) -> NewKey:
    """Generate a key of ``key_type`` and return it as CreateKeyPair would (SPEC §2)."""
    return material_for(generate_private_key(key_type), key_format, comment)


def key_type_of_blob(public_blob: bytes) -> KeyType:
    """Return the key type named at the start of an SSH public key blob.

    Blobs come from this package (created or already validated imports), so a blob naming
    anything else is a programming error and raises ``ValueError``.
    """
    length = int.from_bytes(public_blob[:4], "big")
    name = public_blob[4 : 4 + length]
    if len(name) != length or name not in _ALGORITHMS:
        msg = f"The public key blob does not start with 'ssh-rsa' or 'ssh-ed25519': {name!r}."
        raise ValueError(msg)
    return _ALGORITHMS[name]


def public_key_line(public_blob: bytes, name: str) -> str:
    """Return DescribeKeyPairs' ``publicKey``: ``<alg> <base64 blob> <name>`` and a newline.

    EC2 puts the key pair's name where the comment goes, whatever comment was imported, and
    ends the line with ``\\n`` (SPEC §4).
    """
    key_type = key_type_of_blob(public_blob)
    alg = "ssh-rsa" if key_type == "rsa" else "ssh-ed25519"
    return f"{alg} {base64.b64encode(public_blob).decode('ascii')} {name}\n"
