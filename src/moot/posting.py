"""Posting from the web: a form's fields made into a real mail and run through the same
posting pipeline as mail that arrives by LMTP (:meth:`moot.inbound.service.Inbound.handle`).

Why the same pipeline: a list's rules (members only, moderation, bans, size, spam) must not
depend on how a post came in.  An accepted post is archived and queued for the members'
normal delivery; a held one waits in the same queue for a moderator, who gets the usual
notice.  What differs is the proof of the sender: a mail's From is checked by DKIM and SPF, a
web post's by the log-in.  So a web post may only come from an address the account has
proved is its own, and it enters the pipeline as verified (:data:`WEB_IDENTITY`), which
readers see under the post.

The mail is RFC 5322 (written by the email package): From the chosen address, To the list,
a fresh Message-ID on the site's host, In-Reply-To and References when it answers a post,
one text/plain UTF-8 part.  Header injection: the subject is refused, not cleaned, when it
holds a line break or another control character, so the writer sees their text was not taken
as written; the text is limited to :data:`MAX_BODY` bytes.

What it won't do: attachments, HTML, or posting as an address the account has not proved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row

from moot import __version__
from moot.app import Moot, spam_check
from moot.authz import Viewer, may_read_archive
from moot.core.errors import MootError
from moot.core.identity import Identity
from moot.core.mailinglist import ListConfig
from moot.storage.db import writing
from moot.storage.store import now_utc

MAX_BODY = 100_000  # bytes of text (UTF-8)
MAX_SUBJECT = 300  # characters
MAX_REFERENCES = 20  # Message-IDs carried in References (the thread's newest ones)
WEB_IDENTITY = Identity("verified", "posted on the web by the logged-in account that holds "
                                    "this address")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs)\s*:", re.IGNORECASE)


class PostError(MootError):
    """A web post that cannot be sent as asked; ``status`` is the HTTP answer."""

    status = 400


class NotYours(PostError):
    """The From address is not one the account has proved."""

    status = 403


class NoParent(PostError):
    """The post being answered is not in an archive the poster may read."""

    status = 404


def clean_subject(subject: str) -> str:
    """The subject as it goes into the header; :class:`PostError` for one that would break
    out of it (line breaks, control characters), is empty or is too long.

    >>> clean_subject("  Release 2.0 ")
    'Release 2.0'
    >>> clean_subject("Hi\\r\\nBcc: everyone@example.org")
    Traceback (most recent call last):
    ...
    moot.posting.PostError: The subject must be one line without control characters.
    """
    if _CONTROL.search(subject.replace("\t", " ")):
        raise PostError("The subject must be one line without control characters.")
    subject = subject.strip()
    if not subject:
        raise PostError("Write a subject: it is how readers find the thread.")
    if len(subject) > MAX_SUBJECT:
        raise PostError(f"The subject is longer than {MAX_SUBJECT} characters; shorten it.")
    return subject


def clean_body(body: str) -> str:
    """The text with its line ends made LF; :class:`PostError` for an empty or too big one,
    or one with control characters (a form never sends those: something went wrong).

    >>> clean_body("Hello\\r\\nthere\\r\\n")
    'Hello\\nthere\\n'
    """
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise PostError("Write something in the message.")
    size = len(body.encode("utf-8"))
    if size > MAX_BODY:
        raise PostError(f"The message is {size:,} bytes; the limit is {MAX_BODY:,} bytes "
                        f"({MAX_BODY // 1000} KB). Shorten it, or link to a longer text.")
    if _BODY_CONTROL.search(body):
        raise PostError("The message contains control characters; remove them and send again.")
    return body if body.endswith("\n") else body + "\n"


def reply_subject(subject: str) -> str:
    """The subject of an answer: ``Re:`` once, in front.

    >>> reply_subject("Release 2.0"), reply_subject("RE: Release 2.0"), reply_subject("")
    ('Re: Release 2.0', 'RE: Release 2.0', 'Re: (no subject)')
    """
    subject = _CONTROL.sub(" ", subject).strip() or "(no subject)"
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def quoted(text: str, who: str) -> str:
    """The text of the post being answered, each line behind ``> ``, after who wrote it.

    >>> print(quoted("Ship it?\\n\\n> earlier\\n", "Ada"), end="")
    Ada wrote:
    > Ship it?
    >
    >> earlier
    """
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    body = "\n".join(("> " + line if line and not line.startswith(">") else ">" + line)
                     for line in lines)
    return f"{who} wrote:\n{body}\n"


def _message_id(value: str) -> str | None:
    """A Message-ID fit for a header (stored ones have no brackets), or None."""
    value = value.strip().strip("<>")
    if not value or len(value) > 900 or re.search(r"[\s<>\x00-\x1f\x7f]", value):
        return None
    return value


def build(list_address: str, sender: str, subject: str, body: str, *, host: str,
          parent: Row[Any] | None = None, now: datetime | None = None) -> tuple[bytes, str]:
    """The post as mail (CRLF line ends), and its Message-ID (without brackets).  Call
    :func:`clean_subject` and :func:`clean_body` first: this adds no checks of its own
    beyond what the email package refuses (:class:`PostError` then)."""
    when = (now or now_utc()).replace(tzinfo=UTC)
    msg = EmailMessage(policy=SMTP)
    message_id = make_msgid(domain=host)
    try:
        msg["From"] = sender
        msg["To"] = list_address
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = message_id
        if parent is not None:
            parent_id = _message_id(parent.message_id)
            if parent_id is not None:
                refs = [r for r in (_message_id(x) for x in (parent.references or "").split())
                        if r is not None and r != parent_id]
                refs = refs[-(MAX_REFERENCES - 1):] + [parent_id]
                msg["In-Reply-To"] = f"<{parent_id}>"
                msg["References"] = " ".join(f"<{r}>" for r in refs)
        msg["User-Agent"] = f"moot web {__version__}"
        msg.set_content(body, subtype="plain", charset="utf-8")
        raw = msg.as_bytes()
    except (ValueError, TypeError) as exc:
        raise PostError(f"This cannot be written as a mail ({exc}).") from None
    return raw, message_id[1:-1]


@dataclass(frozen=True)
class Result:
    """What became of a web post.  ``status``: accepted (archived, if the list keeps an
    archive, and queued for the members), held (waiting for a moderator), rejected (the
    list's rules refused it; ``reasons`` say why) or discarded (dropped; ``reasons``)."""

    status: str
    message_id: str
    reasons: tuple[str, ...] = ()
    message_pk: int | None = None

    def detail(self) -> str:
        """One sentence for the person who posted."""
        why = "; ".join(self.reasons)
        if self.status == "accepted":
            return ("Your post is in the archive and on its way to the members."
                    if self.message_pk is not None else "Your post is on its way to the members.")
        if self.status == "held":
            return f"Your post is waiting for a moderator: {why}."
        if self.status == "discarded":
            return f"Your post was not sent: {why}."
        return f"The list did not take your post: {why}."


def find_parent(moot: Moot, viewer: Viewer, config: ListConfig, message_id: str) -> Row[Any]:
    """The archived post being answered, if the viewer may read it (:class:`NoParent`)."""
    wanted = message_id.strip().strip("<>")
    with moot.engine.connect() as conn:
        readable = may_read_archive(conn, viewer, config.id, config.archive_policy)
    found = moot.archive.messages_by_id(config.id, wanted) if readable and wanted else []
    if not found:
        raise NoParent(f"There is no message <{wanted}> in the archive of {config.address} "
                       "that you may read. Open the post you answer and use its reply link.")
    return found[0]


def site_host(moot: Moot) -> str:
    """The host Message-IDs of web posts are made on (the site's, from ``base_url``)."""
    return urlsplit(moot.settings.base_url).hostname or "localhost"


def submit(moot: Moot, viewer: Viewer, config: ListConfig, *, sender: str, subject: str,
           body: str, reply: str = "") -> Result:
    """Check a web post, write it as mail and hand it to the posting pipeline.

    Refused before the pipeline (:class:`PostError` and its kinds): a From the account has
    not proved, a bad subject or text, a reply to a post the viewer cannot read.  After it,
    the list's rules decide exactly as for mail."""
    from moot.inbound.service import Job

    sender = sender.strip().lower()
    if not sender or sender not in viewer.addresses:
        raise NotYours(f"You may post only from an address of your account that is confirmed"
                       f"{'' if not sender else f' ({sender} is not)'}. Link it on your "
                       "account page first.")
    subject = clean_subject(subject)
    body = clean_body(body)
    parent = find_parent(moot, viewer, config, reply) if reply.strip() else None
    raw, message_id = build(config.address, sender, subject, body, host=site_host(moot),
                            parent=parent)
    target = moot.resolve(config.address)
    if target is None or target.kind != "post":
        raise PostError(f"There is no list {config.address} here any more.")
    spam = spam_check(moot.settings.spamc, raw)  # the filter runs on web posts too
    inbound = moot.inbound  # built before the write lock is taken: it may write a secret
    with writing(moot.engine) as conn:
        outcome = inbound.handle(conn, Job(sender, target, raw, WEB_IDENTITY, spam))
    for callback in moot.inbound.after_commit:  # wake the delivery and the indexer (serve)
        callback()
    if outcome.message_pk is not None:
        moot.search.catch_up()
    if outcome.status == "accepted" and outcome.detail.startswith("discarded: "):
        return Result("discarded", message_id, (outcome.detail[len("discarded: "):],))
    return Result(outcome.status, message_id, outcome.reasons or
                  ((outcome.detail,) if outcome.detail else ()), outcome.message_pk)
