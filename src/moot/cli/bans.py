"""``moot ban``, ``moot unban``, ``moot expel``, ``moot readmit``, ``moot audit``: the owners'
tools for people who have to go, over :mod:`moot.expulsion`.

``moot ban ls ADDR`` lists what ``moot ban ADDR PATTERN`` added (``ls`` is not a list address,
so the first word tells which is meant); ``--site`` in place of ADDR means every list.
"""

from __future__ import annotations

from typing import Annotated

import typer

from moot.cli.main import JsonOpt, app, emit_json, fail, open_moot
from moot.core.errors import MootError
from moot.core.mailinglist import ListConfig
from moot.expulsion import ban as do_ban
from moot.expulsion import expel as do_expel
from moot.expulsion import readmit as do_readmit
from moot.expulsion import unban as do_unban
from moot.storage import audit, bans
from moot.storage.lists import get_config
from moot.storage.store import now_utc

SiteOpt = Annotated[bool, typer.Option("--site", help="Every list on this site.")]
ReasonOpt = Annotated[str, typer.Option(help="Why; kept on record.")]


def _list(moot: object, address: str) -> ListConfig:
    with moot.engine.connect() as conn:  # type: ignore[attr-defined]
        config = get_config(conn, address)
    if config is None:
        fail(f"no list {address!r}: see `moot list ls`")
    return config


def _where(moot: object, words: list[str], site: bool, want: int, usage: str
           ) -> tuple[ListConfig | None, list[str]]:
    """The list (None with --site) and the remaining words."""
    if site:
        if len(words) != want:
            fail(f"usage: {usage}")
        return None, words
    if len(words) != want + 1:
        fail(f"usage: {usage}")
    return _list(moot, words[0]), words[1:]


@app.command()
def ban(ctx: typer.Context,
        words: Annotated[list[str], typer.Argument(
            help="ADDR PATTERN (or PATTERN with --site) to ban; `ls ADDR` (or `ls --site`) "
                 "to list. PATTERN: an address, *@domain or ^regex$.")],
        site: SiteOpt = False, reason: ReasonOpt = "",
        days: Annotated[float | None, typer.Option(help="Lift the ban after this many days.")]
        = None,
        as_json: JsonOpt = False) -> None:
    """Ban a sender from a list or from every list, or list the bans (`moot ban ls ADDR`)."""
    moot = open_moot(ctx.obj)
    if words and words[0] == "ls":
        config, _ = _where(moot, words[1:], site, 0, "moot ban ls ADDR | moot ban ls --site")
        with moot.engine.connect() as conn:
            found = bans.listed(conn, config.id if config else None)
        if as_json:
            emit_json({"bans": found})
            return
        if not found:
            print(f"no bans {'on ' + config.address if config else 'site-wide'}")
        for b in found:
            kind = "expelled" if b["expulsion"] else "banned"
            until = f" until {b['expires']}" if b["expires"] else ""
            print(f"{b['pattern']}\t{kind} by {b['by']} at {b['at']}{until}\t{b['reason']}")
        return
    config, [pattern] = _where(moot, words, site, 1,
                               "moot ban ADDR PATTERN [--reason R] | moot ban --site PATTERN")
    try:
        with moot.engine.begin() as conn:
            stored = do_ban(conn, config, pattern, reason=reason, by="cli", now=now_utc(),
                            days=days)
    except MootError as exc:
        fail(str(exc))
    print(f"banned {stored} {'on ' + config.address if config else 'on every list'}")


@app.command()
def unban(ctx: typer.Context,
          words: Annotated[list[str], typer.Argument(help="ADDR PATTERN, or PATTERN with "
                                                          "--site")],
          site: SiteOpt = False, reason: ReasonOpt = "") -> None:
    """Lift a ban."""
    moot = open_moot(ctx.obj)
    config, [pattern] = _where(moot, words, site, 1, "moot unban ADDR PATTERN | moot unban "
                                                     "--site PATTERN")
    try:
        with moot.engine.begin() as conn:
            do_unban(conn, config, pattern, by="cli", now=now_utc(), reason=reason)
    except MootError as exc:
        fail(str(exc))
    print(f"lifted the ban on {pattern.strip().lower()}")


@app.command()
def expel(ctx: typer.Context, address: str, email: str,
          reason: Annotated[str, typer.Option(help="Why: kept on record and told to the "
                                                   "member.")] = "",
          notify: Annotated[bool, typer.Option(help="Tell the member why, and where to "
                                                    "appeal.")] = True,
          appeal: Annotated[str | None, typer.Option(help="Where appeals go (default: "
                                                          "LIST-owner@).")] = None) -> None:
    """Put a member out: unsubscribe, ban by address, record, and tell them why."""
    moot = open_moot(ctx.obj)
    config = _list(moot, address)
    try:
        with moot.engine.begin() as conn:
            do_expel(conn, moot.membership, config, email, reason=reason, by="cli",
                     now=now_utc(), notify=notify, appeal=appeal)
    except MootError as exc:
        fail(str(exc))
    print(f"expelled {email.strip().lower()} from {config.address}"
          f"{' and told them why' if notify else ''}")


@app.command()
def readmit(ctx: typer.Context, address: str, email: str, reason: ReasonOpt = "") -> None:
    """Lift an expulsion: the person may join again."""
    moot = open_moot(ctx.obj)
    config = _list(moot, address)
    try:
        with moot.engine.begin() as conn:
            do_readmit(conn, config, email, by="cli", now=now_utc(), reason=reason)
    except MootError as exc:
        fail(str(exc))
    print(f"{email.strip().lower()} may join {config.address} again")


@app.command("audit")
def audit_log(ctx: typer.Context,
              address: Annotated[str | None, typer.Argument(help="The list (none with "
                                                                 "--site).")] = None,
              site: SiteOpt = False, as_json: JsonOpt = False) -> None:
    """Who did what and when: moderation decisions, bans, expulsions, setting changes."""
    moot = open_moot(ctx.obj)
    if site == (address is not None):
        fail("usage: moot audit ADDR | moot audit --site")
    config = _list(moot, address) if address else None
    with moot.engine.connect() as conn:
        found = audit.entries(conn, config.id if config else None)
    if as_json:
        emit_json({"entries": found})
        return
    if not found:
        print("nothing on record yet")
    for e in found:
        print(f"{e['at']}\t{e['actor']}\t{e['action']}\t{e['target']}\t{e['detail']}")
