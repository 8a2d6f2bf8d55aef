"""Hostile input: every answer is well-formed EC2 XML with a documented code, and state stays sound.

Hypothesis drives the one dispatcher (``backend.dispatch(WireRequest(...))``) with arbitrary Query
parameters for every served action: wrong types, missing and repeated parameters, 100 KB values,
unicode, control characters, lone surrogates, bad base64, absurd list indexes. Whatever comes
in, the answer must be parseable XML with status 200/400/403/412 and, for errors, a code from
SPEC.md or the mock's documented decisions; never an exception, a 500 or a hang; and the
backend's state must still satisfy its invariants. The same holds for raw bytes sent to the
local endpoint, which must keep serving good requests afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2_keypair_mock._backend import KeyPairsBackend
from ec2_keypair_mock._keys import KeyFormat, KeyType, NewKey, material_for
from ec2_keypair_mock._model import operation_model, wire_name
from ec2_keypair_mock._ops import OPERATIONS
from ec2_keypair_mock._server import LocalEndpoint
from ec2_keypair_mock._state import KEY_PAIR_QUOTA
from ec2_keypair_mock._validate import MAX_TAGS, check_key_name
from ec2_keypair_mock._wire import EC2_NAMESPACE, WireRequest, WireResponse

# When an example fails, hypothesis prints it; a 100 KB value makes that print warn, and under
# the suite's filterwarnings=error the warning would replace the report of the real failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

ACTIONS = sorted(OPERATIONS)

# Every error code an EC2 answer may carry, with its HTTP status: SPEC.md's codes plus the mock's
# documented decisions (UnknownParameter for a parameter the operation lacks, InvalidAction for
# an action it does not serve).
EC2_CODES = {
    "MissingParameter": 400,
    "InvalidParameterValue": 400,
    "InvalidParameterCombination": 400,
    "InvalidKeyPair.NotFound": 400,
    "InvalidKeyPair.Duplicate": 400,
    "InvalidKey.Format": 400,
    "KeyPairLimitExceeded": 400,
    "TagLimitExceeded": 400,
    "DryRunOperation": 412,
    "UnauthorizedOperation": 403,
    "UnknownParameter": 400,
    "InvalidAction": 400,
    "InvalidID": 400,  # CreateTags/DeleteTags with a malformed resource id (commit 9584237)
}
STS_CODES = {
    "MissingParameter": 400,
    "InvalidAuthorizationMessageException": 400,
    "AccessDenied": 403,
    "InvalidAction": 400,
}
# The local endpoint's own answers to malformed HTTP (``_server.py``/``_http.py`` docstrings).
HTTP_CODES = {
    "BadRequest": 400,
    "IncompleteBody": 400,
    "MissingAction": 400,
    "MalformedQueryString": 400,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "RequestEntityTooLarge": 413,
    "RequestURITooLong": 414,
    "UnsupportedMediaType": 415,
    "RequestHeaderFieldsTooLarge": 431,
}
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
KEY_PAIR_ID = re.compile(r"key-0[0-9a-f]{16}\Z")

# A policy with denies, so authorization failures (and their encoded messages, which echo the
# request) meet hostile input too.
DENYING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:*", "sts:*"], "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "ec2:CreateKeyPair",
            "Resource": "arn:aws:ec2:*:*:key-pair/deny*",
        },
        {
            "Effect": "Deny",
            "Action": ["ec2:CreateTags", "ec2:DeleteKeyPair", "ec2:ImportKeyPair"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/env": "prod"}},
        },
        {
            "Effect": "Deny",
            "Action": "ec2:DeleteKeyPair",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/locked": "yes"}},
        },
    ],
}

DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
}

# -- keys: generation is not what this file tests, so draws come from a small fixed pool -------

_POOL = {
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
}


def _pooled_key(key_type: KeyType, key_format: KeyFormat, name: str) -> NewKey:
    # Real material in the requested format (so rendering is exercised) without 80 ms of RSA
    # generation per example: the hostile input is what is under test here.
    return material_for(_POOL[key_type], key_format, name)


def _ssh_line(key: Any) -> bytes:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)


ED25519_B64 = base64.b64encode(_ssh_line(_POOL["ed25519"]) + b" me@host\n").decode()
RSA_B64 = base64.b64encode(_ssh_line(_POOL["rsa"])).decode()


def make_backend(policy: Any = None) -> KeyPairsBackend:
    backend = KeyPairsBackend(policy=policy)
    backend._key_source = _pooled_key
    for name, tags in (("k1", {}), ("k2", {"env": "dev"}), ("locked", {"locked": "yes"})):
        backend.add_key_pair(name, key_type="ed25519", tags=tags)
        backend.add_key_pair(name, key_type="ed25519", tags=tags, region="eu-west-1")
    return backend


# -- checks ------------------------------------------------------------------------------------


def check_answer(response: WireResponse, action: str, service: str = "ec2") -> ET.Element:
    """The answer is EC2's (or STS's) XML with a documented status and code; returns the root."""
    assert isinstance(response, WireResponse)
    assert response.status in {200, 400, 403, 412}, response
    assert response.body.startswith(XML_DECLARATION)
    response.body.decode("utf-8")  # strict: a lone surrogate could not have been encoded
    root = ET.fromstring(response.body)
    assert response.headers["x-amzn-requestid" if service == "ec2" else "x-amzn-RequestId"] == (
        response.request_id
    )
    if service == "sts":
        if response.status == 200:
            assert root.tag == f"{{{STS_NS}}}DecodeAuthorizationMessageResponse"
            return root
        code = root.findtext(f"{{{STS_NS}}}Error/{{{STS_NS}}}Code")
        assert code in STS_CODES, response.body[:300]
        assert STS_CODES[code] == response.status
        return root
    if response.status == 200:
        assert response.error_code is None
        assert root.tag == f"{{{EC2_NAMESPACE}}}{action}Response"
        assert root[0].tag == f"{{{EC2_NAMESPACE}}}requestId"
        assert root[0].text == response.request_id
        return root
    assert root.tag == "Response"
    code = root.findtext("Errors/Error/Code")
    assert code in EC2_CODES, response.body[:300]
    assert EC2_CODES[code] == response.status, (code, response.status)
    assert response.error_code == code
    assert root.findtext("Errors/Error/Message")
    assert root.findtext("RequestID") == response.request_id
    return root


def check_invariants(backend: KeyPairsBackend) -> None:
    """by_name/by_id agree, ids are well-formed, unique and issued, quota and tag limits hold."""
    all_ids: list[str] = []
    with backend._lock:
        for state in backend._regions.values():
            assert len(state.by_name) == len(state.by_id) <= KEY_PAIR_QUOTA
            for name, pair in state.by_name.items():
                assert pair.name == name
                assert state.by_id[pair.key_pair_id] is pair
                assert pair.key_pair_id in state.issued_ids
                assert KEY_PAIR_ID.match(pair.key_pair_id)
                check_key_name(name)  # only valid names are ever stored
                assert len(pair.tags) <= MAX_TAGS
                for key, value in pair.tags.items():
                    assert 1 <= len(key) <= 128
                    assert len(value) <= 256
                    assert not key.lower().startswith("aws:")
                all_ids.append(pair.key_pair_id)
    assert len(all_ids) == len(set(all_ids))


# -- strategies --------------------------------------------------------------------------------


def _templates(action: str) -> list[str]:
    """Wire-name templates of the action's parameters, ``{i}`` for each list index."""
    out: list[str] = []

    def walk(shape: Any, prefix: str) -> None:
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                walk(
                    member,
                    f"{prefix}.{wire_name(name, member)}" if prefix else wire_name(name, member),
                )
        elif shape.type_name == "list":
            walk(shape.member, prefix + ".{i}")
        else:
            out.append(prefix)

    walk(operation_model("ec2", action).input_shape, "")
    return out


