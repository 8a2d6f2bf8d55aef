"""Malformed policy documents are rejected when given to the mock, with exact messages (SPEC §8)."""

# ruff: noqa: E501  (one malformed case per line, with its exact message)
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from ec2_keypair_mock._errors import MockKeypairsError, PolicyError
from ec2_keypair_mock._policy import ALLOW_ALL, parse_policy

GOOD = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def with_statement(**changes: Any) -> dict[str, Any]:
    """A 2012-10-17 policy with one statement: GOOD plus ``changes`` (None removes a key)."""
    statement = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return {"Version": "2012-10-17", "Statement": [statement]}


def condition(block: Any) -> dict[str, Any]:
    return with_statement(Condition=block)


NOT_JSON = "Policy document is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2."
PRINCIPAL = "Statement 0 has a {0} element, which {1} cannot have; Principal and NotPrincipal belong in resource-based policies."
VALUE_TYPE = "Statement 0: condition StringEquals key 'aws:username' has a value of type {0}; condition values must be strings, numbers, booleans or lists of them."

# fmt: off
MALFORMED = [
    # The document as a whole.
    pytest.param("{", NOT_JSON, id="invalid-json"),
    pytest.param("[]", "Policy document must be a JSON object, not array.", id="json-array"),
    pytest.param('"Allow"', "Policy document must be a JSON object, not string.", id="json-string"),
    pytest.param(5, "Policy document must be a JSON object, not number.", id="python-int"),
    pytest.param({"Version": "2012-10-17"}, "Policy document has no Statement element.", id="no-statement"),
    pytest.param(
        {"Version": "2013-01-01", "Statement": [GOOD]},
        "Policy Version '2013-01-01' is not supported; use '2012-10-17' (or the legacy '2008-10-17').",
        id="bad-version",
    ),
    pytest.param(
        {"Version": 2012, "Statement": [GOOD]},
        "Policy Version 2012 is not supported; use '2012-10-17' (or the legacy '2008-10-17').",
        id="numeric-version",
    ),
    pytest.param(
        {"Statement": [GOOD], "Effect": "Allow"},
        "Policy document has unknown element 'Effect'; the allowed elements are Version, Id and Statement.",
        id="unknown-top-level",
    ),
    pytest.param({"Id": 5, "Statement": [GOOD]}, "Policy Id must be a string, not number.", id="id-type"),
    pytest.param(
        {"Statement": "Allow"},
        "Policy Statement must be an object or a list of objects, not string.",
        id="statement-string",
    ),
    pytest.param({"Statement": []}, "Policy Statement list is empty; give at least one statement.", id="statement-empty"),
    pytest.param({"Statement": [GOOD, 1]}, "Statement 1 must be a JSON object, not number.", id="statement-item"),
    # Effect, Action, Resource.
    pytest.param(with_statement(Effect=None), 'Statement 0 has no Effect element; use "Allow" or "Deny".', id="no-effect"),
    pytest.param(with_statement(Effect="allow"), "Statement 0 has Effect 'allow'; it must be \"Allow\" or \"Deny\".", id="effect-case"),
    pytest.param(
        with_statement(Effect="Permit", Sid="S1"),
        "Statement 0 (Sid 'S1') has Effect 'Permit'; it must be \"Allow\" or \"Deny\".",
        id="effect-with-sid",
    ),
    pytest.param(with_statement(NotAction="s3:*"), "Statement 0 has both Action and NotAction; use exactly one of them.", id="action-and-notaction"),
    pytest.param(with_statement(Action=None), "Statement 0 has neither Action nor NotAction; use exactly one of them.", id="no-action"),
    pytest.param(with_statement(NotResource="*"), "Statement 0 has both Resource and NotResource; use exactly one of them.", id="resource-and-notresource"),
    pytest.param(with_statement(Resource=None), "Statement 0 has neither Resource nor NotResource; use exactly one of them.", id="no-resource"),
    pytest.param(with_statement(Action=[]), "Statement 0: Action must not be an empty list.", id="empty-action"),
    pytest.param(with_statement(Action=5), "Statement 0: Action must be a string or a list of strings, not number.", id="action-type"),
    pytest.param(with_statement(Action=["ec2:*", None]), "Statement 0: Action must be a string or a list of strings, not null.", id="action-item-type"),
    pytest.param(with_statement(Action="CreateKeyPair"), 'Statement 0: Action value \'CreateKeyPair\' is not "*" or "service:action".', id="action-no-service"),
    pytest.param(with_statement(Resource="key-pair/k"), 'Statement 0: Resource value \'key-pair/k\' is not "*" or an ARN.', id="resource-not-arn"),
    pytest.param(with_statement(Resource=["*", 3]), "Statement 0: Resource must be a string or a list of strings, not number.", id="resource-item-type"),
    # Sid, unknown elements, Principal.
    pytest.param(with_statement(Sid="allow-all"), "Statement 0 has Sid 'allow-all'; a Sid may contain only ASCII letters and digits.", id="sid-chars"),
    pytest.param(with_statement(Sid=7), "Statement 0: Sid must be a string, not number.", id="sid-type"),
    pytest.param(
        {"Statement": [dict(GOOD, Sid="Same"), dict(GOOD, Sid="Same")]},
        "Statement 1 repeats Sid 'Same'; each Sid must be unique in a policy.",
        id="sid-duplicate",
    ),
    pytest.param(with_statement(Actions="*"), "Statement 0 has unknown element 'Actions'.", id="unknown-element"),
    pytest.param(with_statement(Principal="*"), PRINCIPAL.format("Principal", "an identity-based policy"), id="principal"),
    pytest.param(with_statement(NotPrincipal={"AWS": "*"}), PRINCIPAL.format("NotPrincipal", "an identity-based policy"), id="notprincipal"),
    # Conditions.
    pytest.param(condition("yes"), "Statement 0: Condition must be an object of operators, not string.", id="condition-type"),
    pytest.param(condition({"StringEquals": ["aws:username"]}), "Statement 0: condition StringEquals must be an object of keys to values, not array.", id="operator-block-type"),
    pytest.param(condition({"StringEqualz": {"aws:username": "a"}}), "Statement 0 uses unknown condition operator 'StringEqualz'.", id="unknown-operator"),
    pytest.param(condition({"stringequals": {"aws:username": "a"}}), "Statement 0 uses unknown condition operator 'stringequals'.", id="operator-case"),
    pytest.param(condition({"ForSomeValues:StringEquals": {"aws:username": "a"}}), "Statement 0 uses unknown condition operator 'ForSomeValues:StringEquals'.", id="unknown-set-prefix"),
    pytest.param(condition({"NullIfExists": {"aws:username": "true"}}), "Statement 0 uses unknown condition operator 'NullIfExists'.", id="null-ifexists"),
    pytest.param(condition({"ForAnyValue:Null": {"aws:TagKeys": "true"}}), "Statement 0 uses unknown condition operator 'ForAnyValue:Null'.", id="null-set-prefix"),
    pytest.param(condition({"StringEquals": {"aws:username": {"a": 1}}}), VALUE_TYPE.format("object"), id="value-object"),
    pytest.param(condition({"StringEquals": {"aws:username": ["a", None]}}), VALUE_TYPE.format("null"), id="value-null"),
    pytest.param(condition({"StringEquals": {"aws:username": [["a"]]}}), VALUE_TYPE.format("array"), id="value-nested-list"),
    pytest.param(condition({"StringEquals": {"username": "a"}}), "Statement 0: condition key 'username' under StringEquals has no service prefix (such as 'aws:' or 'ec2:').", id="key-prefix"),
    pytest.param(condition({"NumericLessThan": {"s3:max-keys": "ten"}}), "Statement 0: condition NumericLessThan key 's3:max-keys' has 'ten', which is not a number.", id="numeric-value"),
    pytest.param(condition({"NumericEquals": {"s3:max-keys": "${aws:n}"}}), "Statement 0: condition NumericEquals key 's3:max-keys' has '${aws:n}', which is not a number.", id="numeric-variable"),
    pytest.param(condition({"DateLessThan": {"aws:CurrentTime": "tomorrow"}}), "Statement 0: condition DateLessThan key 'aws:CurrentTime' has 'tomorrow', which is not an ISO 8601 date or epoch seconds.", id="date-value"),
    pytest.param(condition({"DateEquals": {"aws:CurrentTime": "2024-02-30"}}), "Statement 0: condition DateEquals key 'aws:CurrentTime' has '2024-02-30', which is not an ISO 8601 date or epoch seconds.", id="date-impossible"),
    pytest.param(condition({"Bool": {"aws:SecureTransport": "yes"}}), "Statement 0: condition Bool key 'aws:SecureTransport' has 'yes', which is not 'true' or 'false'.", id="bool-value"),
    pytest.param(condition({"Null": {"aws:TagKeys": "maybe"}}), "Statement 0: condition Null key 'aws:TagKeys' has 'maybe', which is not 'true' or 'false'.", id="null-value"),
    pytest.param(condition({"BinaryEquals": {"aws:x": "not base64!"}}), "Statement 0: condition BinaryEquals key 'aws:x' has 'not base64!', which is not base64.", id="binary-value"),
    pytest.param(condition({"IpAddress": {"aws:SourceIp": "300.0.0.0/8"}}), "Statement 0: condition IpAddress key 'aws:SourceIp' has '300.0.0.0/8', which is not an IP address or CIDR block.", id="ip-value"),
]
# fmt: on


