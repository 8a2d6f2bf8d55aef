"""Table-driven tests of the fake IAM evaluator, drawn from the AWS documentation.

Each case names the documentation page its behaviour comes from (URL in a comment). Pages, by
short name:

EVAL      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
          (How AWS enforcement code logic evaluates requests to allow or deny access)
ACTION    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
NOTACTION https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
RESOURCE  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
NOTRES    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
OPS       https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
COND      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
MULTI     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
VARS      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
VERSION   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
KEYS      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
TAGS      https://docs.aws.amazon.com/IAM/latest/UserGuide/access_tags.html
BOUNDARY  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
SESSION   https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
SCP       https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
EC2AUTH   https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
EC2EX     https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html
"""

# ruff: noqa: E501  (the case table keeps one documented case per line)
from __future__ import annotations

import doctest
import timeit
from typing import Any

import pytest

from ec2_keypair_mock import _evaluate
from ec2_keypair_mock._evaluate import evaluate
from ec2_keypair_mock._policy import ALLOW_ALL, parse_policy

KP = "arn:aws:ec2:us-east-1:123456789012:key-pair/deploy-key"
ACCOUNT_KP = "arn:aws:ec2:us-east-1:123456789012:key-pair/"
CREATE, DESCRIBE, DELETE = "ec2:CreateKeyPair", "ec2:DescribeKeyPairs", "ec2:DeleteKeyPair"
ID, PB, SP, SCP = (
    "identity-based policy",
    "permissions boundary",
    "session policy",
    "service control policy",
)
ALLOWED, IMPLICIT, EXPLICIT = "allowed", "implicitDeny", "explicitDeny"
BASE = {
    "aws:RequestedRegion": "us-east-1",
    "aws:username": "alice",
    "aws:PrincipalArn": "arn:aws:iam::123456789012:user/alice",
    "aws:CurrentTime": "2024-06-01T12:00:00Z",
    "aws:EpochTime": "1717243200",
    "aws:SecureTransport": "true",
    "aws:SourceIp": "203.0.113.7",
}


def st(
    effect: str = "Allow", action: Any = "*", resource: Any = "*", **extra: Any
) -> dict[str, Any]:
    """A statement; ``extra`` may hold NotAction/NotResource/Condition/Sid (None drops a key)."""
    statement: dict[str, Any] = {"Effect": effect}
    if action is not None:
        statement["Action"] = action
    if resource is not None:
        statement["Resource"] = resource
    statement.update({k: v for k, v in extra.items() if v is not None})
    return statement


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def cond(**blocks: dict[str, Any]) -> dict[str, Any]:
    """Condition block; operator names with ``__`` become ``:`` (ForAllValues__StringEquals)."""
    return {name.replace("__", ":"): block for name, block in blocks.items()}


ALLOW_ALL_DOC = doc(st())
DENY = "Deny"


def case(
    case_id: str,
    identity: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any] | None,
    outcome: str,
    kind: str | None,
    **kinds: Any,
) -> Any:
    ctx = dict(BASE) if context is None else context
    return pytest.param(identity, action, resource, ctx, outcome, kind, kinds, id=case_id)