GOOD_INDEXES = st.sampled_from(["1", "1", "1", "2", "3"])
BAD_INDEXES = st.sampled_from(
    ["0", "01", "-1", "999999", "999999999", "1000000000", "abc", "", "1.5", " 1", "١", "1e3"]
)
INDEXES = st.one_of(GOOD_INDEXES, GOOD_INDEXES, BAD_INDEXES, st.text(max_size=4))

HOSTILE_KEYS = [
    "KeyName",
    "KeyName.1",
    "KeyName.0",
    "KeyName.01",
    "KeyName.1.Key",
    "KeyName.",
    ".KeyName",
    "keyname",
    "TagSpecification.999999.Tag.1.Key",
    "TagSpecification.1",
    "TagSpecification.1.Tag",
    "TagSpecification.1.Tag.1",
    "TagSpecification.1.Tag.1.Key.1",
    "Tag.1",
    "Tag.1.Key",
    "Filter.1.Value.abc",
    "Filter.1.Value",
    "Filter.1",
    "Filter",
    "ResourceId.1",
    "DryRun",
    "DryRun.1",
    "MaxResults",
    "NextToken",
    "PublicKeyMaterial",
    "KeyType",
    "KeyFormat",
    "KeyPairId",
    "KeyPairId.1",
    "IncludePublicKey",
    "Action",
    "Version",
    "",
    ".",
    "..",
]

