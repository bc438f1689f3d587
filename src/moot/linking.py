"""Linking: each archived message's quotes and prose references resolved to the messages they
point at, and kept in the ``links`` table (moot.storage.links) for the pages and the API.

Quotes (moot.core.quotes): a ``>`` passage or a top-posted original is matched, by word
shingles, against the own words (quotes, signatures and footers removed) of the messages it
answers -- the nearest ancestors in the thread first -- then, when none holds it, against what
the search index finds for a phrase of it.  The message where the words were first written is
the target, which for a ``>>`` passage is not the direct parent.  Console transcripts (``>``
prompts of R, Python, shells) are never linked.  A passage found nowhere is kept as
``status = none``: the page says it quotes a message that is not in the archive.  Outlook
chains are opened layer by layer (moot.core.quotes.all_quotes), each linked to its writer; a
passage whose parent the archive keeps only as a scrubbed attachment goes to that parent when
the attribution names its author; words of a patch someone else sent on (a "From:" line naming
another author: backports, resends) go to its first posting when the index finds it.  Runs of
twelve or more words an ancestor wrote, repeated without markers, are quotes too
(``"unmarked": true``, moot.core.unmarked) -- unless the message is mostly that ancestor's
letter again, a patch, or the writer's own words.

References (moot.core.references): a Message-ID (written out, or in a public-inbox, lore or
moot URL, or on an attribution line: "you wrote in message <ID>:") is looked up everywhere; a
HyperKitty URL by the hash of the Message-ID (``messages.hyperkitty_id``); a pipermail URL's
article number by the month file position the importer kept, calibrated on the archive's own
citations (moot.pipermail); a reference in prose ("in a post he made on December 22
('Peru-MRTA seeks only dialogue')", "my posting yesterday", "my previous post on S3 method
despatch") is matched on the list by the time it names (a day in any zone; "yesterday" in the
writer's zone when the Date header gives it; "last week"; "previous" = the latest before), its
author ("my" = the sender, "you" = the author of the message answered, a name), and, when
given, its subject words, topic words (in the subject, else the text) and clock time; one fit
is ``found``, several ``ambiguous`` (the candidates are kept; of several, the only one of the
thread or closest in subject wins), none ``none``.  A lone fit for only who and "yesterday",
on another subject and thread, stays a candidate: it may have been said elsewhere.

Republications (moot.republication, moot.core.republication): every message is sketched
(MinHash) before any is linked; a message that is the same letter as earlier ones -- re-sent,
cross-posted, forwarded, reprinted after a note -- is linked to the first of them, the original.

What it won't do yet: "yesterday" in the writer's zone when the Date header has none
(pipermail's text archives); references with a subject and no time ("This continues the
message 'X'" without a day).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_tz
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection

from moot import republication
from moot.app import Moot
from moot.core.quotes import (
    Quote,
    all_quotes,
    is_code_prompt,
    normalize_words,
    rejoin_wrapped,
    unquoted_text,
)
from moot.core.references import Reference, find_message_ids, find_references, topic_words
from moot.core.republication import Letter, compare, letter
from moot.core.unmarked import MIN_RUN as UNMARKED_RUN
from moot.core.unmarked import mostly_copied, shared_runs
from moot.pipermail import PipermailResolver
from moot.reading import parent_ids
from moot.storage import links, site
from moot.storage import schema as s

log = logging.getLogger("moot.linking")

SHINGLE = 4  # words in a shingle
MIN_WORDS = 6  # a passage shorter than this is too common to say where it comes from
# Outside the thread a passage must be longer: a short one found in some other message is
# as likely a sentence both copied from elsewhere (an error message R prints, say).
MIN_SEARCHED = 12
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
ORIGINAL_WORDS = 60  # an original block is matched by its opening words (the rest is history)
_SIGNATURE = re.compile(r"^-- ?$")


def passage_text(text: str, kind: str) -> str:
    r"""The words of a quoted passage that someone wrote: without the attribution lines of the
    quotes nested in it ("On ..., Ada wrote:") or the signature it ends with (the writer's own
    words leave these out too), and, for a top-posted original, only its own words (its
    ``>`` quotes and the older original it carries are passages of their own), without
    header lines and past its opening words.

    >>> passage_text("Ada wrote:\nYes, the hall.\n-- \nAda Quill, Hall Committee", "marked")
    'Yes, the hall.'
    >>> passage_text("From: Ada\nSent: Monday\nSubject: Hall\n\nThe hall is booked.", "original")
    'The hall is booked.'
    """
    head = text.split("\n")
    while head and _HEADER.match(head[0].strip()):  # an original's header, a patch's "From:"
        head.pop(0)
    text = "\n".join(head)
    if kind == "original":
        text = unquoted_text(rejoin_wrapped(text))
    lines = []
    for line in text.split("\n"):
        if _SIGNATURE.match(line):
            break
        if not _SAYS.search(line):
            lines.append(line)
    if kind == "original":
        lines = [x for x in lines if not _HEADER.match(x.strip())]
        kept: list[str] = []
        count = 0
        for line in lines:
            if line.lstrip().startswith(">"):
                continue  # an empty quote line that unquoted_text kept
            kept.append(line)
            count += len(normalize_words(line))
            if count >= ORIGINAL_WORDS:
                break
        lines = kept
    return "\n".join(lines).strip()


class Linker:
    """Finds and keeps the links of messages; one per process, like the search index."""

    def __init__(self, moot: Moot) -> None:
        self.moot = moot
        self._own: dict[int, set[tuple[str, ...]]] = {}
        self._letters: dict[int, Letter] = {}  # for republications, by message
        self._lists: list[int] = []
        self._pipermail = PipermailResolver()

    # -- one message -------------------------------------------------------------------------

    def links_for(self, conn: Connection, row: Row[Any]) -> list[links.Link]:
        """The links of one message (not stored)."""
        if row.removed_kind == "deleted" or not row.body_text:
            return []
        return (self._quotes(conn, row) + self._references(conn, row)
                + self._republications(conn, row))

    def _letter(self, row: Row[Any]) -> Letter:
        found = self._letters.get(row.id)
        if found is None:
            if len(self._letters) > 2000:
                self._letters.clear()
            found = self._letters[row.id] = letter(row.body_text or "", row.subject or "")
        return found

    def _republications(self, conn: Connection, row: Row[Any]) -> list[links.Link]:
        """The earliest earlier message that is this same letter (the original), if any."""
        later = self._letter(row)
        mine = republication.sketch_from(later)
        if mine is None:
            return []
        pks = republication.candidates(conn, row.id, mine)
        if not pks:
            return []
        q = select(*_COLUMNS).where(s.messages.c.id.in_(pks))
        earlier = sorted((r for r in conn.execute(q)
                          if (r.sort_date, r.id) < (row.sort_date, row.id)
                          and r.message_id != row.message_id and r.removed_kind != "deleted"
                          and r.list_id in self._lists),
                         key=lambda r: (r.sort_date, r.id))
        if not earlier:
            return []
        answered = set(parent_ids(row))
        for r in earlier:  # the first that holds the same letter is the original
            verdict = compare(later, self._letter(r),
                              answers=r.message_id in answered,
                              same_author=(r.from_addr == row.from_addr
                                           and r.list_id == row.list_id))
            if verdict.same:
                return [links.Link(row.id, "republication", r.id, detail={
                    "how": verdict.reason, "contained": verdict.contained,
                    "note_words": verdict.note_words})]
        return []

    def _own_shingles(self, row: Row[Any]) -> set[tuple[str, ...]]:
        found = self._own.get(row.id)
        if found is None:
            if len(self._own) > 5000:
                self._own.clear()
            body = row.body_text or ""
            found = shingles(normalize_words(unquoted_text(body, all_quotes(body))))
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
        found = all_quotes(row.body_text)
        passages = [q for q in found if not is_code_prompt(q)]
        if not passages and not (row.in_reply_to or row.references):
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
            if origin is None and q.kind == "original":
                # A top-posted original runs to the end of the message, and some writers
                # answer below it: the original may be only its opening words.
                origin = next((a for a in ancestors
                               if _opens_with(words, self._own_shingles(a))), None)
            if origin is None:
                origin = self._searched(conn, row, words, mine)
                if origin is None:
                    origin = _scrubbed_writer(q, ancestors, row)
            elif _relayed(origin):
                # A patch sent on by someone else (a backport, a maintainer's resend): the
                # words were first written where its author sent it, if the archive has that.
                earlier = self._searched(conn, origin, words, mine)
                origin = earlier or origin
            detail = {"lines": [q.start_line, q.end_line], "depth": q.depth,
                      "excerpt": " ".join(words[:40])}
            if origin is None:
                out.append(links.Link(row.id, "quote", None, "none", detail=detail))
            else:
                out.append(links.Link(row.id, "quote", origin.id, detail=detail))
        return out + self._unmarked(row, ancestors, found)

    def _unmarked(self, row: Row[Any], ancestors: Sequence[Row[Any]],
                  found: list[Quote]) -> list[links.Link]:
        """Runs of an ancestor's own words repeated in this message's own words without
        markers (moot.core.unmarked): linked to the oldest ancestor holding the run, unless
        it is the writer's own mail, or this message is mostly a copy of it (a republication,
        not a quote).  Patches are left out: a new version repeats the old one's code."""
        own = unquoted_text(row.body_text or "", found)
        words = normalize_words(own)
        mine = shingles(words)
        self._own.setdefault(row.id, mine)  # later replies compare against it
        if len(words) < UNMARKED_RUN or not ancestors or _PATCH.search(own):
            return []
        others = [a for a in ancestors if not _same_author(a, row)]
        held = [self._own_shingles(a) for a in others]
        if not any(mine & h for h in held):
            return []
        if any(mostly_copied(mine, h) for h in held):
            return []
        out = []
        union = set().union(*held)
        for start, end in shared_runs(words, union, min_words=UNMARKED_RUN):
            if _BOILERPLATE.search(" ".join(words[start:end])):
                continue  # a list footer both carry
            run = shingles(words[start:end])
            origin = next((a for a, h in zip(others, held, strict=True)
                           if containment(run, h) >= CONTAINED), None)
            if origin is None:
                continue
            detail = {"lines": _line_span(row.body_text or "", words[start:end]), "depth": 0,
                      "excerpt": " ".join(words[start:end][:40]), "unmarked": True}
            out.append(links.Link(row.id, "quote", origin.id, detail=detail))
        return out

    def _searched(self, conn: Connection, row: Row[Any], words: list[str],
                  mine: set[tuple[str, ...]]) -> Row[Any] | None:
        """The earliest earlier message anywhere whose own words hold the passage, found
        through the search index by a phrase of it."""
        from moot.core.query import QueryError

        if len(words) < MIN_SEARCHED:
            return None
        # The longest run of eight words, preferring words without digits (hashes, version
        # numbers and dates are what a copy adds or changes).
        run = max((words[i:i + 8] for i in range(0, max(1, len(words) - 7), 4)),
                  key=lambda ws: (all(w.isalpha() for w in ws), sum(len(w) for w in ws)))
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
        text = unquoted_text(row.body_text)
        for ref in find_references(text) + _attributed(row.body_text, text):
            detail = {"text": ref.text[:300], "start": ref.start, "end": ref.end,
                      "how": ref.kind}
            if ref.message_id:
                targets = self._by_message_id(conn, row, ref.message_id)
            elif ref.kind == "prose" and _prose_window(ref, row.date_utc or row.sort_date):
                targets = self._by_prose(conn, row, ref)
                if len(targets) == 1 and not _sure(ref, row, targets[0]):
                    # "Dirk reported yesterday": his one post of that day, on something else,
                    # may not be what is meant (he may have said it elsewhere): a candidate.
                    out.append(links.Link(row.id, "reference", None, "ambiguous",
                                          (targets[0].id,), detail=detail))
                    continue
            elif ref.hyperkitty_id:
                targets = self._by_hyperkitty(conn, row, ref)
            elif ref.archive == "pipermail":
                found = self._pipermail.resolve(conn, row, ref, text)
                detail["why"] = found.why
                out.append(links.Link(row.id, "reference",
                                      found.targets[0] if found.status == "found" else None,
                                      found.status,
                                      found.targets if found.status == "ambiguous" else (),
                                      detail=detail))
                continue
            else:
                # An archive link whose numbers this archive does not keep (MARC, Gmane,
                # mail-archive.com...): said so on the page.
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

    def _by_hyperkitty(self, conn: Connection, row: Row[Any], ref: Reference
                       ) -> list[Row[Any]]:
        """The message whose Message-ID hashes to a HyperKitty URL's id: on the list the URL
        names when moot holds it, else on the citing message's list, else anywhere."""
        q = select(*_COLUMNS, s.mailing_lists.c.address).join(
            s.mailing_lists, s.mailing_lists.c.id == s.messages.c.list_id).where(
            s.messages.c.list_id.in_(self._lists),
            s.messages.c.hyperkitty_id == ref.hyperkitty_id,
            s.messages.c.id != row.id).order_by(s.messages.c.id)
        found = list(conn.execute(q))
        hint = (ref.list_hint or "").lower()
        named = [r for r in found if hint and hint in (r.address, r.address.split("@")[0])]
        same = [r for r in found if r.list_id == row.list_id]
        return (named or same or found)[:1]

    def _by_prose(self, conn: Connection, row: Row[Any], ref: Reference) -> list[Row[Any]]:
        """Messages of the list, before the one that names them, written in the time the words
        give (a day named, "yesterday", "last week", "my previous post"), by the author they
        name, whose subject, topic and time fit what is said.  One indexed query (list and
        date range, the author's address when known) and at most one more (the author of the
        message answered, for "you")."""
        when = row.date_utc or row.sort_date
        window = _prose_window(ref, when)
        if window is None:
            return []
        m = s.messages.c
        if ref.date is None and ref.relative and ref.relative[0] in ("days", "weekday"):
            # "Yesterday" is a day of the writer's calendar: where the Date header gives the
            # zone, that day and no other.
            raw = conn.execute(select(m.date_raw).where(m.id == row.id)).scalar()
            window = _local_days(ref, when, raw or "") or window
        q = select(*_COLUMNS).where(m.list_id == row.list_id, m.id != row.id,
                                    m.sort_date >= window[0], m.sort_date < window[1])
        address = self._prose_author(conn, row, ref)
        if address:
            q = q.where(m.from_addr == address)
        elif ref.author:
            longest = max(ref.author.split(), key=len).lower().strip(".")
            q = q.where(func.lower(func.coalesce(m.from_name, "") + " "
                                   + func.coalesce(m.from_addr, "")).contains(longest))
        found = list(conn.execute(q.order_by(m.sort_date.desc(), m.id.desc()).limit(500)))
        if ref.subject:
            wanted = set(normalize_words(ref.subject)) - {"re", "fwd", "fw"}
            found = [r for r in found
                     if wanted and wanted <= set(normalize_words(r.subject or ""))]
        if ref.same_subject:
            mine = _subject_key(row.subject)
            found = [r for r in found if _subject_key(r.subject) == mine]
        if ref.author:
            names = {w for w in normalize_words(ref.author) if len(w) > 1}
            found = [r for r in found
                     if names & set(normalize_words(f"{r.from_name} {r.from_addr}"))]
        if ref.time:
            # The clock of the writer's zone: the minutes tell, the hour may be hours off.
            found = [r for r in found
                     if min((r.sort_date.minute - ref.time[1]) % 60,
                            (ref.time[1] - r.sort_date.minute) % 60) <= 3]
        if ref.topic:
            found = _on_topic(found, topic_words(ref.topic))
        found.sort(key=lambda r: (r.sort_date, r.id))
        if ref.subject:
            # A thread's replies carry its subject: the first of each subject is the one meant.
            firsts: dict[str, Row[Any]] = {}
            for r in found:
                firsts.setdefault(" ".join(normalize_words(r.subject or "")), r)
            return list(firsts.values())
        if len(found) > 1 and ref.relative == ("previous", 0):
            return found[-1:]  # "my previous post (on ...)": the latest that fits
        if len(found) > 1 and not (ref.topic or ref.time):
            return _closest(found, row)
        return found

    def _prose_author(self, conn: Connection, row: Row[Any], ref: Reference) -> str | None:
        """The address of the author a prose reference names by pronoun: "my" is the sender,
        "you" the author of the message answered (None when unknown)."""
        if ref.author:
            return None
        if ref.pronoun == "I":
            return row.from_addr or None
        if ref.pronoun == "you":
            answered = parent_ids(row)[-1:]
            if answered:
                q = select(s.messages.c.from_addr).where(s.messages.c.list_id == row.list_id,
                                                         s.messages.c.message_id == answered[0])
                return conn.execute(q).scalar() or None
        return None

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
        # Every message is sketched before any is linked: the original of a letter must be
        # findable when its copy is linked.
        republication.catch_up(self.moot.engine)
        with self.moot.engine.connect() as conn:
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
        republication.catch_up(self.moot.engine)
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
    return site.mark(conn, _THROUGH)


