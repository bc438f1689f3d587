"""The import pipeline end to end, on a real database (SQLite, and PostgreSQL when set up)."""

from __future__ import annotations

import base64
import gzip
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import Table, func, select

from moot.app import Moot
from moot.core.mbox import mboxrd_entry
from moot.importer.run import ImportSummary, import_paths
from moot.storage import schema as s
from moot.storage.codec import decode as decode_raw
from tests.helpers import make_message, write_mbox

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06" + bytes(64)
ENVELOPE = b"From junk@example.org Mon Mar  2 09:14:00 2026\n"


def _count(moot: Moot, table: Table, list_id: int) -> int:
    with moot.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)
                                .where(table.c.list_id == list_id)).scalar_one())


def _mbox_with_junk(path: Path) -> Path:
    """Three messages, one of them twice, after an entry that is a PNG, not mail."""
    msgs = [make_message(f"m{i}@example.org", subject=f"Topic {i}") for i in range(3)]
    write_mbox(path, [*msgs, msgs[1]])
    path.write_bytes(ENVELOPE + PNG + b"\n\n" + path.read_bytes())
    return path


def test_import_counts_messages_duplicates_and_rejects(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    path = _mbox_with_junk(tmp_path / "dev.mbox")
    seen: list[tuple[int, int]] = []
    summary = import_paths(moot.store, list_id, [path],
                           progress=lambda sm, read: seen.append((sm.imported, read)))
    assert (summary.imported, summary.duplicates, summary.rejected) == (3, 1, 1)
    assert summary.refused == []
    assert _count(moot, s.messages, list_id) == 3
    assert seen and seen[-1] == (3, path.stat().st_size)
    with moot.engine.connect() as conn:
        got = sorted(conn.execute(select(s.messages.c.message_id, s.messages.c.subject)
                                  .where(s.messages.c.list_id == list_id)).all())
    assert got == [(f"m{i}@example.org", f"Topic {i}") for i in range(3)]


def test_importing_the_same_file_twice_adds_nothing(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    path = _mbox_with_junk(tmp_path / "dev.mbox")
    first = import_paths(moot.store, list_id, [path])
    second = import_paths(moot.store, list_id, [path])
    assert first.imported == 3
    assert (second.imported, second.duplicates, second.rejected) == (0, 4, 0)
    assert _count(moot, s.messages, list_id) == 3
    assert _count(moot, s.rejects, list_id) == 1
    with moot.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.raw_messages)).scalar_one() == 3


def test_same_messages_in_another_list_are_not_duplicates(moot: Moot, tmp_path: Path) -> None:
    a = moot.store.create_list("a@example.org")
    b = moot.store.create_list("b@example.org")
    path = write_mbox(tmp_path / "x.mbox", [make_message(f"x{i}@x") for i in range(4)])
    assert import_paths(moot.store, a, [path]).imported == 4
    assert import_paths(moot.store, b, [path]).imported == 4


def test_non_mail_chunk_is_kept_as_reject_and_import_goes_on(moot: Moot,
                                                             tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    path = _mbox_with_junk(tmp_path / "dev.mbox")
    summary = import_paths(moot.store, list_id, [path])
    assert summary.imported == 3
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.rejects).where(s.rejects.c.list_id == list_id)).all()
    assert len(rows) == 1
    reject = rows[0]
    assert reject.source == f"{path}#1"
    assert reject.reason.startswith("not an email message")
    assert decode_raw(reject.codec, reject.data) == PNG + b"\n"