HUGE = "A" * 100_000
BAD_MATERIALS = [
    "!!!notbase64",
    "QUJ",
    base64.b64encode("ssh-ed25519 é".encode()).decode(),
    base64.b64encode(b"ssh-rsa " + b"A" * 3000).decode(),
    base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").decode(),
    base64.b64encode(_ssh_line(_POOL["rsa"]) + b" trailing junk").decode(),
]
SHARP_VALUES = [
    "k1",
    "k2",
    "k3",
    "locked",
    "deny-me",
    "deploy",
    " padded",
    "x" * 255,
    "x" * 256,
    "rsa",
    "ed25519",
    "ecdsa",
    "RSA",
    "pem",
    "ppk",
    "true",
    "false",
    "TRUE",
    "yes",
    "1",
    "0",
    "-1",
    "5",
    "1000",
    "99999999999999999999",
    "key-pair",
    "instance",
    "env",
    "prod",
    "aws:reserved",
    "key-name",
    "tag-key",
    "tag:env",
    "resource-type",
    "resource-id",
    "key-0123456789abcdef0",
    "key-bad",
    "key-" + "f" * 17,
    "*",
    "k*",
    "*a*a*a*a*a*a*a*a*b",
    "\\*",
    "?",
    "",
    ED25519_B64,
    RSA_B64,
    *BAD_MATERIALS,
    "dGFnczo1",  # a DescribeTags NextToken ("tags:5")
    "dGFnczo5OTk5OTk5OTk5OTk5OTk5OTk5",
    "\x00",
    "a\nb",
    "\ud800",
    "\ufffe",
    "<tag>&amp;'\"",
    "]]>",
]
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates included
VALUES = st.one_of(
    st.sampled_from(SHARP_VALUES),
    st.sampled_from(SHARP_VALUES),
    st.text(alphabet=ANY_CHAR, max_size=20),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),
    st.just(HUGE),
    st.builds(
        lambda s, n: s * n,
        st.text(alphabet=ANY_CHAR, min_size=1, max_size=3),
        st.integers(1, 40_000),
    ),
)


SKELETONS = {
    "CreateKeyPair": ["KeyName", "KeyType"],
    "ImportKeyPair": ["KeyName", "PublicKeyMaterial"],
    "CreateTags": ["ResourceId.1", "Tag.1.Key", "Tag.1.Value"],
    "DeleteTags": ["ResourceId.1"],
    "DeleteKeyPair": ["KeyName"],
}
ID_REF = "\ue000id:"
"""A value ``ID_REF + N`` stands for the Nth existing key pair id, looked up at dispatch time
(drawing from the live state would make hypothesis' data generation depend on it)."""


