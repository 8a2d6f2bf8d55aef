"""The pytest plugin: ``keypairs_mock`` fixture and marker, run in pytester sessions."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from ec2_keypair_mock import _mock, _pytest_plugin
from ec2_keypair_mock._mock import KeyPairsMock
from tests.helpers import ISOLATE

# The inner sessions run in this process (pytester's inline run): they inherit the outer
# conftest's network guard and fake credentials, and load the plugin through its entry point.
_HEADER = """
import boto3
import pytest
from botocore.exceptions import ClientError

from ec2_keypair_mock import KeyPairsBackend, UnmockedOperationError


def ec2():
    return boto3.client("ec2", region_name="us-east-1")
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # --strict-markers: the plugin's registration is what lets the marker through.
    result = pytester.runpytest(*ISOLATE, "-q", *args)
    assert _mock._stack == [], "a pytester session left an activation behind"
    return result


@pytest.fixture(autouse=True)
def _strict_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n")


def test_entry_point_registers_plugin(pytester: pytest.Pytester) -> None:
    """Installing the package is enough: the fixture exists without any conftest."""
    pytester.makepyfile(
        _HEADER
        + """
def test_fixture(keypairs_mock):
    assert isinstance(keypairs_mock, KeyPairsBackend)
"""
    )
    _run(pytester).assert_outcomes(passed=1)


def test_fixture_yields_active_fresh_backend(pytester: pytest.Pytester) -> None:
    """Every test gets its own empty backend, active for the test and stopped after it."""
    pytester.makepyfile(
        _HEADER
        + """
from ec2_keypair_mock import _mock

@pytest.mark.parametrize("run", [1, 2])
def test_create(keypairs_mock, run):
    assert keypairs_mock.key_pairs() == []
    pair = ec2().create_key_pair(KeyName="deploy-key", KeyType="ed25519")
    [record] = keypairs_mock.key_pairs()
    assert record.key_pair_id == pair["KeyPairId"]
    assert _mock._stack[-1][1] is keypairs_mock

def test_after():
    assert _mock._stack == []
"""
    )
    _run(pytester).assert_outcomes(passed=3)


def test_fixture_stops_after_failing_test(pytester: pytest.Pytester) -> None:
    """A failing test still stops its mock (teardown in ``finally``) and reports the failure."""
    pytester.makepyfile(
        _HEADER
        + """
from ec2_keypair_mock import _mock

def test_fails(keypairs_mock):
    ec2().create_key_pair(KeyName="deploy-key")
    raise AssertionError("boom")

def test_after():
    assert _mock._stack == []
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: boom*"])


def test_marker_alone_activates_mock(pytester: pytest.Pytester) -> None:
    """A marked test that does not ask for the fixture is still served, from its first fixture."""
    pytester.makepyfile(
        _HEADER
        + """
@pytest.fixture
def seeded():
    # Does not request keypairs_mock: the marker started the mock before this fixture.
    return ec2().create_key_pair(KeyName="seeded")["KeyPairId"]

@pytest.mark.keypairs_mock
def test_bare_marker():
    assert ec2().create_key_pair(KeyName="deploy-key")["KeyName"] == "deploy-key"

@pytest.mark.keypairs_mock()
def test_marker_with_fixture(seeded, request):
    backend = request.getfixturevalue("keypairs_mock")
    assert [p.key_pair_id for p in backend.key_pairs()] == [seeded]

def test_unmarked_is_not_mocked(request):
    assert "keypairs_mock" not in request.fixturenames
"""
    )
    _run(pytester).assert_outcomes(passed=3)


def test_marker_configures_policy_and_account(pytester: pytest.Pytester) -> None:
    """Marker keywords reach mock_keypairs: a denying policy gives a 403, account_id is used."""
    pytester.makepyfile(
        _HEADER
        + """
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeKeyPairs", "Resource": "*"}],
}

@pytest.mark.keypairs_mock(policy=READ_ONLY, account_id="210987654321")
def test_denied(keypairs_mock):
    assert keypairs_mock.account_id == "210987654321"
    assert ec2().describe_key_pairs()["KeyPairs"] == []
    with pytest.raises(ClientError) as excinfo:
        ec2().create_key_pair(KeyName="deploy-key")
    error = excinfo.value.response
    assert error["Error"]["Code"] == "UnauthorizedOperation"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "user/mock-user is not authorized to perform: ec2:CreateKeyPair" in (
        error["Error"]["Message"]
    )
    assert "arn:aws:iam::210987654321:user/mock-user" in error["Error"]["Message"]
"""
    )
    _run(pytester).assert_outcomes(passed=1)


_CANNED_DESCRIBE_INSTANCES = """
from botocore.awsrequest import AWSResponse

def canned(model, **kwargs):
    # Another handler after ours (as moto would be): answers DescribeInstances itself.
    if model.name == "DescribeInstances":
        return AWSResponse(None, 200, {}, None), {"Reservations": []}
    return None

def describe_instances():
    client = ec2()
    # Registered after the mock's own before-call.ec2 row, so it is asked second.
    client.meta.events.register("before-call.ec2", canned)
    return client.describe_instances()
