"""The audit log on real databases (SQLite, and PostgreSQL when MOOT_TEST_POSTGRES is set):
entries come back newest first with what was recorded, per list or site-wide."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from moot.app import Moot
from moot.storage import audit

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def lid(moot: Moot) -> int:
    return moot.store.create_list("dev@example.org")


def test_entries_come_back_newest_first_per_list(moot: Moot, lid: int) -> None:
    other = moot.store.create_list("ops@example.org")
    with moot.engine.begin() as conn:
        audit.record(conn, lid, "cli", "moderate:approve", "hold 1 <a@x>", "fine", NOW)
        audit.record(conn, other, "api", "ban", "*@spam.example", "", NOW)
        audit.record(conn, lid, "mod@example.org", "moderate:reject", "hold 2 <b@x>",
                     "off topic", NOW + timedelta(seconds=5))
        audit.record(conn, None, "cli", "ban", "eve@example.org", "site-wide")
    with moot.engine.connect() as conn:
        got = audit.entries(conn, lid)
        assert got == [
            {"at": "2026-03-02T09:00:05Z", "actor": "mod@example.org",
             "action": "moderate:reject", "target": "hold 2 <b@x>", "detail": "off topic"},
            {"at": "2026-03-02T09:00:00Z", "actor": "cli", "action": "moderate:approve",
             "target": "hold 1 <a@x>", "detail": "fine"},
        ]
        assert [e["action"] for e in audit.entries(conn, other)] == ["ban"]
        assert [e["detail"] for e in audit.entries(conn, None)] == ["site-wide"]
        assert len(audit.entries(conn, lid, limit=1)) == 1


def test_long_values_are_cut_to_fit_and_an_empty_actor_is_named(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        audit.record(conn, lid, "", "moderate:approve+unmoderate", "t" * 2000, "d" * 5000, NOW)
    with moot.engine.connect() as conn:
        [entry] = audit.entries(conn, lid)
    assert entry["actor"] == "unknown"
    assert entry["action"] == "moderate:approve+unmoderate"
    assert len(entry["target"]) == 1000 and len(entry["detail"]) == 4000
