"""A million messages on SQLite and on PostgreSQL: import rate, search and thread page p95 and
database size at 100,000 messages and again at 1,000,000 (issue 9, part 3).

The archive is the one bench/generate.py writes, in two halves of one stream (the first
100,000 messages, then the other 900,000), so one import stops at 100,000, is measured, and
goes on:

    python bench/generate.py /tmp/p1.mbox.gz --count 100000 --total 1000000
    python bench/generate.py /tmp/p2.mbox.gz --start 100000 --count 900000 --total 1000000
    python bench/scale.py --part1 /tmp/p1.mbox.gz --part2 /tmp/p2.mbox.gz --work /tmp/scale \
        [--backend sqlite|postgres|both] [--postgres postgresql://postgres@127.0.0.1:5432/]

For each backend:

* import through moot's own path (``moot.importer.run.import_paths`` with the search index, as
  ``moot import`` does, without the linking step), timing every 100,000 messages;
* serve the data with ``moot serve`` in a child process and time, through HTTP, a fixed set of
  searches (``GET /api/v1/search``; words, phrases, ``from:``, date ranges drawn from the real
  text with a fixed seed) and the thread pages of random messages (``GET /l/LIST/t/MSGID/``):
  one untimed pass, then ``--passes`` timed ones; median and p95 over all timed requests;
* size: SQLite file (with its WAL) plus the index folder; PostgreSQL ``pg_database_size``
  (its search index is a table in the same database).

With ``--part2`` left out it stops after the first half.  ``--json FILE`` keeps the figures.
``--measure-only`` measures a data folder an earlier (perhaps interrupted) run left in
``--work`` as it is, without importing.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from common import REPO, child_env, free_port, moot_cmd, stop, timed_get
from generate import _FIRST, LIST, load_pool

from moot.app import build, init_data_dir
from moot.config import load_settings
from moot.importer.run import ImportSummary, import_paths
from moot.web.archive import msgid_url

CHUNK = 100_000
_WORD = re.compile(r"[A-Za-z][a-z]{4,11}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def make_queries(seed: int, shared: Path) -> list[str]:
    """A fixed query set from the real text: 30 words, 15 word pairs, 10 phrases, 5 words by
    an author, 5 words in a two-month window."""
    rng = random.Random(seed)
    pool = load_pool(shared)

    def words() -> list[str]:
        while True:
            found = _WORD.findall(rng.choice(pool).body.decode("utf-8", "replace")[:2000])
            if len(found) >= 3:
                return found

    queries = [rng.choice(words()).lower() for _ in range(30)]
    queries += [" ".join(rng.sample(words(), 2)).lower() for _ in range(15)]
    for _ in range(10):
        w = words()
        i = rng.randrange(len(w) - 2)
        queries.append('"' + " ".join(w[i:i + 3]).lower() + '"')
    queries += [f"{rng.choice(words()).lower()} from:{rng.choice(_FIRST).lower()}"
                for _ in range(5)]
    for _ in range(5):
        year, month = rng.randint(2006, 2025), rng.randint(1, 10)
        queries.append(f"{rng.choice(words()).lower()} after:{year}-{month:02d}-01 "
                       f"before:{year}-{month + 2:02d}-01")
    return queries


# --------------------------------------------------------------------------- data folders

def prepare(work: Path, backend: str, pg_base: str, db_name: str) -> Path:
    data = work / backend
    if data.exists():
        sys.exit(f"{data} exists: remove it or give another --work")
    data.mkdir(parents=True)
    if backend == "postgres":
        url = pg_base.rstrip("/") + "/" + db_name
        subprocess.run(["dropdb", "--if-exists", "-h", _host(pg_base), "-U", "postgres",
                        db_name], check=True)
        subprocess.run(["createdb", "-h", _host(pg_base), "-U", "postgres", db_name],
                       check=True)
        (data / "moot.toml").write_text(f'database_url = "{url}"\n', "utf-8")
    init_data_dir(data)
    return data


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or "127.0.0.1"


def import_part(data: Path, path: Path, done_before: int, marks: list[tuple[int, float]],
                clock: list[float]) -> ImportSummary:
    """Import one half; ``marks`` gets (messages so far, import seconds so far) every 100,000;
    ``clock[0]`` carries the import seconds of earlier halves."""
    moot = build(load_settings(data, env={}))
    row = moot.archive.find_list(LIST)
    if row is None:
        moot.store.create_list(LIST)
        row = moot.archive.get_list(LIST)
    started = time.perf_counter()

    def progress(summary: ImportSummary, _read: int) -> None:
        total = done_before + summary.imported + summary.duplicates + summary.rejected
        if total // CHUNK > (marks[-1][0] // CHUNK if marks else 0):
            marks.append((total, clock[0] + time.perf_counter() - started))
            print(f"  {total:>9,} messages  {marks[-1][1]:8.1f} s", flush=True)

    summary = import_paths(moot.store, row.id, [path], progress=progress, search=moot.search)
    took = time.perf_counter() - started  # indexing committed at the end included
    clock[0] += took
    total = done_before + summary.imported + summary.duplicates + summary.rejected
    if not marks or marks[-1][0] != total:
        marks.append((total, clock[0]))
    moot.engine.dispose()
    return summary


def size_of(data: Path, backend: str, pg_base: str, db_name: str) -> int:
    if backend == "sqlite":
        files = [p for p in data.glob("moot.sqlite3*")]
        index = [p for p in (data / "index").rglob("*") if p.is_file()]
        return sum(p.stat().st_size for p in files + index)
    out = subprocess.run(["psql", "-h", _host(pg_base), "-U", "postgres", "-At", "-c",
                          f"SELECT pg_database_size('{db_name}')"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


# --------------------------------------------------------------------------- HTTP timings

def serve(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port, lmtp = free_port(), free_port()
    proc = subprocess.Popen(moot_cmd(data, "serve", "--http", f"127.0.0.1:{port}",
                                     "--lmtp", f"127.0.0.1:{lmtp}"),
                            env=child_env(), stderr=log.open("ab"), stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # the first start may catch the index up
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"moot serve exited with {proc.returncode}; see {log}")
        try:
            ms, status, _ = timed_get(base + "/healthz", timeout=2)
            if status == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    sys.exit("moot serve did not answer /healthz in time")


def timings(urls: list[str], passes: int) -> list[float]:
    for url in urls:  # untimed: the first request of each also warms the caches
        _check(url, *timed_get(url))
    times = []
    for _ in range(passes):
        for url in urls:
            ms, status, body = timed_get(url)
            _check(url, ms, status, body)
            times.append(ms)
    return times


def _check(url: str, _ms: float, status: int, body: bytes) -> None:
    if status != 200:
        sys.exit(f"{url}: HTTP {status}: {body[:300]!r}")


def skip_linking(data: Path) -> None:
    """Mark every message as linked, so that the server's housekeeping does not spend the
    measurement linking a million messages 2,000 at a time (linking is measured elsewhere:
    bench/links/)."""
    from sqlalchemy import func, insert, select, update

    from moot.storage import schema as s

    moot = build(load_settings(data, env={}))
    with moot.engine.begin() as conn:
        top = str(conn.execute(select(func.max(s.messages.c.id))).scalar() or 0).encode()
        where = s.site.c.name == "linked-through"
        if conn.execute(update(s.site).where(where).values(value=top)).rowcount == 0:
            conn.execute(insert(s.site), {"name": "linked-through", "value": top})
    moot.engine.dispose()


def measure(data: Path, log: Path, queries: list[str], messages: int, seed: int,
            threads: int, passes: int) -> dict[str, float]:
    skip_linking(data)
    proc, base = serve(data, log)
    try:
        search_urls = [f"{base}/api/v1/search?{urllib.parse.urlencode({'q': q})}"
                       for q in queries]
        s = timings(search_urls, passes)
        rng = random.Random(seed)
        picks = [rng.randrange(messages) for _ in range(threads)]
        page_urls = [base + msgid_url(LIST, f"s1.{n}@bench.moot.example", "t")
                     for n in picks]
        t = timings(page_urls, passes)
    finally:
        stop(proc)
    return {"search_median_ms": statistics.median(s), "search_p95_ms": pct(s, 95),
            "search_n": len(s), "thread_median_ms": statistics.median(t),
            "thread_p95_ms": pct(t, 95), "thread_n": len(t)}


# --------------------------------------------------------------------------- the run

def run_backend(backend: str, args: argparse.Namespace, queries: list[str]) -> dict:
    db_name = args.db_name
    data = prepare(args.work, backend, args.postgres, db_name)
    log = args.work / f"{backend}-serve.log"
    marks: list[tuple[int, float]] = []
    clock = [0.0]
    result: dict = {"backend": backend, "load_start": os.getloadavg()}
    print(f"\n{backend}: importing {args.part1}", flush=True)
    first = import_part(data, args.part1, 0, marks, clock)
    n1 = first.imported + first.duplicates + first.rejected
    result["at_100k"] = {"messages": n1, "imported": first.imported,
                         "import_s": clock[0], "rate": n1 / clock[0],
                         "size": size_of(data, backend, args.postgres, db_name)}
    print(f"  measuring at {n1:,}", flush=True)
    result["at_100k"].update(measure(data, log, queries, n1, args.seed, args.threads,
                                     args.passes))
    print("  " + json.dumps(result["at_100k"]), flush=True)
    if args.part2:
        while not args.part2.exists():  # still being generated: it appears when complete
            time.sleep(5)
        print(f"{backend}: importing {args.part2}", flush=True)
        second = import_part(data, args.part2, n1, marks, clock)
        n2 = n1 + second.imported + second.duplicates + second.rejected
        last = marks[-2] if len(marks) >= 2 else (0, 0.0)
        result["at_1m"] = {"messages": n2, "imported": first.imported + second.imported,
                           "import_s": clock[0], "rate": n2 / clock[0],
                           "last_chunk_rate": (n2 - last[0]) / (clock[0] - last[1]),
                           "size": size_of(data, backend, args.postgres, db_name)}
        print(f"  measuring at {n2:,}", flush=True)
        result["at_1m"].update(measure(data, log, queries, n2, args.seed, args.threads,
                                       args.passes))
        print("  " + json.dumps(result["at_1m"]), flush=True)
    result["marks"] = marks
    result["load_end"] = os.getloadavg()
    return result


def _count(data: Path) -> int:
    from sqlalchemy import func, select

    from moot.storage import schema as s

    moot = build(load_settings(data, env={}))
    with moot.engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(s.messages)).scalar() or 0)
    moot.engine.dispose()
    return n


def report(results: list[dict]) -> None:
    rows = [("import msg/s (whole so far)", "rate", "{:,.0f}", True),
            ("import msg/s (last 100k)", "chunk_rate", "{:,.0f}", True),
            ("search median ms", "search_median_ms", "{:.1f}", False),
            ("search p95 ms", "search_p95_ms", "{:.1f}", False),
            ("thread page median ms", "thread_median_ms", "{:.1f}", False),
            ("thread page p95 ms", "thread_p95_ms", "{:.1f}", False),
            ("database size MB", "size", "{:,.0f}", False)]
    for r in results:
        a, b = r["at_100k"], r.get("at_1m")
        a["chunk_rate"] = a["rate"]
        a["size"] = a["size"] / 1e6
        if b:
            b["chunk_rate"] = b["last_chunk_rate"]
            b["size"] = b["size"] / 1e6
        print(f"\n{r['backend']}: {a['messages']:,} vs {b['messages'] if b else 0:,} messages")
        print(f"{'':<28} {'100k':>10} {'1M':>10} {'1M/100k':>8}")
        for label, key, fmt, _higher_better in rows:
            left = fmt.format(a[key])
            right = fmt.format(b[key]) if b else "-"
            ratio = f"{b[key] / a[key]:.2f}" if b and a[key] else "-"
            print(f"{label:<28} {left:>10} {right:>10} {ratio:>8}")
        marks = r["marks"]
        prev = (0, 0.0)
        rates = []
        for n, s in marks:
            rates.append(f"{(n - prev[0]) / max(s - prev[1], 1e-9):,.0f}")
            prev = (n, s)
        print("import msg/s per 100k: " + " ".join(rates))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part1", type=Path, required=True, help="the first 100,000 messages")
    ap.add_argument("--part2", type=Path, help="the other 900,000")
    ap.add_argument("--work", type=Path, required=True, help="a folder for the data folders")
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/",
                    help="server URL (without database) to create the database on")
    ap.add_argument("--db-name", default="moot_scale", help="PostgreSQL database to (re)create")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--threads", type=int, default=100, help="random thread pages")
    ap.add_argument("--passes", type=int, default=3, help="timed passes over each URL set")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--measure-only", action="store_true",
                    help="only measure the data folder(s) already in --work")
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    queries = make_queries(args.seed, args.shared_data)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    if args.measure_only:
        for backend in backends:
            data = args.work / backend
            n = _count(data)
            doc = {"messages": n, "size": size_of(data, backend, args.postgres, args.db_name)}
            doc.update(measure(data, args.work / f"{backend}-serve.log", queries, n,
                               args.seed, args.threads, args.passes))
            print(f"{backend}: " + json.dumps(doc), flush=True)
        return
    for backend in backends:
        results.append(run_backend(backend, args, queries))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1), "utf-8")
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), "utf-8")


if __name__ == "__main__":
    main()
