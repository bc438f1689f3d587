"""``moot user create EMAIL [--admin]`` and ``moot user ls``: web accounts from the command
line.  The password comes from ``MOOT_PASSWORD`` (for scripts) or a prompt, never an argument
(it would stay in the shell history and the process list)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from moot.accounts import AccountError, all_users, create_user
from moot.cli.main import JsonOpt, app, emit_json, fail, open_moot
from moot.storage.store import now_utc

user_app = typer.Typer(no_args_is_help=True, help="Web accounts.")
app.add_typer(user_app, name="user")


@user_app.command("create")
def create(ctx: typer.Context, email: str,
           admin: Annotated[bool, typer.Option("--admin", help="May run the whole site.")]
           = False) -> None:
    """Make a web account (password from MOOT_PASSWORD, or asked for)."""
    password = os.environ.get("MOOT_PASSWORD")
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    moot = open_moot(ctx.obj)
    try:
        with moot.engine.begin() as conn:
            user = create_user(conn, email, password, admin=admin, now=now_utc())
    except AccountError as exc:
        fail(str(exc))
    print(f"created {'site admin ' if user.is_admin else ''}account {user.email}")


@user_app.command("ls")
def list_users(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The accounts: `{"users": [{"email", "admin", "created", "disabled"}]}`."""
    moot = open_moot(ctx.obj)
    with moot.engine.connect() as conn:
        users = all_users(conn)
    if as_json:
        emit_json({"users": [u.as_json() for u in users]})
        return
    if not users:
        print("no accounts yet: `moot user create EMAIL --admin` makes the first")
    for u in users:
        print(f"{u.email}\t{'admin' if u.is_admin else 'user'}\t{u.created_at:%Y-%m-%d}")


@user_app.command("token")
def token(ctx: typer.Context, email: str,
          name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "script",
          as_json: JsonOpt = False) -> None:
    """A new API token for an account, for scripts (`Authorization: Bearer TOKEN`); printed
    once, only its hash is kept.  `--json`: `{"email", "name", "token"}`."""
    from moot.accounts import find_user
    from moot.authz import create_token

    moot = open_moot(ctx.obj)
    with moot.engine.begin() as conn:
        row = find_user(conn, email)
        if row is None or row.disabled:
            fail(f"no account {email.strip().lower()}: make it with `moot user create`")
        made = create_token(conn, row.id, name, now_utc())
    if as_json:
        emit_json({"email": row.email, "name": name, "token": made})
    else:
        print(made)
