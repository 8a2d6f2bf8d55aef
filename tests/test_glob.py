"""The non-backtracking glob matcher (``_glob``) against a regex reference, and its speed.

The reference is the regex translation the policy engine used before ``_glob``: ``*`` as ``.*``,
``?`` as ``.``, ARN mode's first five components as ``[^:]*``/``[^:]``. On short random patterns
and texts both must answer the same in every mode (IAM chunks with literal ``${*}``-style text,
ARN components, case-insensitive actions, EC2 ``\\`` escapes); on the pathological inputs that
made the regexes backtrack for seconds or minutes the matcher must answer at once.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2_keypair_mock._conditions import parse_template
from ec2_keypair_mock._evaluate import evaluate
from ec2_keypair_mock._glob import ArnGlob, Glob, chunk_glob
from ec2_keypair_mock._validate import Wildcard, wildcard

Chunks = Sequence[tuple[str, bool]]
DIFFERENTIAL = settings(max_examples=500, deadline=None, database=None)


def reference(chunks: Chunks, *, arn: bool = False) -> re.Pattern[str]:
    """The regex the policy engine compiled before ``_glob`` (``_conditions._glob_regex``)."""
    segmented = arn and sum(text.count(":") for text, _ in chunks) >= 5
    colons = 0
    out: list[str] = []
    for text, active in chunks:
        for char in text:
            if char == ":":
                colons += 1
                out.append(":")
            elif active and char == "*":
                out.append("[^:]*" if segmented and colons < 5 else ".*")
            elif active and char == "?":
                out.append("[^:]" if segmented and colons < 5 else ".")
            else:
                out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def escaped_reference(pattern: str) -> re.Pattern[str]:
    """EC2 filter values: ``\\`` escapes the next character, a trailing one is itself."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def agree(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text) is not None


# Few characters, so that random patterns and texts often (nearly) match.
GLOB_CHARS = "ab*?\n"
TEXT_CHARS = "ab*?\n"
glob_text = st.text(alphabet=GLOB_CHARS, max_size=10)
plain_text = st.text(alphabet=TEXT_CHARS, max_size=14)
chunks_strategy = st.lists(st.tuples(glob_text, st.booleans()), max_size=4)

# ARN mode: texts and patterns with around five colons, so that both branches (per component,
# and whole-string for fewer than six components) and both sides of the fifth colon are hit.
arn_piece = st.text(alphabet="ab*?", max_size=3)
arn_pattern = st.lists(arn_piece, min_size=3, max_size=8).map(":".join)
arn_text = st.one_of(
    st.lists(st.text(alphabet="ab", max_size=3), min_size=3, max_size=8).map(":".join),
    st.text(alphabet="ab:", max_size=14),
)


@st.composite
def arn_chunks(draw: st.DrawFn) -> list[tuple[str, bool]]:
    """An ARN pattern cut into chunks at random places, some of them inactive (literal)."""
    pattern = draw(arn_pattern)
    cuts = sorted(draw(st.lists(st.integers(0, len(pattern)), max_size=3)))
    bounds = [0, *cuts, len(pattern)]
    return [(pattern[a:b], draw(st.booleans())) for a, b in itertools.pairwise(bounds)]


def _words(alphabet: str, longest: int) -> list[str]:
    return [
        "".join(word)
        for size in range(longest + 1)
        for word in itertools.product(alphabet, repeat=size)
    ]


def test_every_small_pattern_agrees_with_regex() -> None:
    """Exhaustively, the shapes random examples rarely hit (a ``?`` piece at the very end...)."""
    texts = _words("ab", 5)
    for pattern in _words("ab?*", 5):
        glob, regex = Glob(pattern), reference([(pattern, True)])
        for text in texts:
            assert glob.fullmatch(text) is agree(regex, text), (pattern, text)
    for pattern in _words("a?*\\", 4):
        wild, regex = Wildcard(pattern), escaped_reference(pattern)
        for text in _words("a?*\\", 3):
            assert wild.fullmatch(text) is agree(regex, text), (pattern, text)


@DIFFERENTIAL
@given(pattern=glob_text, text=plain_text)
def test_string_glob_agrees_with_regex(pattern: str, text: str) -> None:
    assert Glob(pattern).fullmatch(text) is agree(reference([(pattern, True)]), text)


