"""The ``moot`` command as scripts and operators use it: exit codes, one-line errors on
stderr, and ``--json`` documents with exactly the promised keys."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from moot.app import build
from moot.cli.main import app
from moot.config import DOCUMENTED, Settings, load_settings
from tests.helpers import make_message, write_mbox

LIST = "dev@example.org"


@dataclass
class Cli:
    data: Path
    env: dict[str, str | None]

    def __call__(self, *args: str, data: Path | None = None,
                 env: dict[str, str | None] | None = None) -> Result:
        result = CliRunner().invoke(app, ["--data", str(data or self.data), *args],
                                    env={**self.env, **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (args, result.output)
        return result

    def json(self, *args: str) -> dict:
        result = self.ok(*args, "--json")
        return json.loads(result.stdout)  # one document, nothing else on stdout


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    """A runner whose data folder is not initialised yet; the database is ``db_url``."""
    return Cli(tmp_path / "data", {"MOOT_DATABASE_URL": db_url, "MOOT_DATA": None,
                                   "MOOT_BASE_URL": None, "MOOT_RELAY": None})


@pytest.fixture
def ready(cli: Cli) -> Cli:
    cli.ok("init")
    return cli


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def thread_messages() -> list[bytes]:
    return [
        make_message("r1@example.org", subject="Plan", date="Mon, 02 Mar 2026 09:00:00 +0000",
                     body="From the start.\n>From a quoted envelope-looking line\n"),
        make_message("r2@example.org", subject="Re: Plan", date="Mon, 02 Mar 2026 10:00:00 +0000",
                     sender="Bo Lindqvist <bo@example.org>", in_reply_to="r1@example.org",
                     references=["r1@example.org"]),
        make_message("r4@example.org", subject="Re: Plan", date="Mon, 02 Mar 2026 12:00:00 +0000",
                     in_reply_to="r1@example.org", references=["r1@example.org"]),
        make_message("r3@example.org", subject="Re: Plan", date="Mon, 02 Mar 2026 11:00:00 +0000",
                     sender="chiara@example.org", in_reply_to="r2@example.org",
                     references=["r1@example.org", "r2@example.org"]),
        make_message("other@example.org", subject="Something else",
                     date="Tue, 03 Mar 2026 09:00:00 +0000"),
    ]


@pytest.fixture
def mbox(tmp_path: Path) -> Path:
    return write_mbox(tmp_path / "in.mbox", thread_messages())


# -- init and configuration --------------------------------------------------------------------

def test_init_twice_is_safe_and_writes_moot_toml(cli: Cli) -> None:
    r = cli.ok("init")
    assert "ready" in r.stderr and r.stdout == ""
    cfg = cli.data / "moot.toml"
    first = cfg.read_text("utf-8")
    cli.ok("list", "create", LIST)
    r = cli.ok("init")
    assert cfg.read_text("utf-8") == first  # an operator's edits would survive
    assert [x["address"] for x in cli.json("list", "ls")["lists"]] == [LIST]


def test_command_on_an_uninitialised_folder_says_to_run_init(cli: Cli) -> None:
    for args in (("list", "ls"), ("thread", "x@example.org"), ("export", LIST)):
        line = one_error_line(cli(*args))
        assert "init" in line, line
        assert cli(*args).stdout == ""


def test_long_errors_stay_on_one_line(cli: Cli, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / "data"
    line = one_error_line(cli("list", "ls", data=deep, env={"MOOT_DATABASE_URL": None}))
    assert str(deep) in line and "init" in line


def test_moot_toml_documents_every_setting(ready: Cli) -> None:
    settable = {f.name for f in fields(Settings)} - {"data_dir"}
    assert set(DOCUMENTED) == settable
    text = (ready.data / "moot.toml").read_text("utf-8")
    for key, doc in DOCUMENTED.items():
        assert re.search(rf'^# {key} = "[^"]*"$', text, re.M), key
        assert f"# {doc}" in text, key
    # Uncommenting every setting gives a file moot accepts.
    active = re.findall(r'^# (\w+ = "[^"]*")$', text, re.M)
    assert len(active) == len(settable)
    parsed = tomllib.loads("\n".join(active))
    assert set(parsed) == settable


def test_unknown_setting_is_named(ready: Cli) -> None:
    cfg = ready.data / "moot.toml"
    cfg.write_text(cfg.read_text("utf-8") + '\ndatabse_url = "sqlite:///x"\n', "utf-8")
    for args in (("list", "ls"), ("init",)):
        line = one_error_line(ready(*args))
        assert "databse_url" in line and "moot.toml" in line


def test_environment_overrides_the_file(ready: Cli, tmp_path: Path) -> None:
    cfg = ready.data / "moot.toml"
    cfg.write_text('database_url = "sqlite:////nonexistent-folder/none.sqlite3"\n'
                   'base_url = "https://from-file.example"\n', "utf-8")
    # MOOT_DATABASE_URL (the fixture's working database) wins over the broken file value.
    ready.ok("list", "create", LIST)
    assert [x["address"] for x in ready.json("list", "ls")["lists"]] == [LIST]
    line = one_error_line(ready("list", "ls", env={"MOOT_DATABASE_URL": None}))
    assert "nonexistent-folder" in line

    env = {"MOOT_DATABASE_URL": ready.env["MOOT_DATABASE_URL"],
           "MOOT_BASE_URL": "https://lists.example.net"}
    settings = load_settings(ready.data, env)
    assert settings.base_url == "https://lists.example.net"
    assert settings.database_url == ready.env["MOOT_DATABASE_URL"]
    assert load_settings(ready.data, {}).base_url == "https://from-file.example"

    # ... and a reader sees it: the feed links use the overriding base URL.
    from fastapi.testclient import TestClient

    from moot.web.app import create_app

    moot = build(settings)
    try:
        with TestClient(create_app(moot)) as client:
            feed = client.get(f"/l/{LIST}/atom.xml").text
    finally:
        moot.close()
    assert 'href="https://lists.example.net/l/dev@example.org/atom.xml"' in feed
    assert "from-file.example" not in feed


# -- lists -------------------------------------------------------------------------------------

def test_list_create_ls_show(ready: Cli) -> None:
    r = ready.ok("list", "create", LIST, "--name", "Developers", "--policy", "moderated")
    assert LIST in r.stdout
    ready.ok("list", "create", "hidden@example.org", "--archive", "private")
    doc = ready.json("list", "ls")
    assert [x["address"] for x in doc["lists"]] == [LIST, "hidden@example.org"]
    assert doc["lists"][0]["display_name"] == "Developers"
    show = ready.json("list", "show", LIST)
    assert show["address"] == LIST
    assert show["display_name"] == "Developers"
    assert show["posting_policy"] == "moderated"
    assert show["archive_policy"] == "public"
    assert show["messages"] == 0 and show["threads"] == 0
    assert ready.json("list", "show", "hidden@example.org")["archive_policy"] == "private"

    assert "already exists" in one_error_line(ready("list", "create", LIST))
    assert "no list" in one_error_line(ready("list", "show", "nope@example.org"))
    assert "policy" in one_error_line(ready("list", "create", "x@example.org",
                                            "--policy", "anarchy"))
    assert "name@domain" in one_error_line(ready("list", "create", "not an address"))
    assert ready("list", "create").exit_code == 2  # bad usage


# -- import ------------------------------------------------------------------------------------

def test_import_json_counts_and_reimport_gives_duplicates(ready: Cli, mbox: Path,
                                                         tmp_path: Path) -> None:
    doc = ready.json("import", LIST, str(mbox))
    assert set(doc) == {"imported", "duplicates", "rejected", "seconds"}
    assert (doc["imported"], doc["duplicates"], doc["rejected"]) == (5, 0, 0)
    assert isinstance(doc["seconds"], int | float) and doc["seconds"] >= 0
    show = ready.json("list", "show", LIST)
    assert show["messages"] == 5 and show["threads"] == 2

    again = ready.json("import", LIST, str(mbox))
    assert (again["imported"], again["duplicates"], again["rejected"]) == (0, 5, 0)

    # Bytes in the mbox that are not mail are counted as rejected; the rest goes in.
    junk = tmp_path / "junk.mbox"
    junk.write_bytes(b"\x00\x01 binary junk before the first message\n\n" + write_mbox(
        tmp_path / "one.mbox", [make_message("new@example.org")]).read_bytes())
    mixed = ready.json("import", LIST, str(junk), "--format", "mbox")
    assert (mixed["imported"], mixed["duplicates"], mixed["rejected"]) == (1, 0, 1)

    text = ready.ok("import", LIST, str(mbox))
    assert "duplicates 5" in text.stdout


def test_import_refuses_a_file_that_is_not_mail(ready: Cli, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.json"
    bogus.write_text('{"this": "is not mail"}\n')
    ready.ok("list", "create", LIST)
    r = ready("import", LIST, str(bogus))
    assert r.exit_code == 1
    assert str(bogus) in r.stderr and "not an email message" in r.stderr
    assert ready.json("list", "show", LIST)["messages"] == 0

    r = ready("import", LIST, str(tmp_path / "missing.mbox"))
    assert "no such file" in one_error_line(r)


def test_import_with_a_bad_format_is_a_user_error(ready: Cli, mbox: Path) -> None:
    line = one_error_line(ready("import", LIST, str(mbox), "--format", "tarball"))
    assert "tarball" in line and "mbox" in line
    assert ready.json("list", "ls")["lists"] == []  # nothing created on a failed command


def test_import_creates_the_list_when_needed(ready: Cli, mbox: Path) -> None:
    r = ready("import", "new@example.org", str(mbox), "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["imported"] == 5
    assert "created the list new@example.org" in r.stderr
    assert "name@domain" in one_error_line(ready("import", "bad address", str(mbox)))


# -- thread ------------------------------------------------------------------------------------

def test_thread_json_in_display_order(ready: Cli, mbox: Path) -> None:
    ready.ok("import", LIST, str(mbox))
    for start in ("r1@example.org", "<r3@example.org>"):
        doc = ready.json("thread", start)
        assert doc["root"] == "r1@example.org"
        msgs = doc["messages"]
        for m in msgs:
            assert {"message_id", "parent", "depth", "subject", "from", "date"} <= set(m)
        assert [(m["message_id"], m["parent"], m["depth"]) for m in msgs] == [
            ("r1@example.org", None, 0),
            ("r2@example.org", "r1@example.org", 1),
            ("r3@example.org", "r2@example.org", 2),
            ("r4@example.org", "r1@example.org", 1),
        ]
    assert msgs[0]["subject"] == "Plan"
    assert msgs[1]["from"] == "Bo Lindqvist <bo@example.org>"
    assert msgs[2]["from"] == "chiara@example.org"
    assert msgs[0]["date"] == "2026-03-02T09:00:00Z"
    text = ready.ok("thread", "r2@example.org").stdout.splitlines()
    assert len(text) == 4 and text[2].startswith("    Re: Plan")
    assert "no message" in one_error_line(ready("thread", "nope@example.org"))


# -- export ------------------------------------------------------------------------------------

def test_export_list_and_thread_reimport_as_duplicates(ready: Cli, mbox: Path,
                                                       tmp_path: Path) -> None:
    ready.ok("import", LIST, str(mbox))
    whole = tmp_path / "whole.mbox"
    r = ready.ok("export", LIST, "-o", str(whole))
    assert r.stdout == ""
    data = whole.read_bytes()
    assert data.startswith(b"From ")
    assert b"\n>From the start." in data  # mboxrd escaping
    assert b"\n>>From a quoted" in data
    doc = ready.json("import", LIST, str(whole))
    assert (doc["imported"], doc["duplicates"], doc["rejected"]) == (0, 5, 0)

    thread = tmp_path / "thread.mbox"
    ready.ok("export", LIST, "--thread", "r3@example.org", "-o", str(thread))
    assert thread.read_bytes().count(b"\nMessage-ID: ") == 4
    assert b"Something else" not in thread.read_bytes()
    doc = ready.json("import", LIST, str(thread))
    assert (doc["imported"], doc["duplicates"]) == (0, 4)

    # Into a new list the export gives back exactly the bytes that went in.
    ready.ok("import", "copy@example.org", str(whole))
    moot = build(load_settings(ready.data, {"MOOT_DATABASE_URL": ready.env["MOOT_DATABASE_URL"]}))
    try:
        copy = moot.archive.get_list("copy@example.org")
        raws = sorted(raw for _, raw in moot.archive.iter_raw(copy.id))
    finally:
        moot.close()
    assert raws == sorted(thread_messages())

    stdout = ready.ok("export", LIST, "--thread", "r1@example.org").stdout_bytes
    assert stdout == thread.read_bytes()
    assert "no list" in one_error_line(ready("export", "nope@example.org"))
    assert "no message" in one_error_line(ready("export", LIST, "--thread", "zz@example.org"))


# -- demo --------------------------------------------------------------------------------------

def test_demo_without_serving(cli: Cli) -> None:
    r = cli.ok("demo", "--no-serve", "--http", "127.0.0.1:8123")
    assert r.stdout.strip() == "http://127.0.0.1:8123/l/demo@moot.example/"
    assert "8 new messages" in r.stderr
    show = cli.json("list", "show", "demo@moot.example")
    assert show["messages"] == 8
    assert show["threads"] >= 1
    # Running it again changes nothing.
    cli.ok("demo", "--no-serve")
    assert cli.json("list", "show", "demo@moot.example")["messages"] == 8


def test_import_leaves_linking_to_the_server_unless_asked(ready: Cli, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, func, select

    from moot.storage import schema as s

    said = ("The spring meeting moves to the large hall because the small room cannot seat "
            "everyone who signed up this year.\n")
    raws = [make_message("p1@example.org", subject="Hall", body=said),
            make_message("p2@example.org", subject="Re: Hall", in_reply_to="p1@example.org",
                         references=["p1@example.org"], date="Mon, 02 Mar 2026 10:00:00 +0000",
                         body="Ada wrote:\n> " + said + "\nGood, I will tell the others.\n")]
    r = ready.ok("import", LIST, str(write_mbox(tmp_path / "a.mbox", raws)))
    assert "moot relink" in r.stderr  # says who links, and how to do it now
    url = ready.env["MOOT_DATABASE_URL"] or f"sqlite:///{ready.data / 'moot.sqlite3'}"
    engine = create_engine(str(url))

    def links() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.links)).scalar_one())

    assert links() == 0
    more = [make_message("p3@example.org", subject="Re: Hall", in_reply_to="p2@example.org",
                         references=["p1@example.org", "p2@example.org"],
                         date="Mon, 02 Mar 2026 11:00:00 +0000",
                         body="Bo wrote:\n> Good, I will tell the others, and book the "
                              "projector for the whole evening too.\nThanks.\n")]
    ready.ok("import", LIST, str(write_mbox(tmp_path / "b.mbox", more)), "--link")
    assert links() >= 2  # the quotes of both replies, the first import's too
    engine.dispose()
