"""Pipermail URLs resolved against an imported archive (moot.core.pipermail says how).

The evidence is read from the archive: every message whose own words cite a pipermail URL of a
list moot holds is a citation; for each, the messages of the URL's month that the citing text
fits (a message of its own thread, or one whose subject words stand next to the URL) give the
shifts it supports.  It is gathered once per list and kept for ``REFRESH`` seconds: a linker
lives as long as its process, and new citations change the picture only slowly.

Archives imported before moot kept import positions (migration 0011) have no month files on
record: their pipermail URLs stay unresolved (``none``) until they are imported again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from moot.core.message import base_subject
from moot.core.pipermail import Calibration, Evidence, starts
from moot.core.quotes import normalize_words, unquoted_text
from moot.core.references import Reference, find_references
from moot.storage import positions
from moot.storage import schema as s

REFRESH = 600.0  # seconds the gathered evidence is trusted
WINDOW = 300  # characters either side of a URL read for the subject it names
MAX_CANDIDATES = 10
_LATER = timedelta(hours=1)  # a cited message is older than the citation (clock skew aside)
_IGNORED_WORDS = {"re", "fwd", "fw", "rd", "the", "and", "for", "with", "from", "not", "are",
                  "was", "has", "have", "how", "what", "why", "when", "does", "can", "into",
                  "about", "this", "that", "bug", "question", "problem", "devel", "help"}


@dataclass(frozen=True)
class _Msg:
    pk: int
    thread_id: int
    sort_date: datetime
    words: frozenset[str]  # the significant words of its subject


@dataclass
class _ListState:
    list_id: int
    sizes: dict[str, int]
    starts: dict[str, int]
    months: dict[str, dict[int, _Msg]] = field(default_factory=dict)
    calibration: Calibration | None = None


@dataclass(frozen=True)
class Resolution:
    """What a pipermail URL names: ``status`` "found" (one message), "ambiguous" (the
    candidates) or "none"; ``why`` says which, for the link's detail."""

    status: str
    targets: tuple[int, ...]
    why: str


def subject_words(subject: str) -> frozenset[str]:
    """The words of a subject that can tell one thread from another.

    >>> sorted(subject_words("Re: [Rd] The unary-operator question"))
    ['operator', 'unary']
    """
    return frozenset(w for w in normalize_words(base_subject(subject).replace("-", " "))
                     if len(w) > 2 and w not in _IGNORED_WORDS)


def fits(msg: _Msg, citing: Row[Any], window: frozenset[str]) -> bool:
    """Whether the citing message could mean ``msg``: an older message of its own thread, or
    one whose subject words (two at least) mostly stand next to the URL."""
    if msg.pk == citing.id or msg.sort_date > citing.sort_date + _LATER:
        return False
    if msg.thread_id == citing.thread_id:
        return True
    return len(msg.words) >= 2 and len(msg.words & window) >= 0.75 * len(msg.words)


