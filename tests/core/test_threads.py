"""Threading: JWZ tree building and union-find grouping of Message-IDs."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.threads import Placed, ThreadItem, build_tree, connect

T0 = datetime(2026, 3, 2, 9, 0)


def item(key: int, mid: str, parents: list[str] | None = None, subject: str = "Plan",
         minutes: int | None = None) -> ThreadItem:
    """A message ``minutes`` after T0 (default: ``key`` minutes), answering ``parents``."""
    when = T0 + timedelta(minutes=key if minutes is None else minutes)
    return ThreadItem(key, mid, parents or [], subject, when)


def shape(rows: list[Placed]) -> list[tuple[str, int, str | None]]:
    return [(r.node.message_id, r.depth, r.parent_id) for r in rows]


def message_keys(rows: list[Placed]) -> list[int]:
    return [r.node.item.key for r in rows if r.node.item is not None]


def assert_parent_ids_consistent(rows: list[Placed]) -> None:
    """Each row's parent is the nearest earlier row one level up (None at depth 0)."""
    for n, row in enumerate(rows):
        if row.depth == 0:
            assert row.parent_id is None, row
            continue
        above = [r for r in rows[:n] if r.depth == row.depth - 1]
        assert above, f"row {n} at depth {row.depth} has no row above it"
        assert row.parent_id == above[-1].node.message_id, (n, row)
        # depth never jumps by more than one from one row to the next
        assert row.depth <= rows[n - 1].depth + 1


# -- tree shape ------------------------------------------------------------------------------


def test_replies_nest_under_their_parents_siblings_oldest_first() -> None:
    rows = build_tree([
        item(1, "root"),
        item(4, "late", ["root"], "Re: Plan"),
        item(2, "early", ["root"], "Re: Plan"),
        item(3, "reply-to-early", ["early", "root"], "Re: Plan"),
        item(5, "reply-to-late", ["late", "root"], "Re: Plan"),
    ])
    assert shape(rows) == [
        ("root", 0, None),
        ("early", 1, "root"),
        ("reply-to-early", 2, "early"),
        ("late", 1, "root"),
        ("reply-to-late", 2, "late"),
    ]


def test_input_order_does_not_matter() -> None:
    items = [item(1, "a"), item(2, "b", ["a"]), item(3, "c", ["b", "a"]), item(4, "d", ["a"])]
    assert shape(build_tree(items)) == shape(build_tree(list(reversed(items))))


def test_sibling_order_follows_dates_not_keys() -> None:
    rows = build_tree([
        item(1, "root", minutes=0),
        item(2, "second", ["root"], minutes=20),
        item(3, "first", ["root"], minutes=10),
    ])
    assert [r.node.message_id for r in rows] == ["root", "first", "second"]


def test_reply_arriving_before_parent_still_nests() -> None:
    rows = build_tree([item(1, "reply", ["root"], minutes=5), item(2, "root", minutes=30)])
    assert shape(rows) == [("root", 0, None), ("reply", 1, "root")]


def test_missing_parent_with_one_child_is_pruned() -> None:
    # "gone" never reached the archive; its only reply takes its place as the root.
    rows = build_tree([item(1, "only", ["gone"], "Re: Plan")])
    assert shape(rows) == [("only", 0, None)]
    assert rows[0].node.item is not None


def test_missing_parent_with_several_children_stays_as_placeholder() -> None:
    rows = build_tree([
        item(1, "one", ["gone"], "Re: Plan"),
        item(2, "two", ["gone"], "Re: Plan"),
    ])
    assert shape(rows) == [("gone", 0, None), ("one", 1, "gone"), ("two", 1, "gone")]
    assert rows[0].node.item is None
    assert message_keys(rows) == [1, 2]


def test_missing_middle_of_a_chain_is_spliced_out() -> None:
    # c answers the missing b, which answered a: c hangs directly under a.
    rows = build_tree([item(1, "a"), item(3, "c", ["b", "a"], "Re: Plan")])
    assert shape(rows) == [("a", 0, None), ("c", 1, "a")]
    assert all(r.node.item is not None for r in rows)


def test_missing_middle_with_two_children_keeps_them_siblings_under_grandparent() -> None:
    rows = build_tree([
        item(1, "a"),
        item(2, "c1", ["b", "a"], "Re: Plan"),
        item(3, "c2", ["b", "a"], "Re: Plan"),
    ])
    assert shape(rows) == [("a", 0, None), ("c1", 1, "a"), ("c2", 1, "a")]


