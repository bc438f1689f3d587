"""Every message of the torture corpus (../shared/data/torture) handed to a real ``moot serve``
over a real LMTP conversation, the way a mail server hands list mail over.

One server for the whole module: the fixture sends every message (mbox files split into their
messages, every other file sent whole, not-mail files included) to one list with
``posting_policy=open`` and ``max_size=0``, over a few connections in parallel, then each test
checks one message's reply:

- the server answers each message with a proper reply: 2xx or 5xx, never 4xx, never a dropped
  connection;
- a 5xx carries its reason; a message with a line longer than 1,000 bytes gets aiosmtpd's
  ``500 Line too long`` (RFC 5321 4.5.3.1.6) before moot sees it, and only such a message
  (19 of the corpus, 7 of them mail: james-mime4j ``basic-plain-very-long-lines`` and
  ``very-very-long-boundary`` .msg/.out, mimekit ``issue1189.mbox.txt#2``, talon
  ``reply-quotations-share-block.eml`` and ``standard_replies/outlook.eml``; an MTA that
  folds long lines, as Postfix does, gets them through);
- bytes that are not mail get 554 and are kept in ``rejects`` with the reason;
- every other message gets 250 and is stored: archived (its page answers by Message-ID) or
  held (``moot held --json`` lists it).  Almost all are held: they do not name the list in
  To or Cc.  Each held one is then approved (as ``moot moderate`` does), which archives it,
  decorated and queued for the list's one member: its page answers by Message-ID too.

The bytes go out as smtplib sends a message (``smtplib.quotedata``: every bare CR or LF becomes
CRLF, dot-stuffing, a final CRLF added when missing), as a real MTA would send them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from moot.app import Moot
from moot.core.member import Member
from moot.core.parse import not_mail_reason, parse_message
from moot.importer.sources import Reader, detect_format
from moot.storage import lists as list_store
from moot.storage import schema as s
from moot.storage.store import now_utc
from moot.web.archive import msgid_url
from tests.conftest import SHARED_DATA
from tests.helpers import make_message, run_cli
from tests.inbound.test_end_to_end import Sink
from tests.web.test_serve import free_port, get, wait_until_up

TORTURE = SHARED_DATA / "torture"
LIST = "torture@lmtp.example"
MEMBER = "reader@lmtp.example"
SENDER = "mta-test@sender.example"
CONNECTIONS = 8
MAX_LINE = 1001  # aiosmtpd's line_length_limit: bytes of a line on the wire, CRLF included


def _items() -> list[tuple[str, Path, int]]:
    """(id, file, index) of every message: an mbox file's messages one by one (the From_ line
    is the mbox's, not the message's: an MTA never sends it), any other file whole."""
    if not TORTURE.is_dir():
        return []
    out = []
    for path in sorted(Path(d) / f for d, _, files in os.walk(TORTURE) for f in files):
        rel = path.relative_to(TORTURE).as_posix()
        if detect_format(path) == "message":
            out.append((rel, path, 0))
        else:
            n = sum(1 for _ in Reader(path))
            out.extend((f"{rel}#{i + 1}", path, i) for i in range(n))
    return out


ITEMS = _items()
PARAMS = ([pytest.param(i, id=i) for i, _, _ in ITEMS]
          or [pytest.param("", id="shared-data-absent")])


def _message_bytes() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for item_id, path, index in ITEMS:
        if index == 0 and detect_format(path) == "message":
            out[item_id] = path.read_bytes()
        elif item_id not in out:
            for i, item in enumerate(Reader(path)):
                out[f"{path.relative_to(TORTURE).as_posix()}#{i + 1}"] = item.raw
    return out


def on_the_wire(raw: bytes) -> tuple[bytes, bytes]:
    """(what smtplib sends after DATA, up to the final dot; what the server receives)."""
    text = raw.decode("utf-8", "surrogateescape")
    wire = smtplib.quotedata(text).encode("utf-8", "surrogateescape")
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    received = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", raw)
    if not received.endswith(b"\r\n"):
        received += b"\r\n"
    return wire, received


def longest_line(wire: bytes) -> int:
    return max((len(line) + 2 for line in wire.split(b"\r\n")[:-1]), default=0)


@dataclass
class Reply:
    code: int = 0
    text: str = ""
    error: str = ""  # what went wrong instead of a reply (a dropped connection...)


@dataclass(repr=False)  # pytest would print it all with every failure
class Run:
    base: str
    lmtp_port: int
    data: Path
    moot: Moot
    received: dict[str, bytes]  # id -> the bytes the server received
    wire_longest: dict[str, int]
    replies: dict[str, Reply]
    held: dict[str, list[dict[str, Any]]]  # message_id -> entries of `moot held --json`
    approved: dict[int, str]  # hold id -> outcome of approving it, or the error
    rejects: dict[str, str]  # sha256 hex -> reason
    seconds: float
    sink: Sink  # what the server sent through its relay

    def lmtp(self, sender: str, rcpt: str, raw: bytes) -> Reply:
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as c:
            c.ehlo("mta.test")  # LHLO
            return deliver(c, sender, rcpt, raw)


def deliver(c: smtplib.LMTP, sender: str, rcpt: str, raw: bytes) -> Reply:
    """One LMTP transaction with one recipient, the way an MTA sends it."""
    code, msg = c.mail(sender)
    if code != 250:
        return Reply(code, msg.decode("utf-8", "replace"), "MAIL FROM refused")
    code, msg = c.rcpt(rcpt)
    if code != 250:
        c.rset()
        return Reply(code, msg.decode("utf-8", "replace"), "RCPT TO refused")
    c.putcmd("data")
    code, msg = c.getreply()
    if code != 354:
        return Reply(code, msg.decode("utf-8", "replace"), "DATA refused")
    wire, _ = on_the_wire(raw)
    c.send(wire + b".\r\n")
    code, msg = c.getreply()  # one recipient: one reply (RFC 2033 4.2)
    return Reply(code, msg.decode("utf-8", "replace"))


def _send_all(port: int, messages: dict[str, bytes]) -> dict[str, Reply]:
    local = threading.local()
    opened: list[smtplib.LMTP] = []
    lock = threading.Lock()

    def connection() -> smtplib.LMTP:
        c = getattr(local, "c", None)
        if c is None:
            c = smtplib.LMTP("127.0.0.1", port, timeout=30)
            c.ehlo("mta.test")  # LHLO
            local.c = c
            with lock:
                opened.append(c)
        return c

    def one(item: tuple[str, bytes]) -> tuple[str, Reply]:
        item_id, raw = item
        try:
            return item_id, deliver(connection(), SENDER, LIST, raw)
        except (smtplib.SMTPException, OSError) as exc:
            c = getattr(local, "c", None)
            if c is not None:
                c.close()
            local.c = None  # the next message opens a new connection
            return item_id, Reply(error=f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        # Largest first, so that a big message does not come last and keep one thread busy.
        order = sorted(messages.items(), key=lambda kv: -len(kv[1]))
        replies = dict(pool.map(one, order))
    for c in opened:
        try:
            c.quit()
        except (smtplib.SMTPException, OSError):
            c.close()
    return replies


def _approve_all(moot: Moot, hold_ids: list[int]) -> dict[int, str]:
    """Approve every held post, in this process and one transaction (the REST API does the
    same call, plus a search catch-up each time: 25 ms a post).  The server then delivers them
    (its outbox) and indexes them (its indexer's next pass)."""
    out: dict[int, str] = {}
    with moot.engine.begin() as conn:
        config = list_store.get_config(conn, LIST)
        assert config is not None
        for hold_id in hold_ids:
            try:
                outcome = moot.inbound.moderate(conn, config, hold_id, "approve", by="test")
                out[hold_id] = outcome.line()
            except Exception as exc:  # noqa: BLE001 - reported by the message's test
                out[hold_id] = f"{type(exc).__name__}: {exc}"
    return out


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(data, *args)


@contextmanager
def _serving(args: list[str], env: dict[str, str],
             out: BinaryIO) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "moot.cli.main", *args], env=env,
                            stdout=out, stderr=out)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def run(corpus_moot: Moot) -> Iterator[Run]:
    if not ITEMS:
        pytest.skip(f"the torture corpus is not at {TORTURE}")
    data = corpus_moot.settings.data_dir
    corpus_moot.store.create_list(LIST, posting_policy="open")
    membership = corpus_moot.membership  # opens its own transaction the first time: not inside one
    with corpus_moot.engine.begin() as conn:
        config = list_store.update_settings(conn, LIST, {"max_size": 0})
        # One member, so that what is accepted also goes through decoration and the outbox.
        membership.subscribe_now(conn, config, Member(MEMBER), now_utc())

    sink = Sink()
    relay_port = free_port()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    http, lmtp = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    env = dict(os.environ, MOOT_BASE_URL=base)
    log = data / "serve.log"  # not a pipe: nobody reads one while the corpus is sent
    try:
        with open(log, "wb") as out, _serving(
                ["--data", str(data), "serve", "--http", f"127.0.0.1:{http}",
                 "--lmtp", f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay_port}"],
                env, out) as proc:
            wait_until_up(proc, f"{base}/healthz")
            messages = _message_bytes()
            started = time.monotonic()
            replies = _send_all(lmtp, messages)
            seconds = time.monotonic() - started

            listed = _cli(data, "held", LIST, "--json")
            assert listed.returncode == 0, listed.stderr
            held: dict[str, list[dict[str, Any]]] = {}
            for h in json.loads(listed.stdout)["held"]:
                held.setdefault(str(h["message_id"]), []).append(h)
            r = s.rejects.c
            with corpus_moot.engine.connect() as conn:
                rejects = {row.sha256.hex() if isinstance(row.sha256, bytes) else row.sha256:
                           row.reason for row in conn.execute(
                               select(r.sha256, r.reason).where(r.list_id == config.id))}
            approved = _approve_all(corpus_moot, [h["id"] for hs in held.values() for h in hs])
            received, longest = {}, {}
            for item_id, raw in messages.items():
                wire, received[item_id] = on_the_wire(raw)
                longest[item_id] = longest_line(wire)
            yield Run(base, lmtp, data, corpus_moot, received, longest, replies, held, approved,
                      rejects, seconds, sink)
    finally:
        relay.stop()


