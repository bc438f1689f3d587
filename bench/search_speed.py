"""Search speed, index size and recall of moot as readers get them: end to end through
``GET /api/v1/search`` on ``moot serve`` (issue 3, Performance).

Imports alsa-devel (25,000 messages) and the r-devel pipermail archive into a new SQLite data
folder with ``moot import`` (indexing is part of import), or reuses one given with --data; serves
it with ``moot serve`` in a subprocess and measures:

* latency of 200 queries drawn from the archive's own text with a fixed seed (one, two and three
  words, phrases, prefixes, ``from:`` filters, date ranges; the generator of
  bench/search_engines.py, so the same seed gives the same queries as the engine comparison),
  one untimed warm-up pass then one timed pass: median, p95 and max per kind and overall;
* index size: ``du`` of the data folder's ``index/`` against the plain text indexed (UTF-8 bytes
  of subject + from name + from address + body_text over the messages table);
* recall: 50 phrases of 4-6 consecutive words from random messages, searched as ``"quoted
  phrases"``; is the source message (by Message-ID) in the first 10 hits?  The "fair" count also
  accepts a phrase that occurs in more than 10 messages when all of its first 10 hits hold it.

    python bench/search_speed.py [--data DIR] [--queries 200] [--seed 3] [--keep]
        [--shared-data DIR]

Not a test: pytest does not collect it.  The machine's load average is printed: run it when the
machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from common import REPO, child_env, free_port, moot_cmd, stop, timed_get
from search_engines import (
    Q,
    haystacks,
    load_docs,
    make_queries,
    make_recall,
    pct,
    recall_truth,
    text_bytes,
)

ARCHIVES = [
    ("alsa-devel@alsa-project.org", "alsa-devel-25k.mbox.gz"),
    ("r-devel@r-project.org", "r-devel-pipermail"),
]


# --------------------------------------------------------------------------- the data folder

def import_archives(data: Path, shared: Path) -> None:
    """A new data folder holding both archives; prints how long each import took (the import
    indexes what it stored before it ends, so its wall time includes indexing)."""
    env = child_env()
    subprocess.run(moot_cmd(data, "init"), check=True, env=env, stderr=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    total = 0.0
    for address, name in ARCHIVES:
        path = shared / name
        if not path.exists():
            sys.exit(f"no {path}: give --shared-data or --data")
        # a pipermail folder is given as its monthly files, oldest first
        files = sorted(path.glob("*.txt.gz")) if path.is_dir() else [path]
        started = time.perf_counter()
        out = subprocess.run(moot_cmd(data, "import", address, *map(str, files), "--json"),
                             env=env,
                             capture_output=True, text=True)
        wall = time.perf_counter() - started
        if out.returncode != 0:
            sys.exit(f"moot import {name} failed ({out.returncode}):\n{out.stderr}")
        doc = json.loads(out.stdout)
        total += wall
        print(f"imported {name}: {doc['imported']:,} messages ({doc['duplicates']:,} duplicates,"
              f" {doc['rejected']} rejected) in {wall:.1f} s wall, of which {doc['seconds']:.1f} s"
              f" storing and {wall - doc['seconds']:.1f} s indexing + start-up", flush=True)
    print(f"import + indexing took {total:.1f} s in all (load average now "
          f"{fmt_load()})", flush=True)


def message_ids(data: Path) -> dict[int, tuple[str, str]]:
    """Message key -> (Message-ID, list address)."""
    con = sqlite3.connect(f"file:{data / 'moot.sqlite3'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT m.id, m.message_id, l.address FROM messages m"
                           " JOIN mailing_lists l ON l.id = m.list_id")
        return {pk: (mid, addr) for pk, mid, addr in rows}
    finally:
        con.close()


def du(path: Path) -> tuple[int, int]:
    """(apparent bytes, bytes of disk used) of a folder, as ``du -sb`` and ``du -sk`` say."""
    apparent = int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                                  check=True).stdout.split()[0])
    used = int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0]) * 1024
    return apparent, used


# --------------------------------------------------------------------------- the server

def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            why = log.read_text(errors="replace")
            sys.exit(f"moot serve exited with {proc.returncode}:\n{why}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    sys.exit("moot serve did not answer /healthz in time")


def search(base: str, q: str, limit: int | None = None) -> tuple[float, int, dict]:
    """(milliseconds, HTTP status, JSON answer) of one search through the API."""
    params = {"q": q}
    if limit is not None:
        params["limit"] = str(limit)
    url = f"{base}/api/v1/search?{urllib.parse.urlencode(params)}"
    ms, status, body = timed_get(url)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {"error": body[:200].decode(errors="replace")}
    return ms, status, doc


# --------------------------------------------------------------------------- reporting

def fmt_load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def stats(times: list[float]) -> tuple[float, float, float]:
    return statistics.median(times), pct(times, 95), max(times)


def latency(base: str, queries: list[Q]) -> None:
    texts = [q.text() for q in queries]
    for t in texts:  # warm-up: every query once, untimed
        search(base, t)
    print(f"warm-up done; load average before the timed pass {fmt_load()}", flush=True)
    rows = []
    for q, t in zip(queries, texts, strict=True):
        ms, status, doc = search(base, t)
        rows.append((q.kind, t, ms, status, doc.get("total", 0), doc.get("error")))
    errors = [r for r in rows if r[3] != 200]
    kinds = list(dict.fromkeys(q.kind for q in queries))
    print(f"\n{'kind':<9} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
          f" {'no hits':>8}  slowest")
    for kind in [*kinds, "overall"]:
        rs = [r for r in rows if kind in (r[0], "overall")]
        med, p95, mx = stats([r[2] for r in rs])
        slow = max(rs, key=lambda r: r[2])
        zero = sum(1 for r in rs if r[3] == 200 and r[4] == 0)
        print(f"{kind:<9} {len(rs):>4} {med:>10.2f} {p95:>8.2f} {mx:>8.2f} {zero:>8}"
              f"  {slow[1]!r} ({slow[4]:,} hits)")
    print("\nslowest 8 queries:")
    for kind, t, ms, _status, total, _ in sorted(rows, key=lambda r: -r[2])[:8]:
        print(f"  {ms:8.2f} ms  {kind:<8} {total:>7,} hits  {t}")
    hits = sorted(r[4] for r in rows if r[3] == 200)
    print(f"hits per query: median {statistics.median(hits):,.0f}, max {hits[-1]:,}")
    if errors:
        print(f"{len(errors)} queries answered an error, e.g.:")
        for r in errors[:5]:
            print(f"  HTTP {r[3]} for {r[1]!r}: {r[5]}")


def recall(base: str, items: list[tuple[int, Q]], truth: list[set[int]],
           ids: dict[int, tuple[str, str]]) -> None:
    hit = fair = 0
    missed = []
    for (pk, q), pks in zip(items, truth, strict=True):
        _, status, doc = search(base, q.text(), limit=10)
        top = [(h["message_id"], h["list"]) for h in doc.get("hits", [])] if status == 200 else []
        found = ids[pk] in top
        holders = {ids[p] for p in pks if p in ids}
        ok_fair = found or (len(pks) > 10 and len(top) == 10 and set(top) <= holders)
        hit += found
        fair += ok_fair
        if not found:
            missed.append((q.text(), len(pks), doc.get("total", 0), ok_fair,
                           doc.get("error") if status != 200 else None))
    n = len(items)
    ambiguous = sum(len(p) > 10 for p in truth)
    print(f"\nrecall: {hit}/{n} phrases found their source message in the first 10 hits;"
          f" fair {fair}/{n} (also counting a phrase held by more than 10 messages whose first 10"
          f" hits all hold it; {ambiguous} phrases are held by more than 10 messages)")
    for text, holders, total, ok_fair, error in missed:
        why = f"error {error}" if error else f"{holders} messages hold it, {total} hits"
        print(f"  missed{' (fair)' if ok_fair else ''}: {text}  [{why}]")


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="reuse this data folder (skip the import)")
    ap.add_argument("--queries", type=int, default=200,
                    help="timed queries (default 200, the mix of bench/search_engines.py)")
    ap.add_argument("--recall", type=int, default=50, help="recall phrases (default 50)")
    ap.add_argument("--seed", type=int, default=3,
                    help="seed of the queries and phrases (default 3, as search_engines.py)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data folder this script builds (its path is printed)")
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data",
                    help="the real-mail corpus (default ../shared/data from the repo root)")
    args = ap.parse_args()

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    uname = os.uname()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {nproc} processors (nproc), {uname.sysname} {uname.release} {uname.machine},"
          f" python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version};"
          f" load average at start {fmt_load()}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="moot-search-speed-"))
    server = None
    try:
        data = args.data
        if data is None:
            data = tmp / "data"
            import_archives(data, args.shared_data)
        elif not (data / "moot.sqlite3").is_file():
            sys.exit(f"{data} holds no moot.sqlite3: leave out --data to build one")

        started = time.perf_counter()
        docs = load_docs(data)
        tbytes = text_bytes(docs)
        ids = message_ids(data)
        rng = random.Random(args.seed)
        queries = make_queries(docs, rng)
        if args.queries != len(queries):  # keep the mix; take every kind in proportion
            queries = [queries[round(i * len(queries) / args.queries)]
                       for i in range(args.queries)] if args.queries < len(queries) else \
                [queries[i % len(queries)] for i in range(args.queries)]
        items = make_recall(docs, rng)[: args.recall]
        truth = recall_truth(docs, haystacks(docs), items)
        lists = sorted({d.list for d in docs})
        print(f"{len(docs):,} messages in {len(lists)} lists ({', '.join(lists)});"
              f" {tbytes / 1e6:.1f} MB of text; workload made in"
              f" {time.perf_counter() - started:.0f} s (seed {args.seed})")
        del docs
        print(f"{len(queries)} queries, e.g.: " + " | ".join(q.text() for q in queries[::29]))

        apparent, used = du(data / "index")
        print(f"\nindex size: {apparent / 1e6:.1f} MB (du -sb; {used / 1e6:.1f} MB of disk, du -sk)"
              f" for {tbytes / 1e6:.1f} MB of text = {apparent / tbytes:.2f}x"
              f" ({used / tbytes:.2f}x on disk); target <= 1.5x")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp / "serve.log"
        with log.open("wb") as err:
            server = subprocess.Popen(moot_cmd(data, "serve", "--http", f"127.0.0.1:{port}"),
                                      env=child_env(), stdout=err, stderr=err)
        ready = wait_ready(base, server, log, timeout=600)
        print(f"moot serve answered /healthz after {ready:.1f} s", flush=True)

        latency(base, queries)
        recall(base, items, truth, ids)
        print(f"\nload average at the end {fmt_load()}")
    finally:
        if server is not None:
            stop(server)
        if args.keep and args.data is None:
            print(f"data folder kept at {tmp / 'data'}")
            (tmp / "serve.log").unlink(missing_ok=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
