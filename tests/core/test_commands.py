"""Reading email commands from a message to LIST-request@."""

from __future__ import annotations

import pytest

from moot.core.commands import (
    HELP_TEXT,
    Command,
    help_text,
    parse_commands,
    parse_line,
)
from moot.core.mailinglist import ListConfig


def names(subject: str, body: str, **kw: int) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.name, c.args) for c in parse_commands(subject, body, **kw).commands]


@pytest.mark.parametrize(
    ("line", "name", "args"),
    [
        ("subscribe", "subscribe", ()),
        ("join", "subscribe", ()),
        ("SUBSCRIBE Digest", "subscribe", ("digest",)),
        ("join regular", "subscribe", ("regular",)),
        ("unsubscribe", "unsubscribe", ()),
        ("Leave", "unsubscribe", ()),
        ("remove", "unsubscribe", ()),
        ("help", "help", ()),
        ("WHO", "who", ()),
        ("Confirm 3F9a-0c_Z", "confirm", ("3F9a-0c_Z",)),
        ("  \thelp  ", "help", ()),
        ("subscribe    digest", "subscribe", ("digest",)),
    ],
)
def test_known_commands_in_any_case(line: str, name: str, args: tuple[str, ...]) -> None:
    assert names("", line) == [(name, args)]


@pytest.mark.parametrize(
    "line",
    ["/help", "help!", "help me", "please help", "subscribe weekly", "unsubscribe now",
     "confirm", "confirm a b", "who?", "subscribe digest regular", "confirm <script>"],
)
def test_anything_near_a_command_is_not_one(line: str) -> None:
    parsed = parse_commands("", line)
    assert parsed.commands == ()
    assert parsed.unknown == (line,)


def test_the_line_is_kept_as_written_for_the_reply() -> None:
    assert parse_line("  Join DIGEST  ") == Command("subscribe", ("digest",), "Join DIGEST")


@pytest.mark.parametrize(
    "subject",
    ["confirm 3f9a0c", "Re: confirm 3f9a0c", "RE: Fwd: confirm 3f9a0c", "AW: confirm 3f9a0c",
     "Re[2]: confirm 3f9a0c", "  re:confirm 3f9a0c  ", "SV: Fw: confirm 3f9a0c"],
)
def test_a_reply_to_a_confirmation_confirms_by_its_subject(subject: str) -> None:
    assert names(subject, "") == [("confirm", ("3f9a0c",))]


def test_a_subject_that_is_no_command_is_not_reported() -> None:
    parsed = parse_commands("Hello there", "help\n")
    assert [c.name for c in parsed.commands] == ["help"]
    assert parsed.unknown == ()


def test_subject_comes_first_and_the_same_command_runs_once() -> None:
    parsed = parse_commands("Re: confirm abc", "confirm abc\nhelp\nCONFIRM abc\nhelp\n")
    assert [(c.name, c.args) for c in parsed.commands] == [("confirm", ("abc",)), ("help", ())]
    assert parsed.unknown == () and parsed.ignored == 0


def test_subscribe_digest_and_regular_are_different_commands() -> None:
    assert names("", "subscribe digest\nsubscribe\nsubscribe regular") == [
        ("subscribe", ("digest",)), ("subscribe", ()), ("subscribe", ("regular",))]


def test_blank_lines_are_skipped_and_crlf_is_fine() -> None:
    parsed = parse_commands("", "\r\n\r\n  \r\nhelp\r\n\r\nwho\r\n")
    assert [c.name for c in parsed.commands] == ["help", "who"]
    assert parsed.unknown == () and parsed.ignored == 0


def test_quoted_lines_are_never_run() -> None:
    body = "help\n\nOn Monday, the list wrote:\n> unsubscribe\n> who\nunsubscribe\n"
    parsed = parse_commands("", body)
    assert [c.name for c in parsed.commands] == ["help"]
    assert "unsubscribe" not in [c.name for c in parsed.commands]
    assert parsed.unknown == ("On Monday, the list wrote:",)


def test_quoted_text_ends_the_commands_even_when_indented() -> None:
    assert names("", "  > unsubscribe\nwho") == []


