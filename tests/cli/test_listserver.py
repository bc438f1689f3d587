"""`moot list set|delete`, `moot member`, `moot inject`, `moot held`, `moot moderate`: what an
operator types, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from moot.app import build
from moot.config import load_settings
from moot.storage import schema as s
from tests.cli.test_cli import LIST, Cli, one_error_line
from tests.helpers import make_message

__all__ = ["ready", "cli"]
from tests.cli.test_cli import cli, ready  # noqa: E402,F401 - fixtures


def queued(cli: Cli) -> list[tuple[str, str]]:
    """(recipient, kind) of everything in the outbound queue."""
    moot = build(load_settings(cli.data, env={"MOOT_DATABASE_URL":
                                              str(cli.env["MOOT_DATABASE_URL"])}))
    try:
        with moot.engine.connect() as conn:
            return [(r.rcpt, r.kind) for r in conn.execute(
                select(s.outbox_recipients.c.rcpt, s.outbox.c.kind)
                .join(s.outbox, s.outbox.c.id == s.outbox_recipients.c.outbox_id)
                .order_by(s.outbox_recipients.c.id))]
    finally:
        moot.close()


def post(tmp_path: Path, name: str, **kw: str) -> str:
    raw = make_message(f"{name}@example.org", **kw).replace(b"To: list@example.org",
                                                             f"To: {LIST}".encode())
    path = tmp_path / f"{name}.eml"
    path.write_bytes(raw)
    return str(path)


def test_settings_are_shown_changed_and_refused_by_name(ready: Cli) -> None:
    ready.ok("list", "create", LIST)
    doc = ready.json("list", "set", LIST, "reply_to=list", "max_size=1000",
                     "subject_prefix=[d] ", "content_types=text/plain,text/*")
    assert (doc["reply_to"], doc["max_size"], doc["subject_prefix"]) == ("list", 1000, "[d] ")
    assert doc["content_types"] == ["text/plain", "text/*"]
    assert "bogus" in one_error_line(ready("list", "set", LIST, "bogus=1"))
    assert "reply_to" in one_error_line(ready("list", "set", LIST, "reply_to=everyone"))
    assert "control" in one_error_line(ready("list", "set", LIST, "subject_prefix=a\x07"))
    assert ready.json("list", "set", LIST, "footer=--\\nsent by dev")["footer"] == \
        "--\nsent by dev"


def test_members_join_at_once_or_by_confirmation(ready: Cli) -> None:
    ready.ok("list", "create", LIST)
    out = ready.ok("member", "add", LIST, "ann@example.org", "--no-confirm", "--role", "owner")
    assert "subscribed" in out.stdout
    ready.ok("member", "add", LIST, "ben@example.org")  # a confirmation request only
    members = ready.json("member", "ls", LIST)["members"]
    assert [(m["email"], m["role"]) for m in members] == [("ann@example.org", "owner")]
    assert queued(ready) == [("ann@example.org", "notice"), ("ben@example.org", "notice")]
    # Asking again at once sends nothing more (no mailbox flooding).
    ready.ok("member", "add", LIST, "ben@example.org")
    assert len(queued(ready)) == 2
    ready.ok("member", "set", LIST, "ann@example.org", "--nomail", "--delivery", "digest")
    (ann,) = ready.json("member", "ls", LIST)["members"]
    assert (ann["nomail"], ann["delivery"]) == (True, "digest")
    assert "not an email" in one_error_line(ready("member", "add", LIST, "nobody"))
    assert "not subscribed" in one_error_line(ready("member", "rm", LIST, "zed@example.org"))
    ready.ok("member", "rm", LIST, "ann@example.org")
    assert ready.json("member", "ls", LIST)["members"] == []


def test_inject_runs_the_pipeline(ready: Cli, tmp_path: Path) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "ada@example.org", "kim@example.org", "--no-confirm")
    ok = ready("inject", LIST, post(tmp_path, "p1", subject="Plans"))
    assert (ok.exit_code, ok.stdout.strip()) == (0, "accepted")
    assert ("kim@example.org", "post") in queued(ready)
    assert ready.json("search", "Plans")["total"] == 1  # findable once archived
    again = ready("inject", LIST, post(tmp_path, "p1", subject="Plans"))
    assert again.stdout.strip() == "accepted"  # the same bytes again: not delivered twice
    assert [k for _, k in queued(ready)].count("post") == 2
    held = ready("inject", LIST, post(tmp_path, "p2", sender="eve@example.org"))
    assert held.exit_code == 0 and held.stdout.startswith("held: ")
    loop = post(tmp_path, "p3")
    Path(loop).write_bytes(b"List-Id: <dev.example.org>\n" + Path(loop).read_bytes())
    refused = ready("inject", LIST, loop)
    assert refused.exit_code == 1 and "loop" in refused.stdout
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\x01\x02 not mail at all")
    assert ready("inject", LIST, str(junk)).stdout.startswith("rejected: not an email message")
    assert "no list" in one_error_line(ready("inject", "other@example.org", loop))


def test_held_posts_are_listed_and_decided_once(ready: Cli, tmp_path: Path) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "mod@example.org", "--role", "moderator", "--no-confirm")
    ready.ok("inject", LIST, post(tmp_path, "h1", sender="eve@example.org", subject="One"))
    ready.ok("inject", LIST, post(tmp_path, "h2", sender="eve@example.org", subject="Two"))
    held = ready.json("held", LIST)["held"]
    assert [h["subject"] for h in held] == ["One", "Two"]
    assert all("not a member" in h["reasons"][0] for h in held)
    ready.ok("moderate", LIST, str(held[0]["id"]), "approve")
    ready.ok("moderate", LIST, str(held[1]["id"]), "reject", "--reason", "off topic")
    assert ready.json("held", LIST)["held"] == []
    assert ready.json("search", "One")["total"] == 1
    assert ready.json("search", "Two")["total"] == 0
    rejected = [r for r, k in queued(ready) if r == "eve@example.org"]
    assert len(rejected) == 2 + 1  # two "waits for a moderator", one "was not sent"
    assert "already" in one_error_line(ready("moderate", LIST, str(held[0]["id"]), "discard"))
    assert "no held post" in one_error_line(ready("moderate", LIST, "999", "approve"))


def test_delete_needs_yes_and_takes_everything(ready: Cli, tmp_path: Path) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "ada@example.org", "--no-confirm")
    ready.ok("inject", LIST, post(tmp_path, "d1"))
    assert "--yes" in one_error_line(ready("list", "delete", LIST))
    ready.ok("list", "delete", LIST, "--yes")
    assert json.loads(ready.ok("list", "ls", "--json").stdout)["lists"] == []
    assert queued(ready) == []


def test_moderation_decisions_and_the_audit_log(ready: Cli, tmp_path: Path) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "ben@example.org", "--no-confirm")
    ready.ok("member", "set", LIST, "ben@example.org", "--moderated")
    for n in (1, 2, 3):
        ready.ok("inject", LIST, post(tmp_path, f"m{n}", sender="eve@example.org"))
    ready.ok("inject", LIST, post(tmp_path, "m4", sender="ben@example.org"))
    ids = [h["id"] for h in ready.json("held", LIST)["held"]]
    out = ready.ok("moderate", LIST, str(ids[0]), "defer", "--reason", "ask Ann")
    assert out.stdout.strip() == f"{ids[0]}: defer -> held: ask Ann"
    ready.ok("moderate", LIST, str(ids[0]), "approve+accept")
    ready.ok("moderate", LIST, str(ids[3]), "approve+unmoderate")
    ready.ok("moderate", LIST, str(ids[1]), "discard")
    assert [h["id"] for h in ready.json("held", LIST)["held"]] == [ids[2]]
    # The accepted sender and the member no longer wait.
    assert ready.ok("inject", LIST, post(tmp_path, "m5", sender="eve@example.org")
                    ).stdout.strip() == "accepted"
    assert ready.ok("inject", LIST, post(tmp_path, "m6", sender="ben@example.org")
                    ).stdout.strip() == "accepted"
    error = one_error_line(ready("moderate", LIST, str(ids[2]), "withdraw"))
    assert "approve+unmoderate" in error and "defer" in error
    entries = ready.json("audit", LIST)["entries"]
    assert [(e["actor"], e["action"]) for e in entries if e["action"] != "settings"] == [
        ("cli", "moderate:discard"), ("cli", "moderate:approve+unmoderate"),
        ("cli", "sender-rule:accept"), ("cli", "moderate:approve+accept"),
        ("cli", "moderate:defer")]
    assert entries[-1]["target"] == f"hold {ids[0]} <m1@example.org>"
    assert entries[-1]["detail"] == "ask Ann"


def test_inject_says_when_a_non_members_post_is_dropped(ready: Cli, tmp_path: Path) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("list", "set", LIST, "nonmember_action=discard")
    out = ready("inject", LIST, post(tmp_path, "x1", sender="eve@example.org"))
    assert out.exit_code == 0 and out.stdout.startswith("discarded: eve@example.org is not")
    ready.ok("list", "set", LIST, "nonmember_action=reject")
    out = ready("inject", LIST, post(tmp_path, "x2", sender="eve@example.org"))
    assert out.exit_code == 1 and "only members may post" in out.stdout
    assert ready.json("held", LIST)["held"] == []
