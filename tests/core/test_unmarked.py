"""Runs of words a message shares with one it answers, and whole-message copies.

Every text here is made up for these tests."""

from __future__ import annotations

from moot.core.quotes import normalize_words
from moot.core.unmarked import MIN_RUN, mostly_copied, shared_runs

PARENT = ("The committee agreed that the spring meeting moves to the large hall on the second "
          "floor, because the small room cannot seat everyone who signed up this year.")


def held(text: str) -> set[tuple[str, ...]]:
    words = normalize_words(text)
    return {tuple(words[i:i + 4]) for i in range(len(words) - 3)}


def test_a_long_run_pasted_into_a_reply_is_found() -> None:
    reply = normalize_words("You say the spring meeting moves to the large hall on the second "
                            "floor, because the small room cannot seat everyone. Not so fast.")
    runs = shared_runs(reply, held(PARENT))
    assert len(runs) == 1
    start, end = runs[0]
    assert reply[start:end][:3] == ["the", "spring", "meeting"]
    assert reply[start:end][-1] == "everyone"


def test_a_stock_phrase_is_too_short() -> None:
    reply = normalize_words("I think the small room cannot seat us, so let us look elsewhere.")
    assert shared_runs(reply, held(PARENT)) == []


def test_runs_are_cut_where_the_words_differ() -> None:
    words = normalize_words(PARENT)
    changed = words[:14] + ["entirely", "different", "words", "here"] + words[14:]
    runs = shared_runs(changed, held(PARENT), min_words=8)
    assert [(b - a) for a, b in runs] == [14, len(words) - 14]


def test_run_length_is_counted_in_words() -> None:
    words = normalize_words(PARENT)[:MIN_RUN]
    assert shared_runs(words, held(PARENT)) == [(0, MIN_RUN)]
    assert shared_runs(words[:-1], held(PARENT)) == []


def test_nothing_shared_and_short_texts() -> None:
    assert shared_runs([], held(PARENT)) == []
    assert shared_runs(["the", "spring"], held(PARENT)) == []
    assert shared_runs(normalize_words("Nothing in common at all with that letter here, no "
                                       "words of it whatsoever appear in this one."),
                       held(PARENT)) == []


def test_a_whole_copy_is_not_a_quote() -> None:
    resent = held(PARENT + " Sorry, resending.")
    assert mostly_copied(resent, held(PARENT))
    reply = held("Fine by me. " + PARENT[:60] + " I will book the projector and tell the "
                 "caretaker that we need the chairs from the basement as well, forty of them.")
    assert not mostly_copied(reply, held(PARENT))
    assert not mostly_copied(set(), held(PARENT))
