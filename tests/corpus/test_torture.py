"""Every file of the torture corpus (../shared/data/torture): malformed and unusual messages
from the test suites of public mail libraries, and files that are not mail at all.

For each file, whatever it holds: bytes that are not mail are refused with one line naming the
file and nothing is stored; anything else imports without an exception, every stored message's
page and thread page answer 200, and the stored raw bytes give back the file exactly.

One archive per database for the whole module (``corpus_moot``), one list per file.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from moot.app import Moot
from moot.core.parse import not_mail_reason, parse_message
from moot.importer.run import import_paths
from moot.importer.sources import Reader, detect_format
from moot.storage import schema as s
from moot.web.app import create_app
from moot.web.archive import msgid_url
from tests.conftest import SHARED_DATA

TORTURE = SHARED_DATA / "torture"
_MBOXRD_ESCAPE = re.compile(rb"(?m)^>(>*From )")


def _all_files(root: Path) -> list[Path]:
    """Every file under ``root``, sorted; nothing skipped (SUMMARY.json included)."""
    if not root.is_dir():
        return []
    return sorted(Path(d) / f for d, _, files in os.walk(root) for f in files)


FILES = [pytest.param(p.relative_to(TORTURE).as_posix(), id=p.relative_to(TORTURE).as_posix())
         for p in _all_files(TORTURE)] or [pytest.param("", id="shared-data-absent")]


@pytest.fixture(scope="module")
def torture(corpus_moot: Moot) -> SimpleNamespace:
    counter = itertools.count(1)

    def new_list() -> tuple[int, str]:
        address = f"t{next(counter)}@torture.example"
        return corpus_moot.store.create_list(address), address

    return SimpleNamespace(moot=corpus_moot, client=TestClient(create_app(corpus_moot)),
                           new_list=new_list)


def _stored(moot: Moot, list_id: int) -> list[Any]:
    """The list's messages in the order they were stored (= the order of the file)."""
    m = s.messages.c
    with moot.engine.connect() as conn:
        return list(conn.execute(
            select(m.id, m.message_id, m.mbox_from, m.problems, m.thread_id)
            .where(m.list_id == list_id).order_by(m.id)))


def _raw_downloads(client: TestClient, address: str, rows: list[Any]) -> list[bytes]:
    """Each message's /raw download; messages sharing a Message-ID are told apart by ?n=."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        seen[r.message_id] = seen.get(r.message_id, 0) + 1
        resp = client.get(msgid_url(address, r.message_id) + "raw",
                          params={"n": seen[r.message_id]})
        assert resp.status_code == 200, (r.message_id, resp.text[:300])
        out.append(resp.content)
    return out


def _mbox_reproduced(path: Path, data: bytes, entries: list[tuple[str, bytes]]) -> str | None:
    """Whether the stored messages give back an mbox file; None if so, else what differs.

    Byte-identity for mbox files, as chosen here: the file must be *exactly* the sequence of
    ``envelope line + NL + raw + NL`` entries of the stored messages in storage order (NL being
    the file's own line end, CRLF or LF), where
    - the file is compared after mboxrd unescaping (``>From `` -> ``From ``, ``>>From `` ->
      ``>From ``) unless it is pipermail (which the importer does not unescape either);
    - the file may lack the final NL of the last entry (no blank line, or no newline, at the
      end);
    - an entry whose envelope and bytes are identical to an earlier one may appear again
      (identical bytes are one message: such a repeat is counted as a duplicate, not stored).
    Nothing else may differ: no byte lost, added or moved between messages.
    """
    nl = b"\r\n" if data.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    target = data if detect_format(path) == "pipermail" else _MBOXRD_ESCAPE.sub(rb"\1", data)
    blocks = [env.encode("latin-1") + nl + raw + nl for env, raw in entries]
    problem = None
    for candidate in (target, target + nl):
        problem = _consume(candidate, blocks)
        if problem is None:
            return None
    return problem


def _consume(target: bytes, blocks: list[bytes]) -> str | None:
    pos = 0
    seen: list[bytes] = []

    def repeat_at(p: int) -> bytes | None:
        return next((b for b in seen if target.startswith(b, p)), None)

    for n, block in enumerate(blocks, start=1):
        while not target.startswith(block, pos):
            again = repeat_at(pos)
            if again is None:
                return (f"stored message {n} is not at byte {pos} of the file: "
                        f"file has {target[pos:pos + 80]!r}, stored {block[:80]!r}")
            pos += len(again)
        pos += len(block)
        seen.append(block)
    while pos < len(target) and (again := repeat_at(pos)) is not None:
        pos += len(again)
    if pos != len(target):
        return f"{len(target) - pos} bytes after the last stored message: {target[pos:][:80]!r}"
    return None


@pytest.mark.parametrize("rel", FILES)
def test_torture_file(torture: SimpleNamespace, shared_data: Path, rel: str) -> None:
    path = shared_data / "torture" / rel
    data = path.read_bytes()
    reason = not_mail_reason(data)
    list_id, address = torture.new_list()

    summary = import_paths(torture.moot.store, list_id, [path])
    rows = _stored(torture.moot, list_id)

    if reason is not None:
        assert len(summary.refused) == 1, summary.refused
        assert str(path) in summary.refused[0] and reason in summary.refused[0]
        assert summary.imported == 0 and rows == []
        return

    assert summary.refused == []
    assert rows, f"nothing stored from {rel}: {summary}"
    assert summary.imported == len(rows)
    client = torture.client
    for r in rows:
        for kind in ("m", "t"):
            resp = client.get(msgid_url(address, r.message_id, kind))
            assert resp.status_code == 200, (kind, r.message_id, resp.text[:300])
    raws = _raw_downloads(client, address, rows)

    if data.startswith(b"From "):
        assert all(r.mbox_from is not None for r in rows)
        problem = _mbox_reproduced(path, data, [(r.mbox_from, raw)
                                                for r, raw in zip(rows, raws, strict=True)])
        assert problem is None, problem
        assert summary.imported + summary.duplicates == len(list(Reader(path)))
    else:
        # A single message file: stored whole, byte for byte.
        assert len(rows) == 1 and summary.duplicates == 0
        assert raws[0] == data


def test_defective_messages_still_render(corpus_moot: Moot, shared_data: Path) -> None:
    """Messages the fast parser refuses (the stdlib fallback reads them) are stored with
    their problems noted, and their pages render."""
    refused = []
    for path in _all_files(shared_data / "torture"):
        data = path.read_bytes()
        if not_mail_reason(data) is None and not data.startswith(b"From ") and any(
                p.startswith("fast parser") for p in parse_message(data).problems):
            refused.append(path)
    assert refused, "the torture corpus no longer holds a message the fast parser refuses"

    list_id = corpus_moot.store.create_list("defective@torture.example")
    summary = import_paths(corpus_moot.store, list_id, refused)
    assert summary.refused == [] and summary.imported == len(refused)
    rows = _stored(corpus_moot, list_id)
    assert len(rows) == len(refused)
    client = TestClient(create_app(corpus_moot))
    for r in rows:
        assert any(p.startswith("fast parser") for p in r.problems.splitlines()), r.problems
        for kind in ("m", "t"):
            resp = client.get(msgid_url("defective@torture.example", r.message_id, kind))
            assert resp.status_code == 200, (kind, r.message_id)
    with corpus_moot.engine.connect() as conn:
        with_problems = conn.execute(select(func.count()).where(
            s.messages.c.list_id == list_id, s.messages.c.problems != "")).scalar_one()
    assert with_problems == len(rows)