@pytest.mark.parametrize(("document", "message"), MALFORMED)
def test_malformed_documents_are_rejected(document: Any, message: str) -> None:
    """Each malformed document raises PolicyError naming the problem and where it is."""
    with pytest.raises(PolicyError, match=f"^{re.escape(message)}$"):
        parse_policy(document)


@pytest.mark.parametrize(
    "kind",
    ["permissions boundary", "session policy", "service control policy"],
)
def test_principal_is_rejected_in_every_kind(kind: str) -> None:
    """Principal belongs in resource-based policies, which the mock does not take."""
    article = "an" if kind[0] in "aeiou" else "a"
    with pytest.raises(
        PolicyError, match=f"^{re.escape(PRINCIPAL.format('Principal', f'{article} {kind}'))}$"
    ):
        parse_policy(with_statement(Principal={"AWS": "*"}), kind=kind)


def test_json_text_errors_name_the_statement() -> None:
    """Errors in JSON text are reported like errors in a mapping."""
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": [GOOD, {"Effect": "Allow", "Action": "*"}]}
    )
    message = "Statement 1 has neither Resource nor NotResource; use exactly one of them."
    with pytest.raises(PolicyError, match=f"^{re.escape(message)}$"):
        parse_policy(text)


def test_unknown_kind_is_a_value_error() -> None:
    """The kind must be one of the four policy kinds."""
    message = (
        "Unknown policy kind 'resource-based policy'; use one of 'identity-based policy', "
        "'permissions boundary', 'session policy', 'service control policy'."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_policy(GOOD, kind="resource-based policy")


def test_policy_error_is_a_library_value_error() -> None:
    """PolicyError can be caught as MockKeypairsError or ValueError."""
    assert issubclass(PolicyError, MockKeypairsError)
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize(
    "document",
    [
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}',
        {"Statement": [GOOD]},
        {"Version": "2008-10-17", "Id": "legacy", "Statement": GOOD},
        with_statement(Action=None, NotAction=["iam:*", "organizations:*"], Sid="Everything1"),
        with_statement(Resource=None, NotResource="arn:aws:ec2:*:*:key-pair/prod-*"),
        condition({"ForAllValues:StringEqualsIfExists": {"aws:TagKeys": []}}),
        condition({"StringEquals": {"aws:username": [5, 2.5, True]}}),
        condition(
            {
                "DateGreaterThan": {
                    "aws:CurrentTime": ["2024-06-01", "2024-06-01T12:00:00.5+02:00", 1717243200]
                }
            }
        ),
        condition({"IpAddress": {"aws:SourceIp": ["10.0.0.1", "2001:db8::/32"]}}),
        condition({"Null": {"aws:TagKeys": False}, "Bool": {"aws:SecureTransport": "TRUE"}}),
        condition({"StringLike": {"aws:username": "${aws:username, 'x'}${*}${malformed"}}),
    ],
    ids=[
        "json-text",
        "no-version",
        "v2008-dict-statement",
        "notaction",
        "notresource",
        "empty-values",
        "scalar-values",
        "dates",
        "ips",
        "null-bool",
        "variables",
    ],
)
def test_valid_documents_are_accepted(document: Any) -> None:
    """Well-formed documents parse, in every accepted spelling."""
    policy = parse_policy(document)
    assert policy.version in ("2012-10-17", "2008-10-17")
    assert len(policy.statements) == 1


