"""Ban patterns: the three forms, what each covers, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.ban import MAX_PATTERN, first_match, matches, validate_pattern
from moot.core.errors import BadSetting

# -- validate_pattern ------------------------------------------------------------------------


@pytest.mark.parametrize(("given_", "stored"), [
    ("jo@example.org", "jo@example.org"),
    ("  Jo@Example.ORG\t", "jo@example.org"),
    ("*@Example.org", "*@example.org"),
    ("*@*.Example.org", "*@*.example.org"),
    ("*@localhost", "*@localhost"),
    ("^Spam\\d+@example\\.org$", "^Spam\\d+@example\\.org$"),  # regexes keep their case: \D!
    ("^(?:ab)+@x\\.org", "^(?:ab)+@x\\.org"),
])
def test_valid_patterns_come_back_normalised(given_: str, stored: str) -> None:
    assert validate_pattern(given_) == stored


@pytest.mark.parametrize("bad", [
    "jo", "example.org", "*", "*@", "*@*", "*@*.", "*.example.org", "@example.org", "jo@",
    "jo*@example.org", "**@example.org", "a b@example.org", "*@exa mple.org",
    "*@example..org", "*@.example.org", "<jo@example.org>", "jo@example.org, al@example.org",
    "spam.*@example.org$",
])
def test_anything_else_is_refused_naming_the_three_forms(bad: str) -> None:
    with pytest.raises(BadSetting) as info:
        validate_pattern(bad)
    message = str(info.value)
    assert repr(bad.strip()) in message
    assert "an address" in message and "*@domain" in message and "starting with ^" in message


def test_an_empty_pattern_is_refused() -> None:
    with pytest.raises(BadSetting, match="cannot be empty"):
        validate_pattern("   ")


def test_an_invalid_regex_is_refused_with_the_reason() -> None:
    with pytest.raises(BadSetting, match="not a valid regular expression: .*unterminated"):
        validate_pattern("^(spam@example\\.org")


def test_long_patterns_are_refused() -> None:
    regex = "^" + "a" * (MAX_PATTERN - 1)
    assert validate_pattern(regex) == regex
    with pytest.raises(BadSetting, match=f"at most {MAX_PATTERN} characters"):
        validate_pattern(regex + "b")


@pytest.mark.parametrize("slow", ["^(a+)+$", "^(a*)*b", "^([a-z]+\\.)*x@y$", "^(?:(a)+x)+",
                                  "^(a{2,})+$", "^((ab)*c)*$"])
def test_nested_repetition_is_refused(slow: str) -> None:
    with pytest.raises(BadSetting, match="can take forever"):
        validate_pattern(slow)


@pytest.mark.parametrize("fine", ["^(ab)+c*$", "^(a+)?x", "^[(+*)]+$", "^\\(a+\\)+$",
                                  "^(a{2,3})+$", "^[a-z]+@(example|sample)\\.org$"])
def test_repetition_that_is_not_nested_is_allowed(fine: str) -> None:
    assert validate_pattern(fine) == fine


def test_control_characters_are_refused() -> None:
    with pytest.raises(BadSetting, match="control characters"):
        validate_pattern("jo@example.org\nal@example.org")


# -- matches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "address", "expected"), [
    ("jo@example.org", "jo@example.org", True),
    ("jo@example.org", "JO@Example.Org", True),
    ("JO@EXAMPLE.ORG", "jo@example.org", True),
    ("jo@example.org", "xjo@example.org", False),
    ("jo@example.org", "jo@example.org.evil", False),
    ("*@example.org", "anyone@EXAMPLE.org", True),
    ("*@example.org", "jo@mail.example.org", False),
    ("*@example.org", "jo@badexample.org", False),
    ("*@example.org", "example.org", False),
    ("*@*.example.org", "jo@mail.example.org", True),
    ("*@*.example.org", "jo@a.b.example.org", True),
    ("*@*.example.org", "jo@example.org", False),
    ("*@*.example.org", "jo@badexample.org", False),
    ("^spam[0-9]+@", "Spam12@example.org", True),
    ("^spam[0-9]+@", "nospam12@example.org", False),
    ("^.*@example\\.org$", "jo@example.org", True),
    ("^.*@example\\.org$", "jo@example.org.evil", False),
    ("^JO@", "jo@example.org", True),
])
def test_matches(pattern: str, address: str, expected: bool) -> None:
    assert matches(pattern, address) is expected


@pytest.mark.parametrize("pattern", ["jo@example.org", "*@example.org", "^.*$", "^"])
def test_an_empty_address_never_matches(pattern: str) -> None:
    assert not matches(pattern, "")
    assert not matches(pattern, "  ")


@pytest.mark.parametrize("bad", ["^(unclosed", "jo", "*", "^(a+)+$", ""])
def test_a_pattern_validate_refuses_matches_nothing_and_does_not_raise(bad: str) -> None:
    assert not matches(bad, "aaaa@example.org")


def test_first_match_is_the_first_in_order_as_given() -> None:
    patterns = ["*@spam.example", "Jo@Example.org", "*@example.org"]
    assert first_match(patterns, "jo@example.org") == "Jo@Example.org"
    assert first_match(patterns, "al@example.org") == "*@example.org"
    assert first_match(patterns, "al@example.net") is None
    assert first_match(iter(patterns), "x@spam.example") == "*@spam.example"
    assert first_match([], "jo@example.org") is None


# -- properties ------------------------------------------------------------------------------


@given(st.text(max_size=250))
def test_validate_pattern_either_normalises_or_raises_bad_setting(text: str) -> None:
    try:
        stored = validate_pattern(text)
    except BadSetting:
        return
    assert validate_pattern(stored) == stored


@given(st.text(max_size=60), st.text(max_size=60))
def test_matches_never_raises(pattern: str, address: str) -> None:
    assert matches(pattern, address) in (True, False)


@given(st.emails())
def test_an_address_pattern_matches_that_address_in_any_case(address: str) -> None:
    if address.startswith("^"):  # a pattern starting with ^ is a regular expression
        return
    try:
        pattern = validate_pattern(address)
    except BadSetting:  # quoted local parts and the like are not ban patterns
        return
    assert matches(pattern, address.upper())
    assert matches(pattern, address)
    assert first_match(["*@nowhere.invalid", pattern], address) == pattern


@given(st.from_regex(r"\A[a-z0-9._+-]{1,20}\Z"), st.from_regex(r"\A[a-z0-9]{1,10}\.[a-z]{2,5}\Z"))
def test_a_domain_pattern_matches_every_local_part_there(local: str, domain: str) -> None:
    assert matches(f"*@{domain}", f"{local}@{domain}")
    assert not matches(f"*@{domain}", f"{local}@sub.{domain}")
    assert matches(f"*@*.{domain}", f"{local}@sub.{domain}")
    assert not matches(f"*@*.{domain}", f"{local}@{domain}")