def _set_through(conn: Connection, message_pk: int) -> None:
    site.set_mark(conn, _THROUGH, message_pk)


_BOILERPLATE = re.compile(r"mailing list|listinfo|mailman|unsubscribe|posting guide")
_PATCH = re.compile(r"(?m)^(?:diff --git |--- \S|\+\+\+ \S|@@ -\d|Index: \S)")


def _line_span(body: str, run: Sequence[str]) -> list[int]:
    """The lines ``[first, last + 1)`` of ``body`` where a run of its normalized words
    stands (``[0, 0]`` when it can't be placed)."""
    where: list[int] = []
    stream: list[str] = []
    for i, line in enumerate(body.splitlines()):
        found = normalize_words(line)
        stream.extend(found)
        where.extend([i] * len(found))
    head, tail = list(run[:SHINGLE]), list(run[-SHINGLE:])
    k = len(head)
    for i in range(len(stream) - k + 1):
        if stream[i:i + k] == head:
            for j in range(i + len(run) - k, len(stream) - k + 1):
                if stream[j:j + k] == tail:
                    return [where[i], where[j + k - 1] + 1]
            break
    return [0, 0]


def _opens_with(words: Sequence[str], own: set[tuple[str, ...]]) -> bool:
    """The passage's opening words, as many as the other message's own, are mostly those.

    >>> own = shingles("the large hall is booked for friday from nine until noon".split())
    >>> _opens_with("the large hall is booked for friday from nine until noon why".split(), own)
    True
    >>> _opens_with("ok but why the large hall is booked for friday from nine".split(), own)
    False
    """
    n = len(own) + SHINGLE - 1
    if len(own) < 2 * SHINGLE or len(words) <= n:
        return False
    return containment(shingles(words[:n]), own) >= CONTAINED


