"""`moot user create` and `moot user ls`: web accounts made from the command line, with the
password from MOOT_PASSWORD or a prompt, hashed with argon2id."""

from __future__ import annotations

from sqlalchemy import select

from moot.accounts import authenticate
from moot.app import build
from moot.config import load_settings
from moot.storage import schema as s
from tests.cli.test_cli import Cli, one_error_line

__all__ = ["ready", "cli"]
from tests.cli.test_cli import cli, ready  # noqa: E402,F401 - fixtures

PASSWORD = "a long enough passphrase"


def test_create_an_admin_and_log_in_with_the_password(ready: Cli) -> None:
    out = ready("user", "create", "Ann@Example.org", "--admin",
                env={"MOOT_PASSWORD": PASSWORD})
    assert out.exit_code == 0 and "created site admin account ann@example.org" in out.stdout
    [user] = ready.json("user", "ls")["users"]
    assert (user["email"], user["admin"], user["disabled"]) == ("ann@example.org", True, False)
    moot = build(load_settings(ready.data, env={"MOOT_DATABASE_URL":
                                                str(ready.env["MOOT_DATABASE_URL"])}))
    try:
        with moot.engine.begin() as conn:
            stored = conn.execute(select(s.users.c.password_hash)).scalar_one()
            assert stored.startswith("$argon2id$") and PASSWORD not in stored
            assert authenticate(conn, "ann@example.org", PASSWORD) is not None
            assert authenticate(conn, "ann@example.org", PASSWORD + "x") is None
            assert authenticate(conn, "nobody@example.org", PASSWORD) is None
    finally:
        moot.close()


def test_the_password_can_be_typed_at_a_prompt(ready: Cli) -> None:
    from typer.testing import CliRunner

    from moot.cli.main import app

    result = CliRunner().invoke(app, ["--data", str(ready.data), "user", "create",
                                      "ben@example.org"],
                                input=f"{PASSWORD}\n{PASSWORD}\n",
                                env={**ready.env, "MOOT_PASSWORD": None})
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.stdout
    assert [u["admin"] for u in ready.json("user", "ls")["users"]] == [False]


def test_bad_accounts_are_refused_with_one_clear_line(ready: Cli) -> None:
    env = {"MOOT_PASSWORD": PASSWORD}
    assert ready("user", "create", "ann@example.org", env=env).exit_code == 0
    assert "already an account" in one_error_line(
        ready("user", "create", "ANN@example.org", env=env))
    assert "at least 10 characters" in one_error_line(
        ready("user", "create", "cy@example.org", env={"MOOT_PASSWORD": "short"}))
    assert "not an address" in one_error_line(
        ready("user", "create", "not-an-address", env=env))
    assert "the address itself" in one_error_line(
        ready("user", "create", "longaddress1@example.org",
              env={"MOOT_PASSWORD": "longaddress1"}))


def test_an_api_token_from_the_command_line_opens_the_api(ready: Cli) -> None:
    from fastapi.testclient import TestClient

    from moot.web.app import create_app

    assert ready("user", "create", "ann@example.org", env={"MOOT_PASSWORD": PASSWORD}
                 ).exit_code == 0
    made = ready.json("user", "token", "ann@example.org", "--name", "backup script")
    assert made["token"].startswith("moot_") and made["name"] == "backup script"
    assert "no account" in one_error_line(ready("user", "token", "nobody@example.org"))
    moot = build(load_settings(ready.data, env={"MOOT_DATABASE_URL":
                                                str(ready.env["MOOT_DATABASE_URL"])}))
    try:
        with TestClient(create_app(moot)) as client:
            auth = {"Authorization": f"Bearer {made['token']}"}
            # Who the token is for: an account that owns nothing, so administration is refused
            # with 403 (known but not allowed), not 401.
            r = client.get("/api/v1/queue", headers=auth)
            assert r.status_code == 403 and "site admin" in r.json()["error"]
            assert client.get("/api/v1/queue").status_code == 401
    finally:
        moot.close()
