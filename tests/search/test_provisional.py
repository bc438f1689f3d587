"""Above the index's high-water mark everything is provisional: a long import makes its
messages searchable as it goes, and if it dies before the end, the next catch-up indexes them
again without counting any twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.app import Moot, build
from moot.config import load_settings
from moot.importer import run
from moot.importer.run import import_paths
from tests.helpers import make_message, write_mbox


def test_long_import_is_searchable_before_it_ends(moot: Moot, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "COMMIT_EVERY", 300)
    seen: list[int] = []
    real_add = moot.store.add_messages

    def add_and_look(list_id: int, batch: list) -> object:  # type: ignore[type-arg]
        result = real_add(list_id, batch)
        seen.append(moot.search.search("zebra", list_ids=None).total)
        return result

    monkeypatch.setattr(moot.store, "add_messages", add_and_look)
    monkeypatch.setattr(run, "BATCH", 200)
    list_id = moot.store.create_list("dev@example.org")
    msgs = [make_message(f"z{i}@x", body=f"zebra number {i}\n") for i in range(1000)]
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "z.mbox", msgs)],
                 search=moot.search)
    assert 0 < max(seen[:-1]) < 1000  # visible part-way, before the import ended
    assert moot.search.search("zebra", list_ids=None).total == 1000


def test_a_crash_after_a_provisional_commit_counts_nothing_twice(data_dir: Path) -> None:
    moot = build(load_settings(data_dir))
    try:
        list_id = moot.store.create_list("dev@example.org")
        from moot.core.parse import parse_message
        from moot.importer.run import index_docs
        from moot.storage.store import Incoming, sha256

        raws = [make_message(f"p{i}@x", body=f"pelican {i}\n") for i in range(50)]
        result = moot.store.add_messages(
            list_id, [Incoming(r, parse_message(r), sha256(r)) for r in raws])
        moot.search.index.add(index_docs(list_id, result))
        moot.search.index.commit(moot.search.index.last_pk, final=False)  # then "crash"
        assert moot.search.search("pelican", list_ids=None).total == 50
        mark = moot.search.index.last_pk
    finally:
        moot.close()
    again = build(load_settings(data_dir))  # a new process, after the crash
    try:
        assert again.search.index.last_pk == mark
        assert again.search.catch_up() == 50
        assert again.search.search("pelican", list_ids=None).total == 50
        assert again.search.search("pelican 7", list_ids=None).total == 1
    finally:
        again.close()
