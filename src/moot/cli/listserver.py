"""``moot list set|delete``, ``moot member``, ``moot inject``, ``moot held``, ``moot moderate``:
the list server's commands, thin wrappers over the services the LMTP server and the web use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from moot.cli.main import JsonOpt, app, emit_json, err, fail, list_app, open_moot
from moot.core.errors import MootError
from moot.core.mailinglist import SETTINGS, ListConfig
from moot.core.member import ROLES, Member
from moot.storage import held as held_store
from moot.storage import lists as list_store
from moot.storage import members as member_store
from moot.storage.db import writing
from moot.storage.store import now_utc

EX_TEMPFAIL = 75  # sysexits.h: the mail server keeps the message and tries again

member_app = typer.Typer(no_args_is_help=True, help="Subscribe, unsubscribe and list members.")
app.add_typer(member_app, name="member")


def _config(moot: object, address: str) -> ListConfig:
    with moot.engine.connect() as conn:  # type: ignore[attr-defined]
        config = list_store.get_config(conn, address)
    if config is None:
        fail(f"no list {address!r}: see `moot list ls`")
    return config


@list_app.command("set")
def list_set(
    ctx: typer.Context,
    address: str,
    assignments: Annotated[list[str], typer.Argument(help="NAME=VALUE, e.g. reply_to=list")],
    as_json: JsonOpt = False,
) -> None:
    """Change a list's settings (`moot list show ADDR` shows them; docs/lists.md explains)."""
    changes: dict[str, str] = {}
    for a in assignments:
        name, eq, value = a.partition("=")
        if not eq:
            fail(f"write each setting as NAME=VALUE (got {a!r}); names: {', '.join(SETTINGS)}")
        changes[name.strip()] = value.replace("\\n", "\n")
    moot = open_moot(ctx.obj)
    try:
        with moot.engine.begin() as conn:
            config = list_store.update_settings(conn, address, changes, by="cli")
    except MootError as exc:
        fail(str(exc))
    if as_json:
        emit_json(config.as_json())
    else:
        print(f"updated {config.address}: {', '.join(changes)}")


@list_app.command("delete")
def list_delete(
    ctx: typer.Context,
    address: str,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete, archive included.")] = False,
) -> None:
    """Delete a list with its members, held posts and archive."""
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    if not yes:
        fail(f"this deletes {config.address} and its whole archive; "
             f"run `moot list delete {config.address} --yes` to go ahead")
    with moot.engine.begin() as conn:
        list_store.delete_list(conn, config.address, by="cli")
    print(f"deleted {config.address}")


# -- members -------------------------------------------------------------------------------------

@member_app.command("add")
def member_add(
    ctx: typer.Context,
    address: str,
    emails: Annotated[list[str], typer.Argument(help="Addresses to subscribe.")],
    role: Annotated[str, typer.Option(help="member|moderator|owner")] = "member",
    digest: Annotated[bool, typer.Option("--digest", help="Digest delivery.")] = False,
    no_confirm: Annotated[bool, typer.Option(
        "--no-confirm", help="Subscribe at once instead of mailing a confirmation.")] = False,
) -> None:
    """Subscribe addresses (a confirmation request by email unless --no-confirm)."""
    from moot.core.address import valid_email

    if role not in ROLES:
        fail(f"unknown role {role!r}: choose member, moderator or owner")
    bad = [e for e in emails if not valid_email(e)]
    if bad:
        fail(f"{bad[0]!r} is not an email address")
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    now = now_utc()
    with moot.engine.begin() as conn:
        for email in emails:
            email = email.strip().lower()
            if no_confirm:
                try:
                    added = moot.membership.subscribe_now(conn, config, Member(
                        email, role=role, delivery="digest" if digest else "regular"), now)
                except MootError as exc:
                    fail(str(exc))
                print(f"{email}: {'subscribed' if added else 'already subscribed'}")
            else:
                print(f"{email}: " + moot.membership.request_subscribe(
                    conn, config, email, now, delivery="digest" if digest else "regular",
                    by_owner=True))
                if role != "member":
                    err.print(f"note: {email} joins as a member once confirmed; give the role "
                              f"with --no-confirm", markup=False)


