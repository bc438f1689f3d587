"""Two nodes, one PostgreSQL database (issue 9, docs/scaling.md): two ``moot serve`` processes,
each with its own data folder, LMTP port and web port, as two machines would run them.  A post
taken in by either is archived once (the same post handed to both is "already accepted" by the
second), each member gets it once from the delivery workers of both nodes sharing the queue,
and the other node finds it by search and shows its pages at once: the search index is the
database's own (PostgreSQL full-text search), not a folder of one node."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from moot.app import Moot, _release_dead_claims, build, init_data_dir
from moot.config import load_settings
from moot.storage import outbox
from moot.storage import schema as s
from moot.storage.lists import get_config
from moot.storage.store import bulk_insert, now_utc
from tests.conftest import fresh_database
from tests.delivery.test_sender import queue
from tests.inbound.test_end_to_end import LIST, Server, post
from tests.web.test_serve import free_port, get, running, wait_until_up

MEMBERS = [f"member{n}@example.net" for n in range(5)]


class Relay:
    """Counts each (Message-ID, recipient) the nodes hand over."""

    def __init__(self) -> None:
        self.copies: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        for mid in (b"<one@nodes.example>", b"<two@nodes.example>"):
            if mid in envelope.content:
                with self.lock:
                    self.copies.update((mid.decode(), r) for r in envelope.rcpt_tos)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.copies)


def _search(base: str, words: str) -> list[str]:
    status, body, _ = get(f"{base}/api/v1/search?{urllib.parse.urlencode({'q': words})}")
    assert status == 200, body
    return [h["message_id"] for h in json.loads(body)["hits"]]


def _eventually(check, timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_starting_node_leaves_the_claims_of_live_workers_on_its_machine(moot: Moot) -> None:
    """Two nodes on one machine share its host name: the second one's start releases only the
    claims of workers that are gone, not those of the first node's running workers."""
    lid = moot.store.create_list(LIST)
    queue(moot, lid, [f"m{i}@example.org" for i in range(4)])
    now = now_utc()
    with moot.engine.begin() as conn:
        alive = outbox.due(conn, now, 2, worker=f"box:{os.getpid()}")
        gone = outbox.due(conn, now, 2, worker="box:999999999")
        outbox.due(conn, now, 2, worker="other:1")
    assert alive and gone
    _release_dead_claims(moot, "box")
    with moot.engine.connect() as conn:
        claims = Counter(conn.execute(select(s.outbox_recipients.c.claimed_by)).scalars())
    assert claims == {f"box:{os.getpid()}": 2, None: 2}


@pytest.mark.postgres
def test_two_nodes_share_archive_queue_and_search(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("postgres", tmp_path) as url:
        monkeypatch.setenv("MOOT_DATABASE_URL", url)
        folders = [tmp_path / "node-a", tmp_path / "node-b"]
        for folder in folders:  # each node runs init; the second finds the schema up to date
            init_data_dir(folder)
        moot = build(load_settings(folders[0]))
        moot.store.create_list(LIST, posting_policy="open")
        with moot.engine.begin() as conn:
            config = get_config(conn, LIST)
            assert config is not None
            bulk_insert(conn, s.members, (
                "list_id", "email", "name", "role", "delivery", "nomail", "receive_own",
                "moderated", "subscribed_at", "bounce_score", "bounce_warnings_sent",
                "accepted_posts", "auth_passes"),
                [(config.id, e, "", "member", "regular", False, True, False, now_utc(),
                  0, 0, 0, 0) for e in MEMBERS])
        relay = Relay()
        relay_port = free_port()
        ctl = Controller(relay, hostname="127.0.0.1", port=relay_port)
        ctl.start()
        nodes: list[Server] = []
        try:
            with running(_args(folders[0], relay_port, nodes), dict(os.environ)) as a, \
                    running(_args(folders[1], relay_port, nodes), dict(os.environ)) as b:
                for proc, node in ((a, nodes[0]), (b, nodes[1])):
                    wait_until_up(proc, node.base + "/healthz", timeout=60)
                one = post("one@nodes.example", subject="Zanzibar gearbox",
                           body="The quokka gearbox rattles.\n")
                two = post("two@nodes.example", subject="Tamarind valve",
                           body="A pangolin valve sticks.\n")
                assert nodes[0].lmtp("bob@example.org", [LIST], one)[LIST][0] == 250
                assert nodes[1].lmtp("bob@example.org", [LIST], two)[LIST][0] == 250
                again = nodes[1].lmtp("bob@example.org", [LIST], one)[LIST]
                assert again[0] == 250 and b"already" in again[1]
                # each member's copy of each post, from whichever node's workers claimed it
                assert _eventually(lambda: relay.count() == 2 * len(MEMBERS), 30), relay.copies
                # each node finds what the other took in, and shows it
                assert _eventually(lambda: _search(nodes[1].base, "quokka")) == [
                    "one@nodes.example"]
                assert _eventually(lambda: _search(nodes[0].base, "pangolin")) == [
                    "two@nodes.example"]
                for base, mid in ((nodes[1].base, "one@nodes.example"),
                                  (nodes[0].base, "two@nodes.example")):
                    for kind in ("m", "t"):
                        status, body, _ = get(f"{base}/l/{LIST}/{kind}/{mid}/")
                        assert status == 200 and (b"gearbox" in body or b"valve" in body)
                time.sleep(1.5)  # a second copy, if any, would come now
        finally:
            ctl.stop()
        assert set(relay.copies.values()) == {1}, relay.copies
        with moot.engine.connect() as conn:
            archived = conn.execute(select(func.count()).select_from(s.messages)).scalar()
            states = dict(conn.execute(select(s.outbox_recipients.c.status, func.count())
                                       .group_by(s.outbox_recipients.c.status)).all())
        moot.close()
        assert archived == 2
        assert states == {"sent": 2 * len(MEMBERS)}


def _args(folder: Path, relay_port: int, nodes: list[Server]) -> list[str]:
    """``moot serve`` for one node, on ports of its own; the node is added to ``nodes``."""
    http, lmtp = free_port(), free_port()
    nodes.append(Server(f"http://127.0.0.1:{http}", lmtp, None, folder))  # type: ignore[arg-type]
    return ["--data", str(folder), "serve", "--http", f"127.0.0.1:{http}",
            "--lmtp", f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay_port}",
            "--workers", "1"]
