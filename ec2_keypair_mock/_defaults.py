"""Defaults shared by the light entry point and the backend (kept import-free on purpose)."""

from __future__ import annotations

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_USER_NAME", "FRESH_KEYS_ENV"]

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_USER_NAME = "mock-user"
FRESH_KEYS_ENV = "EC2_KEYPAIR_MOCK_FRESH_KEYS"
"""Set to ``1`` to make every activation generate fresh keys (README#key-cache)."""
