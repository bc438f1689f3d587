"""The timing loop every search child shares (standard library only: it runs under moot's
Python and under HyperKitty's virtualenv alike).  ``once(q)`` answers one query and returns
(milliseconds, hit count, first Message-IDs): one untimed pass, then ``rounds`` timed passes,
written as JSON to ``ofile``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Once = Callable[[str], tuple[float, int, list[str]]]


def time_queries(once: Once, queries: list[dict], rounds: int, ofile: str) -> None:
    for item in queries:
        once(item["q"])
    out = {item["id"]: {"id": item["id"], "ms": []} for item in queries}
    for _ in range(rounds):
        for item in queries:
            ms, total, mids = once(item["q"])
            out[item["id"]]["ms"].append(ms)
            out[item["id"]].update(total=total, mids=mids)
    Path(ofile).write_text(json.dumps(list(out.values())))