NAMES = st.one_of(
    st.sampled_from(["k1", "k2", "k3", "locked", "deny-me", " padded", "x" * 256, "é", "a\nb"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8),
)
FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "KeyName": NAMES,
    "KeyType": st.sampled_from(["rsa", "ed25519", "ed25519", "ecdsa", ""]),
    "KeyFormat": st.sampled_from(["pem", "ppk", "PPK", ""]),
    "DryRun": st.sampled_from(["false", "false", "true", "TRUE", "yes", ""]),
    "IncludePublicKey": st.sampled_from(["true", "false", "1"]),
    "PublicKeyMaterial": st.sampled_from([ED25519_B64, ED25519_B64, RSA_B64, "", *BAD_MATERIALS]),
    "ResourceType": st.sampled_from(["key-pair", "key-pair", "instance", ""]),
    "Key": st.one_of(
        st.sampled_from(["env", "team", "locked", "aws:x", "", "k" * 129]),
        st.text(alphabet=ANY_CHAR, min_size=1, max_size=6),
    ),
    "Value": st.one_of(
        st.sampled_from(["prod", "dev", "", "v" * 257, "*", "k*", "*a*a*a*b", "?1", "\\*"]),
        st.text(alphabet=ANY_CHAR, max_size=6),
    ),
    "Name": st.sampled_from(
        [
            "key-name",
            "key-pair-id",
            "fingerprint",
            "tag-key",
            "tag-value",
            "tag:env",
            "key-type",
            "resource-type",
            "resource-id",
            "key",
            "value",
            "bogus",
        ]
    ),
    "MaxResults": st.sampled_from(["5", "1000", "4", "1001", "-1", "abc"]),
    "NextToken": st.sampled_from(["dGFnczo1", "dGFnczo5OTk5OTk5OTk5OTk5OTk5OTk5", "%%%", ""]),
}
SKELETONS = {
    "CreateKeyPair": ["KeyName", "KeyType"],
    "ImportKeyPair": ["KeyName", "PublicKeyMaterial"],
    "CreateTags": ["ResourceId.1", "Tag.1.Key", "Tag.1.Value"],
    "DeleteTags": ["ResourceId.1"],
    "DeleteKeyPair": ["KeyName"],
}
ID_REF = "\ue000id:"
"""A value ``ID_REF + N`` stands for the Nth existing key pair id, looked up at dispatch time
(drawing from the live state would make hypothesis' data generation depend on it)."""


@st.composite
def query(draw: st.DrawFn, action: str) -> dict[str, str]:
    """Flat Query parameters: half the time near-valid (the action's own names, plausible
    values), half the time hostile (odd names and indexes, any values)."""
    templates = _templates(action)
    hostile = draw(st.booleans())
    params: dict[str, str] = {}
    if not hostile:
        # What the action needs to get past its first checks, most of the time.
        for key in SKELETONS.get(action, ()):
            if draw(st.integers(0, 4)):
                field = "Id" if key.startswith("ResourceId") else key.rsplit(".", 1)[-1]
                params[key] = (
                    f"{ID_REF}{draw(st.integers(0, 20))}"
                    if field == "Id"
                    else draw(FIELD_VALUES[field])
                )
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9)) if hostile else 0
        if kind < 6:
            key = draw(st.sampled_from(templates))
            while "{i}" in key:
                key = key.replace("{i}", draw(INDEXES if hostile else GOOD_INDEXES), 1)
        elif kind < 9:
            key = draw(st.sampled_from(HOSTILE_KEYS))
        else:
            key = draw(st.text(alphabet=ANY_CHAR, max_size=12))
        field = key.rsplit(".", 1)[-1]
        if field in ("KeyPairId", "ResourceId") or (field.isdigit() and "Id" in key):
            field = "Id"
        choice = draw(st.integers(0, 5))
        if field == "Id" and choice < 4:
            value = f"{ID_REF}{draw(st.integers(0, 20))}"
        elif field in FIELD_VALUES and (choice < 4 if not hostile else choice < 2):
            value = draw(FIELD_VALUES[field])
        else:
            value = draw(VALUES)
        params[key] = value
    return params


def resolve(params: dict[str, str], backend: KeyPairsBackend) -> dict[str, str]:
    with backend._lock:
        ids = sorted(i for state in backend._regions.values() for i in state.by_id)
    return {
        key: ids[int(value[len(ID_REF) :]) % len(ids)]
        if value.startswith(ID_REF) and ids
        else value
        for key, value in params.items()
    }


REGIONS = st.sampled_from(["us-east-1", "us-east-1", "eu-west-1", "", "ü-region", "\ud800"])
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the dispatcher ----------------------------------------------------------------------------


