"""The same letter is recognised however it is wrapped, re-quoted or introduced, and different
letters are not taken for one."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.republication import compare, letter

WORDS = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=9),
                 min_size=40, max_size=200)


def wrap(words: list[str], width: int) -> str:
    return "\n".join(textwrap.wrap(" ".join(words), width)) + "\n"


@settings(max_examples=60, deadline=None)
@given(WORDS, st.integers(30, 90), st.integers(30, 90))
def test_re_wrapping_does_not_matter(words: list[str], a: int, b: int) -> None:
    assert compare(letter(wrap(words, a)), letter(wrap(words, b)), answers=False).same


@settings(max_examples=60, deadline=None)
@given(WORDS, st.integers(30, 90))
def test_a_note_in_front_is_an_editors_reprint(words: list[str], width: int) -> None:
    note = "[Editor's note: we print this letter again because readers asked for it after " \
           "the meeting last spring.]\n\n"
    verdict = compare(letter(note + wrap(words, width)), letter(wrap(words, 72)),
                      answers=False)
    assert verdict.same and verdict.note_words >= 10


@settings(max_examples=60, deadline=None)
@given(WORDS, WORDS)
def test_different_letters_are_different(one: list[str], other: list[str]) -> None:
    if len(set(one) & set(other)) < len(set(one)) // 2:
        assert not compare(letter(wrap(one, 72)), letter(wrap(other, 72)), answers=False).same


@settings(max_examples=60, deadline=None)
@given(WORDS)
def test_a_reply_carrying_its_parent_above_its_answer_is_no_copy(words: list[str]) -> None:
    answer = "\nThat is right, and I would add that the hall needs booking a month ahead " \
             "at least, since the choir has it on most Thursdays and the chess club too; " \
             "the caretaker keeps the book in his office and opens at nine."
    reply = letter(wrap(words, 72) + answer * (1 + len(words) // 60))
    assert not compare(reply, letter(wrap(words, 72)), answers=True).same


def test_a_letter_forwarded_or_passed_on_in_quote_marks_is_the_letter() -> None:
    text = wrap([f"word{i}" for i in range(80)], 70)
    forwarded = "Worth reading.\n\n-------- Forwarded Message --------\nSubject: Hall\n" \
                "From: Ada <ada@example.org>\n\n" + text
    assert compare(letter(forwarded), letter(text), answers=False).same
    quoted = "Seen on another list:\n\n" + "".join(f"> {x}\n" for x in text.splitlines())
    assert compare(letter(quoted), letter(text), answers=False).reason == \
        "passed on in quote marks"
    # The same, as a reply with an attribution line, is a quote.
    cited = "Ada wrote:\n" + "".join(f"> {x}\n" for x in text.splitlines()) + "\nAgreed.\n"
    assert not compare(letter(cited), letter(text), answers=True).same
