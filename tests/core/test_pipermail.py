"""Calibrating pipermail article numbers on citations: a shift is taken only where the
citations on both sides of a number agree (or, lacking one side, two of its own month do);
a change of shift between them, a tie, or one message's many links settle nothing."""

from __future__ import annotations

from moot.core.pipermail import Calibration, Evidence, starts


def ev(number: int, shifts: set[int], source: int, period: str = "2020-01") -> Evidence:
    return Evidence(number, period, frozenset(shifts), source)


def test_months_are_counted_in_calendar_order() -> None:
    assert starts({"2020-10": 4, "2020-02": 3, "2019-12": 5}) == {
        "2019-12": 0, "2020-02": 5, "2020-10": 8}


def test_citations_on_both_sides_settle_a_number_that_no_words_explain() -> None:
    cal = Calibration([ev(10, {-3, 7}, 1), ev(20, {-3}, 2), ev(40, {-3, 1}, 3),
                       ev(50, {-3}, 4)])
    assert cal.shift(30, "2020-01") == -3
    assert cal.bracketed(30)


def test_a_change_of_shift_between_the_sides_settles_nothing() -> None:
    # Below the number, -3; above, -4: a message was lost somewhere between.
    cal = Calibration([ev(10, {-3}, 1), ev(20, {-3}, 2), ev(40, {-4}, 3), ev(50, {-4}, 4)])
    assert cal.shift(30, "2020-01") is None
    assert cal.shift(15, "2020-01") is None  # around 15: -3 twice, -4 twice, a tie


def test_one_message_citing_many_numbers_is_one_vote() -> None:
    cal = Calibration([ev(10, {-3}, 1), ev(20, {-3}, 1), ev(40, {-3}, 1), ev(50, {-3}, 1)])
    assert cal.shift(30, "2020-01") is None


def test_a_number_past_the_last_citation_needs_two_of_its_month() -> None:
    cal = Calibration([ev(10, {-3}, 1, "2020-01"), ev(20, {-3}, 2, "2020-02"),
                       ev(25, {-3, 5}, 3, "2020-02")])
    assert cal.shift(30, "2020-02") == -3
    assert not cal.bracketed(30)
    assert cal.shift(30, "2020-03") is None


def test_citations_far_away_say_nothing() -> None:
    far = [ev(10, {-3}, 1), ev(20, {-3}, 2), ev(90_000, {-3}, 3), ev(90_010, {-3}, 4)]
    assert Calibration(far).shift(40_000, "2020-01") is None
