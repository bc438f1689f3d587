"""moot beside public-inbox and GNU Mailman 3's HyperKitty on one mbox (issue 9): import and
indexing speed, peak memory, disk use and search latency over one query set, in one table of
absolute figures and moot's ratio to each.

    python bench/compare/run.py [--mbox FILE] [--list ADDR] [--limit N]
        [--systems moot,public-inbox,hyperkitty-whoosh,hyperkitty-xapian]
        [--rounds 3] [--json FILE] [--work DIR] [--keep] [--no-install]

Installs what is missing unless --no-install: Debian's ``public-inbox`` and ``python3-xapian``
with apt-get (system-wide: needs root), HyperKitty, Whoosh and xapian-haystack from PyPI into
a virtualenv (--hk-venv).  Every system's data goes into one temporary folder, removed at the
end unless --keep.  A system that cannot be run is shown as "not run" with the reason; no
figure is ever made up.  What is measured, and how: docs/benchmarks.md.  Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from base import Imported, NotRun, System  # noqa: E402
from hyperkitty_system import HyperKitty  # noqa: E402
from moot_system import REPO, Moot  # noqa: E402
from public_inbox_system import PublicInbox  # noqa: E402
from workload import Query, make_queries, split_mbox  # noqa: E402

SYSTEMS = ("moot", "public-inbox", "hyperkitty-whoosh", "hyperkitty-xapian")
COMMON = ("word", "two words", "phrase")  # kinds every system can ask
DEBIAN = ("public-inbox", "python3-xapian")


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def machine() -> dict[str, object]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "cpu": model, "ram_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def apt_install() -> None:
    """Debian's packages for public-inbox and the Xapian Python bindings, if missing."""
    missing = [p for p in DEBIAN if subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", p], capture_output=True, text=True
    ).stdout.strip() != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log(f"cannot install {', '.join(missing)} (needs root and apt-get); those systems "
            "will say why they did not run")
        return
    log(f"apt-get install -y {' '.join(missing)} (system-wide)")
    subprocess.run(["apt-get", "install", "-y", *missing], check=False,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                   stdout=subprocess.DEVNULL)


def latency(results: list[dict], kinds: dict[int, str], want: tuple[str, ...]
            ) -> dict[str, float] | None:
    samples = [ms for r in results if kinds[r["id"]] in want for ms in r["ms"]]
    if not samples:
        return None
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"median": statistics.median(samples), "p95": p95, "n": len(samples)}


def measure(system: System, mbox: Path, queries: list[Query], rounds: int) -> dict:
    """Every figure of one system; stops at the first step that cannot be done, saying why."""
    out: dict = {"system": system.name}
    try:
        log(f"== {system.name}: setting up")
        system.setup()
        out["version"] = system.version()
        log(f"   {out['version']}; importing")
        imp: Imported = system.load(mbox)
        out["import"] = {"seconds": imp.seconds, "rss": imp.rss, "stored": imp.stored,
                         "steps": imp.steps, "notes": imp.notes,
                         "per_s": imp.stored / imp.seconds if imp.seconds else None}
        out["disk"] = system.size()
        log(f"   {imp.stored} messages in {imp.seconds:.1f} s ({imp.steps}); peak RSS "
            f"{imp.rss / 2**20:.0f} MiB; {out['disk'] / 1e6:.1f} MB on disk; searching")
        syntax = system.syntax
        asked = [(i, t) for i, q in enumerate(queries) if (t := q.text(syntax)) is not None]
        out["load_at_search"] = os.getloadavg()[0]  # the machine may be shared: say how busy
        started = time.perf_counter()
        results = system.search(asked, rounds)
        kinds = {i: q.kind for i, q in enumerate(queries)}
        out["search"] = {
            "common": latency(results, kinds, COMMON),
            "from": latency(results, kinds, ("from",)),
            "no_hits": sum(1 for r in results if not r.get("total")),
            "asked": len(asked),
            "per_query": [{"q": dict(asked)[r["id"]], "kind": kinds[r["id"]],
                           "ms": r["ms"], "total": r.get("total"), "mids": r.get("mids")}
                          for r in results],
        }
        log(f"   searched in {time.perf_counter() - started:.1f} s (load average "
            f"{out['load_at_search']:.2f} at the start)")
    except NotRun as why:
        out["not_run"] = str(why)
        log(f"   not run: {why}")
    return out


# -- the table --------------------------------------------------------------------------------

ROWS = [  # label, getter, format, higher is better
    ("messages stored", lambda r: r["import"]["stored"], "{:,.0f}", None),
    ("import + index, s", lambda r: r["import"]["seconds"], "{:,.1f}", False),
    ("import + index, messages/s", lambda r: r["import"]["per_s"], "{:,.0f}", True),
    ("peak RSS while importing, MiB", lambda r: r["import"]["rss"] / 2**20, "{:,.0f}", False),
    ("on disk after import, MB", lambda r: r["disk"] / 1e6, "{:,.1f}", False),
    ("search median, ms (words, AND, phrases)",
     lambda r: r["search"]["common"]["median"], "{:,.2f}", False),
    ("search p95, ms (words, AND, phrases)",
     lambda r: r["search"]["common"]["p95"], "{:,.2f}", False),
    ("search median, ms (from:)", lambda r: r["search"]["from"]["median"], "{:,.2f}", False),
    ("queries without hits", lambda r: f"{r['search']['no_hits']} of {r['search']['asked']}",
     "{}", None),
]