def test_root_placeholder_left_with_one_child_is_pruned() -> None:
    # a and b disagree about their ancestry: both name p9 at the top, a through x, b through
    # the missing p1.  Once p1 is dropped, p9 holds only x: x must be the root.
    rows = build_tree([
        item(1, "x"),
        item(2, "a", ["p7", "x", "p9"], "Re: Plan"),
        item(3, "b", ["p7", "p1", "p9"], "Re: Plan"),
    ])
    assert shape(rows) == [("x", 0, None), ("a", 1, "x"), ("b", 1, "x")]


def test_placeholder_sorts_by_its_earliest_child() -> None:
    rows = build_tree([
        item(1, "solo", subject="Other", minutes=10),
        item(2, "x1", ["gone"], "Re: Plan", minutes=5),
        item(3, "x2", ["gone"], "Re: Plan", minutes=20),
    ])
    assert [(r.node.message_id, r.depth) for r in rows] == [
        ("gone", 0), ("x1", 1), ("x2", 1), ("solo", 0)]


# -- broken headers --------------------------------------------------------------------------


def test_two_messages_referencing_each_other_do_not_hang_or_vanish() -> None:
    rows = build_tree([item(1, "a", ["b"]), item(2, "b", ["a"])])
    assert sorted(message_keys(rows)) == [1, 2]
    assert_parent_ids_consistent(rows)
    assert [r.depth for r in rows] == [0, 1]


def test_self_reference_is_ignored() -> None:
    rows = build_tree([item(1, "a", ["a"]), item(2, "b", ["a"], "Re: Plan"),
                       item(3, "c", ["c"], "Other")])
    assert shape(rows) == [("a", 0, None), ("b", 1, "a"), ("c", 0, None)]


def test_self_reference_among_ancestors_keeps_every_message() -> None:
    rows = build_tree([item(1, "a"), item(2, "b", ["a", "b"], "Re: Plan")])
    assert sorted(message_keys(rows)) == [1, 2]
    assert_parent_ids_consistent(rows)


def test_longer_cycle_through_references_keeps_every_message() -> None:
    rows = build_tree([
        item(1, "a", ["c", "b"]),
        item(2, "b", ["a", "c"]),
        item(3, "c", ["b", "a"]),
    ])
    assert sorted(message_keys(rows)) == [1, 2, 3]
    assert_parent_ids_consistent(rows)
    assert sum(1 for r in rows if r.depth == 0) == 1


def test_duplicate_message_ids_both_appear() -> None:
    rows = build_tree([
        item(1, "same"),
        item(2, "same", subject="Something else entirely"),
        item(3, "reply", ["same"], "Re: Plan"),
    ])
    assert sorted(message_keys(rows)) == [1, 2, 3]
    assert [r.node.message_id for r in rows].count("same") == 2
    # The reply goes under the first holder of the ID.
    reply = next(r for r in rows if r.node.message_id == "reply")
    first = next(r for r in rows if r.node.item is not None and r.node.item.key == 1)
    assert reply.parent_id == "same" and rows.index(reply) == rows.index(first) + 1


def test_messages_without_dates_are_kept() -> None:
    rows = build_tree([
        ThreadItem(1, "a", [], "Plan", None),
        ThreadItem(2, "b", ["a"], "Re: Plan", None),
        ThreadItem(3, "c", ["a"], "Re: Plan", T0),
    ])
    assert sorted(message_keys(rows)) == [1, 2, 3]
    assert rows[0].node.message_id == "a"
    assert_parent_ids_consistent(rows)


# -- subject grouping ------------------------------------------------------------------------


def test_reply_subject_without_references_groups_under_original() -> None:
    rows = build_tree([item(1, "plan", subject="Plan"), item(2, "re", subject="Re: Plan")])
    assert shape(rows) == [("plan", 0, None), ("re", 1, "plan")]


def test_subject_grouping_ignores_list_tags_and_case() -> None:
    rows = build_tree([
        item(1, "plan", subject="[dev] Plan for  Q3"),
        item(2, "re", subject="RE: [dev] plan for Q3"),
    ])
    assert shape(rows) == [("plan", 0, None), ("re", 1, "plan")]


def test_message_with_references_is_not_grouped_by_subject() -> None:
    # It names a parent the archive never received: JWZ trusts that, not the subject.
    rows = build_tree([item(1, "plan", subject="Plan"),
                       item(2, "re", ["unknown"], "Re: Plan")])
    assert shape(rows) == [("plan", 0, None), ("re", 0, None)]


def test_same_subject_without_reply_marker_is_not_grouped() -> None:
    rows = build_tree([item(1, "p1", subject="Plan"), item(2, "p2", subject="Plan")])
    assert shape(rows) == [("p1", 0, None), ("p2", 0, None)]


