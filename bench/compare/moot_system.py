"""moot: ``moot init``, then ``moot import LIST MBOX`` (which stores, threads and indexes as it
goes; linking quotes and references is left to ``moot serve``), timed as one child process;
searched in process (search_moot.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from base import Imported, NotRun, check, combine, search_child
from measure import du, run

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def env() -> dict[str, str]:
    import os

    e = dict(os.environ)
    e.pop("MOOT_DATABASE_URL", None)  # the data folder's own SQLite database
    e.pop("MOOT_DATA", None)
    return e


def cmd(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "moot.cli.main", "--data", str(data), *args]


class Moot:
    name = syntax = "moot"

    def __init__(self, work: Path, address: str) -> None:
        self.work, self.address = work / "moot", address
        self.data = self.work / "data"

    def version(self) -> str:
        from importlib.metadata import version

        return f"moot {version('moot')} (tantivy index, SQLite)"

    def setup(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        check("moot init", run(cmd(self.data, "init"), env=env()))

    def load(self, mbox: Path) -> Imported:
        r = check("moot import", run(cmd(self.data, "import", self.address, str(mbox), "--json"),
                                     env=env()))
        try:
            doc = json.loads(r.stdout)
        except ValueError as exc:
            raise NotRun(f"moot import printed no JSON: {r.stdout[-500:]}") from exc
        # moot's own figure covers storing and indexing; the rest of the wall time is the
        # process's start-up and the final index commit
        inner = float(doc.get("seconds", 0))
        return combine({"moot import": r}, doc["imported"],
                       [f"{doc.get('duplicates', 0)} duplicates, "
                        f"{doc.get('rejected', 0)} rejected",
                        f"of the wall time, {inner:.1f} s storing and indexing (moot's own "
                        f"count), {r.wall - inner:.1f} s start-up"])

    def size(self) -> int:
        return du(self.data)

    def search(self, queries: list[tuple[int, str]], rounds: int) -> list[dict]:
        return search_child([sys.executable, str(HERE / "search_moot.py"), str(self.data),
                             self.address], self.work, queries, rounds, env=env(), label="moot")
