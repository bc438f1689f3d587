"""``/metrics`` (moot.web.metrics) and ``/healthz``: names, values read from the database at
scrape time, the process-local families, one registry per application."""

from __future__ import annotations

import shutil
from pathlib import Path

from starlette.testclient import TestClient

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from moot.core.address import parse_recipient
from moot.inbound.service import InboundQueue, Job
from moot.web.app import create_app
from tests.helpers import make_message

LIST = "dev@example.org"
# Every name the hand-written exposition had (docs/delivery.md, docs/urls.md) stays.
OLD_NAMES = ("moot_lists", "moot_messages", "moot_members", "moot_held_posts",
             "moot_outbound_recipients", "moot_outbound_deferrals",
             "moot_members_bounce_disabled", "moot_bounces_unread", "moot_digest_posts_waiting",
             "moot_rejects")


def scrape(client: TestClient) -> dict[str, float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {name: float(value) for name, value in (
        line.rsplit(" ", 1) for line in r.text.splitlines() if line and line[0] != "#")}


def post(sender: str, n: int) -> Job:
    raw = make_message(f"m{n}@example.org", sender=sender, subject=f"note {n}",
                       body="a marmalade recipe\n")
    raw = raw.replace(b"To: list@example.org", f"To: {LIST}".encode())
    target = parse_recipient(LIST, {LIST}.__contains__)
    assert target is not None
    return Job(sender, target, raw)


def test_every_old_name_is_still_there_and_all_are_moot(moot: Moot) -> None:
    lines = scrape(TestClient(create_app(moot)))
    names = {name.split("{")[0] for name in lines}
    assert set(OLD_NAMES) <= names
    assert all(name.startswith("moot_") for name in names)
    assert lines["moot_outbound_queue_depth"] == 0
    assert lines['moot_held_decisions{decision="waiting"}'] == 0


def test_counts_come_from_the_database_and_intake_is_counted(moot: Moot) -> None:
    moot.store.create_list(LIST, posting_policy="open")
    with moot.engine.begin() as conn:
        from moot.core.member import Member
        from moot.storage.lists import get_config
        from moot.storage.store import now_utc

        config = get_config(conn, LIST)
        assert config is not None
        moot.membership.subscribe_now(conn, config, Member("ann@example.org"), now_utc(),
                                      welcome=False)
    queue = InboundQueue(moot.inbound)
    try:
        assert queue.submit(post("ann@example.org", 1)).result(10).status == "accepted"
        assert queue.submit(post("ann@example.org", 2)).result(10).status == "accepted"
    finally:
        queue.close()
    lines = scrape(TestClient(create_app(moot)))
    assert lines["moot_messages"] == 2
    assert lines["moot_members"] == 1
    assert lines['moot_posts_total{outcome="accepted"}'] == 2
    # Each post goes to the one member: queued, not sent yet.
    assert lines["moot_outbound_queue_depth"] == 2
    assert lines['moot_outbound_recipients{status="pending"}'] == 2


def test_search_latency_is_a_histogram(moot: Moot) -> None:
    client = TestClient(create_app(moot))
    assert "moot_search_seconds" not in client.get("/metrics").text  # never searched here
    assert client.get("/api/v1/search", params={"q": "marmalade"}).status_code == 200
    lines = scrape(client)
    assert lines["moot_search_seconds_count"] == 1
    assert lines['moot_search_seconds_bucket{le="+Inf"}'] == 1


def test_each_application_has_its_own_registry(tmp_path: Path,
                                               monkeypatch: object) -> None:
    monkeypatch.delenv("MOOT_DATABASE_URL", raising=False)  # type: ignore[attr-defined]
    sites = []
    for n in (1, 2):
        init_data_dir(tmp_path / f"d{n}")
        sites.append(build(load_settings(tmp_path / f"d{n}")))
    try:
        for n in range(2):
            sites[1].store.create_list(f"l{n}@example.org")
        clients = [TestClient(create_app(m)) for m in sites]
        assert [scrape(c)["moot_lists"] for c in clients] == [0, 2]
        assert scrape(TestClient(create_app(sites[0])))["moot_lists"] == 0  # a second app
    finally:
        for m in sites:
            m.close()


def test_healthz_answers_503_when_the_database_is_gone(
        tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.delenv("MOOT_DATABASE_URL", raising=False)  # type: ignore[attr-defined]
    data = tmp_path / "gone"
    init_data_dir(data)
    moot = build(load_settings(data))
    try:
        client = TestClient(create_app(moot))
        r = client.get("/healthz")
        assert (r.status_code, r.text) == (200, "ok")
        moot.engine.dispose()  # no connection left open to the old file
        shutil.rmtree(data)
        r = client.get("/healthz")
        assert r.status_code == 503
        assert r.text.startswith("database unavailable")
        assert "unable to open" not in r.text  # the reason is logged, not told to anyone
    finally:
        moot.close()