@pytest.mark.parametrize("separator", ["-- ", "--", "-- \r"])
def test_the_signature_is_not_read(separator: str) -> None:
    body = f"who\n{separator}\nAda Quill\nunsubscribe\n"
    parsed = parse_commands("", body)
    assert [c.name for c in parsed.commands] == ["who"]
    assert parsed.unknown == () and parsed.ignored == 0


@pytest.mark.parametrize("word", ["end", "END", "stop", "thanks", "Thanks!", "Thank you."])
def test_end_words_stop_reading(word: str) -> None:
    parsed = parse_commands("", f"help\n{word}\nunsubscribe\nwho\n")
    assert [c.name for c in parsed.commands] == ["help"]
    assert parsed.unknown == () and parsed.ignored == 0


def test_an_outlook_style_quote_is_not_read() -> None:
    body = "help\n-----Original Message-----\nFrom: dev-request@example.org\nunsubscribe\n"
    assert names("", body) == [("help", ())]


def test_three_unknown_lines_in_a_row_stop_reading_and_the_rest_is_counted() -> None:
    body = "Hi,\nplease take me off\nthis list.\nunsubscribe\n\nhelp\nCheers\n"
    parsed = parse_commands("", body)
    assert parsed.commands == ()
    assert parsed.unknown == ("Hi,", "please take me off", "this list.")
    assert parsed.ignored == 3  # unsubscribe, help, Cheers (blank lines are not counted)


def test_a_command_between_unknown_lines_resets_the_count() -> None:
    body = "hi\nthere\nhelp\nfoo\nbar\nwho\n"
    parsed = parse_commands("", body)
    assert [c.name for c in parsed.commands] == ["help", "who"]
    assert parsed.unknown == ("hi", "there", "foo", "bar")
    assert parsed.ignored == 0


def test_no_more_than_limit_commands_run() -> None:
    body = "".join(f"confirm code{i}\n" for i in range(15)) + "-- \nsig\n"
    parsed = parse_commands("", body)
    assert len(parsed.commands) == 10
    assert parsed.commands[-1].args == ("code9",)
    assert parsed.ignored == 5


def test_the_subject_counts_towards_the_limit() -> None:
    parsed = parse_commands("help", "who\nunsubscribe\nsubscribe\n", limit=2)
    assert [c.name for c in parsed.commands] == ["help", "who"]
    assert parsed.ignored == 2


def test_a_command_in_the_subject_can_use_up_the_limit() -> None:
    parsed = parse_commands("Re: confirm abc", "help\nwho\n", limit=1)
    assert [c.name for c in parsed.commands] == ["confirm"]
    assert parsed.ignored == 2


def test_confirmation_codes_of_different_case_are_different() -> None:
    assert len(parse_commands("confirm abc", "confirm ABC\n").commands) == 2


def test_a_repeated_command_does_not_use_up_the_limit() -> None:
    parsed = parse_commands("", "help\nhelp\nhelp\nwho\n", limit=2)
    assert [c.name for c in parsed.commands] == ["help", "who"]
    assert parsed.ignored == 0


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        parse_commands("", "help", limit=0)


def test_an_empty_message_has_no_commands() -> None:
    parsed = parse_commands("", "")
    assert parsed.commands == () and parsed.unknown == () and parsed.ignored == 0


CONFIG = ListConfig("dev-team@example.org", display_name="Dev Team",
                    description="Talk about building moot.")


def test_help_text_tells_where_to_send_which_command() -> None:
    text = help_text(CONFIG)
    assert "dev-team-request@example.org" in text
    assert "dev-team@example.org" in text  # where to post
    assert "Talk about building moot." in text
    for usage in ("subscribe ", "subscribe digest", "unsubscribe", "confirm CODE", "who", "help"):
        assert f"\n  {usage}" in text
    assert "dev-team-join@example.org" in text and "dev-team-leave@example.org" in text
    assert HELP_TEXT(CONFIG) == text


def test_help_text_quoted_back_without_markers_runs_nothing() -> None:
    parsed = parse_commands("", help_text(CONFIG))
    assert parsed.commands == ()