# One row per documented case reads best as a table, so the formatter leaves it alone.
# fmt: off
CASES = [
    # --- Evaluation logic: explicit deny > allow > implicit deny (EVAL) -----------------------
    # EVAL: an applicable Allow in the identity-based policy grants the request.
    case("allow-all", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None),
    # EVAL: "By default, all requests are implicitly denied".
    case("no-policies", [], CREATE, KP, None, IMPLICIT, ID),
    # EVAL: "An explicit deny overrides an explicit allow" (same policy).
    case("deny-beats-allow", [doc(st(), st(DENY, CREATE))], CREATE, KP, None, EXPLICIT, ID),
    # EVAL: a Deny for another action does not apply; nothing allows -> implicit deny.
    case("deny-other-action", [doc(st(DENY, DELETE))], CREATE, KP, None, IMPLICIT, ID),
    # EVAL: a Deny in any of the identity-based policies overrides an Allow in another one.
    case("deny-in-second-policy", [ALLOW_ALL_DOC, doc(st(DENY, "ec2:*"))], CREATE, KP, None, EXPLICIT, ID),
    # EVAL: an applicable Allow in a second identity policy is enough.
    case("allow-in-second-policy", [doc(st(DENY, DELETE)), ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None),
    # --- Action (ACTION) ------------------------------------------------------------------
    # ACTION: "You can use wildcards (* or ?) in the action name"; ec2:*KeyPair.
    case("action-star-suffix", [doc(st(action="ec2:*KeyPair"))], CREATE, KP, None, ALLOWED, None),
    # ACTION: action names are case-insensitive ("iam:listaccesskeys" = "IAM:ListAccessKeys").
    case("action-case", [doc(st(action="EC2:createkeypair"))], CREATE, KP, None, ALLOWED, None),
    # ACTION: ? matches exactly one character.
    case("action-qmark", [doc(st(action="ec2:Create?eyPair"))], CREATE, KP, None, ALLOWED, None),
    # ACTION: ? never matches more than one character.
    case("action-qmark-one-char", [doc(st(action="ec2:Create?Pair"))], CREATE, KP, None, IMPLICIT, ID),
    # ACTION: a list of actions; any one matches.
    case("action-list", [doc(st(action=[DELETE, CREATE]))], CREATE, KP, None, ALLOWED, None),
    # ACTION: "ec2:Describe*" covers only Describe actions.
    case("action-describe-only", [doc(st(action="ec2:Describe*"))], CREATE, KP, None, IMPLICIT, ID),
    # ACTION: another service's wildcard does not cover EC2.
    case("action-other-service", [doc(st(action="s3:*"))], CREATE, KP, None, IMPLICIT, ID),
    # NOTACTION: Allow + NotAction allows every action except those listed.
    case("notaction-allow", [doc(st(action=None, NotAction="iam:*"))], CREATE, KP, None, ALLOWED, None),
    # NOTACTION: the listed actions themselves are not allowed by that statement.
    case("notaction-excluded", [doc(st(action=None, NotAction="ec2:*Key*"))], CREATE, KP, None, IMPLICIT, ID),
    # NOTACTION: Deny + NotAction denies everything except the listed actions.
    case("notaction-deny", [ALLOW_ALL_DOC, doc(st(DENY, None, NotAction="ec2:Describe*"))], CREATE, KP, None, EXPLICIT, ID),
    # NOTACTION: ...and the excepted actions stay allowed.
    case("notaction-deny-excepted", [ALLOW_ALL_DOC, doc(st(DENY, None, NotAction="ec2:Describe*"))], DESCRIBE, "*", None, ALLOWED, None),
    # --- Resource (RESOURCE, NOTRES, EC2AUTH) -------------------------------------------------
    # RESOURCE: an exact ARN.
    case("resource-exact", [doc(st(resource=KP))], CREATE, KP, None, ALLOWED, None),
    # RESOURCE: * within the resource part of the ARN.
    case("resource-glob", [doc(st(resource=ACCOUNT_KP + "*"))], CREATE, KP, None, ALLOWED, None),
    # RESOURCE: ARNs are case-sensitive.
    case("resource-case", [doc(st(resource=ACCOUNT_KP + "Deploy-Key"))], CREATE, KP, None, IMPLICIT, ID),
    # RESOURCE: ? matches one character.
    case("resource-qmark", [doc(st(resource=ACCOUNT_KP + "deploy?key"))], CREATE, KP, None, ALLOWED, None),
    # RESOURCE: only * and ? are wildcards; "." is a literal dot, not "any character".
    case("resource-dot-literal", [doc(st(resource=ACCOUNT_KP + "deploy.key"))], CREATE, KP, None, IMPLICIT, ID),
    # RESOURCE: regex syntax such as (a|b) is literal text.
    case("resource-regex-literal", [doc(st(resource=ACCOUNT_KP + "(deploy|ci)-key"))], CREATE, ACCOUNT_KP + "(deploy|ci)-key", None, ALLOWED, None),
    # RESOURCE: ...and does not match an alternative.
    case("resource-regex-no-alt", [doc(st(resource=ACCOUNT_KP + "(deploy|ci)-key"))], CREATE, KP, None, IMPLICIT, ID),
    # RESOURCE: another region's ARN does not match.
    case("resource-other-region", [doc(st(resource="arn:aws:ec2:eu-west-1:*:key-pair/*"))], CREATE, KP, None, IMPLICIT, ID),
    # NOTRES: Allow + NotResource allows everything but the listed resources.
    case("notresource-allow", [doc(st(resource=None, NotResource=ACCOUNT_KP + "prod-*"))], CREATE, KP, None, ALLOWED, None),
    # NOTRES: the listed resources are excluded.
    case("notresource-excluded", [doc(st(resource=None, NotResource=ACCOUNT_KP + "deploy-*"))], CREATE, KP, None, IMPLICIT, ID),
    # NOTRES: Deny + NotResource denies everything outside the listed resources.
    case("notresource-deny", [ALLOW_ALL_DOC, doc(st(DENY, resource=None, NotResource=ACCOUNT_KP + "team-*"))], CREATE, KP, None, EXPLICIT, ID),
    # EC2AUTH: DescribeKeyPairs supports no resource-level permissions: "Resource": "*" grants it.
    case("describe-star", [doc(st(action=DESCRIBE))], DESCRIBE, "*", None, ALLOWED, None),
    # EC2AUTH: ...an ARN pattern, even key-pair/*, does not.
    case("describe-arn-pattern", [doc(st(action=DESCRIBE, resource="arn:aws:ec2:*:*:key-pair/*"))], DESCRIBE, "*", None, IMPLICIT, ID),
    # EC2AUTH: ...nor an ARN pattern that glob-matches everything ("arn:*").
    case("describe-qmark", [doc(st(action=DESCRIBE, resource="arn:*"))], DESCRIBE, "*", None, IMPLICIT, ID),
    # NOTRES + EC2AUTH: a NotResource that excludes only ARNs still applies to "*" requests.
    case("describe-notresource-deny", [ALLOW_ALL_DOC, doc(st(DENY, DESCRIBE, None, NotResource=KP))], DESCRIBE, "*", None, EXPLICIT, ID),
    # NOTRES + EC2AUTH: NotResource "*" excludes everything, so the Allow never applies.
    case("describe-notresource-star", [doc(st(resource=None, NotResource="*"))], DESCRIBE, "*", None, IMPLICIT, ID),
    # --- String operators (OPS) -------------------------------------------------------------
    # OPS StringEquals: exact match on aws:RequestedRegion (KEYS).
    case("string-equals", [doc(st(Condition=cond(StringEquals={"aws:RequestedRegion": "us-east-1"})))], CREATE, KP, None, ALLOWED, None),
    # OPS StringEquals: a different value does not match.
    case("string-equals-miss", [doc(st(Condition=cond(StringEquals={"aws:RequestedRegion": "eu-west-1"})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS: StringEquals is case-sensitive.
    case("string-equals-case", [doc(st(Condition=cond(StringEquals={"aws:RequestedRegion": "US-EAST-1"})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS StringEqualsIgnoreCase: case-insensitive matching.
    case("string-equals-ignorecase", [doc(st(Condition=cond(StringEqualsIgnoreCase={"aws:RequestedRegion": "US-EAST-1"})))], CREATE, KP, None, ALLOWED, None),
    # OPS StringNotEqualsIgnoreCase: negated, case-insensitive -> the Deny does not apply.
    case("string-not-equals-ignorecase", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEqualsIgnoreCase={"aws:RequestedRegion": "US-EAST-1"})))], CREATE, KP, None, ALLOWED, None),
    # KEYS aws:RequestedRegion example: Deny outside the approved regions (StringNotEquals).
    case("string-not-equals-deny", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]})))], CREATE, KP, None, EXPLICIT, ID),
    # COND: several values of a negated operator are NOR-ed: any listed value stops the Deny.
    case("string-not-equals-nor", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:RequestedRegion": ["eu-west-1", "us-east-1"]})))], CREATE, KP, None, ALLOWED, None),
    # OPS StringLike: * wildcard in the value.
    case("string-like", [doc(st(Condition=cond(StringLike={"aws:RequestTag/project": "blue-*"})))], CREATE, KP, {"aws:RequestTag/project": "blue-42"}, ALLOWED, None),
    # OPS StringLike: ? matches one character only.
    case("string-like-qmark", [doc(st(Condition=cond(StringLike={"aws:RequestTag/project": "blue-?"})))], CREATE, KP, {"aws:RequestTag/project": "blue-42"}, IMPLICIT, ID),
    # OPS StringNotLike: a Deny for names not following the convention.
    case("string-not-like-deny", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotLike={"ec2:KeyPairName": "team-*"})))], DELETE, KP, {"ec2:KeyPairName": "deploy-key"}, EXPLICIT, ID),
    # COND: several values of a positive operator are OR-ed.
    case("string-equals-or", [doc(st(Condition=cond(StringEquals={"aws:RequestedRegion": ["eu-west-1", "us-east-1"]})))], CREATE, KP, None, ALLOWED, None),
    # COND: several keys and several operators are AND-ed.
    case("condition-and", [doc(st(Condition=cond(StringEquals={"aws:RequestedRegion": "us-east-1", "aws:username": "bob"}, Bool={"aws:SecureTransport": "true"})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS: a missing key makes a positive operator false.
    case("missing-key-positive", [doc(st(Condition=cond(StringEquals={"aws:RequestTag/team": "blue"})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS: a missing key makes a negated operator true (nothing matched), so the Deny applies.
    case("missing-key-negated", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:RequestTag/team": "blue"})))], CREATE, KP, None, EXPLICIT, ID),
    # OPS ...IfExists: "If the key is not present, evaluate the condition element as true".
    case("ifexists-missing", [doc(st(Condition=cond(StringEqualsIfExists={"ec2:KeyPairType": "ed25519"})))], CREATE, KP, None, ALLOWED, None),
    # OPS ...IfExists: a present key is evaluated normally.
    case("ifexists-present", [doc(st(Condition=cond(StringEqualsIfExists={"ec2:KeyPairType": "ed25519"})))], CREATE, KP, {"ec2:KeyPairType": "rsa"}, IMPLICIT, ID),
    # COND: "Condition key names are not case-sensitive".
    case("key-name-case", [doc(st(Condition=cond(StringEquals={"AWS:REQUESTEDREGION": "us-east-1"})))], CREATE, KP, {"aws:requestedregion": "us-east-1"}, ALLOWED, None),
    # TAGS: the tag-key part of aws:RequestTag/<key> is case-insensitive too.
    case("request-tag-key-case", [doc(st(Condition=cond(StringEquals={"aws:RequestTag/Team": "blue"})))], CREATE, KP, {"aws:RequestTag/team": "blue"}, ALLOWED, None),
    # TAGS: tag values stay case-sensitive.
    case("request-tag-value-case", [doc(st(Condition=cond(StringEquals={"aws:RequestTag/team": "Blue"})))], CREATE, KP, {"aws:RequestTag/team": "blue"}, IMPLICIT, ID),
    # EC2EX: ec2:ResourceTag/<key> with a mixed-case key in the policy.
    case("ec2-resource-tag-case", [doc(st(action=DELETE, Condition=cond(StringEquals={"ec2:ResourceTag/Owner": "alice"})))], DELETE, KP, {"ec2:ResourceTag/owner": "alice"}, ALLOWED, None),
    # KEYS aws:PrincipalTag/<key>: key name case-insensitive.
    case("principal-tag-case", [doc(st(Condition=cond(StringEquals={"aws:principaltag/DEPT": "ops"})))], CREATE, KP, {"aws:PrincipalTag/dept": "ops"}, ALLOWED, None),
    # --- Multivalued keys and set operators (MULTI, OPS) ---------------------------------------
    # MULTI ForAllValues: every request tag key is in the allowed set.
    case("forall-subset", [doc(st(Condition=cond(ForAllValues__StringEquals={"aws:TagKeys": ["env", "team"]})))], CREATE, KP, {"aws:TagKeys": ["env"]}, ALLOWED, None),
    # MULTI ForAllValues: one key outside the set -> false.
    case("forall-extra-key", [doc(st(Condition=cond(ForAllValues__StringEquals={"aws:TagKeys": ["env", "team"]})))], CREATE, KP, {"aws:TagKeys": ["env", "cost"]}, IMPLICIT, ID),
    # MULTI ForAllValues: "returns true ... if there are no keys in the request".
    case("forall-missing", [doc(st(Condition=cond(ForAllValues__StringEquals={"aws:TagKeys": ["env"]})))], CREATE, KP, {}, ALLOWED, None),
    # MULTI ForAllValues: an empty set is the same as a missing key.
    case("forall-empty", [doc(st(Condition=cond(ForAllValues__StringEquals={"aws:TagKeys": ["env"]})))], CREATE, KP, {"aws:TagKeys": []}, ALLOWED, None),
    # MULTI ForAllValues with StringLike.
    case("forall-like", [doc(st(Condition=cond(ForAllValues__StringLike={"aws:TagKeys": ["team-*"]})))], CREATE, KP, {"aws:TagKeys": ["team-a", "team-b"]}, ALLOWED, None),
    # MULTI ForAnyValue: at least one request value is in the set.
    case("forany-match", [doc(st(Condition=cond(ForAnyValue__StringEquals={"aws:TagKeys": ["env"]})))], CREATE, KP, {"aws:TagKeys": ["cost", "env"]}, ALLOWED, None),
    # MULTI ForAnyValue: "For no matching key or a null dataset, the condition returns false".
    case("forany-missing", [doc(st(Condition=cond(ForAnyValue__StringEquals={"aws:TagKeys": ["env"]})))], CREATE, KP, {}, IMPLICIT, ID),
    # MULTI "Deny policy with condition set operator ForAnyValue": any key outside the list.
    case("forany-not-equals-deny", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(ForAnyValue__StringNotEquals={"aws:TagKeys": ["env", "team"]})))], CREATE, KP, {"aws:TagKeys": ["env", "cost"]}, EXPLICIT, ID),
    # MULTI: ForAllValues with a negated operator: no request key may be in the list.
    case("forall-not-equals", [doc(st(Condition=cond(ForAllValues__StringNotEquals={"aws:TagKeys": ["secret"]})))], CREATE, KP, {"aws:TagKeys": ["env", "team"]}, ALLOWED, None),
    # MULTI: "Multivalued context keys require a condition set operator" - a plain operator
    # compares the whole set, which equals no single value [dec, SPEC §8].
    case("plain-op-multivalued", [doc(st(Condition=cond(StringEquals={"aws:TagKeys": "env"})))], CREATE, KP, {"aws:TagKeys": ["env"]}, IMPLICIT, ID),
    # MULTI [dec]: ...so the negated plain operator is true (nothing matched).
    case("plain-negated-multivalued", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:TagKeys": "env"})))], CREATE, KP, {"aws:TagKeys": ["env"]}, EXPLICIT, ID),
    # MULTI: a set operator on a single-valued key treats it as a one-element set.
    case("set-op-single-valued", [doc(st(Condition=cond(ForAnyValue__StringEquals={"aws:RequestedRegion": ["us-east-1"]})))], CREATE, KP, None, ALLOWED, None),
    # --- Null (OPS "Condition operator to check existence of condition keys") ---------------
    # OPS Null true: the key must be absent.
    case("null-true-missing", [doc(st(Condition=cond(Null={"aws:TokenIssueTime": "true"})))], CREATE, KP, None, ALLOWED, None),
    # OPS Null false: the key must be present.
    case("null-false-missing", [doc(st(Condition=cond(Null={"aws:TokenIssueTime": "false"})))], CREATE, KP, None, IMPLICIT, ID),
    # TAGS "require a tag on create": Deny when aws:RequestTag/team is null.
    case("null-require-tag", [ALLOW_ALL_DOC, doc(st(DENY, CREATE, Condition=cond(Null={"aws:RequestTag/team": "true"})))], CREATE, KP, None, EXPLICIT, ID),
    # TAGS: ...and with the tag present the Deny does not apply.
    case("null-require-tag-present", [ALLOW_ALL_DOC, doc(st(DENY, CREATE, Condition=cond(Null={"aws:RequestTag/team": True})))], CREATE, KP, {"aws:RequestTag/Team": "blue"}, ALLOWED, None),
    # --- Numeric (OPS "Numeric condition operators") -----------------------------------------
    # OPS NumericLessThan.
    case("numeric-lt", [doc(st(Condition=cond(NumericLessThan={"s3:max-keys": "10"})))], CREATE, KP, {"s3:max-keys": "7"}, ALLOWED, None),
    # OPS NumericGreaterThanEquals: 7 >= 10 is false.
    case("numeric-ge-miss", [doc(st(Condition=cond(NumericGreaterThanEquals={"s3:max-keys": 10})))], CREATE, KP, {"s3:max-keys": "7"}, IMPLICIT, ID),
    # OPS NumericNotEquals is negated: a missing key makes it true.
    case("numeric-not-equals-missing", [doc(st(Condition=cond(NumericNotEquals={"s3:max-keys": "10"})))], CREATE, KP, {}, ALLOWED, None),
    # OPS NumericEquals with a decimal value.
    case("numeric-equals-decimal", [doc(st(Condition=cond(NumericEquals={"ec2:Amount": "2.50"})))], CREATE, KP, {"ec2:Amount": "2.5"}, ALLOWED, None),
    # --- Date (OPS "Date condition operators"; ISO 8601 or epoch) -----------------------------
    # OPS DateGreaterThan with an ISO 8601 date on aws:CurrentTime.
    case("date-gt-iso", [doc(st(Condition=cond(DateGreaterThan={"aws:CurrentTime": "2024-01-01T00:00:00Z"})))], CREATE, KP, None, ALLOWED, None),
    # OPS DateLessThan with epoch seconds on aws:EpochTime.
    case("date-lt-epoch", [doc(st(Condition=cond(DateLessThan={"aws:EpochTime": 1704067200})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS: an ISO date in the policy compared with an epoch value in the request.
    case("date-iso-vs-epoch", [doc(st(Condition=cond(DateGreaterThanEquals={"aws:EpochTime": "2024-06-01"})))], CREATE, KP, None, ALLOWED, None),
    # OPS DateLessThanEquals with a time-zone offset (12:00Z is 14:00+02:00).
    case("date-offset", [doc(st(Condition=cond(DateLessThanEquals={"aws:CurrentTime": "2024-06-01T14:00:00+02:00"})))], CREATE, KP, None, ALLOWED, None),
    # OPS DateNotEquals is negated.
    case("date-not-equals", [doc(st(Condition=cond(DateNotEquals={"aws:CurrentTime": "2024-06-01T12:00:00Z"})))], CREATE, KP, None, IMPLICIT, ID),
    # --- Bool, Binary (OPS) -------------------------------------------------------------------
    # KEYS aws:SecureTransport: Deny requests not sent over TLS.
    case("bool-deny-insecure", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(Bool={"aws:SecureTransport": "false"})))], CREATE, KP, {"aws:SecureTransport": "false"}, EXPLICIT, ID),
    # OPS Bool with a JSON boolean value.
    case("bool-true", [doc(st(Condition=cond(Bool={"aws:SecureTransport": True})))], CREATE, KP, None, ALLOWED, None),
    # OPS "BoolIfExists" MFA example: Deny when MFA is absent or false - missing key -> true.
    case("boolifexists-mfa", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(BoolIfExists={"aws:MultiFactorAuthPresent": "false"})))], CREATE, KP, None, EXPLICIT, ID),
    # OPS BinaryEquals: byte-for-byte against a base64 value.
    case("binary-equals", [doc(st(Condition=cond(BinaryEquals={"ec2:Blob": "QmluYXJ5VmFsdWU="})))], CREATE, KP, {"ec2:Blob": "QmluYXJ5VmFsdWU="}, ALLOWED, None),
    # OPS BinaryEquals: different bytes.
    case("binary-differs", [doc(st(Condition=cond(BinaryEquals={"ec2:Blob": "QmluYXJ5VmFsdWU="})))], CREATE, KP, {"ec2:Blob": "b3RoZXI="}, IMPLICIT, ID),
    # --- IP address (OPS "IP address condition operators") -----------------------------------
    # OPS IpAddress with an IPv4 CIDR block.
    case("ip-v4", [doc(st(Condition=cond(IpAddress={"aws:SourceIp": "203.0.113.0/24"})))], CREATE, KP, None, ALLOWED, None),
    # KEYS aws:SourceIp example: Deny from outside the corporate ranges (NotIpAddress).
    case("not-ip-deny", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(NotIpAddress={"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]})))], CREATE, KP, None, EXPLICIT, ID),
    # OPS IpAddress with an IPv6 range.
    case("ip-v6", [doc(st(Condition=cond(IpAddress={"aws:SourceIp": "2001:db8::/32"})))], CREATE, KP, {"aws:SourceIp": "2001:db8:1234::1"}, ALLOWED, None),
    # OPS IpAddress: a single address means /32; another address does not match.
    case("ip-single-miss", [doc(st(Condition=cond(IpAddress={"aws:SourceIp": "203.0.113.8"})))], CREATE, KP, None, IMPLICIT, ID),
    # --- ARN (OPS "Amazon Resource Name (ARN) condition operators") ---------------------------
    # OPS ArnLike with a wildcard account.
    case("arn-like", [doc(st(Condition=cond(ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:user/alice"})))], CREATE, KP, None, ALLOWED, None),
    # OPS ArnEquals: the resource component may span slashes with *.
    case("arn-equals-resource-star", [doc(st(Condition=cond(ArnEquals={"aws:PrincipalArn": "arn:aws:iam::123456789012:*"})))], CREATE, KP, None, ALLOWED, None),
    # OPS: "Each of the six colon-delimited components of the ARN is checked separately".
    case("arn-segment", [doc(st(Condition=cond(ArnLike={"aws:SourceArn": "arn:aws:ec2:us-*:123456789012:key-pair/*"})))], CREATE, KP, {"aws:SourceArn": "arn:aws:ec2:us-east-1:999:123456789012:key-pair/k"}, IMPLICIT, ID),
    # OPS: ARN matching is case-sensitive.
    case("arn-case", [doc(st(Condition=cond(ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:user/Alice"})))], CREATE, KP, None, IMPLICIT, ID),
    # OPS ArnNotLike: Deny everyone but a given role (here the user is not that role).
    case("arn-not-like-deny", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(ArnNotLike={"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"})))], CREATE, KP, None, EXPLICIT, ID),
    # --- Policy variables (VARS) ------------------------------------------------------------
    # VARS: ${aws:username} in Resource.
    case("var-resource", [doc(st(resource=ACCOUNT_KP + "${aws:username}-*"))], CREATE, ACCOUNT_KP + "alice-laptop", None, ALLOWED, None),
    # VARS: another user's pair does not match.
    case("var-resource-other", [doc(st(resource=ACCOUNT_KP + "${aws:username}-*"))], CREATE, ACCOUNT_KP + "bob-laptop", None, IMPLICIT, ID),
    # VARS "Policy variables with no value": a missing key makes the Resource match nothing.
    case("var-no-value", [doc(st(resource=ACCOUNT_KP + "${aws:username}-*"))], CREATE, ACCOUNT_KP + "-laptop", {}, IMPLICIT, ID),
    # VARS "Specifying default values": ${key, 'default'} is used when the key is missing.
    case("var-default", [doc(st(resource=ACCOUNT_KP + "${aws:username, 'shared'}-*"))], CREATE, ACCOUNT_KP + "shared-laptop", {}, ALLOWED, None),
    # VARS: the default is not used when the key has a value.
    case("var-default-unused", [doc(st(resource=ACCOUNT_KP + "${aws:username, 'shared'}-*"))], CREATE, ACCOUNT_KP + "shared-laptop", None, IMPLICIT, ID),
    # VARS "Tags as policy variables": ${aws:PrincipalTag/team} in a condition value (TAGS ABAC).
    case("var-principal-tag", [doc(st(action=DELETE, Condition=cond(StringEquals={"aws:ResourceTag/team": "${aws:PrincipalTag/team}"})))], DELETE, KP, {"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue"}, ALLOWED, None),
    # VARS: variable key names are case-insensitive.
    case("var-key-case", [doc(st(resource=ACCOUNT_KP + "${AWS:UserName}-*"))], CREATE, ACCOUNT_KP + "alice-k", None, ALLOWED, None),
    # VARS no value + negated operator: the value matches nothing, so StringNotEquals is true.
    case("var-no-value-negated", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:ResourceTag/owner": "${aws:username}"})))], DELETE, KP, {"aws:ResourceTag/owner": "alice"}, EXPLICIT, ID),
    # VARS: with a value, the same Deny does not apply to the owner.
    case("var-negated-owner", [ALLOW_ALL_DOC, doc(st(DENY, Condition=cond(StringNotEquals={"aws:ResourceTag/owner": "${aws:username}"})))], DELETE, KP, {"aws:ResourceTag/owner": "alice", "aws:username": "alice"}, ALLOWED, None),
    # VARS: a variable inside a StringLike value keeps the surrounding wildcards.
    case("var-in-like", [doc(st(Condition=cond(StringLike={"ec2:KeyPairName": "${aws:username}-*"})))], CREATE, KP, {"aws:username": "deploy", "ec2:KeyPairName": "deploy-key"}, ALLOWED, None),
    # VARS: a variable's value is literal text - a * in it is not a wildcard.
    case("var-value-literal", [doc(st(Condition=cond(StringLike={"ec2:KeyPairName": "${aws:username}"})))], CREATE, KP, {"aws:username": "*", "ec2:KeyPairName": "deploy-key"}, IMPLICIT, ID),
    # VARS special characters: ${*} is a literal asterisk...
    case("var-literal-star", [doc(st(resource=ACCOUNT_KP + "star${*}"))], CREATE, ACCOUNT_KP + "star*", None, ALLOWED, None),
    # VARS: ...that is not a wildcard.
    case("var-literal-star-no-glob", [doc(st(resource=ACCOUNT_KP + "star${*}"))], CREATE, ACCOUNT_KP + "starfish", None, IMPLICIT, ID),
    # VARS: ${?} is a literal question mark.
    case("var-literal-qmark", [doc(st(resource=ACCOUNT_KP + "why${?}"))], CREATE, ACCOUNT_KP + "whyX", None, IMPLICIT, ID),
    # VARS: ${$} is a literal dollar sign.
    case("var-literal-dollar", [doc(st(resource=ACCOUNT_KP + "cost${$}"))], CREATE, ACCOUNT_KP + "cost$", None, ALLOWED, None),
    # VERSION: under 2008-10-17 "${aws:username}" is a literal string, not a variable.
    case("v2008-literal", [doc(st(resource=ACCOUNT_KP + "${aws:username}"), version="2008-10-17")], CREATE, ACCOUNT_KP + "alice", None, IMPLICIT, ID),
    # VERSION: ...which matches the literal text.
    case("v2008-literal-match", [doc(st(resource=ACCOUNT_KP + "${aws:username}"), version="2008-10-17")], CREATE, ACCOUNT_KP + "${aws:username}", None, ALLOWED, None),
    # VERSION: no Version element means 2008-10-17, so no variables either.
    case("no-version-literal", [doc(st(Condition=cond(StringEquals={"aws:username": "${aws:username}"})), version=None)], CREATE, KP, None, IMPLICIT, ID),
    # --- Permissions boundaries, session policies, SCPs --------------------------------------
    # BOUNDARY: the effective permissions are the intersection of identity policy and boundary.
    case("boundary-allows", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None, permissions_boundary=doc(st(action="ec2:*"))),
    # BOUNDARY: an action outside the boundary is implicitly denied by it.
    case("boundary-lacks", [ALLOW_ALL_DOC], CREATE, KP, None, IMPLICIT, PB, permissions_boundary=doc(st(action="s3:*"))),
    # BOUNDARY: "An explicit deny in either of these policies overrides the allow".
    case("boundary-deny", [ALLOW_ALL_DOC], CREATE, KP, None, EXPLICIT, PB, permissions_boundary=doc(st(), st(DENY, CREATE))),
    # BOUNDARY: the boundary alone grants nothing.
    case("boundary-only", [], CREATE, KP, None, IMPLICIT, ID, permissions_boundary=ALLOW_ALL_DOC),
    # SESSION: the session policy limits the role's identity-based permissions.
    case("session-lacks", [ALLOW_ALL_DOC], CREATE, KP, None, IMPLICIT, SP, session_policy=doc(st(action=DESCRIBE))),
    # SESSION: an explicit deny in the session policy.
    case("session-deny", [ALLOW_ALL_DOC], CREATE, KP, None, EXPLICIT, SP, session_policy=doc(st(), st(DENY, "ec2:Create*"))),
    # SESSION + BOUNDARY: all three must allow.
    case("session-boundary-identity", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None, permissions_boundary=ALLOW_ALL_DOC, session_policy=ALLOW_ALL_DOC),
    # SCP: FullAWSAccess at every level (root, OU, account) lets identity permissions through.
    case("scp-full-access", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None, scps=[[ALLOW_ALL_DOC], [ALLOW_ALL_DOC]]),
    # SCP: a Deny SCP at the OU overrides FullAWSAccess at the root.
    case("scp-deny", [ALLOW_ALL_DOC], CREATE, KP, None, EXPLICIT, SCP, scps=[[ALLOW_ALL_DOC], [ALLOW_ALL_DOC, doc(st(DENY, "ec2:*KeyPair"))]]),
    # SCP: a level whose SCPs allow nothing for the action blocks it (allow-list strategy).
    case("scp-level-lacks", [ALLOW_ALL_DOC], CREATE, KP, None, IMPLICIT, SCP, scps=[[ALLOW_ALL_DOC], [doc(st(action="s3:*"))]]),
    # SCP: within a level, one allowing SCP is enough.
    case("scp-one-per-level", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None, scps=[[doc(st(action="s3:*")), doc(st(action="ec2:*"))]]),
    # SCP: "SCPs do not grant permissions" - the identity policy must still allow.
    case("scp-no-grant", [], CREATE, KP, None, IMPLICIT, ID, scps=[[ALLOW_ALL_DOC]]),
    # EVAL order: SCPs are checked before identity-based policies, so they are reported first.
    case("scp-reported-first", [], CREATE, KP, None, IMPLICIT, SCP, scps=[[doc(st(action="s3:*"))]]),
    # EVAL order: with Denies in both, the SCP's is reported.
    case("scp-deny-reported-first", [doc(st(DENY))], CREATE, KP, None, EXPLICIT, SCP, scps=[[doc(st(DENY))]]),
    # SCP [dec]: an SCP statement may omit Resource; it then covers every resource.
    case("scp-no-resource", [ALLOW_ALL_DOC], CREATE, KP, None, ALLOWED, None, scps=[[doc(st(action="ec2:*", resource=None))]]),
    # SCP: an attachment level with no SCPs at all allows nothing.
    case("scp-empty-level", [ALLOW_ALL_DOC], CREATE, KP, None, IMPLICIT, SCP, scps=[[ALLOW_ALL_DOC], []]),
]
# fmt: on


@pytest.mark.parametrize(
    ("identity", "action", "resource", "context", "outcome", "kind", "kinds"), CASES
)
def test_policy_table(
    identity: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any],
    outcome: str,
    kind: str | None,
    kinds: dict[str, Any],
) -> None:
    """Each documented example evaluates to its documented outcome and deciding policy kind."""
    decision = evaluate(
        action=action, resource=resource, context=context, identity=identity, **kinds
    )
    assert (decision.outcome, decision.policy_kind) == (outcome, kind)
    assert decision.allowed is (outcome == ALLOWED)
    assert decision.explicit_deny is (outcome == EXPLICIT)


def test_table_is_large_enough() -> None:
    """The brief asks for at least 70 documented cases."""
    assert len(CASES) >= 70


def test_decision_details_for_explicit_deny() -> None:
    """An explicit deny names its statement; every applicable statement is listed, Deny first."""
    identity = [
        doc(st(Sid="AllowAll")),
        doc(st(DENY, CREATE, Sid="NoCreate"), st(DENY, DELETE, Sid="NoDelete")),
    ]
    decision = evaluate(action=CREATE, resource=KP, context={}, identity=identity)
    assert decision.statement is not None
    assert (decision.statement.sid, decision.statement.policy_index) == ("NoCreate", 1)
    assert decision.statement.statement == {
        "Effect": "Deny",
        "Action": CREATE,
        "Resource": "*",
        "Sid": "NoCreate",
    }
    assert [(m.sid, m.effect) for m in decision.matched_statements] == [
        ("NoCreate", "Deny"),
        ("AllowAll", "Allow"),
    ]
    assert (decision.action, decision.resource, decision.context) == (CREATE, KP, {})


def test_decision_details_for_allow_and_implicit_deny() -> None:
    """An allow names the identity statement that granted; an implicit deny names none."""
    allowed = evaluate(
        action=CREATE, resource=KP, context={"aws:TagKeys": ("a",)}, identity=[ALLOW_ALL]
    )
    assert allowed.statement is not None
    assert (allowed.statement.policy_kind, allowed.statement.statement_index) == (ID, 0)
    assert allowed.policy_kind is None
    assert allowed.context == {"aws:TagKeys": ("a",)}
    denied = evaluate(
        action=CREATE,
        resource=KP,
        context={},
        identity=[ALLOW_ALL],
        permissions_boundary=doc(st(DENY, DELETE)),
    )
    assert (denied.outcome, denied.policy_kind, denied.statement) == (IMPLICIT, PB, None)
    assert denied.matched_statements[0].policy_kind == ID


def test_scp_policy_index_counts_across_levels() -> None:
    """SCP positions are counted across levels, root first."""
    deny = doc(st(DENY, CREATE, Sid="OuDeny"))
    decision = evaluate(
        action=CREATE, resource=KP, context={}, identity=[ALLOW_ALL],
        scps=[[ALLOW_ALL, ALLOW_ALL], [deny]],
    )  # fmt: skip
    assert decision.statement is not None
    assert (decision.statement.policy_kind, decision.statement.policy_index) == (SCP, 2)


def test_accepts_json_strings_and_parsed_policies() -> None:
    """Policies may be JSON text, mappings or parsed Policy objects, in any mix."""
    text = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}}'
    decision = evaluate(
        action=CREATE, resource=KP, context={}, identity=[text, parse_policy(doc(st(DENY, DELETE)))],
        permissions_boundary=text, session_policy=ALLOW_ALL, scps=[[text]],
    )  # fmt: skip
    assert decision.outcome == ALLOWED


def test_context_values_may_be_non_strings() -> None:
    """Booleans and numbers in the context compare as their IAM string forms."""
    policy = doc(
        st(Condition=cond(Bool={"aws:SecureTransport": "true"}, NumericEquals={"s3:max-keys": 3}))
    )
    decision = evaluate(
        action=CREATE,
        resource=KP,
        # Outside the declared ContextValue type on purpose: the evaluator is lenient at runtime.
        context={"aws:SecureTransport": True, "s3:max-keys": 3},  # type: ignore[dict-item]
        identity=[policy],
    )
    assert decision.outcome == ALLOWED


def test_docstring_example_runs() -> None:
    """The example in evaluate's docstring is correct."""
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(_evaluate.evaluate, "evaluate", globs={"evaluate": evaluate}):
        runner.run(test)
    assert runner.failures == 0
    assert runner.tries >= 3


def test_allow_all_is_fast() -> None:
    """Evaluating the allow-all policy costs microseconds (it runs on every mocked call)."""
    context = dict(BASE)
    per_call = (
        min(
            timeit.repeat(
                lambda: evaluate(action=CREATE, resource=KP, context=context, identity=[ALLOW_ALL]),
                number=2000,
                repeat=5,
            )
        )
        / 2000
    )
    assert per_call < 50e-6


@pytest.mark.parametrize(
    "kinds",
    [
        {"identity": ALLOW_ALL},
        {"identity": ALLOW_ALL_DOC},
        {"identity": [ALLOW_ALL], "scps": [ALLOW_ALL_DOC]},
    ],
    ids=["identity-policy", "identity-mapping", "flat-scps"],
)
def test_shape_mistakes_are_type_errors(kinds: dict[str, Any]) -> None:
    """A single policy where a list (of levels) belongs is a TypeError, not a silent deny."""
    with pytest.raises(TypeError, match=r"^evaluate\((identity|scps)=\.\.\.\) takes a"):
        evaluate(action=CREATE, resource=KP, context={}, **kinds)