def _same_author(a: Row[Any], b: Row[Any]) -> bool:
    """The same sender, by address or, where an archive hides addresses, by name."""
    if a.from_addr and a.from_addr == b.from_addr:
        return True
    name = " ".join(normalize_words(a.from_name or ""))
    return bool(name) and name == " ".join(normalize_words(b.from_name or ""))


_SCRUBBED = re.compile(r"(?:attachment|text) was scrubbed", re.IGNORECASE)
_RELAYED = re.compile(r"\A\s*From:\s*(.+)$", re.MULTILINE)


def _relayed(row: Row[Any]) -> bool:
    """The message opens with a "From:" line naming someone other than its sender: it passes
    on what that person wrote (git send-email puts the author there)."""
    m = _RELAYED.match(row.body_text or "")
    if not m:
        return False
    author = m.group(1).lower()
    sender = (row.from_addr or "").lower()
    return bool(sender) and sender not in author


def _scrubbed_writer(quote: Quote, ancestors: Sequence[Row[Any]],
                     row: Row[Any]) -> Row[Any] | None:
    """The message a passage quotes when the archive has lost its text: the nearest ancestor
    whose words the archive only keeps as a scrubbed attachment ("An HTML attachment was
    scrubbed...") and whose author the passage's attribution names.  Nothing when the
    attribution names no one, or someone else."""
    said = quote.attribution
    if said is None or not (said.name or said.address):
        return None
    name = {w for w in normalize_words(said.name) if len(w) > 1}
    order = {mid: i for i, mid in enumerate(parent_ids(row))}
    for a in sorted(ancestors, key=lambda r: order.get(r.message_id, len(order))):
        if not _SCRUBBED.search(a.body_text or ""):
            continue
        if said.address and said.address == (a.from_addr or "").lower():
            return a
        author = set(normalize_words(f"{a.from_name} {a.from_addr}"))
        if name and name <= author:
            return a
    return None


