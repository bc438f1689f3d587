"""List addresses and their sub-addresses.

Why: one list answers at several addresses.  ``dev@example.org`` takes posts;
``dev-request@`` takes email commands; ``dev-join@``/``dev-subscribe@`` and
``dev-leave@``/``dev-unsubscribe@`` take a message of any content as a request to join or
leave; ``dev-owner@`` reaches the people who run the list; ``dev-confirm+TOKEN@`` takes the
reply to a confirmation request; ``dev-bounces+ANYTHING@`` takes delivery failures (the part
after ``+`` lets the sender put who the failed message was for, the VERP way).  The part after
``+`` is a sub-address detail in the sense of RFC 5233 (the ``:subaddress`` extension of
Sieve); our MTA delivers every such address to us, and :func:`parse_recipient` says what each
one means.

What it won't do: it parses only bare ``local@domain`` addresses as an MTA hands them over
(no display names, comments, quoted local parts or source routes), and it never decides
whether a list exists: the caller passes ``is_list`` for that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_LIST_ADDRESS = re.compile(r"^[a-z0-9][a-z0-9._+\-]{0,63}@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+$")


def valid_list_address(address: str) -> bool:
    """Whether a string can be a list's posting address.

    >>> valid_list_address("r-devel@r-project.org")
    True
    >>> valid_list_address("no spaces@example.org"), valid_list_address("nodomain")
    (False, False)
    """
    return bool(_LIST_ADDRESS.match(address.strip().lower()))


def obfuscate(address: str) -> str:
    """An address as shown on public pages: readable by people, not harvested by scripts.

    >>> obfuscate("jdoe@example.org")
    'jdoe@e...'
    """
    local, at, domain = address.partition("@")
    if not at:
        return address
    return f"{local}@{domain[:1]}..."


KINDS = ("post", "request", "join", "leave", "owner", "confirm", "bounces")

# The word after the last "-" of the local part -> the kind it names.
_SUFFIXES = {
    "request": "request",
    "join": "join",
    "subscribe": "join",
    "leave": "leave",
    "unsubscribe": "leave",
    "owner": "owner",
    "confirm": "confirm",
    "bounces": "bounces",
}
_NOT_IN_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f<>@\"(),;:\\\[\]]")


@dataclass(frozen=True)
class Recipient:
    """What a message sent to one of a list's addresses is for.

    ``list_address`` is the list's posting address; ``kind`` is one of :data:`KINDS`;
    ``token`` is what followed ``+`` (only for ``confirm`` and ``bounces``), kept exactly as
    received: everything else is lower-cased, but a token is data and may depend on case.
    """

    list_address: str
    kind: str
    token: str = ""


def parse_recipient(address: str, is_list: Callable[[str], bool]) -> Recipient | None:
    """Which list an envelope recipient belongs to and what for, or None if it is none of ours.

    ``is_list`` answers whether a lower-case address is a list's posting address.  An address
    that is itself a list is a post to that list, even if its name looks like a sub-address
    (a list may be called ``foo-request``).

    >>> lists = {"dev@example.org", "dev-team@example.org"}.__contains__
    >>> parse_recipient("<Dev@Example.ORG>", lists)
    Recipient(list_address='dev@example.org', kind='post', token='')
    >>> parse_recipient("dev-team-request@example.org", lists)
    Recipient(list_address='dev-team@example.org', kind='request', token='')
    >>> parse_recipient("dev-unsubscribe@example.org", lists).kind
    'leave'
    >>> parse_recipient("Dev-Confirm+3f9A_0c@example.org", lists)
    Recipient(list_address='dev@example.org', kind='confirm', token='3f9A_0c')
    >>> parse_recipient("dev-bounces+ada=example.net@example.org", lists).token
    'ada=example.net'

    Unknown lists, unknown suffixes, a confirmation without its code and a ``+`` where none
    belongs are not ours:

    >>> [parse_recipient(a, lists) for a in ("ops-request@example.org", "dev-info@example.org",
    ...                                      "dev-confirm@example.org", "dev+x@example.org",
    ...                                      "dev-request+x@example.org")]
    [None, None, None, None, None]
    """
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or _NOT_IN_ADDRESS.search(text.replace("@", "", 1)):
        return None
    domain = domain.lower()
    if is_list(f"{local.lower()}@{domain}"):
        return Recipient(f"{local.lower()}@{domain}", "post")
    # Try each "-" as the end of the list's name, leftmost first: the suffix is a single word
    # without "-", but the list's name and the token after "+" may contain "-".
    start = local.find("-", 1)
    while start != -1:
        name, rest = local[:start].lower(), local[start + 1 :]
        suffix, plus, token = rest.partition("+")
        kind = _SUFFIXES.get(suffix.lower())
        if kind is not None and is_list(f"{name}@{domain}"):
            if plus and kind not in ("confirm", "bounces"):
                return None
            if kind == "confirm" and not token:
                return None
            return Recipient(f"{name}@{domain}", kind, token)
        start = local.find("-", start + 1)
    return None


_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+$")


def valid_email(address: str) -> bool:
    """Whether a string is a plain email address (what a person types into a form).

    >>> valid_email("ada@example.org"), valid_email(" Ada@Example.ORG ")
    (True, True)
    >>> valid_email("ada"), valid_email("a b@example.org"), valid_email("a@b@c.org")
    (False, False, False)
    >>> valid_email("x@example.org\\r\\nBcc: y@z.org")
    False
    """
    return bool(_EMAIL.match(address.strip().lower())) and "\n" not in address
