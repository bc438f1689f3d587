"""Quoted passages, their attributions, the message's own words and console transcripts.

Every example body here is made up for these tests."""

from __future__ import annotations

import textwrap
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.quotes import (
    Quote,
    find_quotes,
    is_code_prompt,
    normalize_words,
    parse_date,
    unquoted_text,
)

QUOTED = "> the mixer resets on resume\n> after a cold boot"


def only(body: str) -> Quote:
    quotes = find_quotes(body)
    assert len(quotes) == 1, quotes
    return quotes[0]


# -- attribution forms -----------------------------------------------------------------------

FORMS = [
    ("On Mon, Mar 2, 2026 at 9:14 AM Ada Quill <ada@example.org> wrote:",
     "Ada Quill", "ada@example.org", "Mon, Mar 2, 2026 at 9:14 AM", datetime(2026, 3, 2, 9, 14)),
    ("On 02/03/2026 09:14, Ada Quill wrote:", "Ada Quill", "", "02/03/2026 09:14", None),
    ("On 31/12/2025 23:59, Ada Quill wrote:",
     "Ada Quill", "", "31/12/2025 23:59", datetime(2025, 12, 31, 23, 59)),
    ("Ada Quill <Ada@Example.ORG> writes:", "Ada Quill", "ada@example.org", "", None),
    ("Ada Quill wrote:", "Ada Quill", "", "", None),
    ("On Tue, 3 Mar 2026, ada@example.org wrote:",
     "", "ada@example.org", "Tue, 3 Mar 2026", datetime(2026, 3, 3)),
    ("Le 2 mars 2026 à 09:14, Ada Quill a écrit :",
     "Ada Quill", "", "2 mars 2026 à 09:14", datetime(2026, 3, 2, 9, 14)),
    ("Am 02.03.2026 um 09:14 schrieb Ada Quill:",
     "Ada Quill", "", "02.03.2026 um 09:14", datetime(2026, 3, 2, 9, 14)),
    ("* Ada Quill <ada@example.org> [2026-03-02 09:14]:",
     "Ada Quill", "ada@example.org", "2026-03-02 09:14", datetime(2026, 3, 2, 9, 14)),
    ("Quoting Ada Quill <ada@example.org>:", "Ada Quill", "ada@example.org", "", None),
    ("In article <abc@example.org>, ada@example.org says...", "", "ada@example.org", "", None),
    ("On Mon, Mar 2, 2026 at 9:14 AM Ada Quill\n<ada@example.org> wrote:",
     "Ada Quill", "ada@example.org", "Mon, Mar 2, 2026 at 9:14 AM", datetime(2026, 3, 2, 9, 14)),
    ("On Tue, 3 Mar 2026 09:14:00 +0100, ada at example.org wrote:",
     "", "ada@example.org", "Tue, 3 Mar 2026 09:14:00 +0100", datetime(2026, 3, 3, 8, 14)),
    ("Ada Quill <ada at example.org> writes:", "Ada Quill", "ada@example.org", "", None),
    ("Ada Quill <ada at example.org>\n     on Tue, 3 Mar 2026 09:14:00 +0000 writes:",
     "Ada Quill", "ada@example.org", "Tue, 3 Mar 2026 09:14:00 +0000", datetime(2026, 3, 3, 9, 14)),
    ("On Mar 2, 2026, at 21:14, Ada Quill <ada@example.org> wrote:",
     "Ada Quill", "ada@example.org", "Mar 2, 2026, at 21:14", datetime(2026, 3, 2, 21, 14)),
]


@pytest.mark.parametrize(("line", "name", "address", "date_text", "date"), FORMS)
def test_attribution_forms(line: str, name: str, address: str, date_text: str,
                           date: datetime | None) -> None:
    body = f"{line}\n{QUOTED}\n\nThat is fixed in 6.9."
    quote = only(body)
    a = quote.attribution
    assert a is not None
    assert (a.raw, a.name, a.address, a.date_text, a.date) == (line, name, address, date_text,
                                                               date)
    assert quote.attribution_line == 0
    assert quote.start_line == line.count("\n") + 1
    assert quote.text == "the mixer resets on resume\nafter a cold boot"
    assert unquoted_text(body) == "That is fixed in 6.9."


