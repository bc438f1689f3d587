"""Sender rules and members' accepted posts on real databases (SQLite, and PostgreSQL when
MOOT_TEST_POSTGRES is set): one rule per pattern, the most specific wins, bad ones are refused."""

from __future__ import annotations

from datetime import datetime

import pytest

from moot.app import Moot
from moot.core.errors import BadSetting
from moot.core.member import Member
from moot.storage import members as m
from moot.storage import senders

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def lid(moot: Moot) -> int:
    return moot.store.create_list("dev@example.org")



def test_one_rule_per_pattern_and_the_most_specific_wins(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        senders.add(conn, lid, "^.*@example\\.org$", "hold", by="cli", now=NOW)
        senders.add(conn, lid, "*@example.org", "discard", by="cli", now=NOW)
        assert senders.add(conn, lid, " Jo@Example.ORG ", "reject", by="cli", now=NOW) \
            == "jo@example.org"
        senders.add(conn, lid, "jo@example.org", "accept", by="mod@example.org", now=NOW)
    with moot.engine.connect() as conn:
        assert senders.rule_for(conn, lid, "JO@example.org") == "accept"
        assert senders.rule_for(conn, lid, "al@example.org") == "discard"
        assert senders.rule_for(conn, lid, "al@example.net") is None
        listed = senders.listed(conn, lid)
    assert [(r["pattern"], r["action"], r["by"]) for r in listed] == [
        ("^.*@example\\.org$", "hold", "cli"), ("*@example.org", "discard", "cli"),
        ("jo@example.org", "accept", "mod@example.org")]
    with moot.engine.begin() as conn:
        assert senders.remove(conn, lid, "*@Example.org")
        assert not senders.remove(conn, lid, "*@example.org")
        assert not senders.remove(conn, lid, "not a pattern")
        assert senders.rule_for(conn, lid, "al@example.org") == "hold"


def test_bad_patterns_and_actions_are_refused(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        with pytest.raises(BadSetting):
            senders.add(conn, lid, "jo*@example.org", "accept", by="cli", now=NOW)
        with pytest.raises(BadSetting):
            senders.add(conn, lid, "jo@example.org", "welcome", by="cli", now=NOW)


def test_accepted_posts_are_counted_and_trust_only_raises_them(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        m.add_member(conn, lid, Member("jo@example.org"), NOW)
        senders.count_accepted(conn, lid, "Jo@example.org")
        senders.count_accepted(conn, lid, "nobody@example.org")  # not a member: nothing
        assert senders.accepted_posts(conn, lid, "jo@example.org") == 1
        senders.trust(conn, lid, "jo@example.org", 3)
        assert senders.accepted_posts(conn, lid, "jo@example.org") == 3
        senders.trust(conn, lid, "jo@example.org", 2)
        assert senders.accepted_posts(conn, lid, "jo@example.org") == 3
        assert senders.accepted_posts(conn, lid, "nobody@example.org") == 0
