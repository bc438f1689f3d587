"""Ban patterns: which senders a list (or the whole site) refuses to hear from.

Why this module exists: owners write bans by hand, at the CLI, in the REST API and on the web,
and every one of those must accept and refuse the same patterns with the same words, and the
posting pipeline must match them the same way.  There are three forms:

* an address, ``jo@example.org``: that address, case-insensitively;
* a domain, ``*@example.org``: every address at that domain exactly, and ``*@*.example.org``:
  every address at its subdomains (``a@mail.example.org``, not ``a@example.org``);
* a regular expression starting with ``^``, ``^spam[0-9]+@example\\.org$``: searched
  case-insensitively in the lower-case address.

What it won't do: store bans, decide what a ban means for a post (see
:mod:`moot.core.policy`), or accept globs beyond the two above.  Regular expressions are
written by owners, not senders, but a slow one would stall every post, so long ones and ones
with nested repetition (``(a+)+``) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from moot.core.errors import BadSetting

MAX_PATTERN = 200

FORMS = ("an address (jo@example.org), *@domain (*@example.org, or *@*.example.org for its "
         "subdomains) or a regular expression starting with ^ (^spam.*@example\\.org$)")

_DOMAIN = re.compile(r"^[^\W_][\w\-]*(?:\.[^\W_][\w\-]*)*$")
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"\\*]+@[^\s@<>()\[\],;:\"\\*]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _nested_repetition(regex: str) -> bool:
    """Whether a regex repeats a group that itself repeats without bound: ``(a+)+``.

    Such patterns can take exponential time on a long address that almost matches.

    >>> _nested_repetition("^(a+)+$"), _nested_repetition("^(?:[a-z]*\\\\.)*x$")
    (True, True)
    >>> _nested_repetition("^(ab)+c*$"), _nested_repetition("^(a+)?[+*]$")
    (False, False)
    """
    # Each open group records whether something inside it repeats without bound.
    stack: list[bool] = []
    inner = False  # the current group (or the top level) holds an unbounded repetition
    i, n = 0, len(regex)
    while i < n:
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            stack.append(inner)
            inner = False
        elif c == ")":
            group_repeats = inner
            inner = stack.pop() if stack else False
            if group_repeats and _unbounded_at(regex, i + 1):
                return True
            inner = inner or group_repeats
        elif c in "+*" or (c == "{" and _unbounded_at(regex, i)):
            inner = True
        i += 1
    return False


def _unbounded_at(regex: str, i: int) -> bool:
    """Whether an unbounded quantifier (``+``, ``*``, ``{m,}``) starts at ``i``."""
    if i >= len(regex):
        return False
    if regex[i] in "+*":
        return True
    m = re.match(r"\{\d*,\}", regex[i:])
    return m is not None


def validate_pattern(pattern: str) -> str:
    """A ban pattern in its stored form, or :class:`BadSetting` saying what is wrong.

    >>> validate_pattern("  Jo@Example.ORG ")
    'jo@example.org'
    >>> validate_pattern("*@*.Spam.Example")
    '*@*.spam.example'
    >>> validate_pattern("jo*@example.org")
    Traceback (most recent call last):
    ...
    moot.core.errors.BadSetting: ban pattern 'jo*@example.org': use an address (jo@example.org), \
*@domain (*@example.org, or *@*.example.org for its subdomains) or a regular expression \
starting with ^ (^spam.*@example\\.org$)
    """
    text = pattern.strip()
    shown = text if len(text) <= 60 else text[:59] + "\u2026"
    if not text:
        raise BadSetting(f"a ban pattern cannot be empty: use {FORMS}")
    if len(text) > MAX_PATTERN:
        raise BadSetting(f"ban pattern {shown!r}: at most {MAX_PATTERN} characters")
    if _CONTROL.search(text):
        raise BadSetting(f"ban pattern {shown!r}: no line breaks or control characters allowed")
    if text.startswith("^"):
        try:
            re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise BadSetting(f"ban pattern {shown!r}: not a valid regular expression: {exc}"
                             ) from None
        if _nested_repetition(text):
            raise BadSetting(f"ban pattern {shown!r}: a repeated group that itself repeats, "
                             "like (a+)+, can take forever to match; write it without the "
                             "outer repetition")
        return text
    lowered = text.lower()
    if lowered.startswith("*@"):
        domain = lowered[2:]
        if domain.startswith("*."):
            domain = domain[2:]
        if _DOMAIN.match(domain):
            return lowered
    elif _ADDRESS.match(lowered):
        return lowered
    raise BadSetting(f"ban pattern {shown!r}: use {FORMS}")


@lru_cache(maxsize=1024)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """The test for one pattern; a pattern :func:`validate_pattern` refuses matches nothing."""
    try:
        text = validate_pattern(pattern)
    except BadSetting:
        return lambda address: False
    if text.startswith("^"):
        compiled = re.compile(text, re.IGNORECASE)
        return lambda address: compiled.search(address) is not None
    if text.startswith("*@*."):
        suffix = "." + text[4:]
        return lambda address: address.rpartition("@")[2].rstrip(".").endswith(suffix)
    if text.startswith("*@"):
        domain = text[2:]
        return lambda address: "@" in address and address.rpartition("@")[2].rstrip(".") == domain
    return lambda address: address == text


def matches(pattern: str, address: str) -> bool:
    """Whether a ban pattern covers an address.  Never raises: a pattern
    :func:`validate_pattern` refuses matches nothing, and neither does an empty address.

    >>> matches("*@example.org", "Jo@EXAMPLE.org"), matches("*@example.org", "jo@a.example.org")
    (True, False)
    >>> matches("*@*.example.org", "jo@a.example.org"), matches("^spam", "SPAM1@x.org")
    (True, True)
    """
    address = address.strip().lower()
    if not address:
        return False
    return _matcher(pattern)(address)


def first_match(patterns: Iterable[str], address: str) -> str | None:
    """The first pattern (as given) that covers the address, or None.

    >>> first_match(["*@spam.example", "^jo@", "jo@example.org"], "jo@example.org")
    '^jo@'
    >>> first_match(["*@spam.example"], "jo@example.org") is None
    True
    """
    for pattern in patterns:
        if matches(pattern, address):
            return pattern
    return None
