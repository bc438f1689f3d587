"""The search query language: what people type, and the clear errors for what cannot be read."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.query import Clause, Phrase, QueryError, Term, fold, parse_query, words


def test_words_must_all_match() -> None:
    q = parse_query("sound codec")
    assert q.clauses == (Clause((Term("sound"),)), Clause((Term("codec"),)))


def test_phrase_prefix_exclusion_and_or() -> None:
    q = parse_query('"dai link" asoc* -regmap rt5682 OR rt5677')
    assert q.clauses == (
        Clause((Phrase(("dai", "link")),)),
        Clause((Term("asoc", prefix=True),)),
        Clause((Term("regmap"),), negated=True),
        Clause((Term("rt5682"), Term("rt5677"))),
    )


def test_fields_and_filters() -> None:
    q = parse_query('from:"Ada Quill" subject:Patch list:Dev@Example.org '
                    "after:2019-05-01 before:2019-12-31 hello")
    assert q.clauses == (Clause((Phrase(("ada", "quill"), "from"),)),
                         Clause((Term("patch", "subject"),)), Clause((Term("hello"),)))
    assert q.lists == ("dev@example.org",)
    assert (q.after, q.before) == (date(2019, 5, 1), date(2019, 12, 31))


def test_filters_alone_are_a_search() -> None:
    q = parse_query("from:ada after:2020-01-01")
    assert q.positive and q.after == date(2020, 1, 1)
    assert parse_query("list:dev@example.org").lists == ("dev@example.org",)


def test_case_and_accents_fold() -> None:
    assert parse_query("CAFÉ").clauses == parse_query("cafe").clauses
    assert fold("Ünïcödé") == "unicode"


def test_cjk_and_cyrillic_words_survive() -> None:
    q = parse_query("粵語 Привет")
    assert [c.alternatives[0] for c in q.clauses] == [Term("粵語"), Term("привет")]


def test_a_url_is_words_not_a_field() -> None:
    q = parse_query("https://example.org/notes")
    assert q.clauses == (Clause((Phrase(("https", "example", "org", "notes")),)),)


def test_words_split_like_the_index() -> None:
    assert words("Re: [PATCH v2] don't") == ["re", "patch", "v2", "don", "t"]


@pytest.mark.parametrize(("query", "says"), [
    ('"unbalanced', "quote is not closed"),
    ("-", "lone '-'"),
    ("a - b", "lone '-'"),
    ("colour:red", "unknown field 'colour:'"),
    ("a OR", "OR needs a term"),
    ("OR a", "OR needs a term"),
    ("a OR OR b", "OR needs a term"),
    ("-a", "only of exclusions"),
    ("", "nothing to search for"),
    ('""', "nothing to search for"),
    ("after:yesterday x", "is not a date"),
    ("after:2020-02-01 before:2020-01-01", "nothing can match"),
    ("-after:2020-01-01 x", "is a filter"),
    ("a -b OR c", "exclusion cannot be part of an OR"),
    ("x " * 40, "too many terms"),
    ("x" * 1001, "too long"),
])
def test_malformed_queries_say_what_to_do(query: str, says: str) -> None:
    with pytest.raises(QueryError, match=says):
        parse_query(query)


def test_injection_attempts_are_plain_words() -> None:
    q = parse_query("x'); DROP TABLE messages; -- NEAR(a b) {col}* ^^ @@ ~1")
    for clause in q.clauses:
        for node in clause.alternatives:
            parts = node.words if isinstance(node, Phrase) else (node.text,)
            assert all(p.isalnum() or "_" in p for p in parts)


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_clearly(text: str) -> None:
    try:
        q = parse_query(text)
    except QueryError as exc:
        assert str(exc)
        return
    assert q.clauses or q.lists or q.after or q.before
