"""Taking an archived message down: the moderators delete it, or strike passages from it.

Why: archives are public and permanent, and sometimes a post must not stay as it is (an
address or a phone number posted by mistake, abuse, a court order).  Both ways keep the
message's row, so the thread keeps its shape, replies still hang under it and links to its
Message-ID still lead somewhere; the pages show "Removed by the moderators on DATE" in its
place.

- ``delete``: the text goes, the subject becomes "(removed)", the raw bytes and the
  attachments are deleted.  Sender and date stay (they place the message in its thread).
- ``redact``: each passage given (exact text, case-sensitive, every occurrence) is replaced by
  "[redacted]" in the text and the subject.  The raw bytes and attachments are deleted too:
  they hold the passage, and a signed message cannot be rewritten faithfully.

Either way the search index forgets the old words (:meth:`moot.search.service.Search.refresh`),
mbox downloads leave the message out (they are made from raw bytes, which are gone), and the
audit log records who did it, which way and why, never the struck text itself.  The message's
digest stays, so importing the same mail again does not bring it back.

What it won't do: undo (the bytes are gone), take a post back from members' mailboxes, or
from a digest or delivery already queued.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from moot.core.errors import MessageNotFound, MootError
from moot.core.mailinglist import ListConfig
from moot.core.message import base_subject
from moot.storage import audit
from moot.storage import schema as s

if TYPE_CHECKING:
    from moot.app import Moot

log = logging.getLogger("moot.removal")
MARK = "[redacted]"
REMOVED_SUBJECT = "(removed)"
# What a caller may ask for -> what the message is marked as.
KINDS = {"delete": "deleted", "deleted": "deleted", "redact": "redacted", "redacted": "redacted"}


class RemovalError(MootError):
    """A removal that cannot be done as asked, with what to do instead."""


class AlreadyDeleted(RemovalError):
    """The message was deleted before: there is nothing left to remove."""


@dataclass(frozen=True)
class Removal:
    """What was done."""

    pk: int
    message_id: str
    kind: str  # deleted | redacted
    removed_at: datetime
    thread_id: int
    # False when the search index could not be brought in step (another process held it):
    # the old words may still find the message until `moot reindex` runs.
    indexed: bool = True


def redact(text: str, passages: Sequence[str]) -> str:
    """``text`` with every occurrence of each passage replaced by ``[redacted]``, in one pass
    (a passage inside a longer one, or inside the mark itself, cannot garble the result).

    >>> redact("call 555-0100 or 555-0100 ext. 7", ["555-0100", "ext. 7"])
    'call [redacted] or [redacted] [redacted]'
    >>> redact("top secret and secret", ["secret", "top secret"])
    '[redacted] and [redacted]'
    """
    wanted = sorted({p for p in passages if p}, key=len, reverse=True)
    if not wanted:
        return text
    return re.compile("|".join(re.escape(p) for p in wanted)).sub(MARK, text)


def passages_from(text: str) -> list[str]:
    """The passages in a form's text area: one a line, blank lines left out, each kept
    exactly as written (only the line end is dropped).

    >>> passages_from("555-0100\\r\\n\\r\\n  my flat  \\n")
    ['555-0100', '  my flat  ']
    """
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if line.strip()]


def remove(conn: Connection, config: ListConfig, message_id: str, kind: str, *,
           passages: Sequence[str] = (), by: str, reason: str = "", now: datetime,
           n: int = 1) -> Removal:
    """Delete or redact the ``n``-th message of the list with this Message-ID, in the
    caller's transaction, with a line in the audit log.  The caller refreshes the search
    index once this is committed (:func:`take_down` does both).

    Raises :class:`~moot.core.errors.MessageNotFound`, :class:`AlreadyDeleted`, or
    :class:`RemovalError` (an unknown kind; a redaction without passages, or with a passage
    the message does not contain)."""
    stored = KINDS.get(kind)
    if stored is None:
        raise RemovalError(f"kind must be 'delete' or 'redact', not {kind!r}")
    m = s.messages.c
    found = list(conn.execute(select(s.messages).where(
        m.list_id == config.id, m.message_id == message_id).order_by(m.id)))
    if not 1 <= n <= len(found):
        raise MessageNotFound(message_id)
    row = found[n - 1]
    if row.removed_kind == "deleted":
        raise AlreadyDeleted(f"<{message_id}> was deleted already, on "
                             f"{row.removed_at:%Y-%m-%d}: nothing of it is left to remove")
    reason = " ".join(reason.split())[:1000]
    if stored == "deleted":
        subject, body = REMOVED_SUBJECT, ""
        detail = reason
    else:
        wanted = list(dict.fromkeys(p for p in passages if p.strip()))
        if not wanted:
            raise RemovalError("give at least one passage to strike, exactly as it appears "
                               "in the message")
        missing = [p for p in wanted if p not in row.body_text and p not in row.subject]
        if missing:
            raise RemovalError(
                f"{len(missing)} of the passages ({', '.join(repr(p[:60]) for p in missing)})"
                " do not occur in the message's text or subject: copy them exactly as shown "
                "(case and spaces count)")
        subject, body = redact(row.subject, wanted), redact(row.body_text, wanted)
        count = len(wanted)
        detail = f"{count} passage{'s' if count != 1 else ''} struck" + (
            f"; {reason}" if reason else "")
    conn.execute(update(s.messages).where(m.id == row.id).values(
        subject=subject, body_text=body, has_html=False, attachment_count=0,
        removed_kind=stored, removed_at=now, removed_by=by[:320]))
    for table in (s.raw_messages, s.attachments):
        conn.execute(delete(table).where(table.c.message_pk == row.id))
    t = s.threads.c
    # The thread is named after its first message: the list pages and the feed show that name.
    conn.execute(update(s.threads).where(
        t.id == row.thread_id, t.root_message_id == row.message_id).values(
        subject=subject, subject_key="" if stored == "deleted" else base_subject(subject)[:200]))
    audit.record(conn, config.id, by, f"remove:{stored}", row.message_id, detail, now)
    return Removal(int(row.id), row.message_id, stored, now, int(row.thread_id))


def take_down(moot: Moot, config: ListConfig, message_id: str, kind: str, *,
              passages: Sequence[str] = (), by: str, reason: str = "", n: int = 1,
              now: datetime | None = None) -> Removal:
    """:func:`remove` in a transaction of its own, then the search index brought in step
    (after the commit: the index reads what is committed).  An index that cannot be written
    does not undo the removal: the answer says so (``indexed`` False) and the log says why."""
    from moot.storage.store import now_utc

    with moot.engine.begin() as conn:
        done = remove(conn, config, message_id, kind, passages=passages, by=by, reason=reason,
                      now=now or now_utc(), n=n)
    try:
        moot.search.refresh([done.pk])
    except Exception:  # noqa: BLE001 - the removal stands; the index is rebuilt by reindex
        log.exception("message %s was %s, but the search index could not be updated; run "
                      "`moot reindex`", done.message_id, done.kind)
        return replace(done, indexed=False)
    return done
