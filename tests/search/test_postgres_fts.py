"""What is particular to the PostgreSQL engine (moot.search.postgres_fts): how it cuts text, that
no query can become tsquery or SQL syntax, its ranking weights, its high-water mark in the
database, and that the app picks it for PostgreSQL only.  The query language itself is tested
on every engine by test_engine.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Text, bindparam, cast, func, inspect, select, text
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from moot.core.query import Clause, Phrase, Query, QueryError, Term, parse_query
from moot.search.doc import IndexDoc
from moot.search.postgres_fts import (
    RANK_WEIGHTS,
    PostgresIndex,
    _general,
    prepare,
    tokens,
    tsquery_text,
    tsvector_text,
)
from moot.search.tantivy_index import TantivyIndex
from moot.storage import schema as s
from tests.conftest import fresh_database

NASTY = ["a:* | ! & <-> ' \\ ) (", "'", "''", "\\", "\\'", "!", "!!a", "a:*", ":*", "a:A",
         "a <-> b", "a <2> b", "(a | b) & !c", "')); DROP TABLE messages; --",
         "$$ ; SELECT 1 $$", "%s %(x)s :q ?", "\x00", "a\x00b", "E'\\x41'", "*", "**", "a*b*",
         '"a:* <-> b"', "-'x'", "from:'x' | y", "subject:a:B", "日本語:*", "ß:*"]


# -- cutting text (pure functions) ------------------------------------------------------------

def test_words_are_folded_and_cut_like_the_query_parser() -> None:
    assert tokens("Café ÉCOLE Straße größe") == ["cafe", "ecole", "strasse", "grosse"]
    assert prepare("Kuninori Morimoto <kuninori.morimoto.gx@renesas.com>") == \
        "kuninori morimoto kuninori morimoto gx renesas com"
    # each CJK character is a word; Hangul stays whole syllables after folding
    assert tokens("数据库的性能") == ["数", "据", "库", "的", "性", "能"]
    assert tokens("ひらがなカタカナ") == list("ひらがなカタカナ")
    assert tokens("님이") == ["님", "이"]
    # identifiers are cut at underscores (as tantivy's tokenizer cuts them), so a search for
    # "codec" finds snd_soc_codec; punctuation never survives
    assert tokens("snd_soc_dai_link->ops") == ["snd", "soc", "dai", "link", "ops"]
    assert tokens("a:* | ! & <-> ' \\ ) (") == ["a"]


@given(st.text(max_size=200))
def test_prepared_text_is_only_words_and_single_spaces(raw: str) -> None:
    out = prepare(raw)
    assert out == " ".join(out.split())
    assert not set(out) & set("'\\:&|!()<>*-\t\n\x00")
    assert prepare(out) == out  # preparing twice changes nothing


def test_phrases_do_not_span_two_fields() -> None:
    vec = tsvector_text("alpha", "beta", "gamma")
    assert vec == "'alpha':1A 'beta':3B 'gamma':5"


def test_positions_are_clamped_and_bounded() -> None:
    vec = tsvector_text("", "", "w " * 20_000 + "tail")
    assert "'tail':16383" in vec
    assert vec.count(",") < 256  # at most 256 positions for a lexeme


_WORDS = st.lists(st.sampled_from(["a", "b", "Zebra", "ß", "東", "x_y", "it's", "w"]), max_size=40)


@given(_WORDS, _WORDS, _WORDS, st.integers(0, 17_000), st.integers(0, 300))
def test_the_fast_tsvector_is_the_general_one(subject: list[str], sender: list[str],
                                              body: list[str], filler: int, many: int) -> None:
    """The usual-case path of tsvector_text gives exactly what the general one gives, with
    positions past PostgreSQL's limit and more than 256 positions for one word."""
    subject_text = " ".join(subject + ["s"] * many)
    body_text = " ".join(["f"] * filler + body)
    vec = tsvector_text(subject_text, " ".join(sender), body_text)
    positions: dict[str, list[int]] = {}
    pos = 0
    ends = []
    for text_ in (subject_text, " ".join(sender), body_text):
        for pos, tok in enumerate(tokens(text_), pos + 1):  # noqa: B020
            positions.setdefault(tok, []).append(pos)
        pos += 1
        ends.append(pos)
    assert vec == _general(positions, ends[0], ends[1])


@given(st.text(max_size=60))
def test_tsquery_text_quotes_every_lexeme(raw: str) -> None:
    query = Query((Clause((Term(raw, prefix=True),)), Clause((Phrase((raw, "x"), "from"),)),
                   Clause((Term(raw, "subject"),), negated=True)))
    whole, positive, _ = tsquery_text(query)
    for part in (whole or "", positive or ""):
        outside = part
        for tok in set(tokens(raw) + ["x"]):
            outside = outside.replace(f"'{tok}'", "")
        # nothing but operators, weights and parentheses outside the quotes
        assert set(outside) <= set(" ()&|!<->:*AB"), (raw, part)


# -- a PostgreSQL archive -----------------------------------------------------------------------

