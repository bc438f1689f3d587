"""Page speed of the largest thread: import alsa-devel into a new SQLite data folder (or reuse
one given with --data), find its largest thread, serve the archive with ``moot serve`` in a
subprocess, and time its thread page and its root's message page over HTTP.

    python bench/thread_page.py [--data DIR] [--requests 20] [--runs 1] [--shared-data DIR]

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, child_env, free_port, moot_cmd, stop
from sqlalchemy import select

from moot.app import build
from moot.config import load_settings
from moot.storage import schema as s
from moot.web.archive import msgid_url

ADDRESS = "alsa-devel@alsa-project.org"



def import_alsa(data: Path, shared: Path) -> None:
    mbox = shared / "alsa-devel-25k.mbox.gz"
    if not mbox.is_file():
        sys.exit(f"no {mbox}: give --shared-data or --data")
    env = child_env()
    subprocess.run(moot_cmd(data, "init"), check=True, env=env, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run(moot_cmd(data, "import", ADDRESS, str(mbox), "--json"), check=True, env=env,
                   stdout=subprocess.DEVNULL)
    print(f"imported {mbox.name} in {time.perf_counter() - started:.1f} s")


def largest_thread(data: Path) -> tuple[str, str, int, str]:
    """(list address, root Message-ID, messages, subject) of the largest thread."""
    os.environ.pop("MOOT_DATABASE_URL", None)
    moot = build(load_settings(data))
    try:
        with moot.engine.connect() as conn:
            row = conn.execute(
                select(s.mailing_lists.c.address, s.threads.c.root_message_id,
                       s.threads.c.message_count, s.threads.c.subject)
                .join(s.mailing_lists, s.mailing_lists.c.id == s.threads.c.list_id)
                .order_by(s.threads.c.message_count.desc(), s.threads.c.id).limit(1)).first()
    finally:
        moot.close()
    if row is None:
        sys.exit(f"{data} holds no thread")
    return row.address, row.root_message_id, row.message_count, row.subject


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"moot serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("moot serve did not answer /healthz in time")


def fetch(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        if r.status != 200:
            sys.exit(f"{url}: HTTP {r.status}")
    return (time.perf_counter() - started) * 1000, len(body)


def measure(url: str, requests: int, warmup: int) -> tuple[float, float, int]:
    for _ in range(warmup):
        fetch(url)
    times, size = [], 0
    for _ in range(requests):
        ms, size = fetch(url)
        times.append(ms)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return statistics.median(times), p95, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="reuse this data folder (skip the import)")
    ap.add_argument("--requests", type=int, default=20, help="timed requests per page")
    ap.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    ap.add_argument("--runs", type=int, default=1, help="measurement rounds (default 1)")
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data",
                    help="the real-mail corpus (default ../shared/data from the repo root)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="moot-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            import_alsa(data, args.shared_data)
        address, root, count, subject = largest_thread(data)
        print(f"largest thread: {count} messages, <{root}> {subject[:60]!r}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(moot_cmd(data, "serve", "--http", f"127.0.0.1:{port}"),
                                  env=child_env(), stderr=subprocess.DEVNULL)
        try:
            wait_ready(base, server)
            pages = [("thread page", base + msgid_url(address, root, "t")),
                     ("root message page", base + msgid_url(address, root, "m"))]
            print(f"\n{'page':<18} {'run':>3} {'requests':>8} {'median ms':>10} "
                  f"{'p95 ms':>8} {'KiB':>7}")
            for run in range(1, args.runs + 1):
                for label, url in pages:
                    med, p95, size = measure(url, args.requests, args.warmup)
                    print(f"{label:<18} {run:>3} {args.requests:>8} {med:>10.1f} {p95:>8.1f} "
                          f"{size / 1024:>7.0f}", flush=True)
        finally:
            stop(server)


if __name__ == "__main__":
    main()
