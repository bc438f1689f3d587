"""Signed one-click unsubscribe tokens.

Why: every post carries an unsubscribe link (RFC 2369 ``List-Unsubscribe``, and RFC 8058
one-click ``List-Unsubscribe-Post``, which mail programs and big mailbox providers act on with
a single POST and no login).  The link must say by itself who is leaving, and nobody must be
able to make a link that unsubscribes someone else.  So the token holds the member's address
and an HMAC-SHA256 (RFC 2104) of it under the site's secret, truncated to 128 bits:
``base64url(mac || address)`` without padding (RFC 4648 section 5), safe in a URL path.

The MAC covers a purpose label, the list's address and the member's address, each with its
length in front, so a token works for one list only and cannot be replayed as any other kind
of token signed with the same secret.

What it won't do: expire (a link in a year-old post still works -- members expect that, and
leaving is harmless to allow), keep state, or look anything up: whether the address is still
a member is the caller's business.  Changing the secret invalidates every link sent so far.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

_PURPOSE = b"moot unsubscribe v1"
_MAC_BYTES = 16  # 128 bits
_MAX_EMAIL_BYTES = 1024
_MAX_TOKEN_CHARS = (_MAC_BYTES + _MAX_EMAIL_BYTES) * 4 // 3 + 4
_MIN_SECRET_BYTES = 16
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def _mac(secret: bytes, list_address: str, email: bytes) -> bytes:
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {_MIN_SECRET_BYTES} bytes")
    parts = (_PURPOSE, list_address.strip().lower().encode("utf-8"), email)
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hmac.new(secret, framed, hashlib.sha256).digest()[:_MAC_BYTES]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsubscribe_token(secret: bytes, list_address: str, email: str) -> str:
    """A URL-safe token that unsubscribes ``email`` from the list at ``list_address``.

    The address is kept exactly as given (members' addresses are stored lower-case); the
    list's address is compared without regard to case.

    >>> token = unsubscribe_token(b"k" * 32, "dev@example.org", "ada@example.net")
    >>> read_unsubscribe_token(b"k" * 32, "dev@example.org", token)
    'ada@example.net'
    >>> read_unsubscribe_token(b"k" * 32, "ops@example.org", token) is None
    True
    """
    raw = email.encode("utf-8")
    if not raw:
        raise ValueError("no address to make a token for")
    if len(raw) > _MAX_EMAIL_BYTES:
        raise ValueError(f"the address is longer than {_MAX_EMAIL_BYTES} bytes")
    return _encode(_mac(secret, list_address, raw) + raw)


def read_unsubscribe_token(secret: bytes, list_address: str, token: str) -> str | None:
    """The address a token made by :func:`unsubscribe_token` for this list names, or None.

    Never raises for a bad token (only for a bad secret): anything altered, truncated, made
    for another list or under another secret, or not a token at all gives None.
    """
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
        return None
    if not _B64URL.match(token):
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # One token per address: refuse other spellings of the same bytes (the unused low bits of
    # the last character), so that changing any character changes the answer.
    if _encode(data) != token:
        return None
    mac, raw = data[:_MAC_BYTES], data[_MAC_BYTES:]
    if not raw:
        return None
    if not hmac.compare_digest(mac, _mac(secret, list_address, raw)):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- account links: confirm an address, reset a password ---------------------------------------

def account_token(secret: bytes, purpose: str, user_id: int, expires: int, bound: str = "") -> str:
    """A URL-safe token for one account and one purpose (``confirm``, ``reset``) that stops
    working at ``expires`` (Unix seconds).  ``bound`` is mixed into the MAC but not carried: a
    reset link bound to the current password hash dies once the password changes.

    >>> t = account_token(b"k" * 32, "reset", 7, 2_000_000_000, "hash1")
    >>> read_account_token(b"k" * 32, "reset", t, now=1_900_000_000, bound="hash1")
    7
    >>> read_account_token(b"k" * 32, "reset", t, now=1_900_000_000, bound="hash2") is None
    True
    >>> read_account_token(b"k" * 32, "confirm", t, now=1_900_000_000, bound="hash1") is None
    True
    >>> read_account_token(b"k" * 32, "reset", t, now=2_000_000_001, bound="hash1") is None
    True
    """
    body = f"{user_id}.{expires}"
    return f"{body}.{_account_mac(secret, purpose, body, bound)}"


def read_account_token(secret: bytes, purpose: str, token: str, *, now: int,
                       bound: str = "") -> int | None:
    """The account id a token is good for now, or None (forged, expired, other purpose)."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _account_mac(secret, purpose, body, bound)):
        return None
    if int(parts[1]) < now:
        return None
    return int(parts[0])


def _account_mac(secret: bytes, purpose: str, body: str, bound: str) -> str:
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {_MIN_SECRET_BYTES} bytes")
    parts = (b"moot account v1", purpose.encode(), body.encode(), bound.encode())
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return _encode(hmac.new(secret, framed, hashlib.sha256).digest()[:_MAC_BYTES])
