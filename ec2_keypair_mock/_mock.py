"""``mock_keypairs``: the one entry point (decorator, context manager, start/stop).

Activations form a stack (a plain list, not a ContextVar, so boto3 calls made from worker
threads still reach the mock); calls are served by the backend on top. What an activation
installs goes on with the first activation and comes off with the last.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import _hook
from ._defaults import DEFAULT_ACCOUNT_ID, FRESH_KEYS_ENV

if TYPE_CHECKING:
    import unittest

    from ._backend import KeyPairsBackend, PolicyDocument

# Importing the package costs only this module and _hook: the backend, the policy engine,
# cryptography and the call path are imported when a mock is first configured or started.

__all__ = ["FRESH_KEYS_ENV", "KeyPairsMock", "mock_keypairs"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_stack: list[tuple[KeyPairsMock, KeyPairsBackend]] = []
_stack_lock = threading.Lock()


def _top() -> tuple[KeyPairsBackend, bool] | None:
    if not _stack:
        return None
    mock, backend = _stack[-1]
    return backend, mock.strict


def _top_backend() -> KeyPairsBackend:
    active = _top()
    if active is None:
        msg = "No mock_keypairs activation is active."
        raise RuntimeError(msg)
    return active[0]


def _top_strict() -> bool:
    active = _top()
    return active is None or active[1]


_hook.set_current(_top)


def _install() -> None:
    from . import _botocore

    _hook.set_door(_botocore.handle)
    _botocore.install_patches()
    # The requests door needs `responses`, whose import costs tens of milliseconds; a process
    # that has not imported `requests` cannot be making requests calls, so it pays nothing.
    if "requests" in sys.modules:
        from . import _requests_door

        _requests_door.install(_top_backend, is_strict=_top_strict)


def _uninstall() -> None:
    from . import _botocore

    _botocore.remove_patches()
    door = sys.modules.get(f"{__package__}._requests_door")
    if door is not None:
        door.uninstall()


class KeyPairsMock:
    """A configured mock. Use it as a decorator, a (async) context manager or with start/stop.

    ``start()`` and ``__enter__`` return the activation's fresh :class:`KeyPairsBackend`::

        m = mock_keypairs(policy=policy)
        backend = m.start()
        try:
            ...
        finally:
            m.stop()
    """

    def __init__(
        self,
        *,
        policy: PolicyDocument | Sequence[PolicyDocument] | None = None,
        permissions_boundary: PolicyDocument | None = None,
        session_policy: PolicyDocument | None = None,
        scps: Iterable[Iterable[PolicyDocument]] = (),
        account_id: str = DEFAULT_ACCOUNT_ID,
        strict: bool = True,
        fresh_keys: bool | None = None,
    ) -> None:
        # Parse every document once, here, where it is given (PolicyError names the argument);
        # each activation's backend then reuses the parsed policies.
        from ._backend import identity_policies, optional_policy, scp_levels

        if not (len(account_id) == 12 and account_id.isdigit()):
            msg = f"account_id must be a 12-digit string, not {account_id!r}."
            raise ValueError(msg)
        self._options: dict[str, Any] = {
            "policy": identity_policies(policy),
            "permissions_boundary": optional_policy(
                permissions_boundary, "permissions boundary", "permissions_boundary"
            ),
            "session_policy": optional_policy(session_policy, "session policy", "session_policy"),
            "scps": scp_levels(scps),
            "account_id": account_id,
        }
        self.strict = strict
        if fresh_keys is None:
            fresh_keys = os.environ.get(FRESH_KEYS_ENV, "").lower() in ("1", "true", "yes")
        self.fresh_keys = fresh_keys

    # -- start / stop -------------------------------------------------------------------------

    def start(self) -> KeyPairsBackend:
        """Activate: push a fresh backend and return it."""
        from ._backend import KeyPairsBackend

        backend = KeyPairsBackend(**self._options, fresh_keys=self.fresh_keys)
        with _stack_lock:
            if not _stack:
                _install()
            _stack.append((self, backend))
        return backend

    def stop(self) -> None:
        """Deactivate the most recent activation of this mock; it must be the innermost."""
        with _stack_lock:
            mine = [i for i, (mock, _) in enumerate(_stack) if mock is self]
            if not mine:
                msg = "Called stop() before start()."
                raise RuntimeError(msg)
            if mine[-1] != len(_stack) - 1:
                msg = (
                    "KeyPairsMock.stop() called out of order: another mock_keypairs activation "
                    "started later is still active."
                )
                raise RuntimeError(msg)
            _stack.pop()
            if not _stack:
                _uninstall()

    def __enter__(self) -> KeyPairsBackend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> KeyPairsBackend:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- decorator ----------------------------------------------------------------------------

    @overload
    def __call__(self, target: type[T]) -> type[T]: ...
    @overload
    def __call__(self, target: F) -> F: ...
    def __call__(self, target: Any) -> Any:
        if inspect.isclass(target):
            # A TestCase subclass exists only if unittest was imported; no need to import it.
            unittest_module = sys.modules.get("unittest")
            if unittest_module is not None and issubclass(target, unittest_module.TestCase):
                return self._decorate_testcase(target)
            msg = (
                "mock_keypairs can only decorate unittest.TestCase subclasses; for pytest "
                "classes use the keypairs_mock fixture or marker."
            )
            raise TypeError(msg)
        if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
            msg = (
                "mock_keypairs cannot decorate a generator function: the mock would end before "
                "the body runs. Use `with mock_keypairs():` inside the generator instead."
            )
            raise TypeError(msg)
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await target(*args, **kwargs)

            return async_wrapper
        if not callable(target):
            msg = f"mock_keypairs decorates functions and TestCase classes, not {target!r}."
            raise TypeError(msg)

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return target(*args, **kwargs)

        return wrapper

    def _decorate_testcase(self, cls: type[T]) -> type[T]:
        original_setup = cls.setUpClass  # type: ignore[attr-defined]  # TestCase classmethod
        original_teardown = cls.tearDownClass  # type: ignore[attr-defined]  # TestCase classmethod
        mock = self

        def set_up_class(klass: type[unittest.TestCase]) -> None:
            mock.start()
            # A class cleanup runs even when setUpClass raises (SkipTest included).
            klass.addClassCleanup(mock.stop)
            original_setup()

        def tear_down_class(klass: type[unittest.TestCase]) -> None:
            original_teardown()

        cls.setUpClass = classmethod(set_up_class)  # type: ignore[attr-defined]  # TestCase hook, patched
        cls.tearDownClass = classmethod(tear_down_class)  # type: ignore[attr-defined]  # TestCase hook, patched
        return cls


@overload
def mock_keypairs(func: F, /) -> F: ...
@overload
def mock_keypairs(
    *,
    policy: PolicyDocument | Sequence[PolicyDocument] | None = None,
    permissions_boundary: PolicyDocument | None = None,
    session_policy: PolicyDocument | None = None,
    scps: Iterable[Iterable[PolicyDocument]] = (),
    account_id: str = DEFAULT_ACCOUNT_ID,
    strict: bool = True,
    fresh_keys: bool | None = None,
) -> KeyPairsMock: ...
def mock_keypairs(func: Any = None, /, **options: Any) -> Any:
    """Serve EC2 key pair calls from an in-memory EC2 while active.

    Args:
        policy: the default caller's identity policy (dict, JSON text, or a list of them);
            default allows everything.
        permissions_boundary: a permissions boundary for the default caller.
        session_policy: a session policy for the default caller.
        scps: service control policy levels, root first, each a list of documents.
        account_id: the default caller's account (``123456789012``).
        strict: raise :class:`UnmockedOperationError` for EC2 operations this mock does not
            serve (default); ``False`` lets them reach other handlers (e.g. moto).
        fresh_keys: generate every key afresh instead of drawing from the process-wide key
            cache (default: the ``EC2_KEYPAIR_MOCK_FRESH_KEYS`` environment variable).

    Example::

        @mock_keypairs
        def test_create():
            ec2 = boto3.client("ec2", region_name="us-east-1")
            pair = ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
            assert pair["KeyPairId"].startswith("key-0")
    """
    if func is not None:
        if options:
            msg = "Use either @mock_keypairs or @mock_keypairs(...), not both."
            raise TypeError(msg)
        return KeyPairsMock()(func)
    return KeyPairsMock(**options)