def test_different_subjects_are_not_grouped() -> None:
    rows = build_tree([item(1, "p1", subject="Plan"), item(2, "p2", subject="Re: Budget")])
    assert [r.depth for r in rows] == [0, 0]


# -- scale -----------------------------------------------------------------------------------


def test_five_thousand_deep_reply_chain() -> None:
    n = 5000
    items = [item(i, f"m{i}", [f"m{i - 1}"] if i else [], "Re: Plan" if i else "Plan")
             for i in range(n)]
    rows = build_tree(items)
    assert [r.depth for r in rows] == list(range(n))
    assert rows[-1].parent_id == f"m{n - 2}"


def test_five_thousand_deep_chain_with_dates_running_backwards() -> None:
    n = 5000
    items = [item(i, f"m{i}", [f"m{i - 1}"] if i else [], minutes=-i) for i in range(n)]
    rows = build_tree(items)
    assert [r.node.message_id for r in rows] == [f"m{i}" for i in range(n)]
    assert rows[-1].depth == n - 1


# -- property --------------------------------------------------------------------------------

_ids = st.sampled_from([f"id{i}" for i in range(12)])


@st.composite
def thread_items(draw: st.DrawFn, as_parsed: bool = False) -> list[ThreadItem]:
    """Random messages with random references: cycles, missing ids, shared ids.

    ``as_parsed``: parents as the parser hands them over (no repeats, never the message's own
    id); otherwise anything at all.
    """
    n = draw(st.integers(min_value=0, max_value=25))
    out = []
    for key in range(n):
        mid = draw(_ids)
        parents = draw(st.lists(_ids, max_size=5, unique=as_parsed))
        if as_parsed:
            parents = [p for p in parents if p != mid]
        subject = draw(st.sampled_from(["Plan", "Re: Plan", "Budget", "Re: Budget", ""]))
        minutes = draw(st.none() | st.integers(min_value=0, max_value=30))
        date = None if minutes is None else T0 + timedelta(minutes=minutes)
        out.append(ThreadItem(key, mid, parents, subject, date))
    return out


def _children(rows: list[Placed], n: int) -> list[Placed]:
    out = []
    for r in rows[n + 1:]:
        if r.depth <= rows[n].depth:
            break
        if r.depth == rows[n].depth + 1:
            out.append(r)
    return out


@settings(max_examples=300, deadline=None)
@given(thread_items())
def test_every_message_once_and_parent_ids_consistent(items: list[ThreadItem]) -> None:
    rows = build_tree(items)
    assert sorted(message_keys(rows)) == [i.key for i in items]
    assert_parent_ids_consistent(rows)
    # Every row is a distinct node, and a placeholder is never shown empty.
    assert len({id(r.node) for r in rows}) == len(rows)
    for n, row in enumerate(rows):
        if row.node.item is None:
            assert _children(rows, n), "an empty placeholder was shown"


@settings(max_examples=300, deadline=None)
@given(thread_items(as_parsed=True))
def test_shown_placeholders_are_roots_holding_several_messages(items: list[ThreadItem]) -> None:
    rows = build_tree(items)
    assert sorted(message_keys(rows)) == [i.key for i in items]
    for n, row in enumerate(rows):
        if row.node.item is None:
            assert row.depth == 0, "a placeholder below a message should have been spliced out"
            assert len(_children(rows, n)) >= 2, "a placeholder with one child was kept"


# -- connect ---------------------------------------------------------------------------------


def _groups(edges: list[tuple[str, list[str]]]) -> list[list[str]]:
    return sorted(sorted(g) for g in connect(edges))


def test_connect_unions_through_shared_references() -> None:
    # c and d never name each other, but both name b: one thread.  y is alone.
    assert _groups([("c", ["b"]), ("d", ["a", "b"]), ("y", [])]) == [["a", "b", "c", "d"],
                                                                       ["y"]]


def test_connect_merges_two_threads_when_the_missing_link_arrives() -> None:
    assert _groups([("b", ["a"]), ("d", ["c"])]) == [["a", "b"], ["c", "d"]]
    assert _groups([("b", ["a"]), ("d", ["c"]), ("c", ["b"])]) == [["a", "b", "c", "d"]]


def test_connect_handles_cycles_and_self_references() -> None:
    assert _groups([("a", ["b"]), ("b", ["a"]), ("s", ["s"])]) == [["a", "b"], ["s"]]


def test_connect_long_chain_is_one_group() -> None:
    edges = [(f"m{i}", [f"m{i - 1}"]) for i in range(1, 20_000)]
    groups = connect(edges)
    assert len(groups) == 1 and len(groups[0]) == 20_000
