"""Passages inside top-posted originals (Outlook chains), wrapped header blocks, re-wrapped
quote lines and mangled attribution verbs.

Every example body here is made up for these tests."""

from __future__ import annotations

import textwrap

from moot.core.quotes import all_quotes, find_quotes, rejoin_wrapped, unquoted_text

CHAIN = textwrap.dedent("""\
    Thanks, that settles it.

    -----Original Message-----
    From: Bo Lind <bo@example.org>
    Sent: Monday, March 2, 2026 10:00 AM
    To: Ada Quill <ada@example.org>
    Subject: RE: Spring meeting

    The large hall is free on Friday.

    On Sunday, Ada Quill wrote:
    > Is any room free on Friday afternoon?

    -----Original Message-----
    From: Cy Moss <cy@example.org>
    Sent: Sunday, March 1, 2026 9:00 AM
    To: Bo Lind <bo@example.org>
    Subject: Spring meeting

    Please find us a room for the spring meeting.
    """)


def test_find_quotes_still_sees_only_the_outer_original() -> None:
    assert [q.kind for q in find_quotes(CHAIN)] == ["original"]


def test_all_quotes_opens_every_original_of_a_chain() -> None:
    got = [(q.kind, q.depth, q.text.splitlines()[0]) for q in all_quotes(CHAIN)]
    assert got == [("original", 0, "The large hall is free on Friday."),
                   ("marked", 2, "Is any room free on Friday afternoon?"),
                   ("original", 1, "Please find us a room for the spring meeting.")]
    inner = all_quotes(CHAIN)[1]
    assert inner.attribution is not None and inner.attribution.name == "Ada Quill"
    lines = CHAIN.splitlines()
    assert lines[inner.start_line] == "> Is any room free on Friday afternoon?"


def test_an_original_line_inside_a_marked_passage_splits_it() -> None:
    body = textwrap.dedent("""\
        I agree with Bo.

        > The hall is free.
        >
        > -----Original Message-----
        > From: Cy Moss <cy@example.org>
        > Sent: Sunday, March 1, 2026 9:00 AM
        > Subject: Spring meeting
        >
        > Please find us a room.
        """)
    got = [(q.kind, q.depth, q.text) for q in all_quotes(body)]
    assert got == [("marked", 1, "The hall is free."), ("original", 1, "Please find us a room.")]
    tail = all_quotes(body)[1]
    assert tail.attribution is not None and tail.attribution.address == "cy@example.org"


def test_a_header_block_wrapped_at_eighty_columns_is_all_header() -> None:
    body = ("Yes.\n\n-----Original Message-----\n"
            "From: Bo Lind <bo@example.org>\n"
            "Sent: Monday, March 2, 2026 10:00 AM\n"
            "Cc: Ada Quill <ada@example.org>; Cy Moss <cy@example.org>; Di Raft <di@example.\n"
            "org>; Ed Sand <ed@example.org>\n"
            "Subject: Spring meeting\n\n"
            "The large hall is free on Friday.\n")
    (original,) = find_quotes(body)
    assert original.text == "The large hall is free on Friday."


def test_a_short_line_after_a_header_is_the_text() -> None:
    body = ("Yes.\n\n-----Original Message-----\nFrom: Bo\nSubject: Hall\n"
            "org tickets are sold out\n\nMore.\n")
    (original,) = find_quotes(body)
    assert original.text.startswith("org tickets are sold out")


def test_pipermail_question_marks_in_a_french_attribution() -> None:
    (q,) = find_quotes("Le dim. 6 avr. ? 07:01, Ada Quill a ?crit :\n> Bonjour.\n")
    assert q.attribution is not None and q.attribution.name == "Ada Quill"


def test_rejoin_wrapped_keeps_wrapped_remainders_with_their_quote() -> None:
    long = "> the mixer resets on resume after a cold boot on every laptop that we have here, tr"
    assert len(long) >= 76
    text = f"{long}\nied\nWe saw it too.\n"
    assert rejoin_wrapped(text).splitlines()[1] == "> ied"
    assert unquoted_text(rejoin_wrapped(text)) == "We saw it too."
    # A short quoted line, or an answer in capitals, stays as it is.
    assert rejoin_wrapped("> short\nied\n") == "> short\nied\n"
    assert rejoin_wrapped(f"{long}\nWe saw it too.") == f"{long}\nWe saw it too."
