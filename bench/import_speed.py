"""Import speed on real archives: a fresh import into a new SQLite data folder, then a
re-import of the same files (all duplicates).  Each run is a fresh ``moot import`` process;
wall time and that process's peak RSS are measured from outside (os.wait4).

    python bench/import_speed.py [--runs 3] [--only alsa|rdevel] [--shared-data DIR]

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, child_env, moot_cmd

DATASETS = {
    "alsa": ("alsa-devel@alsa-project.org", lambda d: [d / "alsa-devel-25k.mbox.gz"]),
    "rdevel": ("r-devel@r-project.org",
               lambda d: sorted((d / "r-devel-pipermail").glob("*.txt.gz"))),
}



def timed(cmd: list[str]) -> tuple[float, int, dict]:
    """Run ``cmd``; (wall seconds, peak RSS in KiB of that process, its JSON output)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=child_env())
        stderr = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            why = stderr.decode(errors="replace")
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{why}")
        out.seek(0)
        doc = json.loads(out.read().decode())
    return wall, usage.ru_maxrss, doc  # ru_maxrss is KiB on Linux


def bench(name: str, shared: Path, runs: int) -> list[dict]:
    address, files = DATASETS[name]
    paths = [str(p) for p in files(shared)]
    if not paths:
        sys.exit(f"no files for {name} under {shared}")
    size = sum(Path(p).stat().st_size for p in paths)
    print(f"\n{name}: {len(paths)} file(s), {size / 1e6:.1f} MB compressed, {runs} run(s)")
    results = []
    for run in range(1, runs + 1):
        with tempfile.TemporaryDirectory(prefix="moot-bench-") as tmp:
            data = Path(tmp) / "data"
            subprocess.run(moot_cmd(data, "init"), check=True, env=child_env(),
                           stderr=subprocess.DEVNULL)
            for kind in ("fresh", "re-import"):
                wall, rss, doc = timed(moot_cmd(data, "import", address, *paths, "--json"))
                n = doc["imported"] if kind == "fresh" else doc["duplicates"]
                row = {"run": run, "kind": kind, "wall": wall, "inner": doc["seconds"],
                       "messages": n, "imported": doc["imported"],
                       "duplicates": doc["duplicates"], "rate": n / wall, "rss_kib": rss}
                results.append(row)
                print(f"  run {run} {kind:<9}  {wall:7.2f} s wall ({doc['seconds']:7.2f} s in "
                      f"import)  imported {doc['imported']:>6}  duplicates "
                      f"{doc['duplicates']:>6}  {row['rate']:>8,.0f} msg/s  "
                      f"peak RSS {rss / 1024:6.0f} MiB", flush=True)
    return results


def summarise(name: str, results: list[dict]) -> None:
    for kind in ("fresh", "re-import"):
        rows = [r for r in results if r["kind"] == kind]
        rate = statistics.median(r["rate"] for r in rows)
        wall = statistics.median(r["wall"] for r in rows)
        rss = max(r["rss_kib"] for r in rows)
        print(f"{name:<7} {kind:<9} {len(rows):>4} {wall:>9.2f} {rate:>12,.0f} "
              f"{rss / 1024:>13.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per archive (default 3)")
    ap.add_argument("--only", choices=sorted(DATASETS), help="only this archive")
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data",
                    help="the real-mail corpus (default ../shared/data from the repo root)")
    args = ap.parse_args()
    if not args.shared_data.is_dir():
        sys.exit(f"the shared real-mail corpus is not at {args.shared_data}")
    names = [args.only] if args.only else list(DATASETS)
    all_results = {n: bench(n, args.shared_data, args.runs) for n in names}
    print("\narchive kind      runs  median s  median msg/s  peak RSS MiB")
    for n in names:
        summarise(n, all_results[n])


if __name__ == "__main__":
    main()
