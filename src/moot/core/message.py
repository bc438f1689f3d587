"""Parsed-message value objects and the small pure helpers around them.

The raw bytes of a message are the truth; everything here is derived from them and can be
derived again.  Nothing in this module reads files, talks to a database or looks at a clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_BARE_ID_RE = re.compile(r"[^\s<>\"(),;]+@[^\s<>\"(),;]+")
_SUBJECT_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|fw|fwd|antw|odp|r)\s*(?:\[\d+\])?\s*:\s*|\[[^\]]{1,60}\]\s*)+",
    re.IGNORECASE,
)
_REPLY_PREFIX_RE = re.compile(r"^\s*(?:\[[^\]]{1,60}\]\s*)*(?:re|aw|sv|antw)\s*(?:\[\d+\])?\s*:",
                              re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    """A non-body MIME part as the archive describes it (its bytes stay in the raw message)."""

    position: int
    filename: str
    content_type: str
    size: int


@dataclass
class ParsedMessage:
    """Everything the archive keeps about one message besides its raw bytes."""

    message_id: str
    message_id_generated: bool
    from_name: str
    from_addr: str
    date_utc: datetime | None
    date_raw: str
    subject: str
    in_reply_to: str | None
    references: list[str]
    size: int
    body_text: str
    has_html: bool  # the body text was derived from an HTML part (no text/plain)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def parent_candidates(self) -> list[str]:
        """Message-IDs this message answers, nearest first (In-Reply-To, then References)."""
        out: list[str] = []
        if self.in_reply_to:
            out.append(self.in_reply_to)
        for ref in reversed(self.references):
            if ref not in out:
                out.append(ref)
        return out


def clean_text(text: str) -> str:
    """Make text storable anywhere: no NUL bytes, no lone surrogates.

    >>> clean_text("a\\x00b")
    'a\\ufffdb'
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def normalize_message_id(value: str | None) -> str | None:
    """The first Message-ID in a header value, without angle brackets.

    >>> normalize_message_id(" <abc@example.org> (comment)")
    'abc@example.org'
    >>> normalize_message_id("abc@example.org")
    'abc@example.org'
    >>> normalize_message_id("   ") is None
    True
    """
    if not value:
        return None
    m = _MSGID_RE.search(value)
    if m:
        return clean_text(m.group(1))[:900]
    m = _BARE_ID_RE.search(value)
    if m:
        return clean_text(m.group(0))[:900]
    value = value.strip()
    if value and " " not in value and len(value) < 900:
        return clean_text(value)
    return None


def parse_references(value: str | None) -> list[str]:
    """All Message-IDs in a References header, in order, without repeats.

    >>> parse_references("<a@x> <b@x>\\n <a@x>")
    ['a@x', 'b@x']
    """
    if not value:
        return []
    out: list[str] = []
    for m in _MSGID_RE.finditer(value):
        mid = clean_text(m.group(1))[:900]
        if mid not in out:
            out.append(mid)
    return out[-100:]


def generated_message_id(raw: bytes) -> str:
    """A stable Message-ID for a message that has none, derived from its bytes.

    >>> generated_message_id(b"hello")
    'moot-2cf24dba5fb0a30e26e83b2a@generated.invalid'
    """
    return f"moot-{hashlib.sha256(raw).hexdigest()[:24]}@generated.invalid"


def base_subject(subject: str) -> str:
    """The subject with reply/forward markers and list tags taken off, lower-cased.

    Used to group messages that carry no references (JWZ's subject grouping).

    >>> base_subject("Re: [alsa-devel] RE: Fwd: Sound  broken")
    'sound broken'
    """
    s = _SUBJECT_PREFIX_RE.sub("", subject or "")
    return " ".join(s.split()).lower()


def is_reply_subject(subject: str) -> bool:
    """Whether a subject says it answers something ("Re:", "AW:", after any list tag).

    >>> is_reply_subject("[r-devel] Re: bug")
    True
    >>> is_reply_subject("Sound broken")
    False
    """
    return bool(_REPLY_PREFIX_RE.match(subject or ""))
