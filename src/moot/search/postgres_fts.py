"""The shared search engine: PostgreSQL full-text search, for a PostgreSQL store.

Why: several worker processes on several machines share one PostgreSQL database, while a
tantivy directory allows one writer on one machine.  The index is a table in that database, so
every worker sees every commit and there is no second store to lock, back up or repair.
docs/search.md has the measurement ('simple' configuration: no stemming, no stop words).

What it does: one row per message in ``search_docs`` (moot.storage.schema) with a tsvector
built in Python: subject at weight A, sender (name and address) at B, body at D.  The words are
cut exactly as the tantivy engine cuts them (:func:`prepare`): folded with
:func:`moot.core.query.fold`, so case and accents behave as in the query parser (no
``unaccent``), each CJK character a word of its own, Unicode words otherwise, punctuation a
separator (so ``from:renesas`` finds ``kuninori@renesas.com``).  Queries are
:class:`~moot.core.query.Query` trees turned into tsquery text made only of those words, each
quoted, sent as a bound parameter and cast to ``tsquery`` (no parser or dictionary runs on it):
``<->`` for phrases, ``:*`` for prefixes, ``!`` for exclusions, ``|`` for OR, ``:A``/``:B`` for
``subject:``/``from:``.  Nothing a reader types ever reaches PostgreSQL as syntax.

Ranking: ``ts_rank_cd`` with weights {D body 0.1, C unused 0.1, B from 0.4, A subject 1.0},
normalised by the log of the document length (flag 1).  The ratios are those measured in
docs/search.md; they are wider than tantivy's 3 : 2 : 1 boosts because ts_rank_cd has no
per-field length normalisation, which is what lifts BM25's short subject field.

Reading a tsvector is what costs (each is stored out of line, compressed): ranking every
match of a common word took over a second at 100,000 messages and would take ten at a million.
So a search is two queries, both planned here rather than left to PostgreSQL's planner, which
counts a tsvector match as nearly free and would read every tsvector of a list to find a rare
word newest first:

1. the count, exact, from the GIN index's bitmap and the table's small rows (no tsvector is
   read, except to check phrases and ``subject:``/``from:`` weights, which the index cannot);
2. the page: at most :data:`RANK_AT_MOST` matches are ranked, the newest of them.  They are
   found through the GIN bitmap, or, when the query matches a large share of one list
   (:data:`WALK_SHARE`: a very common word), by walking that list's messages newest first and
   testing each, which reaches the newest matches after reading a few more tsvectors than it
   keeps.

A query that matches more than :data:`RANK_AT_MOST` messages is ranked among its newest
matches; sorting by date reaches every match.

How far indexing got: ``search_state`` (one row per engine) holds the highest message key
whose indexing was committed.  Every :meth:`PostgresIndex.add` is its own transaction and an
idempotent upsert, so an interrupted import leaves the mark behind the index, never ahead of
it; the next catch-up indexes those messages again, harmlessly.  Several workers may index at
once for the same reason.  Deleting a message deletes its row (ON DELETE CASCADE).

What it won't do: phrase positions stop at 16,383 words into a message (PostgreSQL's limit;
later words are still found, but not as phrases), and a lexeme keeps at most 256 positions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    REAL,
    Engine,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR
from sqlalchemy.dialects.postgresql import insert as pg_insert

from moot.core.query import Clause, Phrase, Query, Term, fold
from moot.search.doc import IndexDoc
from moot.storage import schema as s

ENGINE = "postgres_fts"
# ts_rank_cd's weights, in PostgreSQL's order {D, C, B, A}: body, (unused), from, subject.
RANK_WEIGHTS = [0.1, 0.1, 0.4, 1.0]
RANK_NORMALIZATION = 1  # divide by 1 + log(document length)
FIELD_WEIGHT = {"subject": "A", "from": "B", "body": "D"}
MAX_TOKEN_BYTES = 40  # longer tokens are dropped, as tantivy's remove_long(40) does
MAX_POSITION = 16383  # PostgreSQL clamps positions to this
MAX_POSITIONS_PER_LEXEME = 256  # and keeps at most this many per lexeme
# A tsvector's lexemes and positions must stay under 1 MB: the rarest words beyond are dropped.
MAX_TSVECTOR_BYTES = 1_000_000
# The most matches ranked for one query (the newest ones): ranking reads each one's tsvector.
RANK_AT_MOST = 2_000
# From this share of the messages matching, one list is walked newest first (see above).
WALK_SHARE = 0.25

_CJK = ("\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3041-\u309f"
        "\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
        "\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\U00020000-\U0003134f")
# Letters and digits, as tantivy's simple tokenizer cuts them (so "snd_soc_dai" is three words
# in both engines, and "codec" finds "snd_soc_codec").
_TOKEN = re.compile(rf"[{_CJK}]|[^{_CJK}\W_]+")

docs_t = s.search_docs
state_t = s.search_state


def tokens(text: str) -> list[str]:
    """The words of ``text`` as this engine indexes and searches them.

    Composed (NFC), folded like the query parser (case; accents where that leaves ASCII), cut into
    Unicode words, each CJK character a word of its own, words of 40 bytes or more dropped.

    >>> tokens("Re: [PATCH] ASoC: rsnd — Café kuninori.morimoto.gx@renesas.com")
    ['re', 'patch', 'asoc', 'rsnd', 'cafe', 'kuninori', 'morimoto', 'gx', 'renesas', 'com']
    >>> tokens("我们讨论了数据库 Straße 님이 snd_soc_dai")
    ['我', '们', '讨', '论', '了', '数', '据', '库', 'strasse', '님', '이', 'snd', 'soc', 'dai']
    >>> tokens("a:* | ! & <-> ' \\\\ ) (")
    ['a']
    >>> tokens("x" * 39 + " " + "y" * 40)
    ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']
    """
    folded = fold(unicodedata.normalize("NFC", text))
    # (a word of under 10 characters is under 40 bytes in any script: no need to encode it)
    return [t for t in _TOKEN.findall(folded)
            if len(t) < 10 or len(t.encode()) < MAX_TOKEN_BYTES]


def prepare(text: str) -> str:
    """``text`` as the words this engine indexes, separated by single spaces.

    >>> prepare("ÉCOLE: l'été à Zürich, 东京")
    'ecole l ete a zurich 东 京'
    """
    return " ".join(tokens(text))


def _quote(lexeme: str) -> str:
    """A lexeme as tsvector / tsquery text: quoted, so no character in it is syntax.

    >>> _quote("it's") , _quote("a\\\\b")
    ("'it''s'", "'a\\\\\\\\b'")
    """
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_text(subject: str, sender: str, body: str) -> str:
    """The tsvector of one message, as PostgreSQL's tsvector input text.

    Positions run through the fields in order with a gap between fields, so a phrase never
    spans two of them.

    >>> tsvector_text("Zebra crossing", "Ann <ann@x.org>", "the zebra")
    "'ann':4B,5B 'crossing':2A 'org':7B 'the':9 'x':6B 'zebra':1A,10"
    """
    positions: dict[str, list[int]] = defaultdict(list)
    pos = 0
    ends = []
    for text in (subject, sender, body):
        for pos, tok in enumerate(tokens(text), pos + 1):  # noqa: B020 (pos runs on)
            positions[tok].append(pos)
        pos += 1  # the gap between fields
        ends.append(pos)
    subject_end, sender_end = ends[0], ends[1]
    # Each word costs at most 4 bytes a character and 5 bytes of overhead and position, so a
    # text this short cannot pass PostgreSQL's 1 MB: no need to weigh each lexeme.
    if sender_end >= MAX_POSITION or len(subject) + len(sender) + len(body) > 100_000:
        return _general(positions, subject_end, sender_end)
    # The usual case, written for speed (this runs for every message imported).  A token is
    # letters and digits only, so its quoted form needs no escaping.  The subject's and
    # sender's positions come first in each list and carry a weight; body positions past
    # PostgreSQL's limit all become that limit, once.
    cap = MAX_POSITIONS_PER_LEXEME
    out = []
    for lexeme, where in positions.items():
        if where[0] < sender_end:
            head = [f"{p}A" if p < subject_end else f"{p}B" for p in where if p < sender_end]
            where = where[len(head):]
        else:
            head = []
        if where and where[-1] >= MAX_POSITION:
            where = [p for p in where if p < MAX_POSITION] + [MAX_POSITION]
        if len(head) + len(where) > cap:
            head = head[:cap]
            where = where[: cap - len(head)]
        marks = ",".join(head + list(map(str, where))) if head else ",".join(map(str, where))
        out.append(f"'{lexeme}':{marks}")
    out.sort()
    return " ".join(out)


def _general(positions: dict[str, list[int]], subject_end: int, sender_end: int) -> str:
    """tsvector_text for any message, however long: the rarest words are dropped first when
    the whole would pass PostgreSQL's 1 MB."""
    out = []
    size = 0
    for lexeme, where in sorted(positions.items(), key=lambda kv: -len(kv[1])):
        marks: list[str] = []
        for p in where:
            weight = "A" if p < subject_end else "B" if p < sender_end else ""
            mark = f"{min(p, MAX_POSITION)}{weight}"
            if not marks or marks[-1] != mark:
                marks.append(mark)
                if len(marks) == MAX_POSITIONS_PER_LEXEME:
                    break
        size += len(lexeme.encode()) + 3 + 2 * len(marks)  # lexeme, alignment, count, positions
        if size > MAX_TSVECTOR_BYTES:
            break
        out.append(f"{_quote(lexeme)}:{','.join(marks)}")
    return " ".join(sorted(out))