_ANGLED_ID = re.compile(r"<[^\s<>@]+@[^\s<>@]+>")
_DAY = timedelta(days=1)
# How far back each unit of a relative date reaches, at the most, as (units back + 1) times:
_SPAN = {"minutes": timedelta(hours=3), "hours": timedelta(hours=1), "days": _DAY,
         "weeks": timedelta(days=7), "months": timedelta(days=31)}
PREVIOUS_DAYS = 60  # "my previous post" looks this far back


def _prose_window(ref: Reference, when: datetime) -> tuple[datetime, datetime] | None:
    """The stretch of time (UTC, start and end) a prose reference's date points into, before
    ``when``, the time of the message that holds it; None when it names no time.  A day named
    is that day in any zone (12 hours either side); "yesterday" the day before in any zone;
    "last week" the fortnight before; "my previous post" some weeks back.

    >>> at = datetime(2010, 8, 23, 23, 0)
    >>> _prose_window(Reference("prose", "", 0, 0, date=(None, 8, 22)), at)[0]
    datetime.datetime(2010, 8, 21, 12, 0)
    >>> [str(t) for t in _prose_window(Reference("prose", "", 0, 0, relative=("days", 1)), at)]
    ['2010-08-21 23:00:00', '2010-08-23 23:00:00']
    """
    end = when + timedelta(minutes=5)
    if ref.date is not None:
        year, month, day = ref.date
        if year is None:
            year = when.year if (month, day) <= (when.month, when.day) else when.year - 1
        try:
            day_start = datetime(year, month, day)
        except ValueError:
            return None
        return (day_start - timedelta(hours=12), min(end, day_start + timedelta(hours=36)))
    if ref.relative is None:
        return (when - _DAY, end) if ref.time is not None else None
    unit, back = ref.relative
    if unit == "previous":
        return (when - timedelta(days=PREVIOUS_DAYS), end)
    if unit == "weekday":
        back = (when.weekday() - back) % 7 or 7
        unit = "days"
    span = _SPAN.get(unit)
    if span is None or unit == "months" and back >= 12:
        return None  # "last year": too wide to tell anything
    if unit in ("minutes", "hours"):
        return (when - (back + 2) * span, end)
    if unit == "days":
        return (when - (back + 1) * span, min(end, when - (back - 1) * span))
    # "last week", "a week ago": not yesterday; "a few weeks ago", "last month": not last week.
    latest = {"weeks": max(1, 7 * back - 5), "months": max(1, 31 * back - 21)}[unit]
    return (when - (back + 1) * span, when - timedelta(days=latest))


