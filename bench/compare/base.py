"""What every compared system gives the harness, and the search-child protocol they share.

Each system imports the mbox in a child process (timed, memory sampled), reports the bytes its
data takes on disk, and answers the query set in a long-lived child of its own language (Python
for moot and HyperKitty, Perl for public-inbox) that times each query around the library call
and the fetching of the first 20 hits' Message-IDs: no HTTP and no page rendering, for anyone.
The child reads ``[{"id", "q"}]`` from a JSON file, runs every query once untimed (warm-up),
then ``rounds`` timed passes, and writes ``[{"id", "ms": [...], "total", "mids": [...]}]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from measure import Run, run

HITS = 20  # hits fetched per query, as a first page


class System(Protocol):
    name: str  # in the table
    syntax: str  # whose query syntax: moot, public-inbox or hyperkitty (workload.Query.text)

    def setup(self) -> None: ...
    def version(self) -> str: ...
    def load(self, mbox: Path) -> Imported: ...
    def size(self) -> int: ...
    def search(self, queries: list[tuple[int, str]], rounds: int) -> list[dict]: ...


class NotRun(Exception):
    """This system could not be measured; the message says why (it goes into the table)."""


@dataclass
class Imported:
    seconds: float  # wall, import and indexing together
    rss: int  # bytes, peak over the steps
    stored: int  # messages the system says it holds afterwards
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step
    notes: list[str] = field(default_factory=list)


def check(step: str, r: Run) -> Run:
    if r.code != 0:
        lines = (r.stderr.strip() or r.stdout.strip()).splitlines() or [""]
        errors = [ln for ln in lines if "Error" in ln] or lines
        raise NotRun(f"{step} failed (exit {r.code}): {errors[-1].strip()[:500]}")
    return r


def combine(steps: dict[str, Run], stored: int, notes: list[str] | None = None) -> Imported:
    return Imported(sum(r.wall for r in steps.values()), max(r.rss for r in steps.values()),
                    stored, {k: r.wall for k, r in steps.items()}, notes or [])


def search_child(cmd: list[str], work: Path, queries: list[tuple[int, str]], rounds: int,
                 *, env: dict[str, str] | None = None, label: str) -> list[dict]:
    """Run one system's search child over the queries it can ask; its per-query results."""
    qfile, ofile = work / f"{label}-queries.json", work / f"{label}-results.json"
    qfile.write_text(json.dumps([{"id": i, "q": q} for i, q in queries]))
    r = run([*cmd, str(qfile), str(ofile), str(rounds)], env=env)
    check(f"{label} search", r)
    return json.loads(ofile.read_text())