def value(row: dict, get: object) -> object:
    try:
        return get(row)  # type: ignore[operator]
    except (KeyError, TypeError):
        return None


def table(results: list[dict], header: str) -> tuple[object, str]:
    """A Rich table and the same as Markdown (for docs/benchmarks.md)."""
    from rich.table import Table

    moot = next((r for r in results if r["system"] == "moot" and "not_run" not in r), None)
    t = Table(title=header, title_justify="left")
    t.add_column("")
    for r in results:
        t.add_column(r["system"], justify="right")
    md = ["| | " + " | ".join(r["system"] for r in results) + " |",
          "|---|" + "---:|" * len(results)]
    for label, get, fmt, _higher in ROWS:
        cells = []
        for r in results:
            v = value(r, get)
            if v is None:  # a step before this figure failed, or the system has no such query
                cells.append("not run" if "not_run" in r else "n/a")
                continue
            cell = fmt.format(v)
            m = value(moot, get) if moot else None
            if (r is not moot and isinstance(v, float | int) and isinstance(m, float | int)
                    and v and _higher is not None):
                cell += f" (moot {m / v:.2g}x)"
            cells.append(cell)
        t.add_row(label, *cells)
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    for r in results:
        if "not_run" in r:
            md.append(f"\n{r['system']}: not run: {r['not_run']}")
    return t, "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mbox", type=Path,
                    default=REPO.parent / "shared" / "data" / "alsa-devel-25k.mbox.gz")
    ap.add_argument("--list", default="alsa-devel@alsa-project.org")
    ap.add_argument("--limit", type=int, help="only the first N messages of the mbox")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--rounds", type=int, default=3, help="timed passes over the queries")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "moot-compare.json",
                    help="write every figure here (default: %(default)s)")
    ap.add_argument("--work", type=Path, help="the temporary folder (default: a new one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--no-install", action="store_true",
                    help="install nothing; systems missing their software are not run")
    ap.add_argument("--hk-venv", type=Path, default=Path("/tmp/moot-bench-hyperkitty-venv"),
                    help="HyperKitty's virtualenv, made once and kept")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(chosen) - set(SYSTEMS)
    if unknown:
        sys.exit(f"unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
    if not args.mbox.exists():
        sys.exit(f"no mbox at {args.mbox}")

    work = args.work or Path(tempfile.mkdtemp(prefix="moot-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["load_start"] = os.getloadavg()
    try:
        if not args.no_install and {"public-inbox", "hyperkitty-xapian"} & set(chosen):
            apt_install()
        mbox = work / "input.mbox"
        n = split_mbox(args.mbox, mbox, args.limit)
        queries = make_queries(mbox, args.seed)
        log(f"{n:,} messages of {args.mbox.name} in {mbox} ({mbox.stat().st_size / 1e6:.1f} MB);"
            f" {len(queries)} queries, e.g. " + " | ".join(q.text("moot") or ""
                                                        for q in queries[::8]))
        hk: dict = {}  # what the two HyperKitty backends share: one import
        makers = {
            "moot": lambda: Moot(work, args.list),
            "public-inbox": lambda: PublicInbox(work, args.list),
            "hyperkitty-whoosh": lambda: HyperKitty(work, args.list, "whoosh", args.hk_venv,
                                                    not args.no_install, hk),
            "hyperkitty-xapian": lambda: HyperKitty(work, args.list, "xapian", args.hk_venv,
                                                    not args.no_install, hk),
        }
        results = []
        for name in chosen:
            results.append(measure(makers[name](), mbox, queries, args.rounds))
            # so far, in case a later system takes the rest of the afternoon
            args.json.write_text(json.dumps({"partial": True, "machine": info,
                                             "messages": n, "results": results}, indent=1))
        info["load_end"] = os.getloadavg()
        header = (f"{n:,} messages of {args.mbox.name}, {len(queries)} queries x "
                  f"{args.rounds} timed rounds; {info['date']}, {info['cores']} cores, "
                  f"{info['ram_gib']} GiB RAM, load {info['load_start'][0]:.2f} at the start, "
                  f"{info['load_end'][0]:.2f} at the end")
        rich_table, markdown = table(results, header)
        from rich.console import Console

        Console().print(rich_table)
        for r in results:
            if "not_run" in r:
                print(f"{r['system']}: not run: {r['not_run']}")
            else:
                print(f"{r['system']}: {r['version']}; steps "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in r["import"]["steps"].items())
                      + ("; " + "; ".join(r["import"]["notes"]) if r["import"]["notes"] else ""))
        doc = {"machine": info, "mbox": str(args.mbox), "limit": args.limit, "messages": n,
               "queries": [{"kind": q.kind, "words": q.words} for q in queries],
               "rounds": args.rounds, "results": results, "markdown": markdown}
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"\nJSON: {args.json}\n\n{header}\n\n{markdown}")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
