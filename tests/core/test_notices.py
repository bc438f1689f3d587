"""The list's own messages: complete, safe against header injection, and loop-proof."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core import notices
from moot.core.address import parse_recipient
from moot.core.commands import parse_commands
from moot.core.mailinglist import ListConfig
from moot.core.member import Member

CONFIG = ListConfig("dev@example.org", display_name="Dev Team",
                    description="Talk about building moot.")
DATE = datetime(2026, 3, 2, 9, 14, tzinfo=UTC)
TO = "ada@example.net"


def read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


# Each builder with the smallest set of arguments it takes (besides config and to).
BUILDERS: dict[str, tuple[Callable[..., bytes], dict[str, Any]]] = {
    "confirm_subscribe": (notices.confirm_subscribe, dict(
        token="3f9a0c", confirm_address="dev-confirm+3f9a0c@example.org",
        confirm_url="https://lists.example.org/confirm/3f9a0c",
        expires=DATE + timedelta(days=3))),
    "confirm_unsubscribe": (notices.confirm_unsubscribe, dict(
        token="77ab", confirm_address="dev-confirm+77ab@example.org",
        confirm_url="https://lists.example.org/confirm/77ab",
        expires=DATE + timedelta(days=3))),
    "welcome": (notices.welcome, dict(unsubscribe_url="https://lists.example.org/u/TOKEN",
                                      archive_url="https://lists.example.org/dev/")),
    "goodbye": (notices.goodbye, {}),
    "command_results": (notices.command_results, dict(
        results=[("subscribe digest", "You are now subscribed, with digests.")],
        unknown=["please"], ignored=2, in_reply_to="their@example.net")),
    "help_reply": (notices.help_reply, dict(in_reply_to="their@example.net")),
    "who_reply": (notices.who_reply, dict(members=[Member("bob@example.net"),
                                                   Member("ada@example.net", role="owner")],
                                          in_reply_to="their@example.net")),
    "held_for_moderation": (notices.held_for_moderation, dict(
        subject="Build fails on ARM", reasons=["The sender is not a member."],
        in_reply_to="their@example.net")),
    "moderator_notice": (notices.moderator_notice, dict(
        hold_id=42, sender="eve@example.com", subject="Build fails on ARM",
        reasons=["The sender is not a member."],
        moderate_url="https://lists.example.org/dev/held/42")),
    "rejected": (notices.rejected, dict(subject="Cheap watches", reason="Only members post.",
                                        in_reply_to="their@example.net")),
    "held_summary": (notices.held_summary, dict(
        count=12, waiting=15, holds=[(7, "eve@example.com", "Cheap watches",
                                      "https://lists.example.org/l/dev@example.org/moderate/7/t")])),
}
REPLIES = {"command_results", "help_reply", "who_reply", "held_for_moderation", "rejected"}


def build(name: str, config: ListConfig = CONFIG, to: str = TO, **changes: Any) -> bytes:
    builder, kwargs = BUILDERS[name]
    args = {**kwargs, "message_id": f"{name}.1@lists.example.org", "date": DATE, **changes}
    return builder(config, to, **args)


@pytest.mark.parametrize("name", BUILDERS)
def test_every_notice_is_a_complete_message(name: str) -> None:
    raw = build(name)
    assert b"\r\n\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = read(raw)
    assert msg["To"].addresses[0].addr_spec == TO
    sender = msg["From"].addresses[0]
    assert sender.display_name == "Dev Team"
    assert sender.addr_spec == ("dev-owner@example.org"
                                if name in ("moderator_notice", "held_summary")
                                else "dev-request@example.org")
    assert msg["Subject"]
    assert parsedate_to_datetime(msg["Date"]) == DATE
    assert msg["Message-ID"] == f"<{name}.1@lists.example.org>"
    assert msg["X-Loop"] == "dev@example.org"
    assert msg["List-Id"] == '"Dev Team" <dev.example.org>'
    assert msg["Precedence"] == "bulk"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert body(msg).strip()


@pytest.mark.parametrize("name", BUILDERS)
def test_auto_submitted_says_whether_it_answers_someone(name: str) -> None:
    msg = read(build(name))
    if name in REPLIES:
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["In-Reply-To"] == "<their@example.net>"
        assert msg["References"] == "<their@example.net>"
    else:
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["In-Reply-To"] is None


def test_a_reply_without_the_original_id_has_no_in_reply_to() -> None:
    msg = read(build("help_reply", in_reply_to=None))
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_a_confirmation_answering_mail_to_join_is_a_reply() -> None:
    msg = read(build("confirm_subscribe", in_reply_to="<join@example.net>"))
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<join@example.net>"


@pytest.mark.parametrize("name", sorted(set(BUILDERS) - {"confirm_subscribe",
                                                          "confirm_unsubscribe"}))
def test_replying_to_a_notice_runs_no_command(name: str) -> None:
    msg = read(build(name))
    parsed = parse_commands("Re: " + str(msg["Subject"]), body(msg))
    assert parsed.commands == ()


@pytest.mark.parametrize("name", ["confirm_subscribe", "confirm_unsubscribe"])
def test_a_plain_reply_to_a_confirmation_confirms(name: str) -> None:
    msg = read(build(name))
    token = BUILDERS[name][1]["token"]
    parsed = parse_commands("Re: " + str(msg["Subject"]), "Yes, that was me.\n")
    assert [(c.name, c.args) for c in parsed.commands] == [("confirm", (token,))]
    # ... and the reply goes to the confirm address, which we read back as such.
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    got = parse_recipient(reply_to, {"dev@example.org"}.__contains__)
    assert got is not None and (got.kind, got.token) == ("confirm", token)
    # Quoting the confirmation itself (without ">") confirms nothing.
    assert parse_commands("", body(msg)).commands == ()


def test_a_confirmation_says_how_to_confirm_until_when_and_what_if_not_asked() -> None:
    text = body(read(build("confirm_subscribe")))
    assert "subscribe ada@example.net" in text
    assert "reply" in text
    assert "https://lists.example.org/confirm/3f9a0c" in text
    assert "2026-03-05 09:14 UTC" in text
    assert "ignore" in text
    left = body(read(build("confirm_unsubscribe")))
    assert "unsubscribe ada@example.net" in left


def test_welcome_says_how_to_post_leave_and_read() -> None:
    text = body(read(build("welcome")))
    assert "write to dev@example.org" in text
    assert "https://lists.example.org/u/TOKEN" in text
    assert "dev-leave@example.org" in text
    assert "https://lists.example.org/dev/" in text
    assert "Talk about building moot." in text
    no_archive = body(read(build("welcome", archive_url=None)))
    assert "archive" not in no_archive


def test_welcome_to_a_private_archive_says_so() -> None:
    config = ListConfig("dev@example.org", archive_policy="private")
    assert "members only" in body(read(build("welcome", config=config)))


def test_goodbye_says_how_to_come_back() -> None:
    text = body(read(build("goodbye")))
    assert "ada@example.net has left" in text
    assert "dev-join@example.org" in text


def test_command_results_list_each_command_its_outcome_and_what_was_not_read() -> None:
    msg = read(build("command_results"))
    assert msg["Subject"] == "The results of your email commands"
    text = body(msg)
    assert "> subscribe digest\nYou are now subscribed, with digests.\n" in text
    assert "> please" in text
    assert "2 more lines were not read" in text
    assert "'help' to dev-request@example.org" in text


def test_command_results_for_a_message_without_commands() -> None:
    text = body(read(build("command_results", results=[], unknown=[], ignored=0)))
    assert "No commands were found" in text


def test_help_reply_holds_the_help_text() -> None:
    text = body(read(build("help_reply")))
    assert "subscribe digest" in text and "dev-request@example.org" in text


def test_who_reply_lists_members_in_order_with_their_roles() -> None:
    members = [Member("zed@example.net", delivery="digest"), Member("bob@example.net",
               name="Bob B"), Member("ada@example.net", role="owner")]
    text = body(read(build("who_reply", members=members)))
    assert "3 members" in text
    assert text.index("ada@") < text.index("bob@") < text.index("zed@")
    assert "ada@example.net [owner]" in text
    assert "bob@example.net (Bob B)" in text
    assert "zed@example.net [digest]" in text


def test_held_tells_the_author_what_and_why() -> None:
    text = body(read(build("held_for_moderation")))
    assert '"Build fails on ARM"' in text
    assert "The sender is not a member." in text
    assert "moderator" in text and "dev-owner@example.org" in text


def test_moderator_notice_says_who_what_why_and_where_to_act() -> None:
    msg = read(build("moderator_notice"))
    assert "#42" in str(msg["Subject"])
    text = body(msg)
    for part in ("eve@example.com", "Build fails on ARM", "The sender is not a member.",
                 "https://lists.example.org/dev/held/42"):
        assert part in text


def test_rejected_gives_the_reason() -> None:
    text = body(read(build("rejected")))
    assert '"Cheap watches"' in text and "Only members post." in text


def test_non_ascii_names_and_subjects_survive() -> None:
    config = ListConfig("dev@example.org", display_name='Équipe "dév" <x>')
    msg = read(build("held_for_moderation", config=config, subject="Ünïcode — ça marche"))
    assert msg["From"].addresses[0].display_name == 'Équipe "dév" <x>'
    assert msg["From"].addresses[0].addr_spec == "dev-request@example.org"
    assert str(msg["List-Id"]).endswith(" <dev.example.org>")
    assert "<x>" not in str(msg["List-Id"])
    assert "Ünïcode — ça marche" in body(msg)


def test_quotes_in_an_ascii_name_stay_inside_list_id() -> None:
    config = ListConfig("dev@example.org", display_name='The "dev" <list>')
    msg = read(build("goodbye", config=config))
    assert msg["List-Id"] == r'"The \"dev\" <list>" <dev.example.org>'


def test_dates_are_written_in_utc() -> None:
    paris = DATE.astimezone(timezone(timedelta(hours=1)))
    msg = read(build("goodbye", date=paris))
    assert msg["Date"] == "Mon, 02 Mar 2026 09:14:00 +0000"


def test_naive_dates_are_refused() -> None:
    with pytest.raises(ValueError):
        build("goodbye", date=datetime(2026, 3, 2, 9, 14))
    with pytest.raises(ValueError):
        build("confirm_subscribe", expires=datetime(2026, 3, 5))


# -- header injection -----------------------------------------------------------------------

INJECTIONS = ["x\r\nBcc: eve@example.com", "x\nBcc: eve@example.com", "x\rBcc: y", "x\x00y",
              "x\u2028y"]

# Every string argument of every builder.
STRING_ARGS = [(name, arg) for name, (_, kwargs) in BUILDERS.items()
               for arg, value in kwargs.items() if isinstance(value, str)]
STRING_ARGS += [(name, "message_id") for name in BUILDERS]


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(("name", "arg"), STRING_ARGS)
def test_line_breaks_in_any_value_are_refused(name: str, arg: str, bad: str) -> None:
    with pytest.raises(ValueError):
        build(name, **{arg: f"ok@example.org{bad}"})


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize("name", BUILDERS)
def test_line_breaks_in_the_recipient_are_refused(name: str, bad: str) -> None:
    with pytest.raises(ValueError):
        build(name, to=f"ada@example.net{bad}")


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize("name", BUILDERS)
def test_line_breaks_in_the_list_name_are_refused(name: str, bad: str) -> None:
    with pytest.raises(ValueError):
        build(name, config=ListConfig("dev@example.org", display_name=f"Dev{bad}"))


@pytest.mark.parametrize("bad", INJECTIONS)
def test_line_breaks_in_sequences_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        build("command_results", results=[(f"help{bad}", "done")])
    with pytest.raises(ValueError):
        build("command_results", unknown=[f"hm{bad}"])
    with pytest.raises(ValueError):
        build("held_for_moderation", reasons=[f"why{bad}"])
    with pytest.raises(ValueError):
        build("moderator_notice", reasons=[f"why{bad}"])
    with pytest.raises(ValueError):
        build("who_reply", members=[Member(f"bob@example.net{bad}")])
    with pytest.raises(ValueError):
        build("who_reply", members=[Member("bob@example.net", name=f"Bob{bad}")])
    with pytest.raises(ValueError):
        build("help_reply", in_reply_to=f"their@example.net{bad}")


@pytest.mark.parametrize("bad", ["x\rBcc: y", "x\x00y", "x\u2028y", "x\x1by"])
def test_outcomes_with_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        build("command_results", results=[("help", f"done{bad}")])


def test_an_outcome_may_span_lines_in_the_body_only() -> None:
    outcome = "2 members:\r\n  ada@example.net\n  bob@example.net\nBcc: eve@example.com"
    msg = read(build("command_results", results=[("who", outcome)]))
    assert msg["Bcc"] is None
    assert "> who\n2 members:\n  ada@example.net\n  bob@example.net\nBcc: eve@example.com\n" \
        in body(msg)


def test_a_malformed_parent_id_loses_only_the_threading_headers() -> None:
    msg = read(build("rejected", in_reply_to="not an id"))
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert "Only members post." in body(msg)
    old_style = read(build("rejected", in_reply_to="<12345.local>"))
    assert old_style["In-Reply-To"] == "<12345.local>"


@given(text=st.text())
def test_one_line_makes_any_text_fit_for_a_notice(text: str) -> None:
    subject = notices.one_line(text)
    assert len(subject) <= 200
    msg = read(build("held_for_moderation", subject=subject, reasons=[notices.one_line(text)]))
    assert msg["Subject"] == "Your message to Dev Team waits for a moderator"


def test_one_line_keeps_the_words() -> None:
    assert notices.one_line(" Build\r\n fails\ton  ARM ") == "Build fails on ARM"
    assert notices.one_line("x" * 300) == "x" * 199 + "…"


@pytest.mark.parametrize("to", ["", "ada", "Ada <ada@example.net>", "ada@example.net, eve@x",
                                "ada @example.net", "jörg@example.net", "ada@bücher.example"])
def test_the_recipient_must_be_one_bare_address(to: str) -> None:
    with pytest.raises(ValueError):
        build("goodbye", to=to)


@pytest.mark.parametrize("message_id", ["", "no-at-sign", "a b@c", "<a@b>>"])
def test_message_ids_must_look_like_message_ids(message_id: str) -> None:
    with pytest.raises(ValueError):
        build("goodbye", message_id=message_id)


def test_a_confirmation_token_must_be_one_word() -> None:
    with pytest.raises(ValueError):
        build("confirm_subscribe", token="abc def")
    with pytest.raises(ValueError):
        build("confirm_subscribe", token="")


def test_moderator_notice_without_a_page_says_the_command() -> None:
    import email as _email
    from datetime import UTC, datetime

    from moot.core.mailinglist import ListConfig
    from moot.core.notices import moderator_notice

    raw = moderator_notice(ListConfig("dev@example.org"), "mod@example.org", hold_id=7,
                           sender="eve@example.org", subject="Offer", reasons=["not a member"],
                           moderate_url="", message_id="n@example.org",
                           date=datetime(2026, 1, 1, tzinfo=UTC))
    body = _email.message_from_bytes(raw).get_payload(decode=True).decode()
    assert "moot moderate dev@example.org 7 approve|reject|discard" in body
    assert "http" not in body


# -- moderation by mail -----------------------------------------------------------------------

APPROVE = "dev-confirm+aaaa@example.org"
REJECT = "dev-confirm+rrrr@example.org"
DISCARD = "dev-confirm+dddd@example.org"


def test_the_moderator_notice_names_an_address_for_each_decision() -> None:
    msg = read(build("moderator_notice", approve_address=APPROVE, reject_address=REJECT,
                     discard_address=DISCARD))
    assert msg["Reply-To"].addresses[0].addr_spec == APPROVE
    text = body(msg)
    assert "To approve it, reply to this message" in text
    assert f"turn it down (the author is told), send any message to:\n  {REJECT}" in text
    assert f"discard it (nobody is told), send any message to:\n  {DISCARD}" in text
    assert "https://lists.example.org/dev/held/42" in text
    assert parse_commands("Re: " + str(msg["Subject"]), text).commands == ()


def test_without_addresses_the_moderator_notice_has_no_reply_to() -> None:
    assert read(build("moderator_notice"))["Reply-To"] is None


@pytest.mark.parametrize("arg", ["approve_address", "reject_address", "discard_address"])
@pytest.mark.parametrize("bad", ["not an address", "a@b\r\nBcc: eve@example.com"])
def test_moderation_addresses_must_be_addresses(arg: str, bad: str) -> None:
    with pytest.raises(ValueError):
        build("moderator_notice", **{arg: bad})


def test_the_author_may_withdraw_by_replying() -> None:
    msg = read(build("held_for_moderation", withdraw_address="dev-confirm+wwww@example.org"))
    assert msg["Reply-To"].addresses[0].addr_spec == "dev-confirm+wwww@example.org"
    text = body(msg)
    assert "To withdraw it, reply to this message with the word withdraw." in text
    assert parse_commands("Re: " + str(msg["Subject"]), text).commands == ()
    plain = read(build("held_for_moderation"))
    assert plain["Reply-To"] is None and "withdraw" not in body(plain)
    with pytest.raises(ValueError):
        build("held_for_moderation", withdraw_address="x\r\nBcc: eve@example.com")


def test_the_summary_counts_lists_and_points_to_the_queue() -> None:
    msg = read(build("held_summary"))
    assert str(msg["Subject"]) == "Dev Team: 12 more posts are waiting for approval"
    text = body(msg)
    assert "12 more posts are waiting for a moderator" in text and "(15 in all)" in text
    assert '#7 from eve@example.com: "Cheap watches"' in text
    assert "/l/dev@example.org/moderate/7/t" in text
    assert "... and 11 more" in text
    assert "moot held dev@example.org" in text
    one = body(read(build("held_summary", count=1, waiting=1)))
    assert "1 more post is waiting" in one and "and 0 more" not in one
    with pytest.raises(ValueError):
        build("held_summary", holds=[(1, "eve@example.com\r\nBcc: x@y.z", "s", "")])
    with pytest.raises(ValueError):
        build("held_summary", count=-1)
