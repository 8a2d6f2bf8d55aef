"""Shortcuts on the hot path produce exactly what the slow, obvious way produces."""

from __future__ import annotations

import base64
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ec2_keypair_mock._keys import material_for


@pytest.mark.parametrize("seed", range(50))
def test_openssh_ed25519_writer_equals_cryptography(seed: int) -> None:
    """Our ``openssh-key-v1`` bytes equal cryptography's for the same key and check integer."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    check = bytes([seed, 1, 2, 3])
    with mock.patch("os.urandom", lambda n: check[:n]):
        ours = material_for(key, "pem", "ignored").material
        theirs = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    assert base64.b64decode("".join(ours.split("\n")[1:-1])) == base64.b64decode(
        "".join(theirs.splitlines()[1:-1])
    )
    assert ours.split("\n")[0] == theirs.splitlines()[0]
    assert ours.split("\n")[-1] == theirs.splitlines()[-1]
