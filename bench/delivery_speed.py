"""Delivery speed (issue 5): recipients per second from an accepted post to the relay.

Each run, in a fresh scratch data folder: ``moot init``; a list (``--policy open``,
``personalize`` as chosen) with --members members at one domain, written straight into the
database (subscribing 10,000 people one command at a time would only time the set-up); an SMTP
sink that accepts everything (aiosmtpd in a process of its own, bench/sink.py) as the relay;
``moot serve --workers N --relay SINK`` as an operator runs it.  Then --posts posts go in over
LMTP, one after another on one connection, and the clock runs from the first MAIL FROM until the
sink has every member's copy of every post.

Reported, median over --runs: seconds from injection to the last recipient, and recipients per
second over that time (the figure issue 5 sets: >= 5,000/s for one post to 10,000 members);
SMTP transactions the sink saw (one per member with personalize=member, one per
--batch-size recipients of a domain with none).

    python bench/delivery_speed.py [--members 10000] [--posts 1] [--workers 1]
        [--personalize member|none] [--connections 4] [--runs 3] [--json]
    python bench/delivery_speed.py --members 1000 --posts 100 --workers 4
    python bench/delivery_speed.py ... --postgres postgresql://postgres@127.0.0.1:5432

--postgres: the queue is in a fresh PostgreSQL database (moot_bench_delivery) on that server,
where the workers claim rows with FOR UPDATE SKIP LOCKED.

Not a test: pytest does not collect it.  The machine's load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, child_env, free_port, fresh_postgres, moot_cmd, use_database
from sink import MEMBER_DOMAIN, Sink

LIST = "bench@lists.moot-bench.example"
REQUIREMENT = 5000.0


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def moot(data: Path, *args: str) -> str:
    out = subprocess.run(moot_cmd(data, *args), env=child_env(), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"moot {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def set_up(data: Path, members: int, personalize: str, connections: int) -> None:
    moot(data, "init")
    with open(data / "moot.toml", "a") as toml:
        toml.write(f'\ndelivery_connections = "{connections}"\n')
    moot(data, "list", "create", LIST, "--policy", "open")
    moot(data, "list", "set", LIST, f"personalize={personalize}")
    # Members straight into the database, in one transaction.
    sys.path.insert(0, str(REPO / "src"))
    from datetime import datetime

    from moot.config import load_settings
    from moot.storage import schema as s
    from moot.storage.db import open_engine
    from moot.storage.lists import get_config
    from moot.storage.store import bulk_insert

    engine = open_engine(load_settings(data).database_url)
    now = datetime.now().replace(tzinfo=None)
    with engine.begin() as conn:
        list_id = get_config(conn, LIST).id
        bulk_insert(conn, s.members, ("list_id", "email", "name", "role", "delivery", "nomail",
                                      "receive_own", "moderated", "subscribed_at",
                                      "bounce_score", "bounce_warnings_sent", "accepted_posts",
                                      "auth_passes"),
                    [(list_id, f"member{i:05d}@{MEMBER_DOMAIN}", "", "member", "regular",
                      False, True, False, now, 0, 0, 0, 0) for i in range(1, members + 1)])
    engine.dispose()


def start_server(data: Path, relay: int, workers: int, log_path: Path
                 ) -> tuple[subprocess.Popen[bytes], int]:
    http, lmtp = free_port(), free_port()
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            moot_cmd(data, "serve", "--http", f"127.0.0.1:{http}", "--lmtp",
                     f"127.0.0.1:{lmtp}", "--relay", f"127.0.0.1:{relay}",
                     "--workers", str(workers)),
            env=child_env(), stdout=subprocess.DEVNULL, stderr=err)
    started = time.monotonic()
    while time.monotonic() - started < 60:
        if proc.poll() is not None:
            sys.exit(f"moot serve exited with {proc.returncode}:\n"
                     + log_path.read_text(errors="replace"))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, lmtp
        except OSError:
            time.sleep(0.1)
    sys.exit("moot serve did not answer /healthz within 60 s")


def post(n: int) -> bytes:
    body = "".join(f"Line {i} of a post of ordinary length, as lists carry every day.\r\n"
                   for i in range(40))
    return (f"From: Author <author@elsewhere.moot-bench.example>\r\nTo: {LIST}\r\n"
            f"Subject: Benchmark post {n}\r\nMessage-ID: <bench-{n}-{time.time_ns()}@bench>\r\n"
            f"Date: Wed, 25 Nov 2026 06:00:00 +0000\r\n\r\n{body}").encode()


def one_run(args: argparse.Namespace) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="moot-delivery-bench-"))
    sink = Sink()
    proc = None
    try:
        data = scratch / "data"
        if args.postgres:
            use_database(data, fresh_postgres(args.postgres, "moot_bench_delivery"))
        set_up(data, args.members, args.personalize, args.connections)
        proc, lmtp = start_server(data, sink.port, args.workers, scratch / "serve.log")
        time.sleep(1.0)  # the delivery workers start and find the queue empty
        want = args.members * args.posts
        started = time.monotonic()
        with smtplib.LMTP("127.0.0.1", lmtp) as client:
            for n in range(args.posts):
                client.sendmail("author@elsewhere.moot-bench.example", [LIST], post(n))
        accepted = time.monotonic() - started
        if not sink.wait_for(want, args.timeout):
            sys.exit(f"only {sink.member_copies.value} of {want} copies arrived in "
                     f"{args.timeout} s; see {scratch / 'serve.log'}")
        seconds = sink.last.value - started
        return {"seconds": seconds, "recipients_per_s": want / seconds,
                "accepted_s": accepted, "transactions": float(sink.transactions.value)}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        sink.close()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--posts", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--personalize", choices=("member", "none"), default="none")
    ap.add_argument("--connections", type=int, default=4,
                    help="delivery_connections in moot.toml (each worker's connections)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--postgres", default="", help="a PostgreSQL server URL: queue there")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log(f"load average {os.getloadavg()[0]:.2f}; {args.posts} post(s) to {args.members} members,"
        f" {args.workers} worker(s) x {args.connections} connections, "
        f"personalize={args.personalize}")
    results = []
    for run in range(1, args.runs + 1):
        r = one_run(args)
        log(f"run {run}: {r['seconds']:.2f} s, {r['recipients_per_s']:,.0f} recipients/s, "
            f"{r['transactions']:.0f} SMTP transactions (posts accepted in "
            f"{r['accepted_s']:.2f} s)")
        results.append(r)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    verdict = "meets" if med["recipients_per_s"] >= REQUIREMENT else "below"
    if args.json:
        print(json.dumps({"args": vars(args), "median": med, "runs": results}))
    else:
        print(f"median of {args.runs}: {med['seconds']:.2f} s from injection to the last "
              f"recipient, {med['recipients_per_s']:,.0f} recipients/s ({verdict} the "
              f"{REQUIREMENT:,.0f}/s of issue 5 for one post to 10,000 members)")


if __name__ == "__main__":
    main()
