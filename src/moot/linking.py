"""Linking: each archived message's quotes and prose references resolved to the messages they
point at, and kept in the ``links`` table (moot.storage.links) for the pages and the API.

Quotes (moot.core.quotes): a ``>`` passage or a top-posted original is matched, by word
shingles, against the own words (quotes, signatures and footers removed) of the messages it
answers -- the nearest ancestors in the thread first -- then, when none holds it, against what
the search index finds for a phrase of it.  The message where the words were first written is
the target, which for a ``>>`` passage is not the direct parent.  Console transcripts (``>``
prompts of R, Python, shells) are never linked.  A passage found nowhere is kept as
``status = none``: the page says it quotes a message that is not in the archive.

References (moot.core.references): a Message-ID (written out, or in a public-inbox, lore or
moot URL) is looked up everywhere; a reference in prose ("in a post he made on December 22
('Peru-MRTA seeks only dialogue')") is matched on the list by its day (either side, for time
zones) and, when given, its subject words and author; one fit is ``found``, several
``ambiguous`` (the candidates are kept), none ``none``.

What it won't do yet: republications (the same letter again elsewhere), pipermail and
HyperKitty URLs (their numbers and hashes are not kept by the importer), relative dates ("last
Tuesday").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.engine import Connection

from moot.app import Moot
from moot.core.quotes import find_quotes, is_code_prompt, normalize_words, unquoted_text
from moot.core.references import Reference, find_references
from moot.reading import parent_ids
from moot.storage import links
from moot.storage import schema as s

log = logging.getLogger("moot.linking")

SHINGLE = 4  # words in a shingle
MIN_WORDS = 6  # a passage shorter than this is too common to say where it comes from
CONTAINED = 0.7  # the share of a passage's shingles a source must hold
MAX_ANCESTORS = 40
MAX_CANDIDATES = 10
_COLUMNS = (s.messages.c.id, s.messages.c.list_id, s.messages.c.message_id,
            s.messages.c.thread_id, s.messages.c.from_name, s.messages.c.from_addr,
            s.messages.c.date_utc, s.messages.c.sort_date, s.messages.c.subject,
            s.messages.c.in_reply_to, s.messages.c.references, s.messages.c.body_text,
            s.messages.c.removed_kind)


def shingles(words: Sequence[str], k: int = SHINGLE) -> set[tuple[str, ...]]:
    """The runs of ``k`` words of a text (the text itself when shorter).

    >>> sorted(shingles("a b c d e".split(), 4))
    [('a', 'b', 'c', 'd'), ('b', 'c', 'd', 'e')]
    """
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def containment(part: set[Any], whole: set[Any]) -> float:
    """The share of ``part`` found in ``whole``.

    >>> containment({1, 2, 3, 4}, {2, 3, 4, 5})
    0.75
    """
    return len(part & whole) / len(part) if part else 0.0


_SAYS = re.compile(r"(?:wrote|writes|said|says|a écrit|schrieb|napsal\(a\)|escribió|scrisse)"
                   r"\s*:?\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^(?:from|sent|date|to|cc|subject|objet|von|gesendet|an|betreff)\s*:",
                     re.IGNORECASE)
ORIGINAL_WORDS = 80  # an original block is matched by its opening words (the rest is history)


def passage_text(text: str, kind: str) -> str:
    r"""The words of a quoted passage that someone wrote: without the attribution lines of the
    quotes nested in it ("On ..., Ada wrote:"), and, for a top-posted original, without its
    header lines and past its opening words (what follows is older mail it quoted in turn).

    >>> passage_text("Ada wrote:\nYes, the hall.", "marked")
    'Yes, the hall.'
    >>> passage_text("From: Ada\nSent: Monday\nSubject: Hall\n\nThe hall is booked.", "original")
    'The hall is booked.'
    """
    lines = [x for x in text.split("\n") if not _SAYS.search(x)]
    if kind == "original":
        lines = [x for x in lines if not _HEADER.match(x.strip())]
        kept: list[str] = []
        count = 0
        for line in lines:
            if line.lstrip().startswith(">"):
                break  # the original's own quotes: not its words
            kept.append(line)
            count += len(line.split())
            if count >= ORIGINAL_WORDS:
                break
        lines = kept
    return "\n".join(lines).strip()


class Linker:
    """Finds and keeps the links of messages; one per process, like the search index."""

    def __init__(self, moot: Moot) -> None:
        self.moot = moot
        self._own: dict[int, set[tuple[str, ...]]] = {}
        self._lists: list[int] = []

    # -- one message -------------------------------------------------------------------------

    def links_for(self, conn: Connection, row: Row[Any]) -> list[links.Link]:
        """The links of one message (not stored)."""
        if row.removed_kind == "deleted" or not row.body_text:
            return []
        return self._quotes(conn, row) + self._references(conn, row)

    def _own_shingles(self, row: Row[Any]) -> set[tuple[str, ...]]:
        found = self._own.get(row.id)
        if found is None:
            if len(self._own) > 5000:
                self._own.clear()
            found = shingles(normalize_words(unquoted_text(row.body_text or "")))
            self._own[row.id] = found
        return found

    def _ancestors(self, conn: Connection, row: Row[Any]) -> list[Row[Any]]:
        """The messages this one answers, as far as its headers name them, oldest first."""
        wanted = parent_ids(row)[:MAX_ANCESTORS]
        if not wanted:
            return []
        q = select(*_COLUMNS).where(s.messages.c.list_id == row.list_id,
                                    s.messages.c.message_id.in_(wanted),
                                    s.messages.c.id != row.id)
        return sorted(conn.execute(q), key=lambda r: (r.sort_date, r.id))

    def _quotes(self, conn: Connection, row: Row[Any]) -> list[links.Link]:
        passages = [q for q in find_quotes(row.body_text) if not is_code_prompt(q)]
        if not passages:
            return []
        ancestors = self._ancestors(conn, row)
        out = []
        for q in passages:
            words = normalize_words(passage_text(q.text, q.kind))
            if len(words) < MIN_WORDS:
                continue
            mine = shingles(words)
            origin = next((a for a in ancestors
                           if containment(mine, self._own_shingles(a)) >= CONTAINED), None)
            if origin is None:
                origin = self._searched(conn, row, words, mine)
            detail = {"lines": [q.start_line, q.end_line], "depth": q.depth,
                      "excerpt": " ".join(words[:40])}
            if origin is None:
                out.append(links.Link(row.id, "quote", None, "none", detail=detail))
            else:
                out.append(links.Link(row.id, "quote", origin.id, detail=detail))
        return out

    def _searched(self, conn: Connection, row: Row[Any], words: list[str],
                  mine: set[tuple[str, ...]]) -> Row[Any] | None:
        """The earliest earlier message anywhere whose own words hold the passage, found
        through the search index by a phrase of it."""
        from moot.core.query import QueryError

        run = max((words[i:i + 8] for i in range(0, max(1, len(words) - 7), 4)),
                  key=lambda ws: sum(len(w) for w in ws))
        phrase = " ".join(w for w in run if w.isalnum())
        if len(phrase.split()) < 4:
            return None
        try:
            hits = self.moot.search.search(f'"{phrase}"', list_ids=None, limit=MAX_CANDIDATES)
        except QueryError:
            return None
        ids = [h.message_id for h in hits.hits]
        if not ids:
            return None
        # (The date is compared here, not in SQL: with it there, SQLite picks the date index
        # and reads the whole list.)
        q = select(*_COLUMNS).where(s.messages.c.list_id.in_(self._lists),
                                    s.messages.c.message_id.in_(ids),
                                    s.messages.c.id != row.id)
        found = sorted((r for r in conn.execute(q) if r.sort_date < row.sort_date),
                       key=lambda r: (r.sort_date, r.id))
        return next((r for r in found if containment(mine, self._own_shingles(r)) >= CONTAINED),
                    None)

    def _references(self, conn: Connection, row: Row[Any]) -> list[links.Link]:
        out = []
        for ref in find_references(unquoted_text(row.body_text)):
            detail = {"text": ref.text[:300], "start": ref.start, "end": ref.end,
                      "how": ref.kind}
            if ref.message_id:
                targets = self._by_message_id(conn, row, ref.message_id)
            elif ref.kind == "prose" and ref.date is not None:
                targets = self._by_prose(conn, row, ref)
            else:
                # An archive link whose numbers this archive does not keep (pipermail,
                # HyperKitty, MARC...): said so on the page.
                out.append(links.Link(row.id, "reference", None, "none", detail=detail))
                continue
            out.append(_resolved(row.id, "reference", targets, detail))
        return out

    def _by_message_id(self, conn: Connection, row: Row[Any], message_id: str
                       ) -> list[Row[Any]]:
        q = select(*_COLUMNS).where(s.messages.c.list_id.in_(self._lists),
                                    s.messages.c.message_id == message_id,
                                    s.messages.c.id != row.id).order_by(s.messages.c.id)
        found = list(conn.execute(q))
        same = [r for r in found if r.list_id == row.list_id]
        return (same or found)[:1] if found else []

    def _by_prose(self, conn: Connection, row: Row[Any], ref: Reference) -> list[Row[Any]]:
        """Messages of the list written on the day named (a day either side: time zones),
        before the message that names it, whose subject and author fit what is said."""
        assert ref.date is not None
        year, month, day = ref.date
        when = row.date_utc or row.sort_date
        if year is None:
            year = when.year if (month, day) <= (when.month, when.day) else when.year - 1
        try:
            day_start = datetime(year, month, day)
        except ValueError:
            return []
        m = s.messages.c
        q = select(*_COLUMNS).where(m.list_id == row.list_id, m.id != row.id,
                                    m.sort_date >= day_start - timedelta(days=1),
                                    m.sort_date < day_start + timedelta(days=2),
                                    m.sort_date < when + timedelta(hours=1))
        found = list(conn.execute(q.order_by(m.sort_date, m.id).limit(500)))
        if ref.subject:
            wanted = set(normalize_words(ref.subject)) - {"re", "fwd", "fw"}
            found = [r for r in found
                     if wanted and wanted <= set(normalize_words(r.subject or ""))]
        if ref.author:
            names = {w for w in normalize_words(ref.author) if len(w) > 2}
            found = [r for r in found
                     if names & set(normalize_words(f"{r.from_name} {r.from_addr}"))]
        elif ref.pronoun == "I":
            found = [r for r in found if r.from_addr == row.from_addr]
        # A thread's replies carry its subject: the first of each subject is the one meant.
        firsts: dict[str, Row[Any]] = {}
        for r in found:
            firsts.setdefault(" ".join(normalize_words(r.subject or "")), r)
        return list(firsts.values()) if ref.subject else found

    # -- many messages -----------------------------------------------------------------------

    def relink(self, list_id: int | None = None, *, after: int = 0,
               progress: Callable[[int, int], None] | None = None, batch: int = 200,
               limit: int | None = None) -> int:
        """(Re)make the links of every message of a list (or of all lists) numbered above
        ``after`` (at most about ``limit`` of them); returns how many were linked."""
        m = s.messages.c
        scope = [m.list_id == list_id] if list_id is not None else []
        with self.moot.engine.connect() as conn:
            # Every look-up by Message-ID names the lists, so it uses the (list, Message-ID)
            # index instead of reading the whole table; read afresh each run (lists come and go
            # while a server runs).
            self._lists = list(conn.execute(select(s.mailing_lists.c.id)).scalars())
            total = int(conn.execute(select(func.count()).select_from(s.messages)
                                     .where(m.id > after, *scope)).scalar_one())
        done, last = 0, after
        while True:
            with self.moot.engine.begin() as conn:
                rows = list(conn.execute(select(*_COLUMNS).where(m.id > last, *scope)
                                         .order_by(m.id).limit(batch)))
                for row in rows:
                    links.replace(conn, row.list_id, row.id, self.links_for(conn, row))
                if rows and list_id is None:  # every list: the incremental step's mark
                    _set_through(conn, rows[-1].id)
            if rows:
                last = rows[-1].id
            done += len(rows)
            if progress:
                progress(done, total)
            if len(rows) < batch or (limit is not None and done >= limit):
                return done

    def relink_messages(self, message_ids: Iterable[str]) -> int:
        """(Re)make the links of the messages with these Message-IDs, on every list (for
        checking a change against the labelled set without relinking a whole archive)."""
        wanted = sorted(set(message_ids))
        done = 0
        with self.moot.engine.connect() as conn:
            self._lists = list(conn.execute(select(s.mailing_lists.c.id)).scalars())
        for i in range(0, len(wanted), 200):
            with self.moot.engine.begin() as conn:
                rows = list(conn.execute(select(*_COLUMNS).where(
                    s.messages.c.message_id.in_(wanted[i:i + 200]))))
                for row in rows:
                    links.replace(conn, row.list_id, row.id, self.links_for(conn, row))
                done += len(rows)
        return done

    def catch_up(self, limit: int | None = None) -> int:
        """Link the messages archived since the last time (the incremental step after an
        import and, in `moot serve`, after new posts, ``limit`` at a time so that the other
        housekeeping is not held up by an archive that was never linked)."""
        with self.moot.engine.connect() as conn:
            through = _through(conn)
        return self.relink(after=through, limit=limit)


_THROUGH = "linked-through"


def _through(conn: Connection) -> int:
    value = conn.execute(select(s.site.c.value).where(s.site.c.name == _THROUGH)).scalar()
    return int(bytes(value).decode("ascii")) if value is not None else 0


def _set_through(conn: Connection, message_pk: int) -> None:
    value = str(message_pk).encode("ascii")
    if conn.execute(update(s.site).where(s.site.c.name == _THROUGH)
                    .values(value=value)).rowcount == 0:
        from sqlalchemy import insert

        conn.execute(insert(s.site), {"name": _THROUGH, "value": value})


def _resolved(source_pk: int, kind: str, targets: Iterable[Row[Any]],
              detail: dict[str, Any]) -> links.Link:
    found = list(targets)
    if len(found) == 1:
        return links.Link(source_pk, kind, found[0].id, detail=detail)
    if not found:
        return links.Link(source_pk, kind, None, "none", detail=detail)
    return links.Link(source_pk, kind, None, "ambiguous",
                      tuple(r.id for r in found[:MAX_CANDIDATES]), detail=detail)
