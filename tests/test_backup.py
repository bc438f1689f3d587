"""``moot backup`` / ``moot restore`` (moot.backup): a backup taken while a writer keeps adding
messages restores into a new folder as a consistent archive, searchable and served."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from moot.app import Moot, build
from moot.cli.main import app
from moot.config import load_settings
from moot.core.parse import parse_message
from moot.storage import schema as s
from moot.storage.codec import decode
from moot.storage.store import Incoming, sha256
from moot.web.app import create_app
from tests.conftest import fresh_database
from tests.helpers import make_message

DEMO = "demo@moot.example"
CLEAN_ENV: dict[str, str | None] = {"MOOT_DATABASE_URL": None, "MOOT_DATA": None,
                                    "MOOT_BASE_URL": None, "MOOT_RELAY": None}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def incoming(n: int, word: str) -> Incoming:
    raw = make_message(f"{word}-{n}@example.org", sender="ann@example.org",
                       subject=f"{word} {n}", body=f"On {word} number {n}.\n" + "text " * 200)
    return Incoming(raw, parse_message(raw), sha256(raw))


def archive(moot: Moot) -> dict[str, bytes]:
    """Every message's Message-ID and raw bytes."""
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.messages.c.message_id, s.raw_messages.c.codec,
                                   s.raw_messages.c.data)
                            .join(s.raw_messages,
                                  s.raw_messages.c.message_pk == s.messages.c.id)).all()
    return {r.message_id: decode(r.codec, r.data) for r in rows}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A data folder with the demo list and archive, and a few hundred more messages."""
    data = tmp_path / "site"
    assert run("--data", str(data), "demo", "--no-serve").exit_code == 0
    moot = build(load_settings(data))
    try:
        list_id = moot.archive.get_list(DEMO).id
        for start in range(0, 300, 100):
            moot.store.add_messages(list_id, [incoming(n, "marmalade")
                                              for n in range(start, start + 100)])
        moot.search.catch_up()
    finally:
        moot.close()
    return data


def test_backup_while_writing_restores_what_was_committed(site: Path, tmp_path: Path) -> None:
    moot = build(load_settings(site))
    list_id = moot.archive.get_list(DEMO).id
    stop, written = threading.Event(), threading.Event()
    count = 0

    def writer() -> None:  # the server, taking posts all through the backup
        nonlocal count
        while not stop.is_set():
            moot.store.add_messages(list_id, [incoming(count, "quince")])
            count += 1
            if count >= 5:
                written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(30)
        before = archive(moot)  # committed before the backup began
        out = tmp_path / "site.tar.gz"
        result = run("--data", str(site), "backup", str(out))
        assert result.exit_code == 0, result.output
        seen = count
        while count < seen + 5:  # and the writer went on after it
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
    after = archive(moot)
    moot.close()

    restored_dir = tmp_path / "restored"
    result = run("restore", str(out), "--data", str(restored_dir))
    assert result.exit_code == 0, result.output
    assert "restored" in result.stdout
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("moot-backup/manifest.json").read())  # type: ignore[union-attr]
        assert manifest["index"] is True
    db = sqlite3.connect(restored_dir / "moot.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()

    copy = build(load_settings(restored_dir))
    try:
        assert [r.address for r in copy.archive.lists()] == [DEMO]
        got = archive(copy)
        # Everything committed before the backup, byte for byte; nothing but what the source
        # had; a snapshot: somewhere between the two counts.
        assert all(got.get(mid) == raw for mid, raw in before.items())
        assert all(after[mid] == raw for mid, raw in got.items())
        assert len(before) <= len(got) == manifest["messages"] < len(after)
        # The index copied before the snapshot was caught up with it: every restored post of
        # the writer's is found, and nothing else.
        quinces = sum(1 for mid in got if mid.startswith("quince-"))
        found = copy.search.search("quince", list_ids=None, limit=100)
        assert found.total == quinces
        assert copy.search.search("marmalade", list_ids=None, limit=1).total == 300
        page = TestClient(create_app(copy)).get(f"/l/{DEMO}/m/marmalade-7@example.org/")
        assert page.status_code == 200 and "marmalade 7" in page.text
    finally:
        copy.close()


def test_restore_refuses_a_folder_that_is_not_empty(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "site.tar"
    assert run("--data", str(site), "backup", str(out)).exit_code == 0
    with tarfile.open(out, "r:") as tar:  # not compressed: the name does not end in .gz
        assert "moot.toml" in tar.getnames()
    result = run("restore", str(out), "--data", str(site))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "is not empty" in result.stderr
    again = run("--data", str(site), "backup", str(out))
    assert again.exit_code == 1 and "exists already" in again.stderr


def test_without_an_index_restore_builds_one(site: Path, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(site / "index")
    out = tmp_path / "site.tar"
    assert run("--data", str(site), "backup", str(out), "--json").exit_code == 0
    result = run("restore", str(out), "--data", str(tmp_path / "new"), "--json")
    doc = json.loads(result.stdout)
    assert doc["index_rebuilt"] is True and doc["indexed"] == doc["messages"] > 300
    copy = build(load_settings(tmp_path / "new"))
    try:
        assert copy.search.search("marmalade", list_ids=None, limit=1).total == 300
    finally:
        copy.close()


def test_a_damaged_backup_is_refused(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "site.tar"
    assert run("--data", str(site), "backup", str(out)).exit_code == 0
    with tarfile.open(out) as tar:
        offset = tar.getmember("moot-backup/database.sqlite3").offset_data
    with out.open("r+b") as f:  # one byte flipped inside the database
        f.seek(offset + 5000)
        byte = f.read(1)
        f.seek(offset + 5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    result = run("restore", str(out), "--data", str(tmp_path / "new"))
    assert result.exit_code == 1 and "damaged" in result.stderr


@pytest.mark.postgres
def test_postgresql_backs_up_the_files_and_says_how_to_dump(tmp_path: Path) -> None:
    with fresh_database("postgres", tmp_path) as url:
        env = {"MOOT_DATABASE_URL": url}
        data = tmp_path / "pg"
        assert run("--data", str(data), "init", env=env).exit_code == 0
        out = tmp_path / "pg.tar"
        result = run("--data", str(data), "backup", str(out), env=env)
        assert result.exit_code == 0, result.output
        assert "pg_dump --format=custom" in result.stderr and "pg_restore" in result.stderr
        with tarfile.open(out) as tar:
            assert "moot.toml" in tar.getnames()
        result = run("restore", str(out), "--data", str(tmp_path / "again"), env=env)
        assert result.exit_code == 0, result.output
        assert "pg_restore --clean" in result.stderr
        assert (tmp_path / "again" / "moot.toml").exists()
