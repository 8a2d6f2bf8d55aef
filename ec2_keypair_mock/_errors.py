"""Exceptions the library raises for misuse (never for EC2 errors, which are ClientErrors)."""

from __future__ import annotations

__all__ = ["MockKeypairsError", "PolicyError", "UnmockedOperationError"]


class MockKeypairsError(Exception):
    """Base class of every exception ec2_keypair_mock raises itself."""


class UnmockedOperationError(MockKeypairsError, NotImplementedError):
    """An EC2 operation this mock does not serve was called while it was active in strict mode."""


class PolicyError(MockKeypairsError, ValueError):
    """A policy document given to the mock is malformed; the message names the problem."""