@DIFFERENTIAL
@given(chunks=chunks_strategy, text=plain_text)
def test_chunk_glob_agrees_with_regex(chunks: list[tuple[str, bool]], text: str) -> None:
    """Inactive chunks (``${*}``, ``${?}``, variable values) hold literal ``*`` and ``?``."""
    expected = agree(reference(chunks), text)
    assert Glob.from_chunks(chunks).fullmatch(text) is expected
    assert chunk_glob(chunks).fullmatch(text) is expected


@DIFFERENTIAL
@given(chunks=arn_chunks(), text=arn_text)
def test_arn_glob_agrees_with_regex(chunks: list[tuple[str, bool]], text: str) -> None:
    assert chunk_glob(chunks, arn=True).fullmatch(text) is agree(reference(chunks, arn=True), text)
    assert chunk_glob(chunks).fullmatch(text) is agree(reference(chunks), text)


@DIFFERENTIAL
@given(
    pattern=st.text(alphabet="aAbBİiIıΣσς*?", max_size=8),
    text=st.text(alphabet="aAbBİiIıΣσς", max_size=10),
)
def test_ignore_case_agrees_with_regex_on_lowered_text(pattern: str, text: str) -> None:
    """Actions: pattern and text are lower-cased, as the policy engine always did."""
    expected = agree(reference([(pattern.lower(), True)]), text.lower())
    assert Glob(pattern, ignore_case=True).fullmatch(text) is expected


@DIFFERENTIAL
@given(
    pattern=st.text(alphabet="ab*?\\\n", max_size=10),
    text=st.text(alphabet="ab*?\\\n", max_size=12),
)
def test_escaped_glob_agrees_with_regex(pattern: str, text: str) -> None:
    expected = agree(escaped_reference(pattern), text)
    assert Glob(pattern, escapes=True).fullmatch(text) is expected
    assert Wildcard(pattern).fullmatch(text) is expected
    assert wildcard(pattern).fullmatch(text) is expected


@pytest.mark.parametrize(
    ("chunks", "text", "expected"),
    [
        # A star in the first five components never crosses a colon...
        ([("arn:aws:ec2:*:*:key-pair/x", True)], "arn:aws:ec2:a:b:c:key-pair/x", False),
        ([("arn:aws:*:*:*:key-pair/x", True)], "arn:aws:ec2:a:b:key-pair/x", True),
        ([("arn:aws:*:*:*:*", True)], "arn:aws:ec2:a:b:key-pair/x:y:z", True),
        # ...the sixth absorbs every further colon; too few components match nothing.
        ([("arn:*:*:*:*:*", True)], "arn:a:b:c:d", False),
        ([("arn:*:*:*:*:a?c", True)], "arn:::::a:c", True),
        ([("arn:*:*:*:*:a?c", True)], "arn::::a:c", False),
        # A colon from a variable's value counts like any other.
        ([("arn:aws:iam:", True), ("us:east", False), (":*", True)], "arn:aws:iam:us:east:x", True),
        (
            [("arn:aws:iam:", True), ("us:east", False), (":*", True)],
            "arn:aws:iam:us:x:east",
            False,
        ),
        # ${*} and ${?} are literal.
        ([("arn:aws:s3:::a", True), ("*", False), ("?", True)], "arn:aws:s3:::a*b", True),
        ([("arn:aws:s3:::a", True), ("*", False), ("?", True)], "arn:aws:s3:::abb", False),
    ],
)
def test_arn_components(chunks: Chunks, text: str, expected: bool) -> None:
    matcher = chunk_glob(chunks, arn=True)
    assert isinstance(matcher, ArnGlob)
    assert matcher.fullmatch(text) is expected
    assert agree(reference(chunks, arn=True), text) is expected


def test_a_short_arn_pattern_is_a_whole_string_match() -> None:
    """Fewer than six components: the pattern is a plain glob, its stars cross colons."""
    matcher = chunk_glob([("arn:*:x", True)], arn=True)
    assert isinstance(matcher, Glob)
    assert matcher.fullmatch("arn:a:b:c:d:e:x")