def test_single_non_mail_file_is_refused_by_name(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    junk = tmp_path / "notes.json"
    junk.write_bytes(b'{"subject": "not mail"}\n')
    good = tmp_path / "one.eml"
    good.write_bytes(make_message("good@example.org"))
    summary = import_paths(moot.store, list_id, [junk, good])
    assert summary.imported == 1 and summary.rejected == 1
    assert len(summary.refused) == 1
    assert summary.refused[0].startswith(f"{junk}: not an email message")
    assert _count(moot, s.rejects, list_id) == 1


def test_empty_file_is_refused(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    summary = import_paths(moot.store, list_id, [empty])
    assert summary.imported == 0
    assert summary.refused == [f"{empty}: not an email message: the file is empty"]


def test_pipermail_and_gzip_import(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    text = (b"From jdoe at example.org  Fri Oct 19 16:15:42 2001\n"
            b"From: jdoe at example.org (John Doe)\nSubject: Plan\n"
            b"Message-ID: <pm@example.org>\n\nbody\n")
    path = tmp_path / "2001-October.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write(text)
    summary = import_paths(moot.store, list_id, [path])
    assert summary.imported == 1
    with moot.engine.connect() as conn:
        row = conn.execute(select(s.messages).where(s.messages.c.list_id == list_id)).one()
    assert (row.from_addr, row.from_name) == ("jdoe@example.org", "John Doe")
    assert row.date_utc is None  # no Date header: the envelope gives the sort date
    assert row.sort_date.replace(tzinfo=None).isoformat() == "2001-10-19T16:15:42"
    assert row.mbox_from == "From jdoe at example.org  Fri Oct 19 16:15:42 2001"


def test_message_with_a_20_mb_attachment(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    payload = os.urandom(20 << 20)
    raw = (
        b"From: Ada Quill <ada@example.org>\nSubject: core dump\n"
        b"Message-ID: <big@example.org>\nDate: Mon, 02 Mar 2026 09:14:00 +0000\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="BIG"\n\n'
        b"--BIG\nContent-Type: text/plain; charset=utf-8\n\nThe dump is attached.\n"
        b'--BIG\nContent-Type: application/octet-stream; name="core.dump"\n'
        b'Content-Disposition: attachment; filename="core.dump"\n'
        b"Content-Transfer-Encoding: base64\n\n"
    ) + base64.encodebytes(payload) + b"--BIG--\n"
    path = tmp_path / "big.eml"
    path.write_bytes(raw)
    summary = import_paths(moot.store, list_id, [path])
    assert (summary.imported, summary.rejected) == (1, 0)
    with moot.engine.connect() as conn:
        msg = conn.execute(select(s.messages).where(s.messages.c.list_id == list_id)).one()
        atts = conn.execute(select(s.attachments)
                            .where(s.attachments.c.message_pk == msg.id)).all()
        stored = conn.execute(select(s.raw_messages)
                              .where(s.raw_messages.c.message_pk == msg.id)).one()
    assert "The dump is attached." in msg.body_text
    assert [(a.filename, a.content_type, a.size) for a in atts] == [
        ("core.dump", "application/octet-stream", 20 << 20)]
    assert msg.size == len(raw)
    assert decode_raw(stored.codec, stored.data) == raw


def test_summary_as_json() -> None:
    summary = ImportSummary(imported=2, duplicates=1, rejected=0, seconds=1.23456)
    assert summary.as_json() == {"imported": 2, "duplicates": 1, "rejected": 0,
                                 "seconds": 1.235}


def test_many_messages_across_batches(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    n = 2500  # more than two batches
    msgs = [make_message(f"n{i}@example.org", subject=f"S{i % 50}",
                         in_reply_to=f"n{i - 50}@example.org" if i >= 50 else None)
            for i in range(n)]
    path = tmp_path / "many.mbox"
    with open(path, "wb") as f:
        for raw in msgs:
            f.write(mboxrd_entry(None, "a@example.org", datetime(2026, 3, 2), raw))
    summary = import_paths(moot.store, list_id, [path])
    assert (summary.imported, summary.duplicates, summary.rejected) == (n, 0, 0)
    assert _count(moot, s.messages, list_id) == n
    # Replies spread over batches still land in their parents' threads: 50 chains.
    assert _count(moot, s.threads, list_id) == 50