def _local_days(ref: Reference, when: datetime, date_raw: str
                ) -> tuple[datetime, datetime] | None:
    """The UTC start and end of the writer's calendar day a relative date names ("yesterday",
    "last Tuesday"), from the zone of the message's Date header; None when it has none.

    >>> ref = Reference("prose", "", 0, 0, relative=("days", 1))
    >>> [str(t) for t in _local_days(ref, datetime(2003, 6, 17, 17, 11),
    ...                              "Tue, 17 Jun 2003 10:11:38 -0700")]
    ['2003-06-16 07:00:00', '2003-06-17 07:00:00']
    >>> _local_days(ref, datetime(2003, 6, 17, 17, 11), "Tue Jun 17 17:11:38 2003") is None
    True
    """
    parsed = parsedate_tz(date_raw)
    if parsed is None or parsed[9] is None or not re.search(r"[+-]\d{4}|\b(?:GMT|UT|UTC|"
                                                             r"[ECMP][SD]T)\b", date_raw):
        return None
    assert ref.relative is not None
    offset = timedelta(seconds=parsed[9])
    local = when + offset
    unit, back = ref.relative
    if unit == "weekday":
        back = (local.weekday() - back) % 7 or 7
    midnight = datetime(local.year, local.month, local.day) - offset  # in UTC
    return (midnight - back * _DAY, min(when + timedelta(minutes=5), midnight - (back - 1) * _DAY))


