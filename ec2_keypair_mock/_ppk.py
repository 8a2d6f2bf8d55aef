"""SSH wire encoding and PuTTY's private key file format (SPEC §2.1).

Strictly private. EC2 hands out ``KeyFormat=ppk`` keys as unencrypted PuTTY files, and no Python
library writes them correctly, so the mock writes them itself. The SSH wire primitives live here
too: the PPK writer needs them, :mod:`._keys` and :mod:`._import` need them as well, and this
module imports neither of those, so putting the primitives here keeps the import graph acyclic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "PrivateKey",
    "ed25519_public_blob",
    "ppk_v2",
    "ppk_v3",
    "public_blob_of",
    "rsa_public_blob",
    "ssh_mpint",
    "ssh_string",
    "supported_key",
    "wrap_base64",
]

# cryptography's `rsa` module is imported where an RSA key is handled, not here: every key that is
# not an Ed25519 key is checked to be RSA, and an Ed25519-only process (most of them) saves the
# module (about 1 ms of a fresh process).
PrivateKey: TypeAlias = "RSAPrivateKey | Ed25519PrivateKey"

# PuTTY derives the v2 MAC key from this fixed phrase (the file is unencrypted, so there is no
# passphrase to mix in); v3 unencrypted files use HMAC-SHA-256 with an empty key instead.
_V2_MAC_KEY = hashlib.sha1(b"putty-private-key-file-mac-key").digest()
_PPK_LINE = 64


def ssh_string(data: bytes) -> bytes:
    """Encode ``data`` as an SSH ``string``: a 4-byte big-endian length, then the bytes."""
    return len(data).to_bytes(4, "big") + data


def ssh_mpint(value: int) -> bytes:
    """Encode a non-negative integer as an SSH ``mpint`` (RFC 4251 §5), minimal two's complement.

    ``(bit_length + 8) // 8`` bytes leaves room for the zero byte RFC 4251 requires when the top
    bit of the magnitude is set, and encodes zero as the empty string, as the RFC says.
    """
    if value < 0:
        msg = f"SSH mpints in key blobs are never negative here; got {value}."
        raise ValueError(msg)
    return ssh_string(value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b"")


def rsa_public_blob(e: int, n: int) -> bytes:
    """Return the ``ssh-rsa`` public key blob: string alg, mpint e, mpint n (RFC 4253 §6.6)."""
    return ssh_string(b"ssh-rsa") + ssh_mpint(e) + ssh_mpint(n)


def ed25519_public_blob(raw: bytes) -> bytes:
    """Return the ``ssh-ed25519`` public key blob: string alg, string(32-byte key) (RFC 8709)."""
    return ssh_string(b"ssh-ed25519") + ssh_string(raw)


def supported_key(private_key: object) -> PrivateKey:
    """Return ``private_key`` if it is an RSA or Ed25519 private key, else raise TypeError.

    The annotations already say so; this runtime check is for callers mypy does not see, so a
    wrong object fails with a sentence rather than an AttributeError deep inside.
    """
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    if isinstance(private_key, RSAPrivateKey):
        return private_key
    msg = f"Only RSA and Ed25519 private keys are supported, not {type(private_key).__name__}."
    raise TypeError(msg)


def public_blob_of(private_key: PrivateKey) -> bytes:
    """Return the SSH wire public key blob of ``private_key``."""
    key = supported_key(private_key)
    if not isinstance(key, Ed25519PrivateKey):  # RSA
        numbers = key.public_key().public_numbers()
        return rsa_public_blob(numbers.e, numbers.n)
    return ed25519_public_blob(key.public_key().public_bytes_raw())


def wrap_base64(data: bytes, width: int) -> list[str]:
    """Return the base64 of ``data`` in lines of ``width`` characters (the last may be shorter)."""
    text = base64.b64encode(data).decode("ascii")
    return [text[i : i + width] for i in range(0, len(text), width)]


def _private_blob(private_key: PrivateKey) -> tuple[str, bytes]:
    """Return (algorithm name, PuTTY private blob) for ``private_key``.

    PuTTY stores RSA as mpint d, p, q, iqmp (iqmp = q⁻¹ mod p, which is also cryptography's
    ``iqmp``), and Ed25519 as a string holding the 32-byte seed, not OpenSSH's 64-byte form.
    """
    key = supported_key(private_key)
    if not isinstance(key, Ed25519PrivateKey):  # RSA
        numbers = key.private_numbers()
        blob = (
            ssh_mpint(numbers.d)
            + ssh_mpint(numbers.p)
            + ssh_mpint(numbers.q)
            + ssh_mpint(numbers.iqmp)
        )
        return "ssh-rsa", blob
    seed = key.private_bytes_raw()
    return "ssh-ed25519", ssh_string(seed)


def _ppk_file(private_key: PrivateKey, comment: str, version: int) -> str:
    """Build a PPK file; ``version`` selects the header digit and the MAC algorithm."""
    alg, private_blob = _private_blob(private_key)
    public_blob = public_blob_of(private_key)
    mac_input = (
        ssh_string(alg.encode("ascii"))
        + ssh_string(b"none")
        + ssh_string(comment.encode("utf-8"))
        + ssh_string(public_blob)
        + ssh_string(private_blob)
    )
    if version == 2:
        mac = hmac.new(_V2_MAC_KEY, mac_input, hashlib.sha1).hexdigest()
    else:
        mac = hmac.new(b"", mac_input, hashlib.sha256).hexdigest()
    public_lines = wrap_base64(public_blob, _PPK_LINE)
    private_lines = wrap_base64(private_blob, _PPK_LINE)
    lines = [
        f"PuTTY-User-Key-File-{version}: {alg}",
        "Encryption: none",
        f"Comment: {comment}",
        f"Public-Lines: {len(public_lines)}",
        *public_lines,
        f"Private-Lines: {len(private_lines)}",
        *private_lines,
        f"Private-MAC: {mac}",
    ]
    # puttygen 0.78 ends its files with a newline after the MAC line (checked with
    # `puttygen -t ed25519 -O private --ppk-param version=2`), so the mock does too.
    return "\n".join(lines) + "\n"


def ppk_v2(private_key: PrivateKey, comment: str) -> str:
    """Return ``private_key`` as an unencrypted ``PuTTY-User-Key-File-2``, as EC2 returns it."""
    return _ppk_file(private_key, comment, 2)


def ppk_v3(private_key: PrivateKey, comment: str) -> str:
    """Return ``private_key`` as an unencrypted ``PuTTY-User-Key-File-3`` (EC2 does not use it)."""
    return _ppk_file(private_key, comment, 3)