@st.composite
def steps(draw: st.DrawFn, action: str) -> list[tuple[str, dict[str, str], str]]:
    """1–4 requests: mostly ``action``, sometimes another served action to change the state."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        chosen = action if draw(st.integers(0, 3)) else draw(st.sampled_from(ACTIONS))
        out.append((chosen, draw(query(chosen)), draw(REGIONS)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("policy", [None, DENYING_POLICY], ids=["allow-all", "denying-policy"])
@pytest.mark.parametrize("action", ACTIONS)
def test_dispatch_answers_any_query(action: str, policy: Any) -> None:
    """Arbitrary parameters for a served action: documented answer, sound state, fresh ids."""

    @HYPOTHESIS
    @given(requests=steps(action))
    def run(requests: list[tuple[str, dict[str, str], str]]) -> None:
        backend = make_backend(policy)
        issued: set[str] = set()
        for chosen, params, region in requests:
            started = time.monotonic()
            response = backend.dispatch(WireRequest(chosen, resolve(params, backend), region))
            elapsed = time.monotonic() - started
            assert elapsed < 2.0, f"{chosen} took {elapsed:.1f} s"
            root = check_answer(response, chosen)
            if response.status == 200 and chosen in ("CreateKeyPair", "ImportKeyPair"):
                new_id = root.findtext(f"{{{EC2_NAMESPACE}}}keyPairId")
                assert new_id is not None
                assert new_id not in issued, "a key pair id was handed out twice"
                issued.add(new_id)
            check_invariants(backend)
        assert len(backend.calls) == len(requests)

    run()


@settings(max_examples=150, deadline=None, database=None)
@given(
    action=st.text(alphabet=ANY_CHAR, max_size=40).filter(lambda a: a not in OPERATIONS),
    params=st.dictionaries(st.text(alphabet=ANY_CHAR, max_size=10), VALUES, max_size=3),
)
def test_unknown_action_is_invalid_action(action: str, params: dict[str, str]) -> None:
    """Any other action name, however odd, is ``InvalidAction`` with the name escaped."""
    backend = make_backend()
    response = backend.dispatch(WireRequest(action, params))
    check_answer(response, action)
    assert response.error_code == "InvalidAction"
    check_invariants(backend)


@settings(max_examples=100, deadline=None, database=None)
@given(
    action=st.one_of(
        st.just("DecodeAuthorizationMessage"), st.text(alphabet=ANY_CHAR, max_size=30)
    ),
    params=st.dictionaries(st.sampled_from(["EncodedMessage", "Other", ""]), VALUES, max_size=2),
    policy=st.sampled_from([None, DENYING_POLICY, DENY_ALL]),
)
def test_sts_answers_any_query(action: str, params: dict[str, str], policy: Any) -> None:
    """STS DecodeAuthorizationMessage with any token (or any other STS action) answers STS XML."""
    backend = make_backend(policy)
    response = backend.dispatch(WireRequest(action, params, service="sts"))
    check_answer(response, action, service="sts")


def test_issued_token_still_decodes_among_hostile_ones() -> None:
    """A real encoded message decodes, and a hostile one next to it is refused, not raised."""
    backend = make_backend(DENYING_POLICY)
    denied = backend.dispatch(
        WireRequest("CreateKeyPair", {"KeyName": "deny-\ud800\x00" + "x" * 300})
    )
    root = check_answer(denied, "CreateKeyPair")
    assert denied.error_code == "UnauthorizedOperation"
    message = root.findtext("Errors/Error/Message") or ""
    token = message.rsplit("Encoded authorization failure message: ", 1)[1]
    decoded = backend.dispatch(
        WireRequest("DecodeAuthorizationMessage", {"EncodedMessage": token}, service="sts")
    )
    assert check_answer(decoded, "DecodeAuthorizationMessage", "sts") is not None
    assert decoded.status == 200
    for hostile in (token[:-3], token + "A", token.swapcase(), "\ud800", HUGE):
        answer = backend.dispatch(
            WireRequest("DecodeAuthorizationMessage", {"EncodedMessage": hostile}, service="sts")
        )
        check_answer(answer, "DecodeAuthorizationMessage", "sts")
        assert answer.error_code == "InvalidAuthorizationMessageException"


# -- no hangs: wildcard filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        (
            "DescribeKeyPairs",
            {"Filter.1.Name": "key-name", "Filter.1.Value.1": "*a" * 12 + "*b"},
        ),
        ("DescribeTags", {"Filter.1.Name": "value", "Filter.1.Value.1": "*a" * 12 + "*b"}),
        ("DescribeTags", {"Filter.1.Name": "key", "Filter.1.Value.1": "*a" * 2000 + "*b"}),
        ("DescribeKeyPairs", {"Filter.1.Name": "key-name", "Filter.1.Value.1": HUGE}),
        ("DescribeKeyPairs", {"Filter.1.Name": "key-name", "Filter.1.Value.1": "*" * 100_000}),
    ],
    ids=["names-12-stars", "tag-values-12-stars", "tag-keys-2000-stars", "100KB", "100K-stars"],
)
def test_wildcard_filters_cannot_hang(action: str, params: dict[str, str]) -> None:
    """Filter values are globs, not backtracking regexes: near-misses answer at once.

    Regression: ``*a*a*a*a*b`` compiled to ``.*a.*a.*a.*a.*b`` took 7 s against one 200-character
    name, and every further star multiplied that (found by this file's hypothesis run).
    """
    backend = make_backend()
    backend.add_key_pair("a" * 255, key_type="ed25519", tags={"a" * 128: "a" * 256})
    started = time.monotonic()
    response = backend.dispatch(WireRequest(action, params))
    elapsed = time.monotonic() - started
    check_answer(response, action)
    assert response.status == 200
    assert elapsed < 1.0, f"{elapsed:.1f} s"


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("a*", "a", True),
        ("*a*a*", "aa", True),
        ("*a*a*", "a", False),
        ("a*b*c", "abbbc", True),
        ("a*b*c", "acb", False),
        ("?", "", False),
        ("?", "\n", True),
        ("a?c*", "abcdef", True),
        ("*?b*", "ab", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("a\\", "a\\", True),
        ("ab*ba", "aba", False),
        ("**a**", "xax", True),
    ],
)
def test_wildcard_semantics(pattern: str, text: str, expected: bool) -> None:
    """The glob matcher keeps EC2's filter semantics (``*``, ``?``, ``\\`` escapes)."""
    from ec2_keypair_mock._validate import wildcard

    assert wildcard(pattern).fullmatch(text) is expected


@settings(max_examples=400, deadline=None, database=None)
@given(
    pattern=st.text(alphabet="ab*?\\\n", max_size=8), text=st.text(alphabet="ab*?\\\n", max_size=8)
)
def test_wildcard_agrees_with_a_regex(pattern: str, text: str) -> None:
    """On small inputs the glob matcher answers exactly what the equivalent regex answers."""
    from ec2_keypair_mock._validate import wildcard

    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    expected = re.fullmatch("".join(out), text, re.DOTALL) is not None
    assert wildcard(pattern).fullmatch(text) is expected


def test_policy_globs_cannot_hang() -> None:
    """A policy glob with several stars must not make a long near-miss name take seconds.

    Authorization runs before KeyName validation (SPEC §7), so the ARN a policy is matched
    against holds whatever KeyName arrived. ``key-pair/*-*-*-prod`` against 600 hyphens took
    about a second as a backtracking regex (n³), 3,000 hyphens about two minutes.
    """
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "ec2:CreateKeyPair",
                "Resource": "arn:aws:ec2:*:*:key-pair/*-*-*-prod",
            },
        ],
    }
    backend = make_backend(policy)
    started = time.monotonic()
    response = backend.dispatch(WireRequest("CreateKeyPair", {"KeyName": "-" * 600}))
    elapsed = time.monotonic() - started
    check_answer(response, "CreateKeyPair")
    assert elapsed < 0.25, f"{elapsed:.2f} s"


