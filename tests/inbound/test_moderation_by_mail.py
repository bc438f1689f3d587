"""Moderation by mail with `moot serve`: the notices arrive through the real relay, and the
replies to their signed addresses come back through a real LMTP conversation.  A moderator
approves by replying, turns down or discards by writing to the address named; the author
withdraws by replying "withdraw"; a non-member's post the list discards still gets 250."""

from __future__ import annotations

import json
import re
import time
from email.message import Message

from tests.inbound.test_end_to_end import LIST, Server, get, post, server  # noqa: F401 - fixture


def body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def held(server: Server) -> list[dict[str, object]]:  # noqa: F811
    r = server.cli("held", LIST, "--json")
    assert r.returncode == 0, r.stderr
    return list(json.loads(r.stdout)["held"])


def audit(server: Server) -> list[tuple[str, str, str]]:  # noqa: F811
    r = server.cli("audit", LIST, "--json")
    assert r.returncode == 0, r.stderr
    return [(e["actor"], e["action"], e["target"]) for e in json.loads(r.stdout)["entries"]
            if e["action"].startswith("moderate:")]


def test_a_moderator_approves_by_replying_to_the_notice(server: Server) -> None:  # noqa: F811
    got = server.lmtp("eve@example.org", [LIST],
                      post("mb1@example.org", sender="Eve <eve@example.org>", subject="Offer"))
    assert got[LIST][0] == 250 and b"held" in got[LIST][1]
    notice = server.sink.wait_for(lambda f, rs, m: rs == ["mod@example.org"]
                                  and "waits for approval" in str(m["Subject"]))
    approve = str(notice["Reply-To"])
    assert re.fullmatch(r"dev-confirm\+[a-z2-7]+@example\.org", approve), approve
    # The moderator's mail program replies: Re:, the notice quoted, a line of their own.
    quoted = "\n".join("> " + line for line in body(notice).splitlines())
    reply = post("mb1-reply@example.org", sender="Mo <mod@example.org>",
                 subject=f"Re: {notice['Subject']}", to=approve, body=f"Looks fine.\n\n{quoted}\n")
    got = server.lmtp("mod@example.org", [approve], reply)
    assert got[approve][0] == 250, got
    server.sink.wait_for(lambda f, rs, m: rs == ["bob@example.org"]
                         and m["Subject"] == "[dev] Offer")
    assert get(f"{server.base}/l/{LIST}/m/mb1@example.org/")[0] == 200
    assert held(server) == []
    [(actor, action, target)] = audit(server)
    assert (actor, action) == ("mod@example.org", "moderate:approve")
    assert target.endswith("<mb1@example.org>")
    # The same reply again approves nothing twice.
    again = server.lmtp("mod@example.org", [approve], reply.replace(b"mb1-reply@", b"mb1-r2@"))
    assert again[approve][0] == 250 and b"already decided" in again[approve][1]
    time.sleep(0.3)
    copies = [d for f, rs, d in server.sink.got if "bob@example.org" in rs
              and b"<mb1@example.org>" in d]
    assert len(copies) == 1


def test_reject_and_discard_addresses_and_the_web_link(server: Server) -> None:  # noqa: F811
    for n in (2, 3):
        server.lmtp("eve@example.org", [LIST],
                    post(f"mb{n}@example.org", sender="eve@example.org", subject=f"Ad {n}"))
    notices = {}
    for n in (2, 3):
        notices[n] = server.sink.wait_for(lambda f, rs, m, n=n: rs == ["mod@example.org"]
                                          and f"Ad {n}" in body(m))
    reject = body(notices[2]).split("send any message to:\n")[1].split()[0]
    discard = body(notices[3]).split("To discard it (nobody is told), send any message to:\n"
                                     )[1].split()[0]
    page = re.search(rf"{re.escape(server.base)}/l/\S+/moderate/\S+", body(notices[3]))
    assert page is not None
    status, html, _ = get(page.group(0))
    assert status == 200 and b"Ad 3" in html and b'value="approve"' in html
    got = server.lmtp("owner@example.org", [reject],
                      post("r@example.org", sender="owner@example.org", to=reject, subject="no"))
    assert got[reject][0] == 250
    server.sink.wait_for(lambda f, rs, m: rs == ["eve@example.org"]
                         and "was not sent" in str(m["Subject"]))
    got = server.lmtp("owner@example.org", [discard],
                      post("d@example.org", sender="owner@example.org", to=discard, subject="x"))
    assert got[discard][0] == 250
    assert held(server) == []
    assert [a for _, a, _ in audit(server)] == ["moderate:discard", "moderate:reject"]
    assert get(page.group(0))[0] == 409  # decided: the page no longer opens


def test_the_author_withdraws_and_discarded_posts_get_250(server: Server) -> None:  # noqa: F811
    server.lmtp("eve@example.org", [LIST],
                post("mb4@example.org", sender="eve@example.org", subject="Oops"))
    told = server.sink.wait_for(lambda f, rs, m: rs == ["eve@example.org"]
                                and "waits for a moderator" in str(m["Subject"]))
    assert "reply to this message with the word withdraw" in body(told)
    withdraw = str(told["Reply-To"])
    got = server.lmtp("eve@example.org", [withdraw],
                      post("w@example.org", sender="eve@example.org", to=withdraw,
                           subject=f"Re: {told['Subject']}", body="withdraw\n"))
    assert got[withdraw][0] == 250
    assert held(server) == []
    assert audit(server)[0][:2] == ("eve@example.org", "moderate:withdraw")
    # A list that discards non-members' posts says 250 and tells nobody.
    assert server.cli("list", "set", LIST, "nonmember_action=discard").returncode == 0
    before = len(server.sink.got)
    got = server.lmtp("spam@example.net", [LIST],
                      post("mb5@example.net", sender="spam@example.net", subject="Spam"))
    assert got[LIST][0] == 250
    time.sleep(0.5)
    assert len(server.sink.got) == before and held(server) == []
    assert get(f"{server.base}/l/{LIST}/m/mb5@example.net/")[0] == 404