# -- queries -------------------------------------------------------------------------------------

def _node(node: Term | Phrase) -> str | None:
    """One term or phrase as tsquery text, or None when it can match nothing."""
    weight = FIELD_WEIGHT[node.field] if node.field else ""
    if isinstance(node, Phrase):
        toks = [t for w in node.words for t in tokens(w)]
    else:
        toks = tokens(node.text)
    if not toks:
        return None
    parts = [f"{_quote(t)}:{weight}" if weight else _quote(t) for t in toks]
    if isinstance(node, Term) and node.prefix:
        parts[-1] = f"{_quote(toks[-1])}:*{weight}"
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def _clause(clause: Clause) -> str | None:
    alts = [a for a in (_node(n) for n in clause.alternatives) if a is not None]
    if not alts:
        return None
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def tsquery_text(query: Query) -> tuple[str | None, str | None, bool]:
    """(tsquery text for the whole query, for its positive part only, whether it can match).

    None means "no condition".  Every lexeme is quoted: user text is never tsquery syntax.

    >>> from moot.core.query import parse_query
    >>> tsquery_text(parse_query('subject:zebra "dai link" a OR regulat* -from:kun'))[0]
    "'zebra':A & ('dai' <-> 'link') & ('a' | 'regulat':*) & !'kun':B"
    >>> tsquery_text(Query((Clause((Term("o'k:* | !x <-> \\\\ (", prefix=True),)),)))
    ("('o' <-> 'k' <-> 'x':*)", "('o' <-> 'k' <-> 'x':*)", True)
    """
    positive = []
    for c in query.positive:
        text = _clause(c)
        if text is None:
            return None, None, False
        positive.append(text)
    # a clause is one quoted lexeme or a parenthesised group, so "!" applies to all of it
    negative = [f"!{t}" for t in (_clause(c) for c in query.negative) if t is not None]
    whole = " & ".join(positive + negative) or None
    return whole, " & ".join(positive) or None, True


