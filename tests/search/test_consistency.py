"""The index keeps step with the archive: a post is findable as soon as it is imported, a gap
left by a crash between storing and indexing is filled by the next catch-up, and a rebuild
(or a lost index folder) gives the same answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from moot.app import Moot, build
from moot.cli.main import app
from moot.config import load_settings
from moot.core.parse import parse_message
from moot.importer.run import import_paths
from moot.search.tantivy_index import TantivyIndex
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message, write_mbox

LIST = "dev@example.org"


def msgs(prefix: str, n: int, word: str) -> list[bytes]:
    return [make_message(f"{prefix}{i}@example.org", subject=f"{word} {i}",
                         date=f"Mon, 02 Mar 2026 09:{i:02d}:00 +0000",
                         body=f"Message {i} about the {word}.\n") for i in range(n)]


def found(moot: Moot, q: str) -> set[str]:
    res = moot.search.search(q, list_ids=None, limit=100)
    return {h.message_id for h in res.hits}


def cli(data: Path, db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--data", str(data), *args],
                                env={"MOOT_DATABASE_URL": db_url, "MOOT_DATA": None})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, (args, result.output)
    return result


def index_folder(moot: Moot, data_dir: Path) -> Path:
    """The embedded engine's folder; the tests about it skip on engines that keep their index
    in the database (PostgreSQL), where there is no folder to lose."""
    if not isinstance(moot.search.index, TantivyIndex):
        pytest.skip(f"{type(moot.search.index).__name__} keeps no index folder")
    return data_dir / "index"


def fresh(data_dir: Path) -> Moot:
    """A new process's view: nothing cached, the index opened from disk."""
    return build(load_settings(data_dir))


def test_a_post_is_findable_right_after_the_import_command(data_dir: Path, db_url: str,
                                                          tmp_path: Path) -> None:
    box = write_mbox(tmp_path / "in.mbox", msgs("gull", 3, "seagull"))
    cli(data_dir, db_url, "import", LIST, str(box))
    m = fresh(data_dir)
    try:
        # no catch-up here: the import itself brought the index up to date
        assert m.search.index.last_pk == m.search.feed.newest_pk() > 0
        assert found(m, "seagull") == {f"gull{i}@example.org" for i in range(3)}
        # a second import adds to it, again at once
        box2 = write_mbox(tmp_path / "more.mbox", msgs("tern", 2, "seagull"))
        cli(data_dir, db_url, "import", LIST, str(box2))
        assert len(found(m, "seagull")) == 5
    finally:
        m.close()


def test_messages_stored_without_indexing_are_found_after_catch_up(moot: Moot,
                                                                   data_dir: Path) -> None:
    list_id = moot.store.create_list(LIST)
    assert moot.search.catch_up() == 0
    before = moot.search.index.last_pk
    # A crash between storing and indexing: the messages are in the archive only.
    raws = msgs("crash", 4, "albatross")
    stored = moot.store.add_messages(
        list_id, [Incoming(r, parse_message(r), sha256(r)) for r in raws]).stored
    assert len(stored) == 4
    m = fresh(data_dir)  # the next start-up
    try:
        assert found(m, "albatross") == set()  # the gap is real
        assert m.search.catch_up() == 4
        assert m.search.index.last_pk == max(stored) > before
        assert found(m, "albatross") == {f"crash{i}@example.org" for i in range(4)}
        assert m.search.catch_up() == 0  # nothing is indexed twice
        res = m.search.search("albatross", list_ids=None, limit=100)
        assert res.total == 4
    finally:
        m.close()
    # the original process sees what the other one committed
    assert found(moot, "albatross") == {f"crash{i}@example.org" for i in range(4)}


def test_rebuild_gives_the_same_results(moot: Moot, data_dir: Path, db_url: str,
                                        tmp_path: Path) -> None:
    list_id = moot.store.create_list(LIST)
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "a.mbox", msgs("p", 12, "puffin")
                                                  + msgs("q", 3, "heron"))])
    moot.search.catch_up()
    queries = ["puffin", "heron", "puffin -subject:3", "subject:puffin OR heron", '"about the"',
               "puf*"]

    def answers(m: Moot) -> list[list[tuple[str, float]]]:  # equal scores tie in any order
        return [sorted((h.message_id, round(h.score, 3))
                       for h in m.search.search(q, list_ids=None, limit=100).hits)
                for q in queries]

    first = answers(moot)
    assert [len(a) for a in first] == [12, 3, 11, 15, 15, 12]
    out = cli(data_dir, db_url, "reindex").stdout
    assert "indexed 15 messages" in out
    m = fresh(data_dir)
    try:
        assert answers(m) == first
        assert m.search.rebuild() == 15
        assert answers(m) == first
    finally:
        m.close()


def test_a_deleted_index_folder_is_rebuilt_by_catch_up(moot: Moot, data_dir: Path,
                                                       tmp_path: Path) -> None:
    list_id = moot.store.create_list(LIST)
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "a.mbox", msgs("k", 5, "kestrel"))])
    moot.search.catch_up()
    expected = found(moot, "kestrel")
    assert len(expected) == 5
    folder = index_folder(moot, data_dir)
    moot.close()
    shutil.rmtree(folder)
    m = fresh(data_dir)
    try:
        assert found(m, "kestrel") == set()
        assert m.search.catch_up() == 5
        assert found(m, "kestrel") == expected
        assert folder.is_dir()
    finally:
        m.close()


def test_the_index_state_survives_reopening(moot: Moot, data_dir: Path, tmp_path: Path) -> None:
    list_id = moot.store.create_list(LIST)
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "a.mbox", msgs("o", 3, "osprey"))])
    assert moot.search.catch_up() == 3
    last = moot.search.index.last_pk
    assert last == moot.search.feed.newest_pk() > 0
    if isinstance(moot.search.index, TantivyIndex):
        state = json.loads((data_dir / "index" / "state.json").read_text("utf-8"))
        assert state["last_pk"] == last
        assert TantivyIndex(data_dir / "index").last_pk == last
    m = fresh(data_dir)
    try:
        assert m.search.catch_up() == 0  # nothing to redo after a restart
        assert len(found(m, "osprey")) == 3
    finally:
        m.close()


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_a_damaged_state_file_means_a_full_reindex_not_a_gap(moot: Moot, data_dir: Path,
                                                             tmp_path: Path,
                                                             damage: str) -> None:
    list_id = moot.store.create_list(LIST)
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "a.mbox", msgs("w", 3, "wren"))])
    moot.search.catch_up()
    state = index_folder(moot, data_dir) / "state.json"
    moot.close()
    if damage == "garbage":
        state.write_text("{not json", "utf-8")
    else:
        state.unlink()
    m = fresh(data_dir)
    try:
        m.search.catch_up()
        res = m.search.search("wren", list_ids=None, limit=100)
        assert res.total == 3  # found, and not twice
        assert len({h.message_id for h in res.hits}) == 3
    finally:
        m.close()
