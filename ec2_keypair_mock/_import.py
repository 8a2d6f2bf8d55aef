"""Parsing ImportKeyPair's ``PublicKeyMaterial`` the way EC2 does (SPEC §3).

Strictly private. EC2 accepts three spellings of a public key and rejects everything else with
``InvalidKey.Format``. Every rejection here is a :class:`KeyFormatInvalid` and nothing else, so
the caller can map one exception to one AWS error; the message says what was wrong, for debugging
only (the caller sends AWS's fixed text).

Accepted [rec]: an OpenSSH line (``ssh-rsa``/``ssh-ed25519``, optional comment, optional
trailing newline); an RFC 4716 block holding an RSA key; base64 of an RSA DER
SubjectPublicKeyInfo. RSA moduli of 512 to 8192 bits.

Decisions where AWS is unknown [dec]: whitespace (spaces, tabs, CR, LF) around the whole material
is ignored, so blank trailing lines and CRLF endings are fine; RFC 4716 and DER text may use CR,
LF or CRLF line breaks and the DER base64 may be wrapped over several lines (as ``base64`` wraps
it); base64 must be canonical and padded; a blob must be the canonical encoding of its key (no
trailing bytes, minimal mpints), because the mock hands the blob back in DescribeKeyPairs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm

from ._frozen import Frozen
from ._keys import KeyType, colon_hex, ed25519_fingerprint
from ._lazy import lazy_pattern
from ._ppk import ed25519_public_blob, rsa_public_blob

__all__ = ["ImportedKey", "KeyFormatInvalid", "parse_public_key_material"]

# cryptography's `serialization` package and `rsa` module are imported by the RSA paths when they
# run, not here (together about 9 ms of a fresh process; see _keys).

_MIN_RSA_BITS = 512
_MAX_RSA_BITS = 8192
_ED25519_KEY_BYTES = 32

_base64_text = lazy_pattern(r"[A-Za-z0-9+/]+={0,2}")
# OpenSSH line: algorithm, blanks, base64, then optionally blanks and a comment (the rest of
# the line). Blanks are spaces and tabs, as in sshd's authorized_keys parser.
_openssh_line = lazy_pattern(r"(ssh-rsa|ssh-ed25519)[ \t]+([^ \t]+)(?:[ \t]+(.*))?", re.DOTALL)
_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
# RFC 4716 §3.3: header-tag (1-64 printable characters other than ':' and space), ': ', value.
# Trailing blanks are stripped before matching, so an empty value leaves just "Tag:".
_rfc4716_header = lazy_pattern(r"[\x21-\x39\x3b-\x7e]{1,64}:(?: .*)?")
_line_break = lazy_pattern(r"\r\n|\r|\n")
# Base64 characters and line breaks only: the shape of `base64 spki.der` output.
_der_text = lazy_pattern(r"[A-Za-z0-9+/=\r\n]+")
_WHITESPACE = " \t\r\n"


class KeyFormatInvalid(Exception):
    """The material is not a public key EC2 would import; the caller answers InvalidKey.Format."""


class ImportedKey(Frozen):
    """A public key accepted by ImportKeyPair, normalised to its SSH wire blob.

    Strictly private. ``fingerprint`` is EC2's imported-key fingerprint (SPEC §2.2), which for
    RSA differs from the fingerprint the same key would get if EC2 had created it.
    """

    __slots__ = _fields = ("key_type", "public_blob", "fingerprint")
    key_type: KeyType
    public_blob: bytes
    fingerprint: str

    def __init__(self, key_type: KeyType, public_blob: bytes, fingerprint: str) -> None:
        put = object.__setattr__
        put(self, "key_type", key_type)
        put(self, "public_blob", public_blob)
        put(self, "fingerprint", fingerprint)


def _invalid(reason: str) -> KeyFormatInvalid:
    return KeyFormatInvalid(f"Key is not in valid OpenSSH public key format: {reason}")


def _b64decode(text: str, what: str) -> bytes:
    """Decode canonical, padded base64, turning every decoding failure into a rejection."""
    if not _base64_text().fullmatch(text):
        msg = f"the {what} is not base64 text."
        raise _invalid(msg)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = f"the {what} is not valid base64 ({exc})."
        raise _invalid(msg) from exc
    # Reject non-canonical spellings (stray bits in the last character) so that equal text
    # means equal key.
    if base64.b64encode(data).decode("ascii") != text:
        msg = f"the {what} is not canonical base64."
        raise _invalid(msg)
    return data


class _Reader:
    """Reads SSH wire fields from a blob; any overrun is a rejection, never an IndexError."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def string(self) -> bytes:
        if len(self._data) - self._offset < 4:
            msg = "the key blob ends inside a length field."
            raise _invalid(msg)
        length = int.from_bytes(self._data[self._offset : self._offset + 4], "big")
        start = self._offset + 4
        if length > len(self._data) - start:
            msg = "a length inside the key blob runs past its end."
            raise _invalid(msg)
        self._offset = start + length
        return self._data[start : self._offset]

    def mpint(self) -> int:
        raw = self.string()
        if raw and raw[0] & 0x80:
            msg = "the key blob holds a negative number."
            raise _invalid(msg)
        return int.from_bytes(raw, "big")

    def at_end(self) -> bool:
        return self._offset == len(self._data)


