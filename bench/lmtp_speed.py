"""Posting speed through LMTP (issue 4): accepted posts per second from concurrent LMTP clients
to ``moot serve``, each answered only after its durable commit (SQLite, synchronous=FULL) to the
archive and the delivery queue.  The requirement: >= 300 posts/s with 10 clients.

Each run, in a fresh scratch data folder: ``moot init``; ``moot list create LIST --policy open``
and ``moot list set LIST max_size=0``; --members subscribers added with ``moot member add
--no-confirm``; an SMTP sink (aiosmtpd, in its own process) as the relay; ``moot serve --http
--lmtp --relay`` as a subprocess, as an operator runs it, ready once /healthz answers.

The posts are the first --posts messages of the real alsa-devel archive, made into posts to
LIST: their To and Cc lines are replaced by one ``To: LIST`` line, and the ``List-*`` headers the
real list server added on the way out are removed (without that the loop rule rightly refuses
every one of them: they carry alsa-devel's List-Id).  Every other byte stays as archived.  They
are sent by --clients threads, each keeping one LMTP connection (smtplib.LMTP) and sending one
message per transaction, MAIL FROM the message's From address.

Measured: wall time from the first MAIL FROM to the last reply; per message the latency from
the end of DATA (the final dot written) to the reply, and the reply; accepted posts/s = 250
replies that do not say "held" over that wall time; what was held or refused, grouped by reply
text; when the relay had every member's copy of every accepted post.  Checked: the archive
(``moot list show LIST --json``) holds exactly the posts answered "accepted" (a resend of bytes
already taken is answered "already accepted" and archived once).  The median over --runs runs
is reported.

    python bench/lmtp_speed.py [--posts 3000] [--clients 10] [--members 10] [--runs 3]
        [--list alsa-devel@alsa-project.org] [--delivery-timeout 600] [--keep] [--json]
        [--shared-data DIR] [--postgres postgresql://postgres@127.0.0.1:5432 [--nodes 4]]

With --postgres the archive is a fresh PostgreSQL database (moot_bench_lmtp, dropped and made
again each run) on that server; --nodes N then starts N ``moot serve`` processes on it, each
with its own data folder, LMTP and web port, as N machines would (docs/scaling.md), and the
clients take turns among them.

Not a test: pytest does not collect it.  The machine's load average is printed: other work on
the machine shows in the figures.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import queue
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from common import REPO, child_env, free_port, fresh_postgres, moot_cmd, use_database
from sink import MEMBER_DOMAIN, Sink

REQUIREMENT = 300.0  # accepted posts/s with 10 clients (issue 4)


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the posts

_DROP = re.compile(rb"(?i)^(to|cc|list-[a-z-]+)[ \t]*:")
_FROM = re.compile(rb"(?i)^from[ \t]*:")


@dataclass
class Post:
    sender: str  # MAIL FROM
    payload: bytes  # CRLF lines, dot-stuffed, ending with the final "." line


def as_post(raw: bytes, list_address: str) -> Post:
    """One archived message made into a post to ``list_address`` (see the module docstring)."""
    cut = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:cut.start()], raw[cut.start():]) if cut else (raw, b"")
    lines = re.split(rb"\r?\n", head)
    kept: list[bytes] = []
    from_value: list[bytes] = []
    dropping = in_from = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # continuation of the field above
            if in_from:
                from_value.append(line)
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_DROP.match(line))
        in_from = bool(_FROM.match(line)) and not from_value
        if in_from:
            from_value.append(line.split(b":", 1)[1])
        if not dropping:
            kept.append(line)
    text = b" ".join(from_value).decode("utf-8", "replace")
    sender = email.utils.parseaddr(text)[1]
    if not sender.isascii() or " " in sender:
        sender = ""  # rare; smtplib cannot say it without SMTPUTF8: the null sender instead
    msg = b"\n".join([b"To: " + list_address.encode(), *kept]) + body
    wire = re.sub(rb"\r\n|\n|\r", b"\r\n", msg)  # what smtplib.data() does
    wire = re.sub(rb"(?m)^\.", b"..", wire)
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    return Post(sender, wire + b".\r\n")


def load_posts(mbox: Path, n: int, list_address: str) -> list[Post]:
    from moot.importer.sources import Reader

    posts: list[Post] = []
    for item in Reader(mbox):
        posts.append(as_post(item.raw, list_address))
        if len(posts) >= n:
            break
    return posts


# --------------------------------------------------------------------------- the server

def moot(data: Path, *args: str) -> str:
    out = subprocess.run(moot_cmd(data, *args), env=child_env(), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"moot {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def set_up(data: Path, list_address: str, members: int) -> None:
    moot(data, "init")
    moot(data, "list", "create", list_address, "--policy", "open")
    moot(data, "list", "set", list_address, "max_size=0")
    emails = [f"member{i:04d}@{MEMBER_DOMAIN}" for i in range(1, members + 1)]
    for start in range(0, len(emails), 250):
        moot(data, "member", "add", list_address, *emails[start:start + 250], "--no-confirm")


def start_server(data: Path, relay: int, log_path: Path
                 ) -> tuple[subprocess.Popen[bytes], str, int]:
    http, lmtp = free_port(), free_port()
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            moot_cmd(data, "serve", "--http", f"127.0.0.1:{http}", "--lmtp", f"127.0.0.1:{lmtp}",
                     "--relay", f"127.0.0.1:{relay}"),
            env=child_env(), stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{http}"
    started = time.monotonic()
    while time.monotonic() - started < 60:
        if proc.poll() is not None:
            sys.exit(f"moot serve exited with {proc.returncode}:\n"
                     + log_path.read_text(errors="replace"))
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, base, lmtp
        except OSError:
            time.sleep(0.1)
    sys.exit("moot serve did not answer /healthz within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then wait; the server process's CPU seconds (user + system)."""
    proc.terminate()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    proc.kill()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the clients

