"""`moot ban`, `moot unban`, `moot expel`, `moot readmit`, `moot audit`: an owner putting
people out, against a real database, and what the posting pipeline does afterwards."""

from __future__ import annotations

import email
from email.policy import default
from pathlib import Path

from tests.cli.test_cli import LIST, Cli, one_error_line
from tests.cli.test_listserver import post, queued

__all__ = ["ready", "cli"]
from tests.cli.test_cli import cli, ready  # noqa: E402,F401 - fixtures


def setup(cli: Cli) -> None:
    cli.ok("list", "create", LIST, "--policy", "open")
    cli.ok("member", "add", LIST, "ann@example.org", "--role", "owner", "--no-confirm")
    cli.ok("member", "add", LIST, "troll@example.net", "cy@example.com", "--no-confirm")


def test_bans_per_list_and_site_wide(ready: Cli, tmp_path: Path) -> None:
    setup(ready)
    ready.ok("ban", LIST, "*@spam.example", "--reason", "spam run in May")
    ready.ok("ban", "--site", "^.*@junk\\.example$", "--reason", "known spammer domain")
    ready.ok("ban", LIST, "Mallory@Example.COM", "--days", "30")
    doc = ready.json("ban", "ls", LIST)
    assert [(b["pattern"], b["reason"], b["by"], b["expulsion"]) for b in doc["bans"]] == [
        ("*@spam.example", "spam run in May", "cli", False),
        ("mallory@example.com", "", "cli", False)]
    assert doc["bans"][1]["expires"] is not None and doc["bans"][0]["expires"] is None
    assert [b["pattern"] for b in ready.json("ban", "ls", "--site")["bans"]] == [
        "^.*@junk\\.example$"]
    # A banned sender's post is refused (the list's ban_action is refuse), site-wide too.
    for sender, name in (("x@spam.example", "s1"), ("y@junk.example", "s2")):
        out = ready("inject", LIST, post(tmp_path, name, sender=sender))
        assert out.exit_code == 1 and "banned" in out.stdout
    # With ban_action=hold, it waits for a moderator instead.
    ready.ok("list", "set", LIST, "ban_action=hold")
    out = ready("inject", LIST, post(tmp_path, "s3", sender="x@spam.example"))
    assert out.exit_code == 0 and out.stdout.startswith("held")
    assert "already banned" in one_error_line(ready("ban", LIST, "*@SPAM.example"))
    assert "use an address" in one_error_line(ready("ban", LIST, "spam*"))
    ready.ok("unban", LIST, "*@spam.example")
    assert "is not banned" in one_error_line(ready("unban", LIST, "*@spam.example"))
    out = ready("inject", LIST, post(tmp_path, "s4", sender="x@spam.example"))
    assert out.exit_code == 0 and out.stdout.startswith("accepted")


def test_an_expulsion_is_recorded_told_and_can_be_undone(ready: Cli, tmp_path: Path) -> None:
    setup(ready)
    assert "needs a reason" in one_error_line(ready("expel", LIST, "troll@example.net"))
    before = len([r for r, _ in queued(ready) if r == "troll@example.net"])  # the welcome
    ready.ok("expel", LIST, "troll@example.net", "--reason", "personal attacks after warnings")
    members = [m["email"] for m in ready.json("member", "ls", LIST)["members"]]
    assert "troll@example.net" not in members
    [ban] = ready.json("ban", "ls", LIST)["bans"]
    assert (ban["pattern"], ban["expulsion"], ban["reason"]) == (
        "troll@example.net", True, "personal attacks after warnings")
    # They were told why and where to appeal (the owners, by default); no goodbye besides.
    told = [(rcpt, kind) for rcpt, kind in queued(ready) if rcpt == "troll@example.net"]
    assert told[before:] == [("troll@example.net", "notice")]
    from tests.cli.test_listserver import build, load_settings, s, select  # noqa: F401

    moot = build(load_settings(ready.data, env={"MOOT_DATABASE_URL":
                                                str(ready.env["MOOT_DATABASE_URL"])}))
    try:
        from moot.storage.codec import decode

        with moot.engine.connect() as conn:
            row = conn.execute(select(s.outbox.c.codec, s.outbox.c.data)
                               .join(s.outbox_recipients)
                               .where(s.outbox_recipients.c.rcpt == "troll@example.net")
                               .order_by(s.outbox.c.id.desc())).first()
    finally:
        moot.close()
    notice = email.message_from_bytes(decode(row.codec, row.data), policy=default)
    assert "personal attacks after warnings" in notice.get_content()
    assert str(notice["Reply-To"]) == "dev-owner@example.org"
    # They can neither post nor join again...
    out = ready("inject", LIST, post(tmp_path, "t1", sender="troll@example.net"))
    assert out.exit_code == 1 and "banned" in out.stdout
    # ...until readmitted.
    assert "was not expelled" in one_error_line(ready("readmit", LIST, "cy@example.com"))
    ready.ok("readmit", LIST, "troll@example.net", "--reason", "apologised")
    assert ready.json("ban", "ls", LIST)["bans"] == []
    entries = ready.json("audit", LIST)["entries"]
    assert [(e["action"], e["target"], e["actor"]) for e in entries] == [
        ("readmit", "troll@example.net", "cli"), ("expel", "troll@example.net", "cli")]
    assert "apologised" in entries[0]["detail"]


def test_expel_quietly(ready: Cli) -> None:
    setup(ready)
    ready.ok("expel", LIST, "cy@example.com", "--reason", "spam", "--no-notify")
    assert len([r for r, _ in queued(ready) if r == "cy@example.com"]) == 1  # the welcome
    assert "not told" in ready.json("audit", LIST)["entries"][0]["detail"]


def test_setting_changes_are_in_the_audit_log_and_outlive_the_list(ready: Cli) -> None:
    setup(ready)
    ready.ok("list", "set", LIST, "reply_to=list", "footer=Be kind.\\nReally.")
    [entry] = ready.json("audit", LIST)["entries"]
    assert (entry["actor"], entry["action"], entry["target"]) == ("cli", "settings", LIST)
    assert entry["detail"] == "reply_to=list; footer=Be kind.\\nReally."
    ready.ok("list", "delete", LIST, "--yes")
    actions = [(e["action"], e["target"]) for e in ready.json("audit", "--site")["entries"]]
    assert actions == [("delete list", LIST), ("settings", LIST)]


def test_a_banned_address_cannot_join(ready: Cli) -> None:
    setup(ready)
    ready.ok("expel", LIST, "troll@example.net", "--reason", "abuse", "--no-notify")
    ready.ok("ban", "--site", "*@spam.example")
    for who in ("troll@example.net", "x@spam.example"):
        out = ready.ok("member", "add", LIST, who)  # asks for confirmation: refused instead
        assert f"{who}: {who} may not join {LIST}" in out.stdout
        assert "is banned from" in one_error_line(ready("member", "add", LIST, who,
                                                        "--no-confirm"))
    assert [r for r, _ in queued(ready) if r == "x@spam.example"] == []
