"""An import killed with SIGKILL in the middle loses nothing it had stored, leaves no half
message behind, and the same command finishes the job (store and search index alike)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from moot.app import build
from moot.config import load_settings
from moot.storage import schema as s
from tests.helpers import make_message, write_mbox

TOTAL = 20_000


def _count(moot_engine, table) -> int:  # type: ignore[no-untyped-def]
    with moot_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_kill_9_mid_import_then_import_again(data_dir: Path, tmp_path: Path) -> None:
    messages = [make_message(f"m{i}@crash.example", subject=f"topic {i % 500}",
                             in_reply_to=f"m{i - 1}@crash.example" if i % 7 else None,
                             body=f"word{i} appears in this message only.\n")
                for i in range(TOTAL)]
    mbox = write_mbox(tmp_path / "big.mbox", messages)
    cmd = [sys.executable, "-m", "moot.cli.main", "--data", str(data_dir), "import",
           "crash@example.org", str(mbox), "--json"]
    moot = build(load_settings(data_dir))
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                stored = _count(moot.engine, s.messages)
            except Exception:  # noqa: BLE001 - the tables may be locked for a moment
                stored = 0
            if stored >= 2000:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the import ended before it could be killed"
        stored = _count(moot.engine, s.messages)
        assert 0 < stored < TOTAL

        # Nothing half-stored: every message has its raw bytes and a thread that counts it.
        assert _count(moot.engine, s.raw_messages) == stored
        with moot.engine.connect() as conn:
            counted = conn.execute(select(func.sum(s.threads.c.message_count))).scalar_one()
        assert counted == stored

        # The same command finishes the job: the stored part counts as duplicates.
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
        summary = json.loads(again.stdout)
        assert (summary["imported"], summary["duplicates"]) == (TOTAL - stored, stored)
        assert _count(moot.engine, s.messages) == TOTAL

        # Messages stored before the kill were never committed to the index; they are now.
        for i in (0, stored - 1, TOTAL - 1):
            hits = moot.search.search(f"word{i}", list_ids=None).hits
            assert [h.message_id for h in hits] == [f"m{i}@crash.example"]
    finally:
        moot.close()