def _day(d: date) -> datetime:
    return datetime.combine(d, time(0, 0))


def _plan(conn: Any, *, bitmap: bool) -> None:
    """Find matches through the GIN index's bitmap, or (``bitmap=False``) by walking a list's
    messages newest first (the ``(list_id, date)`` index), for this transaction only."""
    for name, on in (("seqscan", False), ("bitmapscan", bitmap), ("indexscan", not bitmap)):
        conn.exec_driver_sql(f"SET LOCAL enable_{name} = {'on' if on else 'off'}")


def _rechecked(tsquery: str) -> bool:
    """Whether PostgreSQL must read each candidate's tsvector to check this query (phrases,
    ``subject:``/``from:`` weights), which the GIN index alone cannot decide.  Lexemes are
    letters and digits only, so these marks are always syntax.

    >>> _rechecked("'a' & !'b'"), _rechecked("('a' <-> 'b')"), _rechecked("'a':*B")
    (False, True, True)
    """
    return "<->" in tsquery or ":A" in tsquery or ":B" in tsquery or "*A" in tsquery \
        or "*B" in tsquery


def _table_rows(conn: Any) -> float:
    """The planner's estimate of the messages indexed (no scan); infinite before the table was
    first analysed, so that a walk is never chosen on no evidence."""
    rows = conn.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = 'search_docs'::regclass").scalar()
    return float(rows) if rows is not None and rows >= 0 else float("inf")


