"""Who is calling: the default caller and principals made with ``backend.create_principal``.

A boto3 client (or the AWS CLI, or a raw request) that signs with a principal's access key is
evaluated as that principal; unknown or absent credentials are the default caller.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Literal

from ._defaults import DEFAULT_ACCOUNT_ID, DEFAULT_USER_NAME
from ._frozen import Frozen
from ._policy import Policy

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_USER_NAME", "Principal", "make_principal"]


# IAM's rule for user and role names (CreateUser/CreateRole ``UserName``/``RoleName``).
_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)


def _unique_id(prefix: str) -> str:
    # 17 upper-case base32 characters (A-Z, 2-7: within IAM's [A-Z0-9] alphabet). One urandom
    # read, not 17 `secrets.choice` calls: a principal is made on every activation.
    return prefix + base64.b32encode(secrets.token_bytes(11)).decode("ascii")[:17]


class Principal(Frozen):
    """An IAM user or an assumed-role session the mock evaluates calls as.

    Use :attr:`access_key_id`, :attr:`secret_access_key` and :attr:`session_token` to build a
    client that calls as this principal::

        dev = backend.create_principal("dev", policy=policy)
        ec2 = boto3.client(
            "ec2",
            region_name="us-east-1",
            aws_access_key_id=dev.access_key_id,
            aws_secret_access_key=dev.secret_access_key,
            aws_session_token=dev.session_token,
        )
    """

    _fields = (
        "name",
        "kind",
        "account_id",
        "arn",
        "principal_arn",
        "user_id",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "tags",
        "policies",
        "permissions_boundary",
        "session_policy",
    )
    _hidden = frozenset(
        {"secret_access_key", "session_token", "policies", "permissions_boundary", "session_policy"}
    )
    name: str
    kind: Literal["user", "role"]
    account_id: str
    arn: str
    """The caller ARN AWS shows in messages (``…:assumed-role/<role>/<session>`` for roles)."""
    principal_arn: str
    """``aws:PrincipalArn``: the user ARN, or the *role* ARN for an assumed-role session."""
    user_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    tags: Mapping[str, str]
    policies: tuple[Policy, ...]
    permissions_boundary: Policy | None
    session_policy: Policy | None

    def __init__(
        self,
        name: str,
        kind: Literal["user", "role"],
        account_id: str,
        arn: str,
        principal_arn: str,
        user_id: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None,
        tags: Mapping[str, str],
        policies: tuple[Policy, ...],
        permissions_boundary: Policy | None = None,
        session_policy: Policy | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "name", name)
        put(self, "kind", kind)
        put(self, "account_id", account_id)
        put(self, "arn", arn)
        put(self, "principal_arn", principal_arn)
        put(self, "user_id", user_id)
        put(self, "access_key_id", access_key_id)
        put(self, "secret_access_key", secret_access_key)
        put(self, "session_token", session_token)
        put(self, "tags", tags)
        put(self, "policies", policies)
        put(self, "permissions_boundary", permissions_boundary)
        put(self, "session_policy", session_policy)

    @property
    def principal_type(self) -> str:
        """``aws:PrincipalType``: ``User`` or ``AssumedRole``."""
        return "User" if self.kind == "user" else "AssumedRole"

    @cached_property
    def context_keys(self) -> Mapping[str, str]:
        """The request-context keys this principal adds to every call it makes (SPEC §8).

        ``aws:PrincipalAccount``, ``aws:PrincipalArn``, ``aws:PrincipalType``, ``aws:userid``,
        ``aws:username`` (IAM users only: a role session has none) and one
        ``aws:PrincipalTag/<k>`` per tag. Built once per principal: every call reads it.
        """
        keys = {
            "aws:PrincipalAccount": self.account_id,
            "aws:PrincipalArn": self.principal_arn,
            "aws:PrincipalType": self.principal_type,
            "aws:userid": self.user_id,
        }
        if self.kind == "user":
            keys["aws:username"] = self.name
        for key, value in self.tags.items():
            keys[f"aws:PrincipalTag/{key}"] = value
        return MappingProxyType(keys)


def make_principal(
    name: str,
    *,
    kind: Literal["user", "role"],
    account_id: str,
    tags: Mapping[str, str],
    policies: tuple[Policy, ...],
    permissions_boundary: Policy | None = None,
    session_policy: Policy | None = None,
    access_key_id: str | None = None,
) -> Principal:
    """Build a principal with fresh, realistic-looking credentials.

    Raises:
        ValueError: ``name`` is not a valid IAM user/role name, or ``account_id`` is not 12
            digits (either would make ARNs no policy could match as intended).
    """
    if not _NAME.fullmatch(name):
        msg = (
            f"{name!r} is not a valid IAM {kind} name: use 1 to 64 letters, digits and "
            "the characters +=,.@_-."
        )
        raise ValueError(msg)
    if not _ACCOUNT.fullmatch(account_id):
        msg = f"account_id must be a 12-digit string, not {account_id!r}."
        raise ValueError(msg)
    if kind == "user":
        arn = principal_arn = f"arn:aws:iam::{account_id}:user/{name}"
        user_id = _unique_id("AIDA")
        key = access_key_id or _unique_id("AKIA")[:20]
        token = None
    else:
        session = f"{name}-session"
        principal_arn = f"arn:aws:iam::{account_id}:role/{name}"
        arn = f"arn:aws:sts::{account_id}:assumed-role/{name}/{session}"
        user_id = f"{_unique_id('AROA')}:{session}"
        key = access_key_id or _unique_id("ASIA")[:20]
        token = secrets.token_urlsafe(96)
    return Principal(
        name=name,
        kind=kind,
        account_id=account_id,
        arn=arn,
        principal_arn=principal_arn,
        user_id=user_id,
        access_key_id=key,
        secret_access_key=secrets.token_urlsafe(30)[:40],
        session_token=token,
        tags=dict(tags),
        policies=policies,
        permissions_boundary=permissions_boundary,
        session_policy=session_policy,
    )