def test_a_blank_line_may_separate_attribution_and_quote() -> None:
    quote = only("Hi,\n\nAda Quill wrote:\n\n" + QUOTED)
    assert quote.attribution is not None and quote.attribution.name == "Ada Quill"
    assert quote.attribution_line == 2


@pytest.mark.parametrize("line", [
    "As the manual, which nobody reads, wrote:",  # prose, not a name
    "Here is the log:",
    "I tried this. Then it wrote:",
])
def test_prose_before_a_quote_is_no_attribution(line: str) -> None:
    assert only(f"{line}\n{QUOTED}").attribution is None


def test_no_attribution_when_none_written() -> None:
    assert only(QUOTED).attribution is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Tue, 3 Mar 2026 09:14:00 -0500", datetime(2026, 3, 3, 14, 14)),
    ("Mon, Mar 2, 2026 at 12:05 AM", datetime(2026, 3, 2, 0, 5)),
    ("2 March 2026", datetime(2026, 3, 2)),
    ("03/13/2026 10:00", datetime(2026, 3, 13, 10, 0)),  # only month-first fits
    ("05/05/2026", datetime(2026, 5, 5)),
    ("02/03/2026", None),  # day or month first: unknown
    ("yesterday", None),
    ("", None),
    ("31.02.2026", None),  # no such day
])
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


# -- nesting and blank quoted lines ----------------------------------------------------------

NESTED = """\
On Tue, 3 Mar 2026, Bob Lark wrote:
> Ada Quill wrote:
> > The codec probe fails
> >
> > on every second boot.
> I see it too.
>
> Only with the new firmware.

Fixed now."""


def test_nested_levels_are_separate_quotes() -> None:
    outer, inner = find_quotes(NESTED)
    assert (outer.depth, outer.start_line, outer.end_line) == (1, 1, 8)
    assert outer.text == "Ada Quill wrote:\nI see it too.\n\nOnly with the new firmware."
    assert outer.attribution is not None and outer.attribution.name == "Bob Lark"
    assert (inner.depth, inner.start_line, inner.end_line) == (2, 2, 5)
    assert inner.text == "The codec probe fails\n\non every second boot."
    assert inner.attribution is not None and inner.attribution.name == "Ada Quill"
    assert inner.attribution_line == 1
    assert unquoted_text(NESTED) == "Fixed now."


def test_double_markers_without_spaces_are_depth_two() -> None:
    quotes = find_quotes(">> deep\n>> deeper\n> shallow")
    assert [(q.depth, q.text) for q in quotes] == [(1, "shallow"), (2, "deep\ndeeper")]


def test_blank_quoted_lines_keep_a_block_together() -> None:
    quote = only("> one\n>\n> two\n> \n> three")
    assert quote.text == "one\n\ntwo\n\nthree"
    assert (quote.start_line, quote.end_line) == (0, 5)


def test_an_unquoted_blank_line_splits_passages() -> None:
    quotes = find_quotes("> one\n\n> two")
    assert [(q.text, q.start_line) for q in quotes] == [("one", 0), ("two", 2)]


def test_interleaved_reply() -> None:
    body = "Ada wrote:\n> first point\nagreed\n> second point\nno\n"
    quotes = find_quotes(body)
    assert [q.text for q in quotes] == ["first point", "second point"]
    assert quotes[0].attribution is not None and quotes[1].attribution is None
    assert unquoted_text(body) == "agreed\nno"


def test_mbox_from_escape_is_not_a_quote() -> None:
    assert find_quotes(">From the top, please.") == []


# -- original-message blocks -----------------------------------------------------------------