@DIFFERENTIAL
@given(
    resource_pattern=st.text(alphabet="a:*?-$", max_size=10),
    arn_like=arn_pattern,
    resource=st.text(alphabet="a:-$*", max_size=12),
    username=st.text(alphabet="a:*?", max_size=3),
    variable=st.sampled_from(["", "${aws:username}", "${*}", "${?}", "${$}"]),
)
def test_policy_matching_agrees_with_regex(
    resource_pattern: str, arn_like: str, resource: str, username: str, variable: str
) -> None:
    """Through the policy engine: Resource is a whole-string glob, ArnLike goes per component."""
    resource_pattern = "arn:" + variable + resource_pattern
    arn_like = "arn:" + variable + arn_like
    resource = "arn:" + resource
    context = {"aws:username": username, "aws:SourceArn": resource}

    def resolved(value: str) -> list[tuple[str, bool]]:
        chunks = parse_template(value, variables=True).resolve(context.get)
        assert chunks is not None
        return chunks

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ec2:Create*",
                "Resource": resource_pattern,
                "Condition": {"ArnLike": {"aws:SourceArn": arn_like}},
            }
        ],
    }
    decision = evaluate(
        action="ec2:CreateKeyPair", resource=resource, context=context, identity=[policy]
    )
    expected = agree(reference(resolved(resource_pattern)), resource) and agree(
        reference(resolved(arn_like), arn=True), resource
    )
    assert decision.allowed is expected


# -- the pathological cases: each took from a second to minutes as a backtracking regex --------

KP = "arn:aws:ec2:us-east-1:123456789012:key-pair/"
HYPHENS = "-" * 3_000  # ~109 s against key-pair/*-*-*-prod as a regex


def _resource_case() -> bool:
    policy = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "ec2:*",
            "Resource": "arn:aws:ec2:*:*:key-pair/*-*-*-prod",
        },
    }
    decision = evaluate(
        action="ec2:CreateKeyPair", resource=KP + HYPHENS, context={}, identity=[policy]
    )
    return decision.allowed


def _condition_case(operator: str, pattern: str, value: str) -> Callable[[], bool]:
    def run() -> bool:
        policy = {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "ec2:*",
                "Resource": "*",
                "Condition": {operator: {"aws:RequestTag/env": pattern}},
            },
        }
        context = {"aws:RequestTag/env": value}
        decision = evaluate(
            action="ec2:CreateKeyPair", resource="*", context=context, identity=[policy]
        )
        return decision.allowed

    return run


def _action_case() -> bool:
    policy = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "ec2:*a*a*a*a*a*b", "Resource": "*"},
    }
    decision = evaluate(action="ec2:" + "A" * 3_000, resource="*", context={}, identity=[policy])
    return decision.allowed


@pytest.mark.parametrize(
    ("case", "allowed"),
    [
        pytest.param(_resource_case, False, id="Resource key-pair/*-*-*-prod, 3,000 hyphens"),
        pytest.param(
            _condition_case("StringLike", "*a*a*a*a*a*b", "a" * 80),
            False,
            id="StringLike, 80 chars",
        ),
        pytest.param(
            _condition_case("StringNotLike", "*a*a*a*a*a*b", "a" * 100_000),
            True,
            id="StringNotLike, 100 KB",
        ),
        pytest.param(
            _condition_case("ArnLike", "arn:aws:ec2:*:*:key-pair/*-*-*-prod", KP + HYPHENS),
            False,
            id="ArnLike, 3,000 hyphens",
        ),
        pytest.param(
            _condition_case("StringLike", "*-?-?-prod*-?-?-x", "-" * 100_000),
            False,
            id="StringLike with ?, 100 KB",
        ),
        pytest.param(_action_case, False, id="Action ec2:*a*a*a*a*a*b, 3,000 chars"),
    ],
)
def test_pathological_globs_answer_at_once(case: Callable[[], bool], allowed: bool) -> None:
    """Each answers in well under 100 ms (in practice, well under a millisecond)."""
    started = time.perf_counter()
    answer = case()
    elapsed = time.perf_counter() - started
    assert elapsed < 0.05, f"{elapsed * 1000:.1f} ms"
    assert answer is allowed
