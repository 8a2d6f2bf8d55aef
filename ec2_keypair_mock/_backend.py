"""The backend handle: one activation's EC2 state, policies, principals and call log.

``with mock_keypairs() as backend``, ``mock_keypairs().start()`` and the ``keypairs_mock``
fixture all give a :class:`KeyPairsBackend`. It holds only public key material.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._dispatch import CallRecord, dispatch
from ._errors import PolicyError
from ._hook import attach_client
from ._keycache import key_source
from ._keys import KeyType, NewKey
from ._policy import ALLOW_ALL, Policy, parse_policy
from ._principals import DEFAULT_ACCOUNT_ID, DEFAULT_USER_NAME, Principal, make_principal
from ._state import KEY_PAIR_QUOTA, Pair, RegionState, now
from ._validate import check_key_name, check_tags
from ._wire import EC2Error, WireRequest, WireResponse

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.model import OperationModel

    from ._records import KeyPairRecord

__all__ = ["KeyPairsBackend", "PolicyDocument"]

PolicyDocument = str | Mapping[str, Any]
"""A policy as JSON text or as a dict."""


def _parse(document: PolicyDocument | Policy, kind: str, argument: str) -> Policy:
    """Parse one document, naming the argument it came from in any error."""
    try:
        return parse_policy(document, kind=kind)
    except PolicyError as error:
        msg = f"{argument}: {error}"
        raise PolicyError(msg) from None


def identity_policies(
    document: PolicyDocument | Sequence[PolicyDocument] | None, argument: str = "policy"
) -> tuple[Policy, ...]:
    """``policy=`` as given (one document, a list, or None for allow-all) → parsed policies."""
    if document is None:
        return (ALLOW_ALL,)
    kind = "identity-based policy"
    if isinstance(document, (str, Mapping, Policy)):
        return (_parse(document, kind, argument),)
    return tuple(_parse(d, kind, f"{argument}[{i}]") for i, d in enumerate(document))


def optional_policy(document: PolicyDocument | None, kind: str, argument: str) -> Policy | None:
    """A permissions boundary or session policy, parsed (None stays None)."""
    return None if document is None else _parse(document, kind, argument)


def scp_levels(scps: Iterable[Iterable[PolicyDocument]]) -> tuple[tuple[Policy, ...], ...]:
    """``scps=[[root documents], [OU documents], ...]`` → parsed levels, shape checked."""
    if isinstance(scps, (str, Mapping)):
        scps = [scps]  # caught just below with a clear message
    levels = []
    for i, level in enumerate(scps):
        if isinstance(level, (str, Mapping, Policy)):
            msg = (
                "scps is a list of levels, root first, each a list of policy documents: "
                "write scps=[[root_scp], [ou_scp]], not scps=[root_scp, ou_scp]."
            )
            raise TypeError(msg)
        kind = "service control policy"
        levels.append(tuple(_parse(d, kind, f"scps[{i}][{j}]") for j, d in enumerate(level)))
    return tuple(levels)


class KeyPairsBackend:
    """One activation's in-memory EC2: key pairs per account and region, policies, call log.

    Strictly private constructor: get one from ``mock_keypairs`` or the ``keypairs_mock`` fixture.

    Example::

        with mock_keypairs() as backend:
            ec2 = boto3.client("ec2", region_name="eu-west-1")
            ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
            [pair] = backend.key_pairs(region="eu-west-1")
            assert pair.name == "deploy"
            assert backend.calls[-1].operation == "CreateKeyPair"
    """

    def __init__(
        self,
        *,
        policy: PolicyDocument | Sequence[PolicyDocument] | None = None,
        permissions_boundary: PolicyDocument | None = None,
        session_policy: PolicyDocument | None = None,
        scps: Iterable[Iterable[PolicyDocument]] = (),
        account_id: str = DEFAULT_ACCOUNT_ID,
        fresh_keys: bool = True,
    ) -> None:
        self.account_id = account_id
        self._lock = threading.RLock()
        self._regions: dict[tuple[str, str], RegionState] = {}
        self._calls: list[CallRecord] = []
        self._scps = scp_levels(scps)
        self._default = make_principal(
            DEFAULT_USER_NAME,
            kind="user",
            account_id=account_id,
            tags={},
            policies=identity_policies(policy),
            permissions_boundary=optional_policy(
                permissions_boundary, "permissions boundary", "permissions_boundary"
            ),
            session_policy=optional_policy(session_policy, "session policy", "session_policy"),
        )
        self._principals: dict[str, Principal] = {}
        self.fresh_keys = fresh_keys
        self._key_source = key_source(fresh_keys)

    # -- front door -------------------------------------------------------------------------

    def dispatch(self, request: WireRequest, model: OperationModel | None = None) -> WireResponse:
        """Answer one wire request (used by every front door)."""
        return dispatch(self, request, model)

    # -- inspection ---------------------------------------------------------------------------

    def key_pairs(
        self, region: str = "us-east-1", account_id: str | None = None
    ) -> list[KeyPairRecord]:
        """The key pairs of ``account_id`` (default: the activation's) in ``region``."""
        from ._records import record

        account = account_id or self.account_id
        with self._lock:
            state = self._regions.get((account, region))
            pairs = list(state.by_name.values()) if state else []
            return [record(pair, region, account) for pair in pairs]

    @property
    def calls(self) -> list[CallRecord]:
        """Every intercepted call so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._calls)

    def reset(self) -> None:
        """Forget every key pair and the call log; policies and principals stay."""
        with self._lock:
            self._regions.clear()
            self._calls.clear()

    # -- policies and principals --------------------------------------------------------------

    @property
    def caller(self) -> Principal:
        """The default caller (used for unknown or absent credentials)."""
        return self._default

    @property
    def policy(self) -> tuple[Policy, ...]:
        """The default caller's identity policies; assign a dict or JSON string to replace them."""
        return self._default.policies

    @policy.setter
    def policy(self, document: PolicyDocument | Sequence[PolicyDocument] | None) -> None:
        policies = identity_policies(document)  # raises before changing anything
        with self._lock:
            self._default = self._default._replace(policies=policies)

    def create_principal(
        self,
        name: str,
        policy: PolicyDocument | Sequence[PolicyDocument] | None = None,
        tags: Mapping[str, str] | None = None,
        kind: Literal["user", "role"] = "user",
        *,
        account_id: str | None = None,
        permissions_boundary: PolicyDocument | None = None,
        session_policy: PolicyDocument | None = None,
    ) -> Principal:
        """A user (or assumed-role session, ``kind="role"``) whose credentials call as it.

        ``policy`` defaults to allowing everything, like the default caller's.
        """
        if kind not in ("user", "role"):
            msg = f"kind must be 'user' or 'role', not {kind!r}."
            raise ValueError(msg)
        principal = make_principal(
            name,
            kind=kind,
            account_id=account_id or self.account_id,
            tags=dict(tags or {}),
            policies=identity_policies(policy),
            permissions_boundary=optional_policy(
                permissions_boundary, "permissions boundary", "permissions_boundary"
            ),
            session_policy=optional_policy(session_policy, "session policy", "session_policy"),
        )
        with self._lock:
            self._principals[principal.access_key_id] = principal
        return principal

    def _caller(self, access_key_id: str | None) -> Principal:
        if access_key_id:
            principal = self._principals.get(access_key_id)
            if principal is not None:
                return principal
        return self._default

    # -- seeding ------------------------------------------------------------------------------

    def add_key_pair(
        self,
        name: str,
        public_key: str | bytes | None = None,
        *,
        key_type: KeyType = "rsa",
        region: str = "us-east-1",
        account_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> KeyPairRecord:
        """Seed a key pair without a boto3 call (no call log entry, no policy check).

        With ``public_key`` (any form ImportKeyPair accepts) the pair is as if imported; without
        it a fresh ``key_type`` key is generated as if by CreateKeyPair and its private half is
        discarded, as EC2 does. Invalid input raises ``ValueError`` with EC2's message.
        """
        from ._import import KeyFormatInvalid, parse_public_key_material
        from ._records import record

        if key_type not in ("rsa", "ed25519"):
            msg = f"Key type must be 'rsa' or 'ed25519', not {key_type!r}."
            raise ValueError(msg)
        try:
            check_key_name(name)
            tag_map = check_tags([{"Key": k, "Value": v} for k, v in (tags or {}).items()])
            if public_key is None:
                new: NewKey = self._key_source(key_type, "pem", name)
                fingerprint, blob, kind = new.fingerprint, new.public_blob, key_type
            else:
                data = public_key.encode() if isinstance(public_key, str) else public_key
                if len(data) > 2048:  # ImportKeyPair's limit (SPEC §3)
                    msg = "public_key is longer than the 2048 bytes ImportKeyPair accepts."
                    raise ValueError(msg)
                imported = parse_public_key_material(data)
                fingerprint, blob, kind = (
                    imported.fingerprint,
                    imported.public_blob,
                    imported.key_type,
                )
        except EC2Error as error:
            raise ValueError(error.message) from None
        except KeyFormatInvalid:
            msg = "public_key is not in a format ImportKeyPair accepts (OpenSSH, RFC 4716, DER)."
            raise ValueError(msg) from None
        account = account_id or self.account_id
        with self._lock:
            state = self._region_state(account, region)
            if name in state.by_name:
                msg = f"A key pair named {name!r} already exists in {account}/{region}."
                raise ValueError(msg)
            if len(state.by_name) >= KEY_PAIR_QUOTA:
                msg = f"{account}/{region} already holds {KEY_PAIR_QUOTA} key pairs."
                raise ValueError(msg)
            pair = Pair(name, state.new_id(), fingerprint, kind, blob, now(), tag_map)
            state.add(pair)
            return record(pair, region, account)

    # -- attaching to clients created before the package was imported --------------------------

    def attach(self, client: BaseClient) -> None:
        """Serve ``client`` even though it was created before ``ec2_keypair_mock`` was imported.

        Clients created after the import are served automatically; see README#interception.
        """
        attach_client(client)

    # -- internals ----------------------------------------------------------------------------

    def _region_state(self, account_id: str, region: str) -> RegionState:
        key = (account_id, region)
        state = self._regions.get(key)
        if state is None:
            with self._lock:
                state = self._regions.setdefault(key, RegionState())
        return state

    def _log(self, record: CallRecord) -> None:
        with self._lock:
            self._calls.append(record)
