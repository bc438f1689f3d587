"""Which list a recipient address belongs to, and what a message to it is for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.address import KINDS, Recipient, parse_recipient, valid_list_address
from moot.core.mailinglist import ListConfig

LISTS = {"dev@example.org", "dev-team@example.org", "foo-request@example.org",
         "a+b@example.org"}


def is_list(address: str) -> bool:
    return address in LISTS


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("dev-request@example.org", "request"),
        ("dev-join@example.org", "join"),
        ("dev-subscribe@example.org", "join"),
        ("dev-leave@example.org", "leave"),
        ("dev-unsubscribe@example.org", "leave"),
        ("dev-owner@example.org", "owner"),
        ("dev-bounces@example.org", "bounces"),
    ],
)
def test_each_suffix_names_its_kind(address: str, kind: str) -> None:
    assert parse_recipient(address, is_list) == Recipient("dev@example.org", kind)


def test_the_posting_address_is_a_post() -> None:
    assert parse_recipient("dev@example.org", is_list) == Recipient("dev@example.org", "post")


def test_case_angle_brackets_and_whitespace_do_not_matter() -> None:
    got = parse_recipient("  <DEV-Request@Example.ORG> \n", is_list)
    assert got == Recipient("dev@example.org", "request")


def test_a_list_named_like_a_sub_address_takes_posts() -> None:
    assert parse_recipient("foo-request@example.org", is_list) == Recipient(
        "foo-request@example.org", "post")


def test_a_list_with_a_dash_in_its_name_has_sub_addresses() -> None:
    assert parse_recipient("dev-team-request@example.org", is_list) == Recipient(
        "dev-team@example.org", "request")
    assert parse_recipient("dev-team-confirm+x1@example.org", is_list) == Recipient(
        "dev-team@example.org", "confirm", "x1")


def test_a_list_with_a_plus_in_its_name_has_sub_addresses() -> None:
    assert parse_recipient("a+b-owner@example.org", is_list) == Recipient(
        "a+b@example.org", "owner")


def test_confirm_carries_its_token_exactly_as_written() -> None:
    # Tokens such as secrets.token_urlsafe() depend on case; the rest of the address does not.
    assert parse_recipient("DEV-Confirm+3f9A-0c_Z@Example.org", is_list) == Recipient(
        "dev@example.org", "confirm", "3f9A-0c_Z")


def test_confirm_without_a_token_is_not_ours() -> None:
    assert parse_recipient("dev-confirm@example.org", is_list) is None
    assert parse_recipient("dev-confirm+@example.org", is_list) is None


def test_bounces_take_any_detail_even_with_dashes() -> None:
    got = parse_recipient("dev-bounces+Ada-Lovelace=example.net@example.org", is_list)
    assert got == Recipient("dev@example.org", "bounces", "Ada-Lovelace=example.net")


@pytest.mark.parametrize(
    "address",
    [
        "dev+news@example.org",  # a detail on the posting address
        "dev-request+x@example.org",
        "dev-join+x@example.org",
        "dev-leave+x@example.org",
        "dev-owner+x@example.org",
        "ops-request@example.org",  # no such list
        "ops@example.org",
        "dev-info@example.org",  # no such suffix
        "dev-requests@example.org",
        "dev-@example.org",
        "-request@example.org",
        "dev-request@",
        "@example.org",
        "dev-request",
        "",
        "<>",
        "dev request@example.org",
        "dev-request@example.org@example.org",
        "Dev <dev-request@example.org>",
    ],
)
def test_anything_else_is_not_ours(address: str) -> None:
    assert parse_recipient(address, is_list) is None


def test_is_list_is_only_asked_about_lower_case_addresses() -> None:
    asked: list[str] = []

    def record(address: str) -> bool:
        asked.append(address)
        return False

    assert parse_recipient("Dev-Team-REQUEST@Example.org", record) is None
    assert asked and all(a == a.lower() and a.endswith("@example.org") for a in asked)
    assert "dev-team@example.org" in asked


_LOCAL = st.from_regex(r"\A[a-z0-9][a-z0-9.\-]{0,20}\Z")


@given(local=_LOCAL, suffix=st.sampled_from(
    ["request", "join", "subscribe", "leave", "unsubscribe", "owner", "bounces"]))
def test_the_addresses_a_list_writes_are_read_back(local: str, suffix: str) -> None:
    config = ListConfig(f"{local}@lists.example.org")
    assert valid_list_address(config.address)
    got = parse_recipient(config.sub_address(suffix), {config.address}.__contains__)
    assert got is not None
    assert got.list_address == config.address
    assert got.kind in KINDS and got.kind != "post"