"""


def test_markers_merge_closest_wins(pytester: pytest.Pytester) -> None:
    """Module, class and function markers merge option by option, the closest one winning."""
    pytester.makepyfile(
        _HEADER
        + _CANNED_DESCRIBE_INSTANCES
        + """
DENY_CREATE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:CreateKeyPair", "Resource": "*"},
    ],
}

pytestmark = pytest.mark.keypairs_mock(account_id="111111111111", strict=False)


def test_module_only(keypairs_mock):
    assert keypairs_mock.account_id == "111111111111"
    assert describe_instances()["Reservations"] == []


@pytest.mark.keypairs_mock(account_id="222222222222")
class TestClass:
    def test_class_over_module(self, keypairs_mock):
        assert keypairs_mock.account_id == "222222222222"
        assert describe_instances()["Reservations"] == []  # strict=False from the module

    @pytest.mark.keypairs_mock(strict=True, policy=DENY_CREATE)
    def test_function_over_class(self, keypairs_mock):
        assert keypairs_mock.account_id == "222222222222"
        with pytest.raises(UnmockedOperationError, match="does not serve ec2.DescribeInstances"):
            describe_instances()
        with pytest.raises(ClientError, match="UnauthorizedOperation"):
            ec2().create_key_pair(KeyName="deploy-key")

    def test_marked_class_alone_activates(self):
        assert ec2().create_key_pair(KeyName="deploy-key")["KeyName"] == "deploy-key"
"""
    )
    _run(pytester).assert_outcomes(passed=4)


def test_strict_default_in_marker(pytester: pytest.Pytester) -> None:
    """Without ``strict=False`` the marker's mock is strict, like mock_keypairs()."""
    pytester.makepyfile(
        _HEADER
        + _CANNED_DESCRIBE_INSTANCES
        + """
@pytest.mark.keypairs_mock
def test_strict():
    with pytest.raises(UnmockedOperationError):
        describe_instances()
"""
    )
    _run(pytester).assert_outcomes(passed=1)


def test_unknown_option_is_a_clear_error(pytester: pytest.Pytester) -> None:
    """A misspelt option errors the test at setup, naming it and the accepted options."""
    pytester.makepyfile(
        _HEADER
        + """
@pytest.mark.keypairs_mock(polcy={}, strict=True)
def test_typo():
    pass

def test_unaffected():
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "E   TypeError: @pytest.mark.keypairs_mock got unknown option(s) 'polcy'. "
            "Accepted options (those of mock_keypairs): account_id, fresh_keys, "
            "permissions_boundary, policy, scps, session_policy, strict.",
        ]
    )
    # __tracebackhide__: the plugin's own frames are not shown.
    result.stdout.no_fnmatch_line("*_pytest_plugin.py*")


def test_unknown_option_on_module_marker(pytester: pytest.Pytester) -> None:
    """An unknown option on a module marker errors every marked test of the module."""
    pytester.makepyfile(
        """
import pytest

pytestmark = pytest.mark.keypairs_mock(region="eu-west-1")

def test_one():
    pass

def test_two(keypairs_mock):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*TypeError: @pytest.mark.keypairs_mock got unknown option(s) 'region'.*"]
    )


def test_positional_argument_is_a_clear_error(pytester: pytest.Pytester) -> None:
    """Positional marker arguments are refused with a sentence saying to use keywords."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.keypairs_mock({"Version": "2012-10-17", "Statement": []})
def test_positional():
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E   TypeError: @pytest.mark.keypairs_mock takes keyword options only, not positional "
            "arguments ({'Version': '2012-10-17', 'Statement': []},); write e.g. "
            "@pytest.mark.keypairs_mock(policy=...).",
        ]
    )


def test_invalid_policy_errors_at_setup(pytester: pytest.Pytester) -> None:
    """A malformed policy in the marker is the library's PolicyError, at the test's setup."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.keypairs_mock(policy={"Statement": "nope"})
def test_bad_policy():
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E * ec2_keypair_mock._errors.PolicyError: policy: Policy Statement must be an object "
            "or a list of objects, not string."
        ]
    )


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    """``--markers`` lists the marker with every option of mock_keypairs and its default."""
    result = pytester.runpytest(*ISOLATE, "--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.keypairs_mock(policy=None, permissions_boundary=None, "
            "session_policy=None, scps=(), account_id='123456789012', strict=True, "
            "fresh_keys=None): run the test with mock_keypairs active*",
        ]
    )


def test_options_follow_mock_keypairs_signature() -> None:
    """The accepted options are exactly KeyPairsMock's keyword parameters, not a copied list."""
    keywords = [
        name
        for name, parameter in inspect.signature(KeyPairsMock.__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert list(_pytest_plugin._OPTIONS) == keywords
    assert {"policy", "strict", "account_id", "fresh_keys"} <= set(keywords)


def test_importing_package_does_not_import_pytest() -> None:
    """``import ec2_keypair_mock`` never imports pytest (the plugin is its own module)."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import ec2_keypair_mock, sys; assert 'pytest' not in sys.modules, 'pytest imported'",
        ],
        check=True,
    )