class PipermailResolver:
    """Resolves pipermail URLs for one linker (one per process)."""

    def __init__(self) -> None:
        self._states: dict[int, _ListState] = {}
        self._citations: dict[int, list[tuple[Row[Any], Reference, frozenset[str]]]] | None \
            = None
        self._list_of: dict[str, list[int]] = {}
        self._read_at = -REFRESH

    def resolve(self, conn: Connection, row: Row[Any], ref: Reference, text: str
                ) -> Resolution:
        """What ``ref`` (a pipermail URL in ``text``, the own words of ``row``) names."""
        self._fresh(conn)
        if ref.pipermail is None or not ref.list_hint:
            return Resolution("none", (), "not a month's article")
        list_id = self._list(ref.list_hint, row.list_id)
        if list_id is None:
            return Resolution("none", (), "a list this archive does not hold")
        state = self._state(conn, list_id)
        year, month, number = ref.pipermail
        period = f"{year:04d}-{month:02d}"
        if period not in state.sizes:
            return Resolution("none", (), "the month was not imported from pipermail files")
        own = self._shifts(conn, state, period, number, row, _window(text, ref))
        assert state.calibration is not None
        shift = state.calibration.shift(number, period)
        by_shift = self._targets(conn, state, period, number, own)
        if shift is None:
            if own:
                return Resolution("ambiguous", tuple(by_shift.values())[:MAX_CANDIDATES],
                                  "the archive's citations do not settle the number")
            return Resolution("none", (), "no citation around the number settles it")
        month_msgs = self._month(conn, state, period)
        target = month_msgs.get(number + shift - state.starts[period])
        if target is None:
            return Resolution("ambiguous" if own else "none",
                              tuple(by_shift.values())[:MAX_CANDIDATES],
                              "the number falls outside its month")
        if own and shift not in own and not state.calibration.bracketed(number):
            # Settled by its month's citations alone, the shift yields to the words around
            # this URL when they point elsewhere.  (Citations on both sides outweigh them:
            # those words often fit a neighbour of the month by chance.)
            nearest = sorted(own, key=lambda d: abs(d - shift))
            return Resolution("ambiguous", (target.pk, *(by_shift[d] for d in nearest))
                              [:MAX_CANDIDATES],
                              "the words around the URL fit another message of the month")
        return Resolution("found", (target.pk,), "calibrated")

    # -- evidence ----------------------------------------------------------------------------

    def _fresh(self, conn: Connection) -> None:
        if time.monotonic() - self._read_at < REFRESH:
            return
        self._states.clear()
        self._citations = None
        self._list_of.clear()
        for pk, address in conn.execute(select(s.mailing_lists.c.id,
                                               s.mailing_lists.c.address)):
            self._list_of.setdefault(address.split("@")[0].lower(), []).append(int(pk))
        self._read_at = time.monotonic()

    def _cited(self, conn: Connection, list_id: int
               ) -> list[tuple[Row[Any], Reference, frozenset[str]]]:
        """The citations of a list's pipermail URLs: a scan of every body, once in a while
        and only for an archive that has month files on record."""
        if self._citations is not None:
            return self._citations.get(list_id, [])
        self._citations = {}
        m = s.messages.c
        q = select(m.id, m.list_id, m.thread_id, m.sort_date, m.body_text).where(
            m.body_text.like("%/pipermail/%"), m.removed_kind.is_(None))
        for citing in conn.execute(q):
            text = unquoted_text(citing.body_text)
            for ref in find_references(text):
                if ref.archive != "pipermail" or ref.pipermail is None or not ref.list_hint:
                    continue
                cited = self._list(ref.list_hint, citing.list_id)
                if cited is not None:
                    self._citations.setdefault(cited, []).append(
                        (citing, ref, _window(text, ref, paragraph=False)))
        return self._citations.get(list_id, [])

    def _list(self, hint: str, own_list: int) -> int | None:
        ids = self._list_of.get(hint.lower(), [])
        if own_list in ids:
            return own_list
        return ids[0] if len(ids) == 1 else None

    def _state(self, conn: Connection, list_id: int) -> _ListState:
        state = self._states.get(list_id)
        if state is None:
            sizes = positions.periods(conn, list_id)
            state = _ListState(list_id, sizes, starts(sizes))
            self._states[list_id] = state
            evidence = []
            for citing, ref, window in (self._cited(conn, list_id) if sizes else []):
                assert ref.pipermail is not None
                year, month, number = ref.pipermail
                period = f"{year:04d}-{month:02d}"
                if period in sizes:
                    evidence.append(Evidence(number, period, frozenset(
                        self._shifts(conn, state, period, number, citing, window)), citing.id))
            state.calibration = Calibration(evidence)
        return state

    def _month(self, conn: Connection, state: _ListState, period: str) -> dict[int, _Msg]:
        """A month's messages by position (a repeated copy names the message stored once)."""
        found = state.months.get(period)
        if found is None:
            at = positions.month(conn, state.list_id, period)
            m = s.messages.c
            info: dict[int, _Msg] = {}
            pks = sorted(set(at.values()))
            for i in range(0, len(pks), 500):
                for r in conn.execute(select(m.id, m.thread_id, m.sort_date, m.subject)
                                      .where(m.id.in_(pks[i:i + 500]))):
                    info[r.id] = _Msg(r.id, r.thread_id, r.sort_date, subject_words(r.subject))
            found = {p: info[pk] for p, pk in at.items() if pk in info}
            state.months[period] = found
        return found

    def _shifts(self, conn: Connection, state: _ListState, period: str, number: int,
                citing: Row[Any], window: frozenset[str]) -> set[int]:
        start = state.starts[period]
        return {start + p - number for p, msg in self._month(conn, state, period).items()
                if fits(msg, citing, window)}

    def _targets(self, conn: Connection, state: _ListState, period: str, number: int,
                 shifts: Iterable[int]) -> dict[int, int]:
        month = self._month(conn, state, period)
        start = state.starts[period]
        out: dict[int, int] = {}
        for d in sorted(shifts):
            msg = month.get(number + d - start)
            if msg is not None and msg.pk not in out.values():
                out[d] = msg.pk
        return out


def _window(text: str, ref: Reference, *, paragraph: bool = True) -> frozenset[str]:
    r"""The words next to a URL, where a writer says what the link is about, at most
    ``WINDOW`` characters either side, other URLs left out.  With ``paragraph``, only its
    paragraph, or the paragraph before when the URL opens its own ("I reported it here:
    \n\n URL"): what this one URL is about.  Without, everything in reach: more words, and
    more chance fits, for the calibration, where chance fits scatter and are outvoted.

    >>> text = "Old news.\n\nBudget review:\n\n http://x/1 \n\nOther."
    >>> sorted(_window(text, Reference("url", "http://x/1", 28, 38)))
    ['budget', 'review', 'review:']
    >>> "news" in _window(text, Reference("url", "http://x/1", 28, 38), paragraph=False)
    True
    """
    before = text[max(0, ref.start - WINDOW):ref.start]
    after = text[ref.end:ref.end + WINDOW]
    if paragraph:
        pieces = _PARAGRAPH.split(before)
        while len(pieces) > 1 and not pieces[-1].strip():
            pieces.pop()
        before, after = pieces[-1], _PARAGRAPH.split(after, maxsplit=1)[0]
    near = _LINK.sub(" ", before + " " + after).replace("-", " ")
    return frozenset(near.lower().split()) | frozenset(normalize_words(near))


_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_LINK = re.compile(r"https?://\S+")