@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moot]:
    with fresh_database("postgres", tmp_path) as url:
        monkeypatch.setenv("MOOT_DATABASE_URL", url)
        init_data_dir(tmp_path / "data")
        m = build(load_settings(tmp_path / "data"))
        yield m
        m.close()


def doc(pk: int, *, subject: str = "", sender: str = "", body: str = "", list_id: int = 1,
        when: datetime = datetime(2026, 3, 2, 9, 0)) -> IndexDoc:
    return IndexDoc(pk, list_id, pk, when, subject, sender, body)


@pytest.fixture
def index(pg: Moot) -> PostgresIndex:
    """An index over five stored messages (search_docs refers to messages)."""
    from moot.core.parse import parse_message
    from moot.storage.store import Incoming, sha256
    from tests.helpers import make_message

    lid = pg.store.create_list("dev@example.org")
    raws = [make_message(f"m{i}@example.org", subject=f"m{i}") for i in range(5)]
    stored = pg.store.add_messages(lid, [Incoming(r, parse_message(r), sha256(r))
                                         for r in raws]).stored
    assert stored == [1, 2, 3, 4, 5]
    idx = pg.search.index
    assert isinstance(idx, PostgresIndex)
    return idx


def q(text_: str) -> Query:
    return parse_query(text_)


@pytest.mark.postgres
def test_the_app_picks_postgres_for_postgresql(pg: Moot) -> None:
    assert isinstance(pg.search.index, PostgresIndex)
    with pg.engine.connect() as conn:
        assert {"search_docs", "search_state"} <= set(inspect(conn).get_table_names())


def test_the_app_picks_tantivy_for_sqlite_and_sqlite_has_no_search_tables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("MOOT_DATABASE_URL", url)
        init_data_dir(tmp_path / "data")
        m = build(load_settings(tmp_path / "data"))
        try:
            assert isinstance(m.search.index, TantivyIndex)
            with m.engine.connect() as conn:
                names = set(inspect(conn).get_table_names())
            assert not names & {"search_docs", "search_state"}
            with pytest.raises(ValueError):
                PostgresIndex(m.engine)
        finally:
            m.close()


@pytest.mark.postgres
def test_weights_rank_subject_above_from_above_body(index: PostgresIndex) -> None:
    assert RANK_WEIGHTS == sorted(RANK_WEIGHTS)  # {D, C, B, A}: body lowest, subject highest
    index.add([doc(1, body="heron"), doc(2, sender="Heron Smith <hs@example.org>"),
               doc(3, subject="heron"), doc(4, body="nothing")])
    index.commit(4)
    total, hits = index.search(q("heron"), list_ids=None, limit=10)
    assert total == 3
    assert [pk for pk, _, _ in hits] == [3, 2, 1]
    assert hits[0][2] > hits[1][2] > hits[2][2] > 0


@pytest.mark.postgres
@pytest.mark.parametrize("nasty", NASTY)
def test_nasty_queries_are_only_words(pg: Moot, index: PostgresIndex, nasty: str) -> None:
    index.add([doc(1, subject="a b x", body="y c"), doc(2, body="plain text")])
    index.commit(2)
    # through the parser, as readers send it
    try:
        res = pg.search.search(nasty, list_ids=None)
        assert res.total >= 0
    except QueryError:
        pass
    # and straight to the engine, bypassing the parser, in every kind of node
    for node in (Term(nasty), Term(nasty, "from", prefix=True), Phrase((nasty, nasty), "subject")):
        for negated in (False, True):
            query = Query((Clause((Term("plain"),)), Clause((node,), negated=negated)))
            total, hits = index.search(query, list_ids=None, limit=5)
            assert total == len(hits) <= 2
    with pg.engine.connect() as conn:  # the table is still there
        assert conn.execute(select(func.count()).select_from(s.search_docs)).scalar_one() == 2


@pytest.mark.postgres
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(max_size=40))
def test_any_text_gives_a_valid_tsquery(pg: Moot, raw: str) -> None:
    query = Query((Clause((Term(raw, prefix=True), Phrase((raw, raw)))),
                   Clause((Term(raw, "from"),), negated=True)))
    whole, _, possible = tsquery_text(query)
    if whole is None:
        return
    with pg.engine.connect() as conn:
        parsed = conn.execute(select(cast(bindparam("q", whole, type_=Text), TSQUERY)))
        assert parsed.scalar_one() is not None
        vec = tsvector_text(raw, raw, raw)
        assert conn.execute(select(cast(bindparam("v", vec, type_=Text), TSVECTOR))).scalar_one() \
            is not None


@pytest.mark.postgres
def test_a_phrase_never_spans_subject_and_sender(index: PostgresIndex) -> None:
    index.add([doc(1, subject="Marmalade", sender="Toast Lover <t@example.org>")])
    index.commit(1)
    assert index.search(q('"marmalade toast"'), list_ids=None, limit=5)[0] == 0
    assert index.search(q('marmalade from:toast'), list_ids=None, limit=5)[0] == 1