class PostgresIndex:
    """A full-text index kept in the moot database itself (PostgreSQL only)."""

    # An import builds each message's tsvector text in its parser process (IndexDoc.vector).
    vectors_in_parser = True

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("PostgresIndex needs a PostgreSQL database")
        self.engine = engine

    # -- state -------------------------------------------------------------------------------

    @property
    def last_pk(self) -> int:
        """The highest message key whose indexing was committed."""
        with self.engine.connect() as conn:
            value = conn.execute(select(state_t.c.last_pk)
                                 .where(state_t.c.engine == ENGINE)).scalar()
        return int(value or 0)

    def _set_state(self, conn: Any, last_pk: int, *, keep_higher: bool) -> None:
        stmt = pg_insert(state_t).values(engine=ENGINE, last_pk=last_pk)
        new = (func.greatest(state_t.c.last_pk, stmt.excluded.last_pk) if keep_higher
               else stmt.excluded.last_pk)
        conn.execute(stmt.on_conflict_do_update(index_elements=[state_t.c.engine],
                                                set_={"last_pk": new}))

    # -- writing -----------------------------------------------------------------------------

    def add(self, docs: Iterable[IndexDoc]) -> None:
        """Index ``docs`` (or index them again) and commit: they are searchable at once."""
        rows = [{"pk": d.pk, "list_id": d.list_id, "thread_id": d.thread_id,
                 "date": d.date.replace(tzinfo=None),
                 "tsv": d.vector if d.vector is not None
                 else tsvector_text(d.subject, d.sender, d.body)} for d in docs]
        if not rows:
            return
        stmt = pg_insert(docs_t).values(
            message_pk=bindparam("pk"), list_id=bindparam("list_id"),
            thread_id=bindparam("thread_id"), date=bindparam("date"),
            tsv=cast(bindparam("tsv", type_=Text), TSVECTOR))
        stmt = stmt.on_conflict_do_update(
            index_elements=[docs_t.c.message_pk],
            set_={c: stmt.excluded[c] for c in ("list_id", "thread_id", "date", "tsv")})
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 500):
                conn.execute(stmt, rows[start : start + 500])

    def delete(self, pks: Iterable[int]) -> None:
        keys = list(pks)
        with self.engine.begin() as conn:
            for start in range(0, len(keys), 1000):
                conn.execute(delete(docs_t)
                             .where(docs_t.c.message_pk.in_(keys[start : start + 1000])))

    def close(self) -> None:
        """Nothing held between calls."""

    def discard_above(self, pk: int) -> None:
        """Nothing to do: adding is an upsert, so re-indexing what lies above the mark is safe."""

    def commit(self, last_pk: int, *, final: bool = True) -> None:  # noqa: ARG002
        """Record that every message up to ``last_pk`` is indexed (what was added already is)."""
        with self.engine.begin() as conn:
            self._set_state(conn, last_pk, keep_higher=True)

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(docs_t))
            self._set_state(conn, 0, keep_higher=False)

    # -- searching ---------------------------------------------------------------------------

    def search(self, query: Query, *, list_ids: Sequence[int] | None, limit: int, offset: int = 0,
               newest_first: bool = False) -> tuple[int, list[tuple[int, int, float]]]:
        """(total hits, [(message pk, thread id, score)]) for one page of results."""
        whole, positive, possible = tsquery_text(query)
        if not possible or (list_ids is not None and not list(list_ids)):
            return 0, []
        limit = max(1, min(int(limit), 10_000))
        offset = max(0, int(offset))
        d = docs_t.c
        conds: list[Any] = []
        if whole is not None:
            conds.append(d.tsv.bool_op("@@")(cast(bindparam("q", whole, type_=Text), TSQUERY)))
        if list_ids is not None:
            conds.append(d.list_id.in_([int(i) for i in list_ids]))
        if query.after:
            conds.append(d.date >= _day(query.after))
        if query.before:
            conds.append(d.date < _day(query.before))
        where = and_(true(), *conds)
        ranked = positive is not None and not newest_first
        reach = max(RANK_AT_MOST, offset + limit) if ranked else offset + limit
        order = [d.date.desc(), d.message_pk.desc()]
        counting = select(func.count()).select_from(docs_t).where(where)
        with self.engine.connect() as conn:
            # Plans are chosen per transaction (SET LOCAL): safe behind PgBouncer.
            _plan(conn, bitmap=True)
            if whole is not None and _rechecked(whole):
                # Phrases and weights are checked on each candidate's tsvector: read them once,
                # counting and numbering the matches newest first in the same pass.
                newest = (select(d.message_pk, d.thread_id, d.date, d.tsv,
                                 func.count().over().label("total"),
                                 func.row_number().over(order_by=order).label("n"))
                          .where(where).subquery("matches"))
                total = None
            else:
                total = int(conn.execute(counting).scalar_one())
                if total <= offset:
                    return total, []
                if list_ids is not None and len(list_ids) == 1 and \
                        total >= WALK_SHARE * _table_rows(conn):
                    _plan(conn, bitmap=False)
                newest = (select(d.message_pk, d.thread_id, d.date, d.tsv,
                                 literal(total).label("total"), literal(1).label("n"))
                          .where(where).order_by(*order).limit(reach).subquery("matches"))
            n = newest.c
            if ranked:
                score: Any = func.ts_rank_cd(
                    cast(bindparam("w", RANK_WEIGHTS, type_=ARRAY(REAL)), ARRAY(REAL)), n.tsv,
                    cast(bindparam("p", positive, type_=Text), TSQUERY), RANK_NORMALIZATION)
                page_order = [score.desc(), n.date.desc(), n.message_pk.desc()]
            else:
                score = literal(0.0)
                page_order = [n.date.desc(), n.message_pk.desc()]
            # The newest ``reach`` matches: their tsvectors are read only to rank them.
            page = (select(n.message_pk, n.thread_id, score.label("score"), n.total)
                    .where(n.n <= reach).order_by(*page_order).limit(limit).offset(offset))
            rows = conn.execute(page).all()
            if total is None:
                total = int(rows[0].total) if rows else (
                    int(conn.execute(counting).scalar_one()) if offset else 0)
        return total, [(int(r.message_pk), int(r.thread_id), float(r.score)) for r in rows]

