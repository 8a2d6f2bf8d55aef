"""The real AWS CLI (v1, the ``awscli`` package) against ``python -m ec2_keypair_mock serve``.

This is the server door's end-to-end test: the CLI signs and sends real HTTP requests to the
endpoint on loopback, parses the XML with its own botocore and prints what a user would see.
One server (``--port 0``, port read from its ``Listening on`` line) serves the module; each test
works in a region of its own, so it starts from an empty EC2.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def _awscli_installed() -> None:
    if importlib.util.find_spec("awscli") is None:
        pytest.fail(
            "The AWS CLI tests need the awscli package; install the test extra: "
            "pip install -e '.[test]'."
        )


class Server:
    """``python -m ec2_keypair_mock serve --port 0 ARGS`` with its stderr kept in a file."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.log = directory / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ec2_keypair_mock", "serve", "--port", "0", *args],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("Listening on http://127.0.0.1:"):
            self.stop()
            pytest.fail(f"the server did not start: {line!r} {self.log.read_text()}")
        self.url = line.removeprefix("Listening on ").strip()

    def errors(self) -> str:
        """What the server wrote to stderr (tracebacks of bugs); empty when all is well."""
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


# One server for the module (CLI runs are slow enough); each test gets its own region, and so
# an empty EC2, because the backend keeps key pairs per region.
_REGIONS = iter(["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "us-west-1"])


class Aws:
    """Runs ``aws …`` (``python -m awscli``) with fake credentials and no config files."""

    def __init__(self, server: Server, home: Path, region: str) -> None:
        self.server = server
        self.region = region
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
            AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            AWS_CONFIG_FILE=str(home / "no-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            # Retrying a 500 would only hide a server bug behind a slow test.
            AWS_MAX_ATTEMPTS="1",
            # A deprecation warning from the CLI's own dependencies must not garble stderr.
            PYTHONWARNINGS="ignore",
        )
        self.cwd = home

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "awscli", *args, "--endpoint-url", self.server.url]
        command += ["--region", self.region, "--output", "json"]
        return subprocess.run(
            command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60
        )

    def ok(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr + self.server.errors()
        return json.loads(result.stdout) if result.stdout.strip() else None

    def error(self, *args: str) -> str:
        """The one-line error the CLI prints for a service error (exit status 255 in v1)."""
        result = self.run(*args)
        assert (result.returncode, result.stdout) == (255, ""), result.stderr
        return result.stderr.strip()


@pytest.fixture
def aws(server: Server, tmp_path: Path) -> Iterator[Aws]:
    yield Aws(server, tmp_path, next(_REGIONS))
    assert server.errors() == ""


def test_create_rsa_ed25519_and_ppk(aws: Aws) -> None:
    """create-key-pair returns PEM RSA, OpenSSH ed25519 and PuTTY keys, fingerprints per type."""
    rsa = aws.ok("ec2", "create-key-pair", "--key-name", "rsa-key")
    assert rsa["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert len(rsa["KeyFingerprint"]) == 59
    assert rsa["KeyPairId"].startswith("key-0")
    ed = aws.ok("ec2", "create-key-pair", "--key-name", "ed-key", "--key-type", "ed25519")
    assert ed["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert len(ed["KeyFingerprint"]) == 44
    ppk = aws.ok("ec2", "create-key-pair", "--key-name", "ppk-key", "--key-format", "ppk")
    assert ppk["KeyMaterial"].startswith("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n")
    assert "Comment: ppk-key\n" in ppk["KeyMaterial"]


def test_import_from_fileb(aws: Aws, tmp_path: Path) -> None:
    """import-key-pair reads fileb:// material; the fingerprint is EC2's ed25519 form."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    (tmp_path / "k.pub").write_bytes(line + b" me@laptop\n")
    imported = aws.ok(
        "ec2", "import-key-pair", "--key-name", "laptop", "--public-key-material", "fileb://k.pub"
    )
    blob = base64.b64decode(line.split()[1])
    assert imported["KeyFingerprint"] == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    [pair] = aws.ok("ec2", "describe-key-pairs", "--key-names", "laptop", "--include-public-key")[
        "KeyPairs"
    ]
    assert pair["PublicKey"] == line.decode() + " laptop\n"


def test_describe_with_filters_and_tags(aws: Aws) -> None:
    """--filters on names (wildcards) and tags select the right pairs."""
    aws.ok(
        "ec2",
        "create-key-pair",
        "--key-name",
        "prod-web",
        "--key-type",
        "ed25519",
        "--tag-specifications",
        "ResourceType=key-pair,Tags=[{Key=env,Value=prod}]",
    )
    aws.ok("ec2", "create-key-pair", "--key-name", "dev-web", "--key-type", "ed25519")
    by_name = aws.ok("ec2", "describe-key-pairs", "--filters", "Name=key-name,Values=*-web")
    assert sorted(p["KeyName"] for p in by_name["KeyPairs"]) == ["dev-web", "prod-web"]
    by_tag = aws.ok("ec2", "describe-key-pairs", "--filters", "Name=tag:env,Values=prod")
    [pair] = by_tag["KeyPairs"]
    assert (pair["KeyName"], pair["Tags"]) == ("prod-web", [{"Key": "env", "Value": "prod"}])


def test_delete_then_not_found(aws: Aws) -> None:
    """delete-key-pair removes the pair; describing it then fails with EC2's message."""
    created = aws.ok("ec2", "create-key-pair", "--key-name", "gone", "--key-type", "ed25519")
    deleted = aws.ok("ec2", "delete-key-pair", "--key-name", "gone")
    assert deleted == {"Return": True, "KeyPairId": created["KeyPairId"]}
    assert aws.error("ec2", "describe-key-pairs", "--key-names", "gone") == (
        "An error occurred (InvalidKeyPair.NotFound) when calling the DescribeKeyPairs "
        "operation: The key pair 'gone' does not exist"
    )


def test_dry_run_error_text(aws: Aws) -> None:
    """--dry-run prints exactly the text the CLI prints against AWS."""
    assert aws.error("ec2", "create-key-pair", "--key-name", "k", "--dry-run") == (
        "An error occurred (DryRunOperation) when calling the CreateKeyPair operation: "
        "Request would have succeeded, but DryRun flag is set."
    )


def test_policy_file_denial_decodes_with_sts(tmp_path: Path) -> None:
    """serve --policy: a denied call's encoded message decodes with `aws sts`."""
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}
                ],
            }
        )
    )
    server = Server(tmp_path, "--policy", str(policy))
    try:
        aws = Aws(server, tmp_path, "us-east-1")
        message = aws.error("ec2", "create-key-pair", "--key-name", "k")
        assert message.startswith(
            "An error occurred (UnauthorizedOperation) when calling the CreateKeyPair operation: "
            "You are not authorized to perform this operation. User: "
            "arn:aws:iam::123456789012:"
        )
        encoded = message.rsplit("Encoded authorization failure message: ", 1)[1]
        decoded = aws.ok("sts", "decode-authorization-message", "--encoded-message", encoded)
        document = json.loads(decoded["DecodedMessage"])
        assert document["allowed"] is False
        assert document["context"]["action"] == "ec2:CreateKeyPair"
    finally:
        server.stop()
    assert server.errors() == ""