@dataclass
class Result:
    code: int
    text: str
    latency: float  # seconds from the end of DATA to the reply
    done: float  # time.monotonic() of the reply


def client(port: int, list_address: str, posts: list[Post], todo: queue.Queue[int],
           results: list[Result | None], go: threading.Barrier) -> None:
    lmtp = smtplib.LMTP("127.0.0.1", port)
    lmtp.ehlo_or_helo_if_needed()
    go.wait()
    try:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            post = posts[i]
            try:
                code, msg = lmtp.mail(post.sender)
                if code == 250:
                    code, msg = lmtp.rcpt(list_address)
                if code == 250:
                    lmtp.putcmd("data")
                    code, msg = lmtp.getreply()
                    if code == 354:
                        lmtp.sock.sendall(post.payload)
                        sent = time.monotonic()
                        code, msg = lmtp.getreply()
                        now = time.monotonic()
                        results[i] = Result(code, msg.decode("utf-8", "replace"),
                                            now - sent, now)
                        continue
                now = time.monotonic()
                results[i] = Result(code, msg.decode("utf-8", "replace"), 0.0, now)
                lmtp.rset()
            except (smtplib.SMTPException, OSError) as exc:
                now = time.monotonic()
                results[i] = Result(0, f"client error: {exc}", 0.0, now)
                lmtp.close()
                lmtp = smtplib.LMTP("127.0.0.1", port)
                lmtp.ehlo_or_helo_if_needed()
    finally:
        try:
            lmtp.quit()
        except (smtplib.SMTPException, OSError):
            lmtp.close()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def kind_of(r: Result) -> str:
    if r.code == 250:
        if "held" in r.text:
            return "held"
        return "duplicate" if "already accepted" in r.text else "accepted"
    return "failed" if r.code in (0,) or 400 <= r.code < 500 else "rejected"


# --------------------------------------------------------------------------- one run

