"""Killed in the middle of a big delivery: ``moot serve`` is sending one post to 2,000 members,
each their own copy, when its delivery process is killed with SIGKILL.  The server starts
another, which finishes the job: every member gets the post, and no more of them twice than
the connections that were open at the kill (a copy the relay took but the dead process had not
yet marked as sent)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from moot.app import Moot
from moot.storage import schema as s
from moot.storage.lists import get_config
from moot.storage.store import bulk_insert, now_utc
from tests.inbound.test_end_to_end import LIST, Server, post
from tests.web.test_serve import free_port, running, wait_until_up

MEMBERS = 2000
CONNECTIONS = 4  # the default delivery_connections


class Counting:
    def __init__(self) -> None:
        self.copies: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if b"<big-delivery@example.org>" in envelope.content:
            with self.lock:
                self.copies.update(envelope.rcpt_tos)
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.copies.values())


def delivery_pids(server_pid: int) -> list[int]:
    """The server's delivery processes (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True)
    pids = []
    for pid in out.stdout.split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(int(pid))
    return pids


def test_sigkill_mid_delivery_to_2000_members(moot: Moot, data_dir: Path) -> None:
    relay = Counting()
    relay_port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=relay_port)
    ctl.start()
    moot.store.create_list(LIST, posting_policy="open")
    members = [f"member{n:04d}@example.net" for n in range(MEMBERS)]
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None and config.personalize == "member"
        bulk_insert(conn, s.members, ("list_id", "email", "name", "role", "delivery", "nomail",
                                      "receive_own", "moderated", "subscribed_at",
                                      "bounce_score", "bounce_warnings_sent", "accepted_posts",
                                      "auth_passes"),
                    [(config.id, e, "", "member", "regular", False, True, False, now_utc(),
                      0, 0, 0, 0) for e in members])
    try:
        http, lmtp = free_port(), free_port()
        args = ["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{http}",
                "--lmtp", f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay_port}"]
        with running(args, dict(os.environ)) as proc:
            wait_until_up(proc, f"http://127.0.0.1:{http}/healthz")
            [worker] = delivery_pids(proc.pid)
            srv = Server(f"http://127.0.0.1:{http}", lmtp, None, data_dir)  # type: ignore[arg-type]
            reply = srv.lmtp("someone@example.com", [LIST], post("big-delivery@example.org"))
            assert reply[LIST][0] == 250
            deadline = time.monotonic() + 60
            while relay.total() < MEMBERS // 4:
                assert time.monotonic() < deadline, "delivery did not start"
                time.sleep(0.01)
            os.kill(worker, signal.SIGKILL)
            at_kill = relay.total()
            assert at_kill < MEMBERS, "delivery finished before the kill; nothing was tested"
            deadline = time.monotonic() + 120
            while len(relay.copies) < MEMBERS:
                assert time.monotonic() < deadline, (
                    f"only {len(relay.copies)} of {MEMBERS} members got the post")
                time.sleep(0.05)
            replacement = delivery_pids(proc.pid)
            assert replacement and worker not in replacement
            time.sleep(1.0)  # anything still to come would come now
    finally:
        ctl.stop()
    assert set(relay.copies) == set(members)
    twice = {r: n for r, n in relay.copies.items() if n > 1}
    print(f"killed after {at_kill} copies; sent twice: {twice}")
    assert sum(n - 1 for n in twice.values()) <= CONNECTIONS, twice
    with moot.engine.connect() as conn:
        states = dict(conn.execute(select(s.outbox_recipients.c.status, func.count())
                                   .group_by(s.outbox_recipients.c.status)).all())
    assert states == {"sent": MEMBERS}