@pytest.mark.parametrize("item", PARAMS)
def test_torture_message_over_lmtp(run: Run, item: str) -> None:
    reply = run.replies[item]
    assert not reply.error, reply
    assert 200 <= reply.code < 300 or 500 <= reply.code < 600, reply
    received = run.received[item]

    if run.wire_longest[item] > MAX_LINE:
        # Refused by the LMTP layer before moot sees it: a proper permanent refusal.
        assert reply.code == 500 and "line too long" in reply.text.lower(), reply
        return
    if reply.code >= 500:  # an enhanced code (RFC 3463) and words saying why
        assert re.fullmatch(r"5\.\d{1,3}\.\d{1,3} .*[a-z]{4,}.*", reply.text), reply

    reason = not_mail_reason(received)
    if reason is not None:
        assert reply.code == 554 and reply.text.startswith("5.6.0"), reply
        assert reason in reply.text, reply
        stored = run.rejects.get(hashlib.sha256(received).hexdigest())
        assert stored == reason, (stored, reason)
        return

    assert reply.code == 250, reply
    message_id = parse_message(received).message_id
    if reply.text.startswith("2.1.5 held for moderation:"):
        assert message_id in run.held, (message_id, reply)
        entries = run.held[message_id]
        said = [" ".join("; ".join(h["reasons"]).split())[:400] for h in entries]
        assert reply.text.removeprefix("2.1.5 held for moderation: ") in said, (reply, said)
        # Approved: archived like any accepted post.
        approvals = [run.approved[h["id"]] for h in entries]
        assert approvals == ["accepted"] * len(entries), approvals
    else:
        assert reply.text.startswith("2.0.0"), reply
    status, _, _ = get(run.base + msgid_url(LIST, message_id))
    assert status == 200, (message_id, status)