def _sure(ref: Reference, row: Row[Any], target: Row[Any]) -> bool:
    """Whether the one message that fits a prose reference is surely the one meant: the
    reference names a day, a subject, a topic or a time, or else (only who and "yesterday")
    the message is of the same thread or shares a word of the subject."""
    if ref.date or ref.subject or ref.topic or ref.time or ref.same_subject:
        return True
    if target.thread_id == row.thread_id:
        return True
    return bool(set(topic_words(_subject_key(row.subject)))
                & set(topic_words(_subject_key(target.subject))))


def _closest(found: list[Row[Any]], row: Row[Any]) -> list[Row[Any]]:
    """Of several messages that fit a prose reference ("As I posted on May 20"), the one on
    what the citing message is about, when one stands out: the only one of its thread, else
    the only one sharing most words of its subject (words every candidate has don't count,
    and a single word only when no other candidate shares any); else all of them."""
    in_thread = [r for r in found if r.thread_id == row.thread_id]
    if len(in_thread) == 1:
        return in_thread
    if in_thread:
        return found
    subjects = [set(topic_words(_subject_key(r.subject))) for r in found]
    common = set.intersection(*subjects)
    mine = set(topic_words(_subject_key(row.subject))) - common
    shared = sorted(((len(mine & words), i) for i, words in enumerate(subjects)), reverse=True)
    best, second = shared[0][0], shared[1][0]
    if best > second and (best >= 2 or second == 0):
        return [found[shared[0][1]]]
    return found