@pytest.mark.postgres
def test_words_deep_in_a_huge_message_are_found(index: PostgresIndex) -> None:
    body = " ".join(f"w{i}" for i in range(60_000)) + " needle"
    index.add([doc(1, body=body)])
    index.commit(1)
    assert index.search(q("needle"), list_ids=None, limit=5)[0] == 1
    assert index.search(q("w5"), list_ids=None, limit=5)[0] == 1
    # more distinct words than a tsvector holds (1 MB of lexemes): the rarest are left out
    index.add([doc(2, body=" ".join(f"word{i}" for i in range(200_000)) + " word7 word7")])
    assert index.search(q("word7"), list_ids=None, limit=5)[0] == 1


@pytest.mark.postgres
def test_the_mark_only_rises_and_clear_resets_it(index: PostgresIndex) -> None:
    assert index.last_pk == 0
    index.commit(3)
    index.commit(2)  # a slower worker finishing later does not move it back
    assert index.last_pk == 3
    index.add([doc(1, body="kite")])
    index.clear()
    assert index.last_pk == 0
    assert index.search(q("kite"), list_ids=None, limit=5)[0] == 0


@pytest.mark.postgres
def test_indexing_twice_or_losing_the_mark_never_duplicates(pg: Moot, index: PostgresIndex) -> None:
    assert pg.search.catch_up() == 5
    assert index.search(q("m3"), list_ids=None, limit=5)[0] == 1
    with pg.engine.begin() as conn:  # the mark is lost (or never committed: a crash)
        conn.execute(text("DELETE FROM search_state"))
    assert index.last_pk == 0
    assert pg.search.catch_up() == 5  # everything is indexed again ...
    total, hits = index.search(q("after:2000-01-01"), list_ids=None, limit=50)
    assert total == len(hits) == 5  # ... and found once


@pytest.mark.postgres
def test_added_documents_are_searchable_before_commit_and_deleted_ones_go(
        index: PostgresIndex) -> None:
    index.add([doc(1, body="osprey"), doc(2, body="osprey")])
    assert index.search(q("osprey"), list_ids=None, limit=5)[0] == 2  # each add commits
    assert index.last_pk == 0  # but the mark waits for commit()
    index.delete([1])
    assert [pk for pk, _, _ in index.search(q("osprey"), list_ids=None, limit=5)[1]] == [2]


@pytest.mark.postgres
def test_a_page_beyond_the_end_still_has_the_total(index: PostgresIndex) -> None:
    index.add([doc(i, body="gannet") for i in range(1, 4)])
    assert index.search(q("gannet"), list_ids=None, limit=2, offset=10) == (3, [])
    assert index.search(q("gannet"), list_ids=[], limit=2) == (0, [])


@pytest.mark.postgres
@pytest.mark.parametrize("walk", [False, True], ids=["bitmap", "walk"])
def test_only_the_newest_matches_are_ranked_but_all_are_counted(
        index: PostgresIndex, monkeypatch: pytest.MonkeyPatch, walk: bool) -> None:
    """A common word is ranked among its newest matches (RANK_AT_MOST); the count stays exact,
    newest-first pages reach every match, and phrases (checked on each tsvector) agree."""
    import moot.search.postgres_fts as fts

    monkeypatch.setattr(fts, "RANK_AT_MOST", 3)
    if walk:  # the share that makes a search walk the list newest first
        monkeypatch.setattr(fts, "WALK_SHARE", 0.0)
        with index.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE search_docs")
    # pk 1 is the oldest and the best match by far (the word in its subject, twice)
    index.add([doc(1, subject="mixer mixer", body="mixer",
                   when=datetime(2020, 1, 1))]
              + [doc(k, body=f"a long body about the mixer and other things {k}",
                     when=datetime(2021, 1, k)) for k in range(2, 6)])
    index.commit(5)
    total, hits = index.search(q("mixer"), list_ids=[1], limit=3)
    assert total == 5
    assert sorted(pk for pk, _, _ in hits) == [3, 4, 5]  # the newest three, ranked
    total, hits = index.search(q("mixer"), list_ids=[1], limit=2, offset=3, newest_first=True)
    assert (total, [pk for pk, _, _ in hits]) == (5, [2, 1])
    # a page past the ranked ones widens the reach to it
    total, hits = index.search(q("mixer"), list_ids=[1], limit=2, offset=4)
    assert total == 5 and len(hits) == 1
    total, hits = index.search(q('"about the mixer"'), list_ids=[1], limit=3)
    assert total == 4 and sorted(pk for pk, _, _ in hits) == [3, 4, 5]
    total, hits = index.search(q("subject:mixer"), list_ids=[1], limit=10)
    assert (total, [pk for pk, _, _ in hits]) == (1, [1])
    assert index.search(q("nothinglikeit"), list_ids=[1], limit=10) == (0, [])
    assert index.search(q("mixer"), list_ids=[1], limit=10, offset=7) == (5, [])