def _rsa_key(e: int, n: int) -> ImportedKey:
    """Validate an RSA public key and return it with EC2's imported-RSA fingerprint."""
    bits = n.bit_length()
    if not _MIN_RSA_BITS <= bits <= _MAX_RSA_BITS:
        msg = f"the RSA modulus has {bits} bits; EC2 accepts {_MIN_RSA_BITS} to {_MAX_RSA_BITS}."
        raise _invalid(msg)
    if not n & 1:
        # A product of two odd primes is odd; cryptography does not check this itself.
        msg = "the RSA modulus is even, so it cannot be a product of two primes."
        raise _invalid(msg)
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        public_key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:  # exponent below 3, even, or not below the modulus
        msg = f"the RSA public numbers are not a usable key ({exc})."
        raise _invalid(msg) from exc
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    fingerprint = colon_hex(hashlib.md5(spki).digest())
    return ImportedKey("rsa", rsa_public_blob(e, n), fingerprint)


def _key_from_blob(blob: bytes, expected_alg: str | None) -> ImportedKey:
    """Parse an SSH public key blob; ``expected_alg`` is the name written outside it, if any."""
    reader = _Reader(blob)
    alg = reader.string()
    if expected_alg is not None and alg != expected_alg.encode("ascii"):
        msg = f"the line says {expected_alg} but the key blob holds {alg!r}."
        raise _invalid(msg)
    if alg == b"ssh-rsa":
        e = reader.mpint()
        n = reader.mpint()
        key = _rsa_key(e, n)
    elif alg == b"ssh-ed25519":
        raw = reader.string()
        if len(raw) != _ED25519_KEY_BYTES:
            msg = f"an Ed25519 public key is {_ED25519_KEY_BYTES} bytes, not {len(raw)}."
            raise _invalid(msg)
        canonical = ed25519_public_blob(raw)
        key = ImportedKey("ed25519", canonical, ed25519_fingerprint(canonical))
    else:
        msg = f"EC2 imports only ssh-rsa and ssh-ed25519 keys, not {alg!r}."
        raise _invalid(msg)
    if not reader.at_end() or key.public_blob != blob:
        msg = "the key blob has trailing bytes or non-minimal numbers."
        raise _invalid(msg)
    return key


def _parse_openssh(text: str) -> ImportedKey:
    """Parse one ``authorized_keys``-style line without options."""
    if "\n" in text or "\r" in text:
        msg = "there is text after the key line."
        raise _invalid(msg)
    match = _openssh_line().fullmatch(text)
    if match is None:
        msg = "the line does not start with 'ssh-rsa ' or 'ssh-ed25519 '."
        raise _invalid(msg)
    return _key_from_blob(_b64decode(match.group(2), "key blob"), match.group(1))


def _parse_rfc4716(text: str) -> ImportedKey:
    """Parse an RFC 4716 ``SSH2 PUBLIC KEY`` block, which EC2 accepts for RSA only."""
    lines = [line.rstrip(" \t") for line in _line_break().split(text)]
    if len(lines) < 2 or lines[0] != _RFC4716_BEGIN or lines[-1] != _RFC4716_END:
        msg = "the RFC 4716 block is not framed by its BEGIN and END lines."
        raise _invalid(msg)
    inner = lines[1:-1]
    index = 0
    # Headers come first; a value ending in '\' continues on the next line, whatever it holds.
    while index < len(inner) and _rfc4716_header().fullmatch(inner[index]):
        while inner[index].endswith("\\"):
            index += 1
            if index == len(inner):
                msg = "an RFC 4716 header continues past the end of the block."
                raise _invalid(msg)
        index += 1
    body = "".join(inner[index:])
    key = _key_from_blob(_b64decode(body, "RFC 4716 body"), None)
    if key.key_type != "rsa":
        msg = "EC2 accepts RFC 4716 blocks only for RSA keys."
        raise _invalid(msg)
    return key


def _parse_der_base64(text: str) -> ImportedKey:
    """Parse base64 of a DER SubjectPublicKeyInfo, which EC2 accepts for RSA only."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_der_public_key,
    )

    der = _b64decode("".join(_line_break().split(text)), "DER base64 text")
    try:
        public_key = load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = f"the base64 text is not a DER public key ({exc})."
        raise _invalid(msg) from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        msg = "EC2 accepts DER SubjectPublicKeyInfo only for RSA keys."
        raise _invalid(msg)
    # cryptography also loads PKCS#1 RSAPublicKey DER (which EC2 rejects) and tolerates some
    # non-canonical encodings; only the exact SPKI bytes it would write itself are accepted.
    if public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) != der:
        msg = "the DER is not a canonical RSA SubjectPublicKeyInfo."
        raise _invalid(msg)
    numbers = public_key.public_numbers()
    return _rsa_key(numbers.e, numbers.n)


def parse_public_key_material(material: bytes) -> ImportedKey:
    """Return the key in ImportKeyPair's decoded ``PublicKeyMaterial``, or raise KeyFormatInvalid.

    The caller has already checked that ``material`` is non-empty, at most 2048 bytes and ASCII
    (SPEC §7 orders those checks before the format check).
    """
    try:
        text = material.decode("ascii")
    except UnicodeDecodeError as exc:
        msg = "the material is not ASCII."
        raise _invalid(msg) from exc
    text = text.strip(_WHITESPACE)
    if text.startswith(_RFC4716_BEGIN):
        return _parse_rfc4716(text)
    if text.startswith(("ssh-rsa", "ssh-ed25519")):
        return _parse_openssh(text)
    if _der_text().fullmatch(text):
        return _parse_der_base64(text)
    msg = "the material is not an OpenSSH line, an RFC 4716 block or base64 DER."
    raise _invalid(msg)