def _subject_key(subject: str | None) -> str:
    """A subject without "Re:"/"Fwd:" and list tags, for "my email of this subject".

    >>> _subject_key("Re: [Rd] Re: optim() stops"), _subject_key("[Rd] optim() stops")
    ('optim stops', 'optim stops')
    """
    words = normalize_words(re.sub(r"\[[^\]]*\]", " ", subject or ""))
    while words and words[0] in ("re", "fwd", "fw", "aw", "sv"):
        words = words[1:]
    return " ".join(w for w in words if w not in ("re", "fwd", "fw"))


def _on_topic(found: list[Row[Any]], wanted: list[str]) -> list[Row[Any]]:
    """The messages about a topic ("my post on S3 method despatch"): those whose subject holds
    its words, else those whose own words do (all of them, or all but one of four or more)."""
    if not wanted:
        return found
    need = set(wanted)
    slack = 1 if len(need) >= 4 else 0

    def holds(words: set[str]) -> bool:
        return len(need - words) <= slack

    by_subject = [r for r in found if holds(set(normalize_words(r.subject or "")))]
    if by_subject:
        return by_subject
    return [r for r in found
            if holds(set(normalize_words(r.subject or ""))
                     | set(normalize_words(unquoted_text(r.body_text or ""))))]


def _attributed(body: str, own: str) -> list[Reference]:
    """Message-IDs named on the attribution lines of a body ("you wrote in message <ID>:"):
    the own words leave those lines out with the quotes they open, yet they name the message
    answered.  Lines quoted with ``>`` are someone else's words and stay out."""
    if body == own or not _ANGLED_ID.search(body):
        return []
    named = {r.message_id for r in find_message_ids(own)}
    out = []
    for ref in find_message_ids(body):
        if ref.message_id in named:
            continue
        line = body[body.rfind("\n", 0, ref.start) + 1:ref.start]
        if not line.lstrip().startswith(">"):
            named.add(ref.message_id)
            out.append(ref)
    return out


def _resolved(source_pk: int, kind: str, targets: Iterable[Row[Any]],
              detail: dict[str, Any]) -> links.Link:
    found = list(targets)
    if len(found) == 1:
        return links.Link(source_pk, kind, found[0].id, detail=detail)
    if not found:
        return links.Link(source_pk, kind, None, "none", detail=detail)
    return links.Link(source_pk, kind, None, "ambiguous",
                      tuple(r.id for r in found[:MAX_CANDIDATES]), detail=detail)
