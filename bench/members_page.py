"""Speed of the owners' members page on a big list: a new SQLite data folder in a temporary
directory, one list with 100,000 members (inserted in bulk), an owner logged in, and the real
web app driven through TestClient (in process: no network, no server), timing

- the first page (100 members, with the total),
- a page deep in the list (after the 90,000th address: keyset, so no faster than the first),
- a search for part of an address (a scan: LIKE '%...%' over the list's members),
- the CSV export of every member (streamed),
- adding 10,000 pasted addresses at once, without and with a welcome mail each (and, to keep
  the list the same size, removing them again after each run).

Each figure is the median of ``--runs`` runs (default 7), in milliseconds.

    python bench/members_page.py [--members 100000] [--runs 7]

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete

from moot.accounts import create_user
from moot.app import build, init_data_dir
from moot.config import load_settings
from moot.storage import schema as s
from moot.storage.lists import get_config
from moot.storage.store import bulk_insert, now_utc
from moot.web.app import create_app

LIST = "big@example.org"
OWNER = "owner@example.org"
PASSWORD = "a long enough passphrase"


def address(i: int) -> str:
    return f"member{i:06d}@example.org"


def timed(runs: int, fn: Callable[[], None]) -> float:
    """The median, in milliseconds, of ``runs`` calls (after one untimed warm-up)."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.pop("MOOT_DATABASE_URL", None)  # the temporary folder's own SQLite file
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        init_data_dir(data)
        moot = build(load_settings(data))
        moot.store.create_list(LIST)
        started = time.perf_counter()
        with moot.engine.begin() as conn:
            config = get_config(conn, LIST)
            assert config is not None
            now = now_utc()
            rows = [(config.id, address(i), f"Member {i}", "member", "regular", False, True,
                     False, now, 0, 0, 0, 0) for i in range(1, args.members + 1)]
            rows.append((config.id, OWNER, "The Owner", "owner", "regular", False, True, False,
                         now, 0, 0, 0, 0))
            bulk_insert(conn, s.members, ("list_id", "email", "name", "role", "delivery",
                                          "nomail", "receive_own", "moderated",
                                          "subscribed_at", "bounce_score",
                                          "bounce_warnings_sent", "accepted_posts",
                                          "auth_passes"), rows)
            create_user(conn, OWNER, PASSWORD, admin=False, now=now)
        print(f"{args.members:,} members inserted in {time.perf_counter() - started:.1f} s "
              f"(SQLite, {data})")
        with TestClient(create_app(moot)) as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            r = client.post("/login", data={"email": OWNER, "password": PASSWORD, "csrf": csrf,
                                            "next": "/"}, follow_redirects=False)
            assert r.status_code == 303, r.text
            base = f"/l/{LIST}/admin/members"
            deep = address(args.members * 9 // 10)

            def get(url: str, must: str) -> Callable[[], None]:
                def run() -> None:
                    r = client.get(url)
                    assert r.status_code == 200 and must in r.text, (url, r.status_code)
                return run

            figures = {
                "first page": get(base, address(1)),
                f"deep page (after {deep})": get(f"{base}?after={deep}",
                                                 address(args.members * 9 // 10 + 1)),
                "search q=04242 (part of an address)": get(f"{base}?q=04242", address(4242)),
                "search q=zzz (no match)": get(f"{base}?q=zzz", "No member matches"),
                "CSV export of every member": get(base + ".csv", address(args.members)),
            }
            for name, fn in figures.items():
                print(f"{name:45s} {timed(args.runs, fn):9.1f} ms (median of {args.runs})")
            paste = "\n".join(f"new{i:05d}@example.org" for i in range(10_000))
            add_csrf = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                                 client.get(base).text).group(1)

            for welcome in (False, True):
                def add(welcome: bool = welcome) -> None:
                    r = client.post(base + "/add", data={
                        "addresses": paste, "csrf": add_csrf, **({"welcome": "1"} if welcome
                                                                  else {})})
                    assert r.status_code == 200 and "Subscribed: 10000" in r.text, r.status_code
                    with moot.engine.begin() as conn:
                        conn.execute(delete(s.members).where(s.members.c.email.like("new%")))

                runs = max(1, args.runs // 3)
                how = "a welcome mail each" if welcome else "no welcome mail"
                print(f"{'bulk add of 10,000 pasted addresses':45s} {timed(runs, add):9.1f} ms "
                      f"(median of {runs}; {how})")
        moot.close()


if __name__ == "__main__":
    main()