# -- the local endpoint ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LocalEndpoint, KeyPairsBackend]]:
    backend = make_backend()
    with LocalEndpoint(backend, timeout=1.0) as endpoint:
        yield endpoint, backend


def exchange(endpoint: LocalEndpoint, data: bytes) -> tuple[int, bytes] | None:
    """Send raw bytes and half-close; the first answer's status and body, or None if the
    server closed without one."""
    method = data.split(b" ", 1)[0].decode("latin-1")
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        # The server may answer and close before reading everything (a 414, a 413).
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionError):
            return None
        try:
            return response.status, response.read()
        finally:
            response.close()


def check_http_answer(status: int, body: bytes) -> str | None:
    """An endpoint answer: EC2 XML, never HTML, never a 500; returns the error code (or None)."""
    assert status < 500, body[:300]
    if not body:  # HEAD
        return None
    assert body.startswith(XML_DECLARATION), body[:200]
    root = ET.fromstring(body)
    if status == 200:
        return None
    code = root.findtext("Errors/Error/Code")
    if code is None:  # STS error shape
        code = root.findtext(f"{{{STS_NS}}}Error/{{{STS_NS}}}Code")
        assert code in STS_CODES
        return code
    allowed = {**EC2_CODES, **HTTP_CODES}
    assert code in allowed, body[:300]
    assert allowed[code] == status, (code, status)
    return code