@member_app.command("rm")
def member_rm(ctx: typer.Context, address: str, email: str) -> None:
    """Unsubscribe an address at once."""
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    with moot.engine.begin() as conn:
        if not moot.membership.unsubscribe_now(conn, config, email, now_utc()):
            fail(f"{email} is not subscribed to {config.address}")
    print(f"{email.lower()}: unsubscribed")


@member_app.command("set")
def member_set(
    ctx: typer.Context,
    address: str,
    email: str,
    role: Annotated[str | None, typer.Option(help="member|moderator|owner")] = None,
    delivery: Annotated[str | None, typer.Option(help="regular|digest")] = None,
    nomail: Annotated[bool | None, typer.Option(
        "--nomail/--mail", help="Stop (or resume) mail; still a member who may post.")] = None,
    receive_own: Annotated[bool | None, typer.Option(
        "--receive-own/--no-receive-own", help="Get a copy of one's own posts.")] = None,
    moderated: Annotated[bool | None, typer.Option(
        "--moderated/--unmoderated", help="Hold this member's posts for a moderator.")] = None,
) -> None:
    """Change one member's options."""
    from moot.core.member import DELIVERY_MODES

    changes: dict[str, object] = {}
    if role is not None:
        if role not in ROLES:
            fail(f"unknown role {role!r}: choose member, moderator or owner")
        changes["role"] = role
    if delivery is not None:
        if delivery not in DELIVERY_MODES:
            fail(f"unknown delivery {delivery!r}: choose regular or digest")
        changes["delivery"] = delivery
    for name, value in (("nomail", nomail), ("receive_own", receive_own),
                        ("moderated", moderated)):
        if value is not None:
            changes[name] = value
    if not changes:
        fail("say what to change, e.g. --digest, --nomail, --role moderator")
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    with moot.engine.begin() as conn:
        if not member_store.update_member(conn, config.id, email, **changes):
            fail(f"{email} is not subscribed to {config.address}")
    print(f"{email.lower()}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@member_app.command("ls")
def member_ls(ctx: typer.Context, address: str, as_json: JsonOpt = False) -> None:
    """The list's members."""
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        everyone = member_store.all_members(conn, config.id)
    if as_json:
        emit_json({"members": [
            {"email": x.email, "role": x.role, "delivery": x.delivery, "nomail": x.nomail,
             "receive_own": x.receive_own, "moderated": x.moderated} for x in everyone]})
        return
    for x in everyone:
        print(f"{x.email}\t{x.role}\t{x.delivery}{'  (no mail)' if x.nomail else ''}")


# -- the posting pipeline ------------------------------------------------------------------------

@app.command()
def inject(
    ctx: typer.Context,
    address: str,
    file: Annotated[Path | None, typer.Argument(help="The message (default: stdin).")] = None,
    sender: Annotated[str, typer.Option(
        "--sender", help="Envelope sender (default: the From address).")] = "",
) -> None:
    """Run one message through the posting pipeline as if it came by LMTP; prints the outcome.

    ADDRESS may be the list or one of its sub-addresses (LIST-request@, LIST-join@...).
    Exit status: 0 kept (accepted or held), 1 refused, 75 try again later (for a pipe)."""
    from moot.core.parse import parse_message

    raw = file.read_bytes() if file else sys.stdin.buffer.read()
    moot = open_moot(ctx.obj, durable=True)  # a pipe from the mail server: exit 0 means kept
    target = moot.resolve(address)
    if target is None:
        fail(f"no list or list sub-address {address!r}: see `moot list ls`")
    if sender == "<>":  # the null sender, as mail servers write it
        sender = ""
    elif not sender:
        sender = parse_message(raw).from_addr if raw.strip() else ""
    from moot.inbound.service import Job

    # Asked before the transaction: DNS and a spam filter can take seconds.
    identity, spam = moot.check_post(raw) if target.kind == "post" else (None, None)
    try:
        inbound = moot.inbound  # built before the write lock is taken: it may write a secret
        with writing(moot.engine) as conn:
            outcome = inbound.handle(conn, Job(sender, target, raw, identity, spam))
    except Exception as exc:  # noqa: BLE001 - a pipe's mail server must retry, not bounce
        err.print(f"error: could not handle the message now ({type(exc).__name__}: {exc}); "
                  "it was not kept, the mail server should try again", markup=False)
        raise typer.Exit(EX_TEMPFAIL) from None
    if outcome.message_pk is not None:
        moot.search.catch_up()
    print(outcome.line())
    if outcome.status == "rejected":
        raise typer.Exit(1)
    if outcome.status == "failed":
        raise typer.Exit(EX_TEMPFAIL)


@app.command()
def held(ctx: typer.Context, address: str, as_json: JsonOpt = False) -> None:
    """Posts waiting for a moderator."""
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        rows = held_store.waiting(conn, config.id)
    docs = [held_store.summary_json(r) for r in rows]
    if as_json:
        emit_json({"held": docs})
        return
    if not docs:
        print(f"nothing is held on {config.address}")
    for d in docs:
        print(f"{d['id']}\t{d['from']}\t{d['subject']}\t({'; '.join(d['reasons'])})")


@app.command()
def moderate(
    ctx: typer.Context,
    address: str,
    hold_id: int,
    decision: Annotated[str, typer.Argument(
        help="approve|reject|discard|defer|approve+unmoderate|approve+accept")],
    reason: Annotated[str, typer.Option(
        help="Told to the author on reject; kept in the audit log.")] = "",
) -> None:
    """Decide one held post: approve, reject (the author is told), discard, defer (leave it
    waiting), approve+unmoderate (approve; the member's posts are no longer held) or
    approve+accept (approve; always accept this sender)."""
    from moot.core.moderation import MODERATOR_DECISIONS

    if decision not in MODERATOR_DECISIONS:
        fail(f"unknown decision {decision!r}: {', '.join(MODERATOR_DECISIONS)}")
    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    try:
        with moot.engine.begin() as conn:
            outcome = moot.inbound.moderate(conn, config, hold_id, decision, by="cli",
                                            reason=reason)
    except MootError as exc:
        fail(str(exc))
    if outcome.message_pk is not None:
        moot.search.catch_up()
    print(f"{hold_id}: {decision} -> {outcome.line()}")


@app.command()
def bounces(ctx: typer.Context, address: str,
            email: Annotated[str | None, typer.Argument(help="Only this member.")] = None,
            as_json: JsonOpt = False) -> None:
    """Bounce history: reports read, delivery stopped, notices, re-enabled, removed."""
    from moot.storage import bounces as bounce_store

    moot = open_moot(ctx.obj)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        events = bounce_store.history(conn, config.id, email)
        stopped = [{"email": e, "since": st.disabled_at.isoformat() + "Z",
                    "score": st.score, "notices": st.warnings_sent}
                   for lid, e, st in bounce_store.disabled(conn)
                   if lid == config.id and st.disabled_at is not None
                   and (email is None or e == email.lower())]
    if as_json:
        emit_json({"disabled": stopped, "events": events})
        return
    for d in stopped:
        print(f"delivery stopped: {d['email']} since {d['since']} (score {d['score']}, "
              f"{d['notices']} notice(s) sent)")
    if not events:
        print(f"no bounces on record for {email or config.address}")
    for e in events:
        print(f"{e['at']}\t{e['email'] or '-'}\t{e['kind']}\t{e['detail']}")


@app.command()
def queue(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The outbound queue: recipients pending, being retried, failed and sent, by list."""
    from moot.storage import outbox

    moot = open_moot(ctx.obj)
    with moot.engine.connect() as conn:
        lists = outbox.summary(conn)
        problems = outbox.failures(conn)
    if as_json:
        emit_json({"lists": lists, "problems": problems})
        return
    if not lists:
        print("the outbound queue is empty")
    for row in lists:
        print(f"{row['list'] or '(no list)'}\tpending {row['pending']}\tretrying "
              f"{row['retrying']}\tfailed {row['failed']}\tsent {row['sent']}")
    for p in problems:
        print(f"  {p['status']}: {p['rcpt']} ({p['list']}, {p['attempts']} attempts): "
              f"{p['error']}")
