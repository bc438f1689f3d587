"""Held posts: the decisions a moderator (or the author, or the clock) can take, the signed
tokens that let someone act on one hold by mail or by a link, and when moderators are told.

Why this module exists: moderation by mail and by links in mail has no login.  Whoever holds
the token may act, so a token must name exactly one hold and one action, must not be
guessable or transferable to another hold or list, and must stop working once the hold is
decided.  A token is ``base32(mac || action || hold id)`` in lower case without padding
(RFC 4648 section 6): lower case because it travels in an email address
(``LIST-confirm+TOKEN@``), where mail software may change the case of the local part.  The
MAC is HMAC-SHA256 (RFC 2104) under the site's secret, cut to 96 bits, over a purpose label,
the list's address, the action, the hold's number and its ``hold_key`` (its Message-ID and
when it arrived), each framed with its length: a hold number used again after a deletion does
not inherit the old tokens.  Tokens carry no expiry: a hold, once decided or expired, accepts
no token at all (the caller checks that it is still waiting).

Moderators are told of each hold at once, up to :data:`NOTICES_PER_WINDOW` in any
:data:`NOTICE_WINDOW`; the holds beyond that wait for one summary, sent a window after the
first of them (:func:`told_one_by_one`, :func:`summary_due`).  Times are passed in.

What it won't do: look anything up, send mail, read the clock or decide who is a moderator.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

# What a moderator may decide (CLI, REST API, the web page).
MODERATOR_DECISIONS = ("approve", "reject", "discard", "defer", "approve+unmoderate",
                       "approve+accept")
# ...and what else ends a hold: the author takes it back, or nobody decided in time.
DECISIONS = (*MODERATOR_DECISIONS, "withdraw", "expire")
APPROVALS = ("approve", "approve+unmoderate", "approve+accept")

# Token actions, each one byte in the token.  "moderate" is the moderators' web page, which
# offers every moderator decision.
TOKEN_ACTIONS = {"approve": b"a", "reject": b"r", "discard": b"d", "moderate": b"m",
                 "withdraw": b"w"}
_ACTION_OF = {v: k for k, v in TOKEN_ACTIONS.items()}
_PURPOSE = b"moot hold v1"
_MAC_BYTES = 12
_MIN_SECRET_BYTES = 16
_MAX_TOKEN_CHARS = 64

NOTICE_WINDOW = timedelta(minutes=10)
NOTICES_PER_WINDOW = 3


def hold_key(message_id: str, received_at: datetime) -> str:
    """What, besides its number, tells one hold from another (whole seconds: every database
    gives those back as stored).

    >>> hold_key("a@example.org", datetime(2026, 3, 2, 9, 14, 5, 123456))
    'a@example.org 2026-03-02T09:14:05'
    """
    return f"{message_id} {received_at.isoformat(timespec='seconds')}"


def _mac(secret: bytes, list_address: str, action: str, hold_id: int, key: str) -> bytes:
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {_MIN_SECRET_BYTES} bytes")
    parts = (_PURPOSE, list_address.strip().lower().encode("utf-8"), action.encode("ascii"),
             str(hold_id).encode("ascii"), key.encode("utf-8", "surrogateescape"))
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hmac.new(secret, framed, hashlib.sha256).digest()[:_MAC_BYTES]


def hold_token(secret: bytes, list_address: str, hold_id: int, action: str, key: str) -> str:
    """A token that lets its holder take ``action`` on hold ``hold_id`` of this list.

    >>> t = hold_token(b"k" * 32, "dev@example.org", 7, "approve", "a@x 2026-03-02T09:14:05")
    >>> read_hold_token(t), t == t.lower(), len(t)
    ((7, 'approve'), True, 23)
    >>> check_hold_token(b"k" * 32, "dev@example.org", t, "a@x 2026-03-02T09:14:05")
    True
    >>> check_hold_token(b"k" * 32, "ops@example.org", t, "a@x 2026-03-02T09:14:05")
    False
    """
    if action not in TOKEN_ACTIONS:
        raise ValueError(f"unknown token action {action!r}")
    if isinstance(hold_id, bool) or not 0 <= hold_id < 2**63:
        raise ValueError(f"hold_id must be a whole number: {hold_id!r}")
    number = hold_id.to_bytes(max(1, (hold_id.bit_length() + 7) // 8), "big")
    data = _mac(secret, list_address, action, hold_id, key) + TOKEN_ACTIONS[action] + number
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _decode(token: str) -> bytes | None:
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
        return None
    text = token.strip().upper()
    if not text.isascii() or not text.isalnum():
        return None
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(data) < _MAC_BYTES + 2:
        return None
    return data


def read_hold_token(token: str) -> tuple[int, str] | None:
    """The hold number and action a token claims (not yet checked!), or None if it is not
    shaped like a hold token at all (a subscription's confirmation code, say).

    >>> read_hold_token("not-a-token"), read_hold_token("")
    (None, None)
    """
    data = _decode(token)
    if data is None:
        return None
    action = _ACTION_OF.get(data[_MAC_BYTES:_MAC_BYTES + 1])
    if action is None:
        return None
    return int.from_bytes(data[_MAC_BYTES + 1:], "big"), action


def check_hold_token(secret: bytes, list_address: str, token: str, key: str) -> bool:
    """Whether the token was made by :func:`hold_token` for this list, the hold it names and
    that hold's ``key``.  Never raises for a bad token."""
    claimed = read_hold_token(token)
    if claimed is None:
        return False
    hold_id, action = claimed
    expected = hold_token(secret, list_address, hold_id, action, key)
    return hmac.compare_digest(expected.encode(), token.strip().lower().encode())


# -- the author's reply ----------------------------------------------------------------------


def asks_to_withdraw(subject: str, body: str) -> bool:
    """Whether a reply to the held-post notice asks to withdraw the post: a line of its own,
    or the subject, that says just "withdraw" (quoted lines and anything after a signature
    or a quoted original are not read, so quoting the notice withdraws nothing).

    >>> asks_to_withdraw("Re: Your message waits", "Withdraw.\\n\\n> To withdraw it, reply")
    True
    >>> asks_to_withdraw("Re: x", "Thanks!\\n> withdraw\\n")
    False
    >>> asks_to_withdraw("Re: x", "ok\\nTo withdraw it, reply to this message with the word "
    ...                  "withdraw")
    False
    >>> asks_to_withdraw("withdraw", "")
    True
    """
    def says_it(line: str) -> bool:
        words = [w.strip(".,;:!?\"'()") for w in line.lower().split()]
        words = [w for w in words if w and w not in ("please", "pls", "thanks", "re", "re:")]
        return words == ["withdraw"]

    if says_it(subject):
        return True
    for n, line in enumerate(body.replace("\r\n", "\n").split("\n")):
        text = line.strip()
        if n >= 20 or text in ("--", "-- ") or text.startswith("-----") or (
                text.startswith("On ") and text.endswith("wrote:")):
            break
        if text and not text.startswith(">") and says_it(text):
            return True
    return False


# -- telling moderators ----------------------------------------------------------------------


def told_one_by_one(holds: Sequence[tuple[int, datetime]]) -> set[int]:
    """Of holds ``(id, received_at)`` in the order they came, those whose moderators were told
    at once: fewer than :data:`NOTICES_PER_WINDOW` holds came in the :data:`NOTICE_WINDOW`
    before each (the others wait for a summary).  Give every hold of the list from a window
    before the first one asked about.

    >>> t = datetime(2026, 3, 2, 9, 0)
    >>> sorted(told_one_by_one([(n, t + timedelta(minutes=n)) for n in range(1, 7)]))
    [1, 2, 3]
    >>> sorted(told_one_by_one([(n, t + timedelta(minutes=5 * n)) for n in range(1, 7)]))
    [1, 2, 3, 4, 5, 6]
    """
    told: set[int] = set()
    ordered = sorted(holds)
    for i, (hold_id, at) in enumerate(ordered):
        # Walk back while the holds are recent; a few are enough to know.
        earlier, j = 0, i - 1
        while j >= 0 and earlier < NOTICES_PER_WINDOW and ordered[j][1] > at - NOTICE_WINDOW:
            earlier, j = earlier + 1, j - 1
        if tell_at_once(earlier):
            told.add(hold_id)
    return told


def tell_at_once(earlier_in_window: int) -> bool:
    """Whether a new hold's moderators are told now, given how many holds came in the
    :data:`NOTICE_WINDOW` before it (the same rule as :func:`told_one_by_one`)."""
    return earlier_in_window < NOTICES_PER_WINDOW


def summary_due(first_untold: datetime, now: datetime) -> bool:
    """Whether the summary of holds not told one by one goes out now: a window after the
    first of them, so that one summary covers the whole burst.

    >>> t = datetime(2026, 3, 2, 9, 0)
    >>> summary_due(t, t + timedelta(minutes=9)), summary_due(t, t + timedelta(minutes=10))
    (False, True)
    """
    return now >= first_untold + NOTICE_WINDOW