def test_scp_may_omit_resource() -> None:
    """[dec] An SCP statement without Resource/NotResource covers every resource."""
    policy = parse_policy(with_statement(Resource=None), kind="service control policy")
    assert policy.kind == "service control policy"
    assert policy.statements[0].resources.everything


def test_version_defaults_to_2008() -> None:
    """No Version element means 2008-10-17 (IAM JSON policy elements: Version)."""
    assert parse_policy({"Statement": GOOD}).version == "2008-10-17"


def test_policy_is_immutable_and_keeps_a_private_copy() -> None:
    """A parsed Policy cannot be changed, nor changed through the caller's dict."""
    document = with_statement(Sid="Original")
    policy = parse_policy(document)
    document["Statement"][0]["Sid"] = "Changed"
    assert policy.source["Statement"] == [dict(GOOD, Sid="Original")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.version = "2008-10-17"  # type: ignore[misc]


def test_allow_all_constant() -> None:
    """ALLOW_ALL is the documented allow-everything identity policy."""
    assert ALLOW_ALL.source == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    assert ALLOW_ALL.kind == "identity-based policy"


def test_parsed_policies_pass_through() -> None:
    """A Policy is reused for its own kind and re-validated for another kind."""
    assert parse_policy(ALLOW_ALL) is ALLOW_ALL
    as_scp = parse_policy(ALLOW_ALL, kind="service control policy")
    assert (as_scp.kind, as_scp.source) == ("service control policy", ALLOW_ALL.source)
    scp = parse_policy(with_statement(Resource=None), kind="service control policy")
    message = "Statement 0 has neither Resource nor NotResource; use exactly one of them."
    with pytest.raises(PolicyError, match=f"^{re.escape(message)}$"):
        parse_policy(scp)
