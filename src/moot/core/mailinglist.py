"""A list's settings as the core sees them: plain values, validated, with their defaults.

The storage keeps them as columns of ``mailing_lists``; the CLI, the REST API and the web
change them only through :func:`validate_setting`, so every way in refuses the same bad values
with the same words.  What each setting means is in :data:`SETTINGS` (the operators' table in
docs/lists.md is written from it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from moot.core.errors import BadSetting

POSTING_POLICIES = ("open", "members", "moderated", "announce")
ARCHIVE_POLICIES = ("public", "private", "none")
REPLY_TO_POLICIES = ("author", "list")
PERSONALIZE = ("member", "none")
DMARC_MITIGATIONS = ("munge", "wrap", "none")
DIGEST_PERIODS = ("daily", "weekly", "monthly", "none")
DIGEST_FORMATS = ("mime", "plain")
NONMEMBER_ACTIONS = ("hold", "reject", "discard")
BAN_ACTIONS = ("refuse", "hold")
IDENTITY_POLICIES = ("accept", "hold", "reject")
SPAM_ACTIONS = ("hold", "discard", "reject", "accept")
SUBSCRIPTIONS = ("open", "closed")


@dataclass(frozen=True)
class ListConfig:
    """One list.  ``address`` is its posting address, lower case."""

    address: str
    display_name: str = ""
    description: str = ""
    posting_policy: str = "members"
    archive_policy: str = "public"
    subject_prefix: str | None = None  # None: "[local-part] "; "" for none
    footer: str = ""
    reply_to: str = "author"
    max_size: int = 512_000  # bytes of the whole message; 0 for no limit
    # MIME types a post may contain ("text/*" matches a family); empty: any type.
    content_types: tuple[str, ...] = ()
    max_recipients: int = 10  # addresses in To and Cc together; 0 for no limit
    # "Header: regex" lines: a post with a matching header is held.
    suspicious_headers: tuple[str, ...] = ()
    # Delivery: each member's own copy (unsubscribe link, bounce address) or one per domain.
    personalize: str = "member"
    # Authors whose domain publishes DMARC p=reject/quarantine: From rewritten, or wrapped.
    dmarc_mitigation: str = "munge"
    bounce_threshold: int = 5  # bounce score that stops delivery to a member; 0: never
    bounce_warnings: int = 3  # notices to a disabled member before removal; 0: never removed
    digest_size: int = 30  # kilobytes that make a digest go out at once; 0: no size limit
    digest_period: str = "daily"  # also sent at least this often when there is something
    digest_format: str = "mime"  # mime (RFC 2046 multipart/digest) or plain (RFC 1153)
    nonmember_action: str = "hold"  # a non-member's post on a members-only list
    new_member_posts: int = 0  # a new member's first N posts are held; 0: none
    ban_action: str = "refuse"  # a banned sender: refused at RCPT, or held
    held_expire_days: int = 14  # a held post nobody decided on is discarded after this; 0: never
    identity_policy: str = "accept"  # a post whose From could not be verified
    spam_action: str = "hold"  # a post the spam filter or a spam header flags
    subscriptions: str = "open"  # closed: only owners add members
    id: int = field(default=0, compare=False)

    @property
    def local_part(self) -> str:
        return self.address.partition("@")[0]

    @property
    def domain(self) -> str:
        return self.address.partition("@")[2]

    @property
    def name(self) -> str:
        return self.display_name or self.local_part

    @property
    def list_id(self) -> str:
        """The RFC 2919 list identifier: ``dev@example.org`` -> ``dev.example.org``."""
        return f"{self.local_part}.{self.domain}"

    @property
    def prefix(self) -> str:
        """The subject prefix in use (the default is ``[local-part] ``)."""
        return f"[{self.local_part}] " if self.subject_prefix is None else self.subject_prefix

    def sub_address(self, suffix: str) -> str:
        """``dev@example.org`` with suffix ``request`` -> ``dev-request@example.org``."""
        return f"{self.local_part}-{suffix}@{self.domain}"

    @property
    def request_address(self) -> str:
        return self.sub_address("request")

    @property
    def owner_address(self) -> str:
        return self.sub_address("owner")

    @property
    def bounces_address(self) -> str:
        return self.sub_address("bounces")

    def as_json(self) -> dict[str, object]:
        """The address and every setting, as ``moot list show --json`` and the API give them
        (the subject prefix as in use)."""
        doc: dict[str, object] = {"address": self.address}
        for name in SETTINGS:
            value = getattr(self, name)
            doc[name] = list(value) if isinstance(value, tuple) else value
        doc["subject_prefix"] = self.prefix
        return doc


# name -> (kind, help).  Kinds: str, text (may span lines), choice:<a|b>, int, list.
SETTINGS: dict[str, tuple[str, str]] = {
    "display_name": ("str", "The list's name as people see it (default: the local part)."),
    "description": ("text", "A paragraph shown on the list's pages and in help replies."),
    "posting_policy": ("choice:" + "|".join(POSTING_POLICIES),
                       "open: anyone may post; members: members post, others are held; "
                       "moderated: every post is held; announce: only owners and moderators "
                       "post, others are rejected."),
    "archive_policy": ("choice:" + "|".join(ARCHIVE_POLICIES),
                       "public: anyone may read the archive; private: members only; "
                       "none: posts are delivered but not archived."),
    "subject_prefix": ("str", "Put before every subject, e.g. '[dev] ' (default: the local "
                              "part in brackets; empty for none)."),
    "footer": ("text", "Added to the end of each post's text (never to signed posts). "
                       "{unsubscribe_url} and {address} stand for each member's own link to "
                       "leave and address (with personalize=member; else the list's leave "
                       "page and 'you')."),
    "reply_to": ("choice:" + "|".join(REPLY_TO_POLICIES),
                 "author: replies go to the author; list: Reply-To is set to the list."),
    "max_size": ("int", "Largest post in bytes, headers included; larger ones are held "
                        "(0: no limit)."),
    "content_types": ("list", "MIME types a post may contain, comma-separated ('text/*' "
                              "matches a family); others are held. Empty: any type."),
    "max_recipients": ("int", "Posts with more addresses than this in To and Cc are held "
                              "(0: no limit)."),
    "suspicious_headers": ("list", "'Header: regex' patterns, comma-separated; a post with "
                                   "a matching header is held."),
    "personalize": ("choice:" + "|".join(PERSONALIZE),
                    "member: each member gets a copy of their own, with a one-click "
                    "unsubscribe link (RFC 8058) and a bounce address that names them (VERP); "
                    "none: one copy per recipient domain, much faster for big lists; bounces "
                    "are then matched by what they say."),
    "dmarc_mitigation": ("choice:" + "|".join(DMARC_MITIGATIONS),
                         "What to do with posts from domains that publish a DMARC policy of "
                         "reject or quarantine, which receivers would otherwise refuse once "
                         "the list has changed them: munge: From becomes the list, the author "
                         "goes to Reply-To; wrap: the post goes out attached to a message "
                         "from the list; none: sent as is."),
    "bounce_threshold": ("int", "Bounce score (one point per day with a permanent failure) at "
                                "which delivery to a member stops and they are told; 0: never."),
    "bounce_warnings": ("int", "Notices, a week apart, sent to a member whose delivery has "
                               "stopped before they are removed; 0: never removed."),
    "digest_size": ("int", "A digest goes out as soon as it holds this many kilobytes "
                           "(0: no size limit)."),
    "digest_period": ("choice:" + "|".join(DIGEST_PERIODS),
                      "A digest also goes out at least this often when it holds anything "
                      "(none: only by size or `moot digest send`)."),
    "nonmember_action": ("choice:" + "|".join(NONMEMBER_ACTIONS),
                         "What a members-only list does with a non-member's post: hold it for "
                         "a moderator, reject it (the author is told why) or discard it."),
    "new_member_posts": ("int", "A new member's first posts, this many, are held for a "
                                "moderator; then they are trusted (0: none)."),
    "ban_action": ("choice:" + "|".join(BAN_ACTIONS),
                   "refuse: a banned sender's mail is refused at RCPT (550); hold: it is held "
                   "for a moderator with the ban as the reason."),
    "held_expire_days": ("int", "A held post nobody decided on is discarded after this many "
                                "days (0: never)."),
    "identity_policy": ("choice:" + "|".join(IDENTITY_POLICIES),
                        "A post whose From could not be verified (no DKIM signature or SPF "
                        "pass aligned with it, DMARC): accept, hold ('could not verify "
                        "sender') or reject. Possible impersonations are held whatever this "
                        "says."),
    "spam_action": ("choice:" + "|".join(SPAM_ACTIONS),
                    "A post the spam filter (spamc, if configured) or an X-Spam-Flag: YES "
                    "header marks as spam: hold, discard, reject or accept."),
    "subscriptions": ("choice:" + "|".join(SUBSCRIPTIONS),
                      "open: anyone may ask to join (confirmed by mail); closed: only the "
                      "list's owners add members, and requests to join are refused."),
    "digest_format": ("choice:" + "|".join(DIGEST_FORMATS),
                      "mime: the posts as attached messages (RFC 2046 multipart/digest); "
                      "plain: one text in the RFC 1153 layout."),
}

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MIME_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/(?:\*|[a-z0-9!#$&^_.+-]+)$")


def validate_setting(name: str, value: Any) -> Any:
    """The stored form of one setting, or :class:`BadSetting` saying what is wrong.

    >>> validate_setting("max_size", "40000")
    40000
    >>> validate_setting("content_types", "text/plain, Text/*")
    ('text/plain', 'text/*')
    >>> validate_setting("subject_prefix", "[x]\\r\\nBcc: a@b")
    Traceback (most recent call last):
    ...
    moot.core.errors.BadSetting: subject_prefix: no line breaks or control characters allowed
    """
    if name not in SETTINGS:
        raise BadSetting(f"unknown setting {name!r}; known ones are {', '.join(SETTINGS)}")
    kind = SETTINGS[name][0]
    if kind.startswith("choice:"):
        choices = kind[len("choice:"):].split("|")
        if value not in choices:
            raise BadSetting(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value
    if kind == "int":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise BadSetting(f"{name}: {value!r} is not a whole number") from None
        if number < 0:
            raise BadSetting(f"{name}: must be 0 or more")
        return number
    if kind == "list":
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        out = tuple(i.strip() for i in items if str(i).strip())
        if name == "content_types":
            out = tuple(i.lower() for i in out)
            bad = [i for i in out if not _MIME_TYPE.match(i)]
            if bad:
                raise BadSetting(f"{name}: {bad[0]!r} is not a MIME type like text/plain")
        if name == "suspicious_headers":
            for item in out:
                header, colon, pattern = item.partition(":")
                if not colon or not header.strip():
                    raise BadSetting(f"{name}: {item!r} should be 'Header: regex'")
                try:
                    re.compile(pattern.strip())
                except re.error as exc:
                    raise BadSetting(f"{name}: bad regex in {item!r}: {exc}") from None
        return out
    text = str(value)
    if kind == "str" and _CONTROL.search(text.replace("\t", " ")):
        raise BadSetting(f"{name}: no line breaks or control characters allowed")
    if kind == "str" and len(text) > 200:
        raise BadSetting(f"{name}: at most 200 characters")
    if kind == "text":
        text = text.replace("\r\n", "\n")
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
            raise BadSetting(f"{name}: no control characters allowed")
    return text


def configured(config: ListConfig, **changes: Any) -> ListConfig:
    """A copy with validated changes applied."""
    return replace(config, **{k: validate_setting(k, v) for k, v in changes.items()})