def one_run(run: int, args: argparse.Namespace, posts: list[Post]) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="moot-lmtp-bench-"))
    data = scratch / "data"
    sink: Sink | None = None
    proc = None
    others: list[subprocess.Popen[bytes]] = []
    try:
        sink = Sink()
        if args.postgres:
            use_database(data, fresh_postgres(args.postgres, "moot_bench_lmtp"))
        set_up(data, args.list, args.members)
        proc, base, lmtp_port = start_server(data, sink.port, scratch / "serve.log")
        ports = [lmtp_port]
        for n in range(1, args.nodes):  # more nodes on the same database
            node = scratch / f"node{n}"
            use_database(node, (data / "moot.toml").read_text().split('"')[1])
            moot(node, "init")
            other, _, port = start_server(node, sink.port, scratch / f"serve{n}.log")
            others.append(other)
            ports.append(port)
        # The welcome messages queued by `member add` go out first: wait for them so that
        # the sink's count of member copies starts from a known baseline.
        until = time.monotonic() + 30
        while sink.member_copies.value < args.members and time.monotonic() < until:
            time.sleep(0.05)
        baseline = sink.member_copies.value
        load = os.getloadavg()[0]

        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(posts)):
            todo.put(i)
        results: list[Result | None] = [None] * len(posts)
        go = threading.Barrier(args.clients + 1)
        threads = [threading.Thread(target=client, daemon=True,
                                    args=(ports[k % len(ports)], args.list, posts, todo,
                                          results, go))
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        go.wait()
        started = time.monotonic()
        for t in threads:
            t.join()
        done = [r for r in results if r is not None]
        if len(done) != len(posts):
            sys.exit(f"run {run}: {len(posts) - len(done)} posts got no reply")
        wall = max(r.done for r in done) - started

        kinds = Counter(kind_of(r) for r in done)
        replies = Counter(f"{r.code} {r.text}" for r in done
                          if kind_of(r) not in ("accepted", "duplicate"))
        codes = Counter(f"{r.code} {r.text.split(' ', 1)[0]}" for r in done)
        accepted = kinds["accepted"] + kinds["duplicate"]
        latencies = [r.latency * 1000 for r in done if r.code == 250]

        # Delivery: every member's copy of every newly accepted post at the relay.
        want = baseline + kinds["accepted"] * args.members
        delivered_after = 0.0 if want == baseline else None
        until = time.monotonic() + args.delivery_timeout
        while delivered_after is None and time.monotonic() < until:
            if sink.member_copies.value >= want:
                delivered_after = sink.last.value - started
                break
            time.sleep(0.1)
        copies = sink.member_copies.value - baseline

        doc = json.loads(moot(data, "list", "show", args.list, "--json"))
        archived = int(doc["messages"])
        server_cpu = stop_server(proc) + sum(stop_server(p) for p in others)
        proc = None
        others = []
        check = archived == kinds["accepted"]
        row = {
            "run": run, "posts": len(posts), "clients": args.clients, "members": args.members,
            "nodes": args.nodes, "postgres": bool(args.postgres),
            "wall_s": wall, "accepted": accepted, "accepted_new": kinds["accepted"],
            "already_accepted": kinds["duplicate"], "held": kinds["held"],
            "rejected": kinds["rejected"], "failed": kinds["failed"],
            "accepted_per_s": accepted / wall,
            "latency_ms": {"median": statistics.median(latencies) if latencies else None,
                           "p95": pct(latencies, 95) if latencies else None,
                           "max": max(latencies) if latencies else None},
            "not_accepted": dict(replies.most_common()), "reply_codes": dict(codes),
            "archived": archived, "archive_check": check,
            "member_copies": copies, "member_copies_expected": want - baseline,
            "delivered_after_s": delivered_after,
            "other_copies": sink.other_copies.value,
            "server_cpu_s": server_cpu, "load_before": load,
        }
        lat = row["latency_ms"]
        log(f"  run {run}: {accepted} accepted ({kinds['duplicate']} of them already), "
            f"{kinds['held']} held, {kinds['rejected']} rejected, {kinds['failed']} failed "
            f"in {wall:.2f} s = {row['accepted_per_s']:,.0f} accepted posts/s; latency "
            f"median {lat['median']:.0f} ms, p95 {lat['p95']:.0f} ms, max {lat['max']:.0f} ms; "
            f"archive holds {archived} ({'OK' if check else 'MISMATCH'}); relay had "
            f"{copies}/{want - baseline} member copies "
            + (f"after {delivered_after:.1f} s" if delivered_after is not None
               else f"(gave up after {args.delivery_timeout:.0f} s)")
            + f"; server CPU {server_cpu:.1f} s; load before {load:.2f}")
        for text, n in replies.most_common():
            log(f"      {n:>5} x {text}")
        if not check:
            log(f"  run {run}: the archive holds {archived} messages but "
                f"{kinds['accepted']} posts were answered accepted")
        return row
    finally:
        if proc is not None:
            stop_server(proc)
        for p in others:
            stop_server(p)
        if sink is not None:
            sink.close()
        if args.keep:
            log(f"  run {run}: kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=3000, help="posts per run (default 3000)")
    ap.add_argument("--clients", type=int, default=10,
                    help="concurrent LMTP clients (default 10)")
    ap.add_argument("--members", type=int, default=10, help="list members (default 10)")
    ap.add_argument("--runs", type=int, default=3, help="runs, each in a fresh data folder")
    ap.add_argument("--list", default="alsa-devel@alsa-project.org", help="the list address")
    ap.add_argument("--delivery-timeout", type=float, default=600,
                    help="seconds to wait for the relay to get every copy (0: do not wait)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch data folders")
    ap.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ap.add_argument("--postgres", default="",
                    help="a PostgreSQL server URL (postgresql://user@host:port): archive there")
    ap.add_argument("--nodes", type=int, default=1,
                    help="moot serve processes on the one PostgreSQL database (default 1)")
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data",
                    help="the real-mail corpus (default ../shared/data from the repo root)")
    args = ap.parse_args()
    if args.nodes > 1 and not args.postgres:
        sys.exit("--nodes needs --postgres: SQLite belongs to one machine")
    mbox = args.shared_data / "alsa-devel-25k.mbox.gz"
    if not mbox.exists():
        sys.exit(f"no {mbox}: give --shared-data")
    posts = load_posts(mbox, args.posts, args.list)
    size = sum(len(p.payload) for p in posts)
    log(f"{len(posts)} posts from {mbox.name} ({size / 1e6:.1f} MB on the wire) to {args.list}; "
        f"{args.clients} LMTP clients, {args.members} members, {args.runs} run(s), "
        f"{args.nodes} node(s) on {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = [one_run(run, args, posts) for run in range(1, args.runs + 1)]

    def med(key: str, sub: str | None = None) -> float | None:
        vals = [(r[key][sub] if sub else r[key]) for r in rows]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    summary = {
        "accepted_per_s": med("accepted_per_s"), "wall_s": med("wall_s"),
        "latency_ms": {k: med("latency_ms", k) for k in ("median", "p95", "max")},
        "delivered_after_s": med("delivered_after_s"), "server_cpu_s": med("server_cpu_s"),
        "requirement_per_s": REQUIREMENT,
        "meets_requirement": (med("accepted_per_s") or 0) >= REQUIREMENT,
        "archive_check": all(r["archive_check"] for r in rows),
    }
    if args.json:
        print(json.dumps({"posts": len(posts), "clients": args.clients,
                          "members": args.members, "list": args.list, "runs": rows,
                          "median": summary}, indent=2))
        return
    lat = summary["latency_ms"]
    delivered = summary["delivered_after_s"]
    print(f"\nmedian of {len(rows)} run(s): {summary['accepted_per_s']:,.0f} accepted posts/s "
          f"with {args.clients} clients (requirement >= {REQUIREMENT:.0f}: "
          f"{'met' if summary['meets_requirement'] else 'NOT met'}); latency end of DATA -> "
          f"reply median {lat['median']:.0f} ms, p95 {lat['p95']:.0f} ms, max "
          f"{lat['max']:.0f} ms; relay had every copy after "
          + (f"{delivered:.1f} s" if delivered is not None else "(not waited for)")
          + f"; archive count check {'passed' if summary['archive_check'] else 'FAILED'}")


if __name__ == "__main__":
    main()
