"""The pytest plugin: the ``keypairs_mock`` fixture and the ``keypairs_mock`` marker.

Strictly private; pytest loads it through the ``pytest11`` entry point, so installing the package
is enough. It lives in its own module so that importing ``ec2_keypair_mock`` never imports pytest.

Example::

    import boto3
    import pytest

    from ec2_keypair_mock import KeyPairsBackend

    @pytest.mark.keypairs_mock(strict=False)
    def test_deploy_key(keypairs_mock: KeyPairsBackend) -> None:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_key_pair(KeyName="deploy", KeyType="ed25519")
        assert [pair.name for pair in keypairs_mock.key_pairs()] == ["deploy"]
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from ._backend import KeyPairsBackend
from ._mock import KeyPairsMock

__all__ = ["keypairs_mock", "pytest_collection_modifyitems", "pytest_configure"]

_NAME = "keypairs_mock"

# The marker takes exactly the keyword options of mock_keypairs(...): read them from the one
# signature that defines them, so a new option cannot be forgotten here.
_OPTIONS: dict[str, inspect.Parameter] = {
    name: parameter
    for name, parameter in inspect.signature(KeyPairsMock.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it and ``--markers`` lists it."""
    options = ", ".join(f"{name}={parameter.default!r}" for name, parameter in _OPTIONS.items())
    config.addinivalue_line(
        "markers",
        f"{_NAME}({options}): run the test with mock_keypairs active, configured with these "
        "options (the same keywords as mock_keypairs); the keypairs_mock fixture yields the "
        "backend. Module, class and function markers merge, the closest winning per option.",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The marker alone activates the mock: marked tests request the fixture implicitly."""
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.get_closest_marker(_NAME) is not None
            and _NAME not in item.fixturenames
        ):
            # First, as if it were the first fixture the test asked for, so fixtures that seed
            # key pairs or call EC2 during setup are already served by the mock.
            item.fixturenames.insert(0, _NAME)


def _options(node: pytest.Item) -> dict[str, Any]:
    """The marker options for ``node``: module, class, function, the closest winning."""
    __tracebackhide__ = True
    options: dict[str, Any] = {}
    # iter_markers yields the closest marker first, so earlier ones must not be overwritten.
    for marker in node.iter_markers(_NAME):
        if marker.args:
            msg = (
                f"@pytest.mark.{_NAME} takes keyword options only, not positional arguments "
                f"{marker.args!r}; write e.g. @pytest.mark.{_NAME}(policy=...)."
            )
            raise TypeError(msg)
        unknown = sorted(set(marker.kwargs) - set(_OPTIONS))
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            msg = (
                f"@pytest.mark.{_NAME} got unknown option(s) {names}. "
                f"Accepted options (those of mock_keypairs): {', '.join(sorted(_OPTIONS))}."
            )
            raise TypeError(msg)
        options = {**marker.kwargs, **options}
    return options


@pytest.fixture
def keypairs_mock(request: pytest.FixtureRequest) -> Iterator[KeyPairsBackend]:
    """A fresh, active :class:`KeyPairsBackend` for one test; configure it with the marker.

    Example::

        @pytest.mark.keypairs_mock(policy=read_only_policy)
        def test_read_only(keypairs_mock: KeyPairsBackend) -> None:
            ...
    """
    __tracebackhide__ = True
    mock = KeyPairsMock(**_options(request.node))
    backend = mock.start()
    try:
        yield backend
    finally:
        mock.stop()
