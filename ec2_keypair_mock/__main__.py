"""Command line: ``ec2-keypair-mock serve`` (or ``python -m ec2_keypair_mock serve``).

Runs the local endpoint (``_server.py``) in the foreground so the AWS CLI, other SDKs or a
browser can use the mock; prints exactly one line, ``Listening on http://HOST:PORT``, to stdout
once it accepts connections (scripts wait for it; with ``--port 0`` it is the only way to learn
the port), and stops cleanly, exit status 0, on SIGINT or SIGTERM. Every other message goes to
stderr. Exit status 2 means bad arguments or a bad policy file, 1 that the port could not be
bound.

Example::

    $ ec2-keypair-mock serve --port 0 &
    Listening on http://127.0.0.1:40125
    $ aws ec2 create-key-pair --key-name deploy --endpoint-url http://127.0.0.1:40125
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from ._errors import MockKeypairsError
from ._server import DEFAULT_PORT, LocalEndpoint

__all__ = ["main"]


class _Stop(BaseException):
    """Raised from the signal handler to leave ``serve_forever`` (like KeyboardInterrupt)."""


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        msg = f"{text!r} is not a port number (0-65535; 0 picks a free port)"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _account_id(text: str) -> str:
    if len(text) != 12 or not text.isdigit():
        msg = f"{text!r} is not an AWS account id (12 digits)"
        raise argparse.ArgumentTypeError(msg)
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ec2-keypair-mock",
        description="A faithful in-memory fake of the AWS EC2 key pair API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the EC2 Query API (and STS DecodeAuthorizationMessage) over HTTP",
        description="Serve the EC2 key pair API over HTTP until SIGINT or SIGTERM. "
        "Signatures are not verified: anyone who can connect is a caller.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to bind; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--policy",
        metavar="FILE",
        help="JSON IAM policy for the default caller (default: allow everything)",
    )
    serve.add_argument(
        "--account-id",
        type=_account_id,
        default=None,
        help="AWS account id of the default caller (default: 123456789012)",
    )
    serve.add_argument(
        "--verbose", action="store_true", help="log each request to stderr (never bodies)"
    )
    return parser


def _load_policy(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except OSError as error:
        msg = f"Cannot read the policy file {path}: {error.strerror or error}."
        raise ValueError(msg) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"The policy file {path} is not valid JSON: {error}."
        raise ValueError(msg) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _serve(args: argparse.Namespace) -> int:
    # Imported here so that ``--help`` does not load botocore's models and cryptography.
    from ._backend import KeyPairsBackend

    options: dict[str, Any] = {"fresh_keys": True}
    if args.account_id is not None:
        options["account_id"] = args.account_id
    try:
        if args.policy is not None:
            options["policy"] = _load_policy(args.policy)
        backend = KeyPairsBackend(**options)
    except (ValueError, MockKeypairsError) as error:
        print(f"ec2-keypair-mock: {error}", file=sys.stderr)
        return 2
    endpoint = LocalEndpoint(backend, args.host, args.port, verbose=args.verbose)
    try:
        url = endpoint.bind()
    except OSError as error:
        print(
            f"ec2-keypair-mock: cannot listen on {args.host}:{args.port}: "
            f"{error.strerror or error}.",
            file=sys.stderr,
        )
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not _is_loopback(endpoint.host):
            print(
                f"WARNING: ec2-keypair-mock is listening on {endpoint.host}, which other "
                "machines may reach. It verifies no signatures: anyone who can connect can "
                "create, list and delete key pairs. Use --host 127.0.0.1 unless you mean this.",
                file=sys.stderr,
                flush=True,
            )
        print(f"Listening on {url}", flush=True)
        endpoint.serve_forever()
    except _Stop:
        pass
    finally:
        # A second signal during the (short) cleanup must not end it with a traceback.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        endpoint.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ec2-keypair-mock`` and ``python -m ec2_keypair_mock``."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
