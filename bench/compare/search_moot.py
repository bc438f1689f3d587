"""moot's search child (see base.py): run with the Python that has moot installed.

    python search_moot.py DATA LIST QUERIES.json OUT.json ROUNDS

Times ``Search.search`` (parse, tantivy, the hits' rows and snippets from SQLite) for the
first 20 hits of one list, as the web archive and the API call it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from timing import time_queries

from moot.app import build
from moot.config import load_settings


def main() -> None:
    data, address, qfile, ofile, rounds = sys.argv[1:6]
    moot = build(load_settings(Path(data)))
    row = moot.archive.find_list(address)
    if row is None:
        sys.exit(f"no list {address} in {data}")
    queries = json.loads(Path(qfile).read_text())

    def once(q: str) -> tuple[float, int, list[str]]:
        started = time.perf_counter()
        res = moot.search.search(q, list_ids=[row.id], limit=20)
        mids = [h.message_id for h in res.hits]
        return (time.perf_counter() - started) * 1000, res.total, mids

    time_queries(once, queries, int(rounds), ofile)


if __name__ == "__main__":
    main()