OUTLOOK = """\
Thanks, that works.

-----Original Message-----
From: Ada Quill <ada@example.org>
Sent: Tuesday, March 3, 2026 9:14 AM
To: sound list <sound@example.org>
Subject: RE: codec probe

Try loading the module with probe_mask=1.

Ada
--\x20
Bob Lark, sound team"""


def test_original_message_block() -> None:
    quote = only(OUTLOOK)
    assert (quote.kind, quote.depth, quote.start_line, quote.end_line) == ("original", 0, 2, 11)
    assert quote.text == "Try loading the module with probe_mask=1.\n\nAda"
    a = quote.attribution
    assert a is not None
    assert (a.name, a.address, a.date_text) == (
        "Ada Quill", "ada@example.org", "Tuesday, March 3, 2026 9:14 AM")
    assert a.date == datetime(2026, 3, 3, 9, 14)
    assert unquoted_text(OUTLOOK) == "Thanks, that works."


def test_outlook_header_block_without_separator() -> None:
    body = ("Agreed.\n\n________________________________\nFrom: Ada Quill <ada@example.org>\n"
            "Sent: Tuesday, March 3, 2026 9:14 AM\nTo: Bob Lark\nSubject: probe\n\n"
            "Can you test the patch?\n")
    quote = only(body)
    assert quote.kind == "original" and quote.text == "Can you test the patch?"
    assert quote.attribution is not None and quote.attribution.address == "ada@example.org"
    assert unquoted_text(body).startswith("Agreed.")


def test_forwarded_message() -> None:
    body = ("See below.\n\nBegin forwarded message:\n\nFrom: Ada Quill <ada@example.org>\n"
            "Date: Tue, 3 Mar 2026 09:14:00 +0000\nSubject: probe\nTo: Bob Lark\n\n"
            "The probe fails.\n> an old quote inside\n")
    quote = only(body)  # the forwarded message's own quotes are not this message's quotes
    assert quote.kind == "original"
    assert quote.text == "The probe fails.\n> an old quote inside"
    assert quote.attribution is not None
    assert quote.attribution.date == datetime(2026, 3, 3, 9, 14)


def test_gmail_forward_rule() -> None:
    body = "fyi\n\n---------- Forwarded message ---------\nFrom: Ada <ada@example.org>\n\nhi"
    assert only(body).text == "hi"


def test_patch_headers_are_no_original_block() -> None:
    body = ("From: Ada Quill <ada@example.org>\nDate: Tue, 3 Mar 2026 09:14:00 +0000\n"
            "Subject: [PATCH] fix probe\n\nFix it.\n")
    assert find_quotes(body) == []


# -- signatures and footers ------------------------------------------------------------------

FOOTER = """\
Ada wrote:
> old words
> _______________________________________________
> Sound-devel mailing list
> https://lists.example.org/mailman/listinfo/sound-devel

New words.
--\x20
Bob

_______________________________________________
Sound-devel mailing list
Sound-devel@lists.example.org
https://lists.example.org/mailman/listinfo/sound-devel"""


def test_footers_and_signatures_are_not_own_words() -> None:
    assert unquoted_text(FOOTER) == "New words."
    quote = only(FOOTER)  # the quoted footer is not part of the quoted passage
    assert (quote.text, quote.end_line) == ("old words", 2)


def test_underscores_alone_are_no_footer() -> None:
    body = "Before\n______________________________\nAfter"
    assert unquoted_text(body) == body


def test_unquoted_text_of_plain_mail_is_the_mail() -> None:
    assert unquoted_text("Hello\n\nthere\n") == "Hello\n\nthere"


# -- console transcripts ---------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "Try:\n\n> x <- 1\n> y <- x + 1\n",
    "> library(foo)\n> foo::bar(2)\n",
    "> x <- c(1, 2)\n> sum(x)\n[1] 3\n",
    "> sum(1:3)\n[1] 6\n",
    "> f(1,\n+   2)\n",
    "> [1] 2\n",
    ">>> print(1)\n1\n",
    ">>> import os\n>>> os.getcwd()\n'/tmp'\n",
    "> R CMD check foo_1.0.tar.gz\n",
    "> options(warn = 2)\n> str(x)\n int [1:3] 1 2 3\n",
])
def test_console_transcripts(body: str) -> None:
    quotes = find_quotes(body)
    assert quotes and all(is_code_prompt(q) for q in quotes), quotes