def good_request(endpoint: LocalEndpoint) -> None:
    """A well-formed request still gets its answer, quickly."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=5)
    try:
        connection.request(
            "POST",
            "/",
            body="Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=k1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200, body
    assert b"<keyName>k1</keyName>" in body
    assert time.monotonic() - started < 1.0


REQUEST_LINES = st.one_of(
    st.sampled_from(
        [
            b"POST / HTTP/1.1",
            b"GET /?Action=DescribeKeyPairs HTTP/1.1",
            b"GET /?Action=CreateKeyPair&KeyName=%ff HTTP/1.1",
            b"GET /?Action=CreateKeyPair&KeyName=%zz HTTP/1.1",
            b"GET /?Action=DeleteKeyPair&KeyName=\xff\xfe HTTP/1.1",
            b"GET / HTTP/9.9",
            b"GET / HTTP/0.9",
            b"GET /",
            b"BREW / HTTP/1.1",
            b"HEAD / HTTP/1.1",
            b"POST /elsewhere HTTP/1.1",
            b"\x00\x01\x02",
            b"",
            b"GET " + b"/?a=" + b"b" * 70_000 + b" HTTP/1.1",
        ]
    ),
    st.binary(max_size=60),
)
HEADER_SETS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"Host: 127.0.0.1",
                b"Content-Type: application/x-www-form-urlencoded",
                b"Content-Type: application/json",
                b"Content-Length: 0",
                b"Content-Length: 10",
                b"Content-Length: 100000",
                b"Content-Length: abc",
                b"Content-Length: -1",
                b"Content-Length: 99999999999999999999999",
                b"Content-Length: 5",
                b"Transfer-Encoding: chunked",
                b"Expect: 100-continue",
                b"Authorization: AWS4-HMAC-SHA256 "
                b"Credential=AKIDEXAMPLE/20260101/eu-west-1/ec2/aws4_request",
                b"X-Amz-Security-Token: \xff\xfe",
                b"Garbage",
                b": empty name",
            ]
        ),
        st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    ),
    max_size=6,
)
BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            b"Action=DescribeKeyPairs",
            b"Action=CreateKeyPair&KeyName=k1&KeyType=ed25519",
            b"Action=CreateKeyPair&KeyName=\xff",
            b"Action=ImportKeyPair&KeyName=imp&PublicKeyMaterial=" + ED25519_B64.encode(),
            b"Action=DescribeKeyPairs&KeyName=a&KeyName=b&KeyName.1=k1&KeyName.1=k2",
            b"Action=DescribeKeyPairs&Filter.1.Name=key-name&Filter.1.Value.1="
            + b"*a" * 40
            + b"*b",
            b"Action=" + b"A" * 100_000,
            b"%",
            b"&&&==&",
        ]
    ),
    st.binary(max_size=200),
)


@pytest.mark.slow
@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=REQUEST_LINES, headers=HEADER_SETS, body=BODIES)
def test_endpoint_answers_any_bytes(
    server: tuple[LocalEndpoint, KeyPairsBackend], line: bytes, headers: list[bytes], body: bytes
) -> None:
    """Raw bytes, however malformed, get EC2-style XML (never HTML, never 5xx) or a close."""
    endpoint, backend = server
    data = line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body
    answer = exchange(endpoint, data)
    if answer is not None:
        check_http_answer(*answer)
    check_invariants(backend)
    good_request(endpoint)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nAction=Describe", "IncompleteBody"),
        (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "BadRequest"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "BadRequest"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "BadRequest",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "RequestEntityTooLarge",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1000,
            "RequestEntityTooLarge",
        ),
        (b"POST / HTTP/1.1\r\n\r\nAction=DescribeKeyPairs", "MissingAction"),
        (b"\x00\x01\x02\r\n\r\n", "BadRequest"),
        (b"GET / HTTP/9.9\r\n\r\n", "BadRequest"),
        # HTTP/0.9 requests: answered with a status line and headers like every other answer
        # (http.server alone would send the bare body, which no HTTP/1.x client can read).
        (b"GET / HTTP/0.9\r\n\r\n", "MissingAction"),
        (b"GET /?Action=DescribeKeyPairs\r\n", None),
        (b"GET /?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", "RequestURITooLong"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", "RequestHeaderFieldsTooLarge"),
        (b"GET /?Action=CreateKeyPair&KeyName=%ff HTTP/1.1\r\n\r\n", "MalformedQueryString"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 25\r\n\r\nAction=CreateKeyPair&K=\xff\xfe",
            "MalformedQueryString",
        ),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "MissingContentLength"),
        (b"BREW / HTTP/1.1\r\n\r\n", "MethodNotAllowed"),
        (b"GET /etc/passwd HTTP/1.1\r\n\r\n", "NotFound"),
        (
            b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nAction",
            "UnsupportedMediaType",
        ),
        (b"GET /?Action=" + b"A" * 60_000 + b" HTTP/1.1\r\n\r\n", "InvalidAction"),
        (
            b"GET /?Action=DescribeKeyPairs&KeyName.1=%F0%9F%94%91 HTTP/1.1\r\n\r\n",
            "InvalidKeyPair.NotFound",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_endpoint_malformed_http(
    server: tuple[LocalEndpoint, KeyPairsBackend], data: bytes, code: str | None
) -> None:
    """Each kind of malformed HTTP gets its documented EC2-style error; service continues."""
    endpoint, _ = server
    answer = exchange(endpoint, data)
    assert answer is not None
    assert check_http_answer(*answer) == code
    good_request(endpoint)


def test_slow_clients_do_not_stop_service(server: tuple[LocalEndpoint, KeyPairsBackend]) -> None:
    """Clients that stall (in the headers, in the body, or trickling) are dropped after the
    timeout (1 s here) while other clients keep being served at once."""
    endpoint, _ = server
    stalled = [
        b"POST / HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nAction=Describe",  # body never finished
        b"",  # connects and says nothing
    ]
    sockets = [socket.create_connection((endpoint.host, endpoint.port), timeout=5) for _ in stalled]
    trickler = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
    stop = threading.Event()

    def trickle() -> None:
        # One byte every 0.2 s: each read succeeds, so only the whole-body deadline ends it.
        with contextlib.suppress(OSError):
            trickler.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.2):
                trickler.sendall(b"a")

    thread = threading.Thread(target=trickle, name="test trickler")
    try:
        for sock, data in zip(sockets, stalled, strict=True):
            sock.sendall(data)
        thread.start()
        started = time.monotonic()
        for _ in range(5):
            good_request(endpoint)
        for sock in [*sockets, trickler]:
            sock.settimeout(5)
            with contextlib.suppress(ConnectionError):
                leftover = sock.recv(65536)
                # Dropped without an answer (a stalled client has nobody listening for one).
                assert leftover == b""
        elapsed = time.monotonic() - started
        assert elapsed < 3.5, f"stalled clients held for {elapsed:.1f} s"
        good_request(endpoint)
    finally:
        stop.set()
        thread.join(5)
        for sock in [*sockets, trickler]:
            sock.close()
