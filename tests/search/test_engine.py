"""The search engine as readers meet it, through ``moot.search`` on a real archive (a SQLite
file, and PostgreSQL when configured): the query language, Unicode, ranking, ordering,
grouping, pages, snippets, and queries that try to break out of the language."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from moot.core.query import QueryError, fold
from moot.importer.run import import_paths
from moot.search.service import Results
from tests.conftest import fresh_database
from tests.helpers import make_message, write_mbox

DEV = "dev@example.org"
OPS = "ops@example.org"
KUNINORI = "Kuninori Morimoto <kuninori.morimoto.gx@renesas.com>"
MARMALADE_BODY = (
    "This is a long message about breakfast habits in the old town. " * 6
    + "Somewhere in the middle the Marmalade question was finally settled by vote. "
    + "Afterwards everyone went home and nobody spoke of toast again. " * 6
)


def _m(mid: str, when: str, *, subject: str = "Note", body: str = "", **kw: Any) -> bytes:
    return make_message(f"{mid}@example.org", subject=subject, date=f"{when} +0000",
                        body=body + "\n", **kw)


def dev_messages() -> list[bytes]:
    day = "Mon, 02 Mar 2026 09:00:00"
    msgs = [
        # all words must match
        _m("apple-banana", day, body="An apple and a banana."),
        _m("apple-cherry", day, body="An apple and a cherry."),
        # phrase vs the same words apart
        _m("dai-link", day, body="The dai link is broken on this board."),
        _m("link-dai", day, body="Follow the link to read about the dai format."),
        # prefixes (and no stemming)
        _m("regulator", day, body="The regulator voltage is wrong."),
        _m("regulators", day, body="Regulators everywhere."),
        _m("regulate", day, body="We regulate nothing."),
        # exclusion and OR
        _m("pancake-syrup", day, body="A pancake with syrup."),
        _m("pancake-butter", day, body="A pancake with butter."),
        # from: by name part and by address part; "renesas" also in a body elsewhere
        _m("from-kuninori", day, body="A patch for the sound card.", sender=KUNINORI),
        _m("says-renesas", day, body="The board is made by renesas."),
        # subject: and ranking (the same word in the subject vs only in the body)
        _m("zebra-subject", day, subject="Zebra crossing", body="Where to cross the road."),
        _m("zebra-body", day, subject="Road works", body="Where to cross: the zebra road."),
        # case and accents
        _m("cafe-subject", day, subject="Café society", body="Meet at noon."),
        _m("cafe-body", day, body="The CAFE noir is served."),
        # Unicode text
        _m("chinese", day, subject="性能", body="我们讨论了数据库的性能问题。"),
        _m("russian", day, body="Привет, мир! Обсуждаем драйвер звуковой карты."),
        _m("german", day, body="Die Straße ist für ihre Größe bekannt."),
        # snippets
        _m("marmalade", day, subject="Breakfast", body=MARMALADE_BODY),
        # dates (only messages in 2025): after: includes its day, before: excludes its day
        _m("solstice-9", "Mon, 09 Jun 2025 23:59:59", body="solstice eve"),
        _m("solstice-10", "Tue, 10 Jun 2025 00:00:00", body="solstice day"),
        _m("solstice-11", "Wed, 11 Jun 2025 00:00:00", body="solstice after"),
    ]
    # A long thread about tapestry (its messages the newest in the archive), and two
    # single-message threads that mention it too.
    root = "tapestry-0@example.org"
    for i in range(10):
        reply: dict[str, Any] = {} if i == 0 else {"in_reply_to": root, "references": [root]}
        msgs.append(_m(f"tapestry-{i}", f"Fri, 10 Apr 2026 10:{i:02d}:00",
                       subject="Tapestry" if i == 0 else "Re: Tapestry",
                       body=f"Reply {i} on the tapestry.", **reply))
    msgs.append(_m("tapestry-lone-a", "Wed, 01 Apr 2026 10:00:00", subject="Weaving",
                   body="Another tapestry, alone."))
    msgs.append(_m("tapestry-lone-b", "Thu, 02 Apr 2026 10:00:00", subject="Looms",
                   body="A tapestry loom for sale."))
    return msgs


def ops_messages() -> list[bytes]:
    return [_m("ops-apple", "Mon, 02 Mar 2026 09:00:00", body="An apple for the operators.")]


@dataclass
class Arch:
    moot: Moot
    dev: int
    ops: int

    def find(self, q: str, *, list_ids: list[int] | None = None, **kw: Any) -> Results:
        return self.moot.search.search(q, list_ids=list_ids, list_address_ids=self._list_id,
                                       **kw)

    def ids(self, q: str, **kw: Any) -> set[str]:
        res = self.find(q, limit=100, **kw)
        assert res.total == len(res.hits), (q, res.total, len(res.hits))
        return {h.message_id.removesuffix("@example.org") for h in res.hits}

    def order(self, q: str, **kw: Any) -> list[str]:
        return [h.message_id.removesuffix("@example.org")
                for h in self.find(q, limit=100, **kw).hits]

    def _list_id(self, address: str) -> int | None:
        row = self.moot.archive.find_list(address)
        return None if row is None else int(row.id)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def arch(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arch]:
    """One archive for the whole module (the tests only read it): two lists, imported the way
    users import theirs, then the index caught up."""
    folder = tmp_path_factory.mktemp(f"search-{request.param}")
    with fresh_database(request.param, folder) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOOT_DATABASE_URL", url)
        data = folder / "data"
        init_data_dir(data)
        moot = build(load_settings(data))
        try:
            dev = moot.store.create_list(DEV)
            ops = moot.store.create_list(OPS)
            for list_id, msgs, name in ((dev, dev_messages(), "dev"),
                                        (ops, ops_messages(), "ops")):
                summary = import_paths(moot.store, list_id,
                                       [write_mbox(folder / f"{name}.mbox", msgs)])
                assert summary.imported == len(msgs)
            assert moot.search.catch_up() == len(dev_messages()) + len(ops_messages())
            yield Arch(moot, dev, ops)
        finally:
            moot.close()


# -- the query language ------------------------------------------------------------------------

def test_all_words_must_match(arch: Arch) -> None:
    assert arch.ids("apple banana") == {"apple-banana"}
    assert arch.ids("apple", list_ids=[arch.dev]) == {"apple-banana", "apple-cherry"}
    assert arch.ids("banana cherry") == set()


def test_phrase_needs_the_words_in_a_row(arch: Arch) -> None:
    assert arch.ids('"dai link"') == {"dai-link"}
    assert arch.ids("dai link") == {"dai-link", "link-dai"}
    assert arch.ids('"link dai"') == set()


def test_prefix_matches_word_beginnings_without_stemming(arch: Arch) -> None:
    assert arch.ids("regulat*") == {"regulator", "regulators", "regulate"}
    assert arch.ids("regulator*") == {"regulator", "regulators"}
    assert arch.ids("regulator") == {"regulator"}
    assert arch.ids("REGULATO*") == {"regulator", "regulators"}


def test_exclusion_leaves_messages_out(arch: Arch) -> None:
    assert arch.ids("pancake") == {"pancake-syrup", "pancake-butter"}
    assert arch.ids("pancake -butter") == {"pancake-syrup"}
    assert arch.ids('pancake -"with butter"') == {"pancake-syrup"}
    assert arch.ids("pancake -butter -syrup") == set()


def test_or_takes_either(arch: Arch) -> None:
    assert arch.ids("syrup OR butter") == {"pancake-syrup", "pancake-butter"}
    assert arch.ids("pancake syrup OR nonexistentword") == {"pancake-syrup"}
    # "or" in lower case is a plain word, which no message holds
    assert arch.ids("syrup or butter") == set()


def test_from_matches_a_part_of_the_name_or_the_address(arch: Arch) -> None:
    assert arch.ids("renesas") == {"from-kuninori", "says-renesas"}
    for q in ("from:renesas", "from:Kuninori", "from:morimoto", "from:renesas.com",
              "from:kuninori.morimoto.gx@renesas.com", 'from:"Kuninori Morimoto"',
              "from:kunin*"):
        assert arch.ids(q) == {"from-kuninori"}, q
    assert arch.ids("from:renesas sound") == {"from-kuninori"}
    assert arch.ids("from:renesas -from:kuninori") == set()
    assert arch.ids("from:nobody-of-that-name") == set()


def test_subject_looks_at_the_subject_only(arch: Arch) -> None:
    assert arch.ids("zebra") == {"zebra-subject", "zebra-body"}
    assert arch.ids("subject:zebra") == {"zebra-subject"}
    assert arch.ids('subject:"zebra crossing"') == {"zebra-subject"}
    assert arch.ids("subject:road") == {"zebra-body"}


def test_list_filter_and_the_callers_restriction(arch: Arch) -> None:
    every = {"apple-banana", "apple-cherry", "ops-apple"}
    assert arch.ids("apple") == every
    assert arch.ids(f"apple list:{OPS}") == {"ops-apple"}
    assert arch.ids(f"apple list:{DEV.upper()}") == {"apple-banana", "apple-cherry"}
    assert arch.ids("apple", list_ids=[arch.ops]) == {"ops-apple"}
    assert arch.ids("apple", list_ids=[arch.dev, arch.ops]) == every
    # list: can narrow what the caller allows, never widen it
    assert arch.ids(f"apple list:{OPS}", list_ids=[arch.dev]) == set()
    assert arch.ids("apple list:nosuch@example.org") == set()
    assert arch.ids("apple", list_ids=[]) == set()


def test_after_includes_its_day_and_before_excludes_its_day(arch: Arch) -> None:
    assert arch.ids("solstice") == {"solstice-9", "solstice-10", "solstice-11"}
    assert arch.ids("solstice after:2025-06-10") == {"solstice-10", "solstice-11"}
    assert arch.ids("solstice before:2025-06-10") == {"solstice-9"}
    assert arch.ids("solstice after:2025-06-10 before:2025-06-11") == {"solstice-10"}
    assert arch.ids("solstice after:2025-06-12") == set()
    # the filters alone are a search: every message of that day
    assert arch.ids("after:2025-06-10 before:2025-06-11") == {"solstice-10"}
    assert arch.ids("before:2025-06-11") == {"solstice-9", "solstice-10"}


@pytest.mark.parametrize("q", ["café", "cafe", "CAFE", "Café", "CAFÉ", "cafè"])
def test_case_and_accents_do_not_matter(arch: Arch, q: str) -> None:
    assert arch.ids(q) == {"cafe-subject", "cafe-body"}


def test_chinese_word_inside_a_longer_run(arch: Arch) -> None:
    for q in ("数据库", "数据", "库的性", "性能问题"):
        assert arch.ids(q) == {"chinese"}, q
    assert arch.ids("数据 问题") == {"chinese"}  # two words, both present
    assert arch.ids("数库") == set()  # the characters are not in a row
    assert arch.ids("数据库性能") == set()
    assert arch.ids("subject:性能") == {"chinese"}
    assert arch.ids("subject:数据库") == set()


def test_russian_and_german_words(arch: Arch) -> None:
    for q in ("драйвер", "ПРИВЕТ", "мир", '"звуковой карты"'):
        assert arch.ids(q) == {"russian"}, q
    for q in ("Straße", "STRASSE", "strasse", "größe", "grösse", "Grosse", "für"):
        assert arch.ids(q) == {"german"}, q
    assert arch.ids("драйверы") == set()


# -- results -----------------------------------------------------------------------------------

def test_a_word_in_the_subject_ranks_above_the_same_word_in_the_body(arch: Arch) -> None:
    res = arch.find("zebra")
    assert [h.message_id for h in res.hits] == ["zebra-subject@example.org",
                                                 "zebra-body@example.org"]
    assert res.hits[0].score > res.hits[1].score > 0
    assert arch.order("cafe")[0] == "cafe-subject"


def test_newest_first(arch: Arch) -> None:
    assert arch.order("solstice", newest_first=True) == ["solstice-11", "solstice-10",
                                                         "solstice-9"]
    res = arch.find("tapestry", newest_first=True, limit=100)
    dates = [h.date for h in res.hits]
    assert len(dates) == 12 and None not in dates
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


@pytest.mark.parametrize("newest", [False, True])
def test_by_thread_gives_one_hit_per_thread_with_its_count(arch: Arch, newest: bool) -> None:
    res = arch.find("tapestry", by_thread=True, newest_first=newest, limit=20)
    threads = {h.thread_id for h in res.hits}
    assert len(res.hits) == len(threads) == 3
    counts = sorted(h.thread_hits for h in res.hits)
    assert counts == [1, 1, 10]
    assert all(h.thread_hits_exact for h in res.hits)  # every hit was read
    plain = arch.find("tapestry", limit=100)
    assert len(plain.hits) == 12


@pytest.mark.parametrize("newest", [False, True])
def test_by_thread_pages_reach_every_thread(arch: Arch, newest: bool) -> None:
    seen = []
    for offset in range(3):
        res = arch.find("tapestry", by_thread=True, newest_first=newest, limit=1,
                        offset=offset)
        assert len(res.hits) == 1, offset
        seen.append(res.hits[0].thread_id)
        if res.hits[0].message_id.startswith("tapestry-lone"):
            assert res.hits[0].thread_hits == 1
        else:
            assert res.hits[0].thread_hits == 10
    assert len(set(seen)) == 3
    assert arch.find("tapestry", by_thread=True, newest_first=newest, limit=1,
                     offset=3).hits == []


@pytest.mark.parametrize("newest", [False, True])
def test_pages_are_disjoint_and_cover_every_hit(arch: Arch, newest: bool) -> None:
    pages = []
    for offset in (0, 5, 10):
        res = arch.find("tapestry", limit=5, offset=offset, newest_first=newest)
        assert res.total == 12
        pages.append([h.message_id for h in res.hits])
    assert [len(p) for p in pages] == [5, 5, 2]
    flat = [m for p in pages for m in p]
    assert len(set(flat)) == 12
    assert arch.find("tapestry", limit=5, offset=20).hits == []


def test_snippet_holds_the_matched_word_and_spans_point_at_it(arch: Arch) -> None:
    (hit,) = arch.find("marmalade").hits
    assert "Marmalade" in hit.snippet
    assert len(hit.snippet) < len(MARMALADE_BODY)  # a window, not the whole body
    assert hit.spans
    assert [hit.snippet[a:b] for a, b in hit.spans] == ["Marmalade"]
    # case and accents: the span covers the letters as written
    (hit,) = arch.find("café -society").hits
    assert [hit.snippet[a:b] for a, b in hit.spans] == ["CAFE"]
    (hit,) = arch.find("数据库").hits
    assert [hit.snippet[a:b] for a, b in hit.spans] == ["数据库"]
    (hit,) = arch.find('"dai link"').hits
    marked = [fold(hit.snippet[a:b]) for a, b in hit.spans]
    assert "dai" in " ".join(marked) and "link" in " ".join(marked)


def test_hit_fields(arch: Arch) -> None:
    (hit,) = arch.find("from:renesas").hits
    assert hit.list == DEV
    assert hit.sender == KUNINORI
    assert hit.message_id == "from-kuninori@example.org"
    doc = hit.as_json()
    assert set(doc) == {"message_id", "list", "subject", "from", "date", "score", "snippet"}
    assert doc["date"] == "2026-03-02T09:00:00Z"


# -- queries that try to break out of the language ---------------------------------------------

INJECTIONS = [
    '"unbalanced', 'from:"unbalanced', "-", "a -", "OR", "a OR", "OR a", "a OR OR b",
    "(", ")", "((apple))", "apple)", "field:*", "title:apple", "subject:*", "from:*", "list:*",
    "*", "**", "-*", "apple*)", "apple AND banana", "NOT apple", "apple^3", "apple~2",
    "'; DROP TABLE messages; --", "apple'; DELETE FROM messages WHERE '1'='1",
    "apple\" OR 1=1 --", "subject:apple) OR (1=1", "body:apple", "pk:1", "list:' OR 1=1",
    "after:2026-13-40", "before:yesterday", "after:2026-01-01 before:2025-01-01",
    "[a-z]*", ".*", "a.*", "\\", "apple\\*", "{1,2}", "$", "^apple", "apple|banana",
    "\x00", "apple\x00banana", "🙂", "🙂*", "\u0301*", "x" * 60 + "*", "apple " * 40,
    "a" * 1001, "http://example.org/apple", "https:*", "a:b:c", '"" OR ""',
]


@pytest.mark.parametrize("q", INJECTIONS)
def test_malformed_or_hostile_queries_answer_a_clear_error_or_results(arch: Arch,
                                                                      q: str) -> None:
    try:
        res = arch.find(q)
    except QueryError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert res.total >= 0


def test_sql_in_a_query_is_just_words(arch: Arch) -> None:
    assert arch.ids("'; DROP TABLE messages; --") == set()
    assert arch.ids("zzz' OR '1'='1") == set()
    # the archive is intact
    assert arch.ids("apple banana") == {"apple-banana"}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list('ab "*-():é数\\.^$[]{}|~') + [
    "OR", "from:", "list:", "subject:", "after:", "x:", "apple", "2026-01-01"]),
    max_size=12).map("".join))
def test_any_text_answers_results_or_a_query_error(arch: Arch, q: str) -> None:
    try:
        arch.find(q)
    except QueryError:
        pass