@pytest.mark.parametrize("body", [
    "> I think we should drop the old driver.\n> It has no users left.\n",
    "Ada wrote:\n> x <- 1\n",  # introduced as mail
    "> Thanks\n",
    ">> deep mail quote\n> with a reply\n",
    "> meanCenter <- function(model, centerDV = FALSE,\n>     standardize = FALSE) {\n"
    ">   # centre every predictor and report which were changed\n"
    ">   the rest of the body is described in prose here\n> }\n",
])
def test_mail_quotes_are_not_console(body: str) -> None:
    assert not any(is_code_prompt(q) for q in find_quotes(body))


def test_original_blocks_are_never_console() -> None:
    assert not is_code_prompt(only(OUTLOOK))


# -- normalize_words -------------------------------------------------------------------------

def test_normalize_words_ignores_wrapping_and_markers() -> None:
    a = "The codec probe fails, on every second boot!"
    b = "> > the CODEC\n> > probe fails\n> >    on every second boot"
    assert normalize_words(a) == normalize_words(b)


def test_normalize_words_keeps_other_scripts() -> None:
    assert normalize_words("Grüße, señor — 音声") == ["grüße", "señor", "音声"]


# -- properties ------------------------------------------------------------------------------

_LINE = st.one_of(
    st.text(alphabet=st.sampled_from("ab >:-_\t.@<"), max_size=12),
    st.sampled_from(["> ", ">", "> > x", ">> y", "-- ", "Ada wrote:", "-----Original Message-----",
                     "From: a@b.c", "Sent: now", "To: x", "_" * 40, "Foo mailing list",
                     "On Mon, Ada wrote:", "> x <- 1", "[1] 2", "+ 3"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=25))
def test_find_quotes_ranges(lines: list[str]) -> None:
    body = "\n".join(lines)
    count = len(body.splitlines())
    quotes = find_quotes(body)
    seen: dict[int, list[tuple[int, int]]] = {}
    for q in quotes:
        assert 0 <= q.start_line < q.end_line <= count
        assert q.kind in ("marked", "original")
        assert (q.depth == 0) == (q.kind == "original")
        for lo, hi in seen.get(q.depth, []):
            assert q.end_line <= lo or hi <= q.start_line
        seen.setdefault(q.depth, []).append((q.start_line, q.end_line))
        is_code_prompt(q)
    assert [q.start_line for q in quotes] == sorted(q.start_line for q in quotes)
    unquoted_text(body)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(body: str) -> None:
    for q in find_quotes(body):
        is_code_prompt(q)
    unquoted_text(body)
    normalize_words(body)


_WORDS = st.lists(st.text(alphabet=st.sampled_from("abcdefgé'-,.!?"), min_size=1, max_size=9),
                  min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(_WORDS, st.integers(min_value=10, max_value=60), st.integers(min_value=1, max_value=3))
def test_requoting_and_rewrapping_keeps_words(words: list[str], width: int, depth: int) -> None:
    text = " ".join(words)
    wrapped = textwrap.wrap(text, width=width, break_long_words=False)
    quoted = "\n".join("> " * depth + line for line in wrapped)
    assert normalize_words(quoted) == normalize_words(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z ]{0,30}[a-z]", fullmatch=True), min_size=1,
                max_size=6))
def test_quoted_text_comes_back(lines: list[str]) -> None:
    body = "Ada wrote:\n" + "\n".join("> " + x for x in lines) + "\n\nreply"
    quote = only(body)
    assert quote.text == "\n".join(lines)
    assert unquoted_text(body) == "reply"
