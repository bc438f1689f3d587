"""The list working end to end: ``moot serve`` as an operator starts it, a real LMTP
conversation in (smtplib.LMTP), and a real SMTP server (aiosmtpd) as the relay receiving what
the list sends."""

from __future__ import annotations

import email
import json
import os
import re
import smtplib
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from moot.app import Moot
from tests.helpers import make_message, run_cli
from tests.web.test_serve import free_port, get, running, wait_until_up

LIST = "dev@example.org"


@dataclass
class Sink:
    """What the relay received: (envelope sender, recipients, message)."""

    got: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def wait_for(self, pred: Callable[[str, list[str], Message], bool],
                 timeout: float = 15) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frm, rcpts, data in list(self.got):
                msg = email.message_from_bytes(data)
                if pred(frm, rcpts, msg):
                    return msg
            time.sleep(0.05)
        seen = [(f, r, d[:300]) for f, r, d in self.got]
        raise AssertionError(f"nothing matching arrived; got {seen}")

    def to(self, rcpt: str, subject_part: str = "") -> Message:
        return self.wait_for(lambda f, r, m: rcpt in r and subject_part in str(m["Subject"]))


@dataclass
class Server:
    base: str
    lmtp_port: int
    sink: Sink
    data: Path

    def lmtp(self, sender: str, rcpts: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as c:
            c.ehlo("test.example")  # smtplib.LMTP says LHLO
            c.mail(sender)
            accepted = []
            refused: dict[str, tuple[int, bytes]] = {}
            for r in rcpts:
                code, msg = c.rcpt(r)
                if code == 250:
                    accepted.append(r)
                else:
                    refused[r] = (code, msg)
            if not accepted:
                return refused
            # RFC 2033: one reply per accepted recipient after the final dot.
            c.putcmd("data")
            code, _ = c.getreply()
            assert code == 354
            c.send(smtplib.quotedata(raw.decode("utf-8", "surrogateescape"))
                   .encode("utf-8", "surrogateescape") + b"\r\n.\r\n")
            for r in accepted:
                refused[r] = c.getreply()
            return refused

    def cli(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """A ``moot`` command beside the running server (run in this process)."""
        return run_cli(self.data, *args, stdin=stdin)


@pytest.fixture
def server(moot: Moot, data_dir: Path) -> Iterator[Server]:
    sink = Sink()
    relay_port = free_port()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    http, lmtp = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    env = dict(os.environ, MOOT_BASE_URL=base)
    os.environ["MOOT_BASE_URL"] = base
    with running(["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{http}",
                  "--lmtp", f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay_port}"],
                 env) as proc:
        wait_until_up(proc, f"{base}/healthz")
        srv = Server(base, lmtp, sink, data_dir)
        assert srv.cli("list", "create", LIST, "--name", "Developers").returncode == 0
        for who, role in (("owner@example.org", "owner"), ("mod@example.org", "moderator"),
                          ("bob@example.org", "member")):
            r = srv.cli("member", "add", LIST, who, "--role", role, "--no-confirm")
            assert r.returncode == 0, r.stderr
        yield srv
    relay.stop()
    del os.environ["MOOT_BASE_URL"]


def post(message_id: str, sender: str = "Bob <bob@example.org>", subject: str = "Hello",
         to: str = LIST, body: str = "Hello, list.\n") -> bytes:
    raw = make_message(message_id, sender=sender, subject=subject, body=body)
    return raw.replace(b"To: list@example.org", f"To: {to}".encode())


def test_subscribe_by_mail_with_confirmation(server: Server) -> None:
    replies = server.lmtp("carol@example.org", ["dev-join@example.org"],
                          post("join@x", sender="Carol <carol@example.org>", subject="join"))
    assert replies["dev-join@example.org"][0] == 250
    ask = server.sink.to("carol@example.org", "confirm")
    token = re.search(r"confirm (\S+)", str(ask["Subject"])).group(1)  # type: ignore[union-attr]
    # Not a member until the token comes back.
    members = json.loads(server.cli("member", "ls", LIST, "--json").stdout)["members"]
    assert "carol@example.org" not in [m["email"] for m in members]
    # Replying to the request sends it to its Reply-To: LIST-confirm+TOKEN@.
    assert ask["Reply-To"] and token in ask["Reply-To"]
    replies = server.lmtp("carol@example.org", [ask["Reply-To"]],
                          post("c1@x", sender="carol@example.org", subject=f"Re: {ask['Subject']}"))
    assert replies[ask["Reply-To"]][0] == 250
    server.sink.to("carol@example.org", "Welcome")
    members = json.loads(server.cli("member", "ls", LIST, "--json").stdout)["members"]
    assert "carol@example.org" in [m["email"] for m in members]


def test_member_post_is_archived_decorated_and_delivered(server: Server) -> None:
    replies = server.lmtp("bob@example.org", [LIST], post("p1@example.org", subject="Plans"))
    assert replies[LIST][0] == 250, replies
    copy = server.sink.to("owner@example.org", "Plans")
    assert copy["Subject"] == "[dev] Plans"
    assert copy["List-Id"] == "Developers <dev.example.org>" or "dev.example.org" in copy["List-Id"]
    assert "mailto:dev@example.org" in copy["List-Post"]
    archived = copy["Archived-At"].strip("<>")
    assert archived == f"{server.base}/l/{LIST}/m/p1@example.org/"
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Each copy's envelope sender names its member (VERP), so a bounce says whose it was.
    senders = {rs[0]: f for f, rs, d in server.sink.got if b"<p1@example.org>" in d}
    assert senders["bob@example.org"] == "dev-bounces+bob=example.org@example.org"
    # Each member gets a personal copy; the sender does too (receive_own is on by default).
    delivered = {r for f, rs, d in server.sink.got if b"<p1@example.org>" in d for r in rs}
    assert delivered == {"owner@example.org", "mod@example.org", "bob@example.org"}
    status, page, _ = get(archived)
    assert status == 200 and b"Hello, list." in page
    # Findable within moments of the 250 (the indexer runs beside the LMTP replies).
    deadline = time.monotonic() + 5
    while True:
        status, body, _ = get(f"{server.base}/api/v1/search?q=Plans")
        hits = [h["message_id"] for h in json.loads(body)["hits"]]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert hits == ["p1@example.org"]


def test_non_member_post_is_held_then_approved(server: Server) -> None:
    replies = server.lmtp("eve@example.org", [LIST],
                          post("h1@example.org", sender="eve@example.org", subject="Offer"))
    code, text = replies[LIST]
    assert code == 250 and b"held" in text
    server.sink.to("mod@example.org", "waits for approval")  # the moderators are told
    server.sink.to("eve@example.org")  # and so is the author
    held = json.loads(server.cli("held", LIST, "--json").stdout)["held"]
    assert [(h["message_id"], h["from"]) for h in held] == [("h1@example.org", "eve@example.org")]
    assert get(f"{server.base}/l/{LIST}/m/h1@example.org/")[0] == 404  # not archived yet
    r = server.cli("moderate", LIST, str(held[0]["id"]), "approve")
    assert r.returncode == 0, r.stderr
    server.sink.wait_for(lambda f, rs, m: "bob@example.org" in rs and m["Subject"] == "[dev] Offer")
    assert get(f"{server.base}/l/{LIST}/m/h1@example.org/")[0] == 200
    assert json.loads(server.cli("held", LIST, "--json").stdout)["held"] == []
    r = server.cli("moderate", LIST, str(held[0]["id"]), "approve")
    assert r.returncode == 1 and b"already" in r.stderr


def test_one_click_unsubscribe(server: Server) -> None:
    server.lmtp("bob@example.org", [LIST], post("u1@example.org", subject="Bye soon"))
    copy = server.sink.to("bob@example.org", "Bye soon")
    url = re.search(r"<(https?://[^>]+)>", copy["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    assert "mailto:dev-leave@example.org" in copy["List-Unsubscribe"]
    # Opening the link changes nothing (mail scanners follow links)...
    status, page, _ = get(url)
    assert status == 200 and b"Unsubscribe" in page
    members = json.loads(server.cli("member", "ls", LIST, "--json").stdout)["members"]
    assert "bob@example.org" in [m["email"] for m in members]
    # ...the RFC 8058 POST does.
    req = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
    members = json.loads(server.cli("member", "ls", LIST, "--json").stdout)["members"]
    assert "bob@example.org" not in [m["email"] for m in members]
    # Another member's token does not work for this list's other addresses.
    forged = url.rsplit("/", 1)[0] + "/" + "x" * 30
    assert get(forged)[0] == 404


def test_email_commands(server: Server) -> None:
    server.lmtp("owner@example.org", ["dev-request@example.org"],
                post("c@x", sender="owner@example.org", subject="", body="who\nhelp\n"))
    reply = server.sink.to("owner@example.org", "results of your email commands")
    text = reply.get_payload(decode=True).decode()
    assert "bob@example.org" in text and "mod@example.org" in text
    server.lmtp("bob@example.org", ["dev-request@example.org"],
                post("c2@x", sender="bob@example.org", subject="who", body=""))
    reply = server.sink.to("bob@example.org", "results of your email commands")
    assert "owner@example.org" not in reply.get_payload(decode=True).decode().replace(
        "owners", "")
    server.lmtp("dan@example.org", ["dev-request@example.org"],
                post("c3@x", sender="dan@example.org", subject="subscribe", body=""))
    server.sink.to("dan@example.org", "confirm")


def test_unknown_recipient_refused_at_rcpt_and_one_reply_per_recipient(server: Server) -> None:
    replies = server.lmtp("bob@example.org",
                          ["nobody@example.org", LIST, "dev-owner@example.org"],
                          post("multi@example.org", subject="Two at once"))
    assert replies["nobody@example.org"][0] == 550
    assert replies[LIST][0] == 250
    assert replies["dev-owner@example.org"][0] == 250
    server.sink.wait_for(lambda f, rs, m: rs == ["owner@example.org"]
                         and m["Subject"] == "Two at once")  # forwarded to owners as is


def test_web_subscribe_form_needs_its_own_token(server: Server) -> None:
    url = f"{server.base}/l/{LIST}/subscribe"
    req = urllib.request.Request(url, data=b"email=zed%40example.org", method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("a form post without the page's token was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    with urllib.request.urlopen(url, timeout=5) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
        page = r.read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    body = urllib.parse.urlencode({"email": "zed@example.org", "csrf": token}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert b"Check your mail" in r.read()
    ask = server.sink.to("zed@example.org", "confirm")
    link = re.search(rf"{re.escape(server.base)}/confirm/\S+", ask.get_payload(decode=True)
                     .decode()).group(0)  # type: ignore[union-attr]
    with urllib.request.urlopen(link, timeout=5) as r:
        page = r.read().decode()
        cookie = r.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    req = urllib.request.Request(link, data=urllib.parse.urlencode({"csrf": token}).encode(),
                                 method="POST", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert b"now subscribed" in r.read()
    server.sink.to("zed@example.org", "Welcome")


def test_client_gone_mid_data_leaves_nothing(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.lmtp_port), timeout=5) as s:
        f = s.makefile("rb")
        f.readline()
        for line in (b"LHLO x\r\n", b"MAIL FROM:<bob@example.org>\r\n",
                     f"RCPT TO:<{LIST}>\r\n".encode(), b"DATA\r\n"):
            s.sendall(line)
            while True:
                reply = f.readline()
                if reply[3:4] != b"-":
                    break
        s.sendall(post("half@example.org", subject="Half")[:80])
    time.sleep(0.5)
    assert get(f"{server.base}/l/{LIST}/m/half@example.org/")[0] == 404
    # ...and the server still serves.
    replies = server.lmtp("bob@example.org", [LIST], post("after@example.org"))
    assert replies[LIST][0] == 250


def test_kill_9_loses_no_accepted_post_and_leaves_no_second_sender(
        moot: Moot, data_dir: Path) -> None:
    """The server is killed outright right after answering 250: the post is archived and
    queued, the delivery process goes away with it, and a new server delivers the post."""
    import signal

    sink = Sink()
    relay_port = free_port()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    moot.store.create_list(LIST)
    from moot.core.member import Member
    from moot.storage.lists import get_config
    from moot.storage.store import now_utc

    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        moot.membership.subscribe_now(conn, config, Member("bob@example.org"), now_utc(),
                                      welcome=False)
    try:
        http, lmtp = free_port(), free_port()
        args = ["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{http}",
                "--lmtp", f"127.0.0.1:{lmtp}", "--relay", "127.0.0.1:9"]  # nothing listens
        with running(args, dict(os.environ)) as proc:
            wait_until_up(proc, f"http://127.0.0.1:{http}/healthz")
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                      text=True).stdout.split()
            assert children, "no delivery process"
            srv = Server(f"http://127.0.0.1:{http}", lmtp, sink, data_dir)
            assert srv.lmtp("bob@example.org", [LIST], post("k9@example.org"))[LIST][0] == 250
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{c}") for c in children):
            assert time.monotonic() < deadline, "the delivery process outlived the server"
            time.sleep(0.1)
        assert moot.archive.messages_by_id(config.id, "k9@example.org")
        # A new server, this time with a relay that answers, delivers what was queued.
        http, lmtp = free_port(), free_port()
        args = ["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{http}",
                "--lmtp", f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay_port}"]
        with running(args, dict(os.environ)) as proc:
            wait_until_up(proc, f"http://127.0.0.1:{http}/healthz")
            sink.wait_for(lambda f, rs, m: rs == ["bob@example.org"]
                          and m["Message-ID"] == "<k9@example.org>")
    finally:
        relay.stop()
    assert len([g for g in sink.got if b"<k9@example.org>" in g[2]]) == 1
