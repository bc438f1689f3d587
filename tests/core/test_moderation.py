"""Hold tokens, the author's "withdraw" reply and the moderators' notice batching, on plain
values."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.address import parse_recipient
from moot.core.moderation import (
    DECISIONS,
    MODERATOR_DECISIONS,
    NOTICE_WINDOW,
    NOTICES_PER_WINDOW,
    TOKEN_ACTIONS,
    asks_to_withdraw,
    check_hold_token,
    hold_key,
    hold_token,
    read_hold_token,
    summary_due,
    tell_at_once,
    told_one_by_one,
)

SECRET = b"s" * 32
LIST = "dev@example.org"
T = datetime(2026, 3, 2, 9, 0)
KEY = hold_key("a@example.org", T)


@pytest.mark.parametrize("action", sorted(TOKEN_ACTIONS))
@pytest.mark.parametrize("hold_id", [0, 1, 255, 256, 70_000, 2**40])
def test_a_token_names_its_hold_and_action(action: str, hold_id: int) -> None:
    token = hold_token(SECRET, LIST, hold_id, action, KEY)
    assert read_hold_token(token) == (hold_id, action)
    assert check_hold_token(SECRET, LIST, token, KEY)
    assert check_hold_token(SECRET, "DEV@example.org", token.upper(), KEY)  # case is lost in mail
    # It fits in a sub-address, and comes back from one as itself.
    address = f"dev-confirm+{token}@example.org"
    assert len(address.partition("@")[0]) <= 64
    got = parse_recipient(address, {LIST}.__contains__)
    assert got is not None and (got.kind, got.token) == ("confirm", token)


def test_a_token_works_for_no_other_hold_list_key_action_or_secret() -> None:
    token = hold_token(SECRET, LIST, 7, "approve", KEY)
    assert not check_hold_token(SECRET, "ops@example.org", token, KEY)
    assert not check_hold_token(SECRET, LIST, token, hold_key("b@example.org", T))
    assert not check_hold_token(SECRET, LIST, token, hold_key("a@example.org",
                                                              T + timedelta(seconds=1)))
    assert not check_hold_token(b"t" * 32, LIST, token, KEY)
    assert token != hold_token(SECRET, LIST, 8, "approve", KEY)
    assert token != hold_token(SECRET, LIST, 7, "reject", KEY)


def test_the_key_ignores_fractions_of_a_second() -> None:
    assert hold_key("a@x", T.replace(microsecond=999_999)) == hold_key("a@x", T)


@given(st.text(max_size=80))
def test_anything_else_is_not_a_token(text: str) -> None:
    claimed = read_hold_token(text)  # never raises
    assert claimed is None or claimed[1] in TOKEN_ACTIONS
    assert not check_hold_token(SECRET, LIST, text, KEY)


def test_subscription_codes_are_not_hold_tokens() -> None:
    import secrets

    for _ in range(50):
        code = secrets.token_urlsafe(24)
        assert not check_hold_token(SECRET, LIST, code, KEY)


@pytest.mark.parametrize("bad", [b"", b"short"])
def test_a_short_secret_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError):
        hold_token(bad, LIST, 1, "approve", KEY)


@pytest.mark.parametrize(("hold_id", "action"), [(-1, "approve"), (1, "defer"), (True, "approve")])
def test_tokens_only_for_real_holds_and_actions(hold_id: int, action: str) -> None:
    with pytest.raises(ValueError):
        hold_token(SECRET, LIST, hold_id, action, KEY)


def test_decisions() -> None:
    assert set(MODERATOR_DECISIONS) < set(DECISIONS)
    assert {"withdraw", "expire"} == set(DECISIONS) - set(MODERATOR_DECISIONS)


# -- withdraw ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "body"), [
    ("Re: waits", "withdraw"),
    ("Re: waits", "  WITHDRAW!\n-- \nEve"),
    ("Re: waits", "Please withdraw\n\n> To withdraw it, reply to this message"),
    ("withdraw", "Sent from my phone"),
    ("Re: withdraw", ""),
])
def test_a_withdraw_line_withdraws(subject: str, body: str) -> None:
    assert asks_to_withdraw(subject, body)


@pytest.mark.parametrize(("subject", "body"), [
    ("Re: waits", "Thanks, I'll wait."),
    ("Re: waits", "> withdraw"),
    ("Re: waits", "I do not want to withdraw it"),
    ("Re: waits", "ok\n-----Original Message-----\nwithdraw"),
    ("Re: waits", "ok\nOn Mon, Eve wrote:\nwithdraw"),
    ("Re: waits", "ok\n-- \nwithdraw"),
    ("Re: waits", "\n".join(["blah"] * 25 + ["withdraw"])),
])
def test_anything_else_withdraws_nothing(subject: str, body: str) -> None:
    assert not asks_to_withdraw(subject, body)


# -- batching ---------------------------------------------------------------------------------


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_three_in_a_window_are_told_one_by_one() -> None:
    holds = [(1, at(0)), (2, at(1)), (3, at(2)), (4, at(3)), (5, at(9.9)), (6, at(12.5))]
    # 4 and 5 had three before them within ten minutes; by 12.5, only 4 and 5 are that recent.
    assert told_one_by_one(holds) == {1, 2, 3, 6}
    assert told_one_by_one(list(reversed(holds))) == {1, 2, 3, 6}  # ordered by number
    assert told_one_by_one([]) == set()


def test_the_window_and_the_limit() -> None:
    assert NOTICE_WINDOW == timedelta(minutes=10) and NOTICES_PER_WINDOW == 3
    assert [tell_at_once(n) for n in range(5)] == [True, True, True, False, False]
    assert told_one_by_one([(n, at(0)) for n in range(1, 11)]) == {1, 2, 3}
    # exactly a window apart no longer counts
    assert told_one_by_one([(1, at(0)), (2, at(0)), (3, at(0)), (4, at(10))]) == {1, 2, 3, 4}


def test_the_summary_waits_a_window_after_the_first_untold_hold() -> None:
    assert not summary_due(at(3), at(12.99))
    assert summary_due(at(3), at(13))
    assert summary_due(at(3), at(60))