def test_server_still_serves_after_the_corpus(run: Run) -> None:
    """After every message of the corpus: a normal post is accepted, archived, indexed (the
    server indexes every approved torture post with it) and delivered."""
    raw = make_message("after-torture@lmtp.example", sender=f"Reader <{MEMBER}>",
                       subject="Still here").replace(b"To: list@example.org",
                                                     f"To: {LIST}".encode())
    reply = run.lmtp(MEMBER, LIST, raw)
    assert (reply.code, reply.text) == (250, "2.0.0 accepted"), reply
    assert get(run.base + msgid_url(LIST, "after-torture@lmtp.example"))[0] == 200
    assert get(f"{run.base}/healthz")[0] == 200
    deadline = time.monotonic() + 30  # the indexer runs beside the replies
    while True:
        status, body, _ = get(f"{run.base}/api/v1/search?q=%22Still+here%22")
        assert status == 200, body[:300]
        hits = [h["message_id"] for h in json.loads(body)["hits"]]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert hits == ["after-torture@lmtp.example"]
    run.sink.wait_for(lambda f, rs, m: MEMBER in rs and m["Subject"] == "[torture] Still here",
                      timeout=60)


def test_corpus_summary(run: Run) -> None:
    """Every message got a reply, and the corpus is sent in well under a minute."""
    assert set(run.replies) == set(run.received)
    codes: dict[int, int] = {}
    for r in run.replies.values():
        codes[r.code] = codes.get(r.code, 0) + 1
    too_long = sorted(i for i, r in run.replies.items() if r.code == 500)
    assert too_long == sorted(i for i, n in run.wire_longest.items() if n > MAX_LINE)
    assert run.seconds < 45, (run.seconds, codes)
