"""moot against public-inbox (with Xapian) on the same archive and the same queries (issue 3,
"compare with the same queries run against public-inbox").

Builds a public-inbox v2 inbox (``indexlevel = full``: Xapian with positions) of one list in a
scratch folder from the mbox moot imported, timing the import (public-inbox's V2Writable
indexes every message as it stores it, so that time is import + indexing), then serves it with
``public-inbox-httpd`` and the given moot data folder with ``moot serve``, both on 127.0.0.1,
and measures end to end over HTTP, as bench/search_speed.py does:

* latency of the queries bench/search_speed.py makes (the generator of bench/search_engines.py,
  same seed), drawn from the messages of that one list only; moot gets the query text with the
  list filter (``&list=``), public-inbox the same query in its own syntax (``from:x`` ->
  ``f:x``, ``after:A before:B`` -> ``d:A..B-1day``; words, ``"phrases"`` and ``prefix*`` as
  they are); both ranked by relevance (public-inbox ``&r``) with 20 hits a page (``&l=20``).
  One untimed warm-up pass of every query on both, then one timed pass in which the two servers
  take turns query by query (so background load falls on both alike): median, p95 and max per
  kind and overall;
* index size: public-inbox's Xapian shards (and its over.sqlite3 overview) against the text
  moot indexes for that list (UTF-8 bytes of subject + from name + address + body_text);
* recall of 50 quoted phrases of 4-6 words, as bench/search_speed.py counts it (the source
  message, by Message-ID, in the first 10 hits).

    python bench/public_inbox_compare.py --data DIR [--list alsa-devel@alsa-project.org]
        [--mbox ../shared/data/alsa-devel-25k.mbox.gz] [--inbox DIR] [--keep]
        [--queries 200] [--recall 50] [--seed 3]

Needs the Debian package ``public-inbox`` (it brings Search::Xapian); this script installs
nothing.  --data is a moot data folder in which the list has been imported (bench/search_speed.py
--keep makes one).  --inbox reuses an inbox an earlier run kept (skips the import).  Not a test:
pytest does not collect it.  Run it when the machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import html
import json
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from common import REPO, child_env, moot_cmd, timed_get
from search_engines import (
    Q,
    haystacks,
    load_docs,
    make_queries,
    make_recall,
    pct,
    recall_truth,
    text_bytes,
)
from search_speed import du, fmt_load, free_port, message_ids

TOOLS = ["public-inbox-init", "public-inbox-httpd", "public-inbox-index", "perl", "git"]

# Reads an mboxrd on stdin into the inbox named by $ARGV[0] through public-inbox's own writer
# (what its scripts/import_vger_from_mbox does); V2Writable indexes each message as it adds it.
IMPORT_PL = r"""
use strict; use v5.10.1;
use PublicInbox::Config; use PublicInbox::InboxWritable; use PublicInbox::MboxReader;
my $cfg = PublicInbox::Config->new;
my $ibx = $cfg->lookup_name($ARGV[0]) or die "no inbox $ARGV[0] in $ENV{PI_CONFIG}\n";
$ibx = PublicInbox::InboxWritable->new($ibx);
my $im = $ibx->importer(1);
my ($n, $skipped) = (0, 0);
PublicInbox::MboxReader->mboxrd(\*STDIN, sub { $im->add($_[0]) ? $n++ : $skipped++ });
$im->done;
say "imported $n skipped $skipped";
"""


# --------------------------------------------------------------------------- public-inbox

def check_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing:
        perl = subprocess.run(["perl", "-MPublicInbox::V2Writable", "-MPublicInbox::Search",
                               "-e", "exit(PublicInbox::Search::load_xapian() ? 0 : 1)"],
                              capture_output=True, text=True)
        if perl.returncode != 0:
            missing.append("Perl modules PublicInbox::* with Search::Xapian or Xapian"
                           f" ({perl.stderr.strip() or 'load_xapian() failed'})")
    if missing:
        sys.exit("public-inbox is missing (" + ", ".join(missing) + "): install it first, e.g."
                 " `apt-get install public-inbox` on Debian; this script installs nothing")
    ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "public-inbox"]
                         if shutil.which("dpkg-query") else ["true"],
                         capture_output=True, text=True)
    xap = subprocess.run(["perl", "-MSearch::Xapian", "-e", "print Search::Xapian::version_string"],
                         capture_output=True, text=True)
    print(f"public-inbox {ver.stdout.strip() or '(version unknown)'}, Xapian"
          f" {xap.stdout.strip() or '(Search::Xapian not loadable; Xapian.pm?)'}", flush=True)


def pi_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PI_CONFIG"] = str(work / "pi-config")
    env["HOME"] = str(work)  # no ~/.public-inbox of the user's
    env.pop("PI_DIR", None)
    return env


def write_config(work: Path, name: str, inbox: Path, address: str) -> None:
    """The config of a kept inbox reused with --inbox (public-inbox-init writes it otherwise)."""
    (work / "pi-config").write_text(
        f'[publicinbox "{name}"]\n\taddress = {address}\n\turl = http://127.0.0.1/{name}\n'
        f"\tinboxdir = {inbox}\n\tindexlevel = full\n")


def build_inbox(work: Path, name: str, inbox: Path, address: str, mbox: Path,
                timeout: float) -> float:
    """Creates and fills the inbox; returns the wall seconds of the import (+ indexing)."""
    env = pi_env(work)
    subprocess.run(["public-inbox-init", "-V2", "-L", "full", name, str(inbox),
                    f"http://127.0.0.1/{name}", address], check=True, env=env)
    started = time.perf_counter()
    out_path, err_path = work / "import.out", work / "import.err"
    # output to files, not pipes: perl's warnings cannot fill a pipe while we feed it
    with out_path.open("wb") as out, err_path.open("wb") as errf, subprocess.Popen(
            ["perl", "-e", IMPORT_PL, name], stdin=subprocess.PIPE, stdout=out, stderr=errf,
            env=env) as proc:
        assert proc.stdin is not None
        try:
            opener = gzip.open if mbox.suffix == ".gz" else open
            with opener(mbox, "rb") as src:
                while chunk := src.read(1 << 20):
                    proc.stdin.write(chunk)
                    if time.perf_counter() - started > timeout:
                        raise subprocess.TimeoutExpired(proc.args, timeout)
            proc.stdin.close()
            proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - started)))
        except (subprocess.TimeoutExpired, BrokenPipeError):
            proc.kill()
            proc.wait()
            sys.exit(f"public-inbox import did not finish in {timeout:.0f} s (or died):\n"
                     f"{err_path.read_text(errors='replace')[-2000:]}")
    wall = time.perf_counter() - started
    err = err_path.read_bytes()
    if proc.returncode != 0:
        sys.exit(f"public-inbox import failed ({proc.returncode}):\n"
                 f"{err.decode(errors='replace')[-2000:]}")
    out = out_path.read_bytes()
    warnings = [w for w in err.decode(errors="replace").splitlines() if w.strip()]
    print(f"public-inbox import + Xapian indexing of {mbox.name}: {out.decode().strip()}"
          f" in {wall:.1f} s wall ({len(warnings)} lines on stderr"
          + (f", e.g. {warnings[0][:150]!r}" if warnings else "") + ")", flush=True)
    # public-inbox-index on an indexed inbox only checks it is up to date: say so
    started = time.perf_counter()
    idx = subprocess.run(["public-inbox-index", str(inbox)], env=env, capture_output=True,
                         text=True, timeout=timeout)
    print(f"public-inbox-index afterwards (nothing left to index): exit {idx.returncode}"
          f" in {time.perf_counter() - started:.1f} s", flush=True)
    return wall


def compact(work: Path, inbox: Path, timeout: float) -> None:
    """public-inbox-compact (xapian-compact of each shard), as its docs advise after a first
    import; the searches then run on the compacted index."""
    before = inbox_sizes(inbox)["xapian"]
    started = time.perf_counter()
    out = subprocess.run(["public-inbox-compact", str(inbox)], env=pi_env(work),
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        sys.exit(f"public-inbox-compact failed ({out.returncode}):\n{out.stderr[-2000:]}")
    after = inbox_sizes(inbox)["xapian"]
    print(f"public-inbox-compact: Xapian {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB in"
          f" {time.perf_counter() - started:.1f} s", flush=True)


def moot_import(work: Path, address: str, mbox: Path) -> tuple[float, int, int]:
    """Imports the mbox alone into a new moot data folder: (wall s, index bytes, text bytes)."""
    data = work / "moot-data"
    env = child_env()
    subprocess.run(moot_cmd(data, "init"), check=True, env=env, capture_output=True)
    started = time.perf_counter()
    out = subprocess.run(moot_cmd(data, "import", address, str(mbox), "--json"), env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"moot import failed ({out.returncode}):\n{out.stderr[-2000:]}")
    doc = json.loads(out.stdout)
    size = du(data / "index")[0]
    tbytes = text_bytes(load_docs(data))
    print(f"moot import + indexing of {mbox.name} alone: {doc['imported']:,} messages"
          f" ({doc['duplicates']:,} duplicates, {doc['rejected']} rejected) in {wall:.1f} s wall;"
          f" index {size / 1e6:.1f} MB = {size / tbytes:.2f}x the {tbytes / 1e6:.1f} MB of text",
          flush=True)
    shutil.rmtree(data, ignore_errors=True)
    return wall, size, tbytes


def inbox_sizes(inbox: Path) -> dict[str, int]:
    """Apparent bytes of the Xapian shards, the overview database, the git storage, in all."""
    xap = sorted(inbox.glob("xap*"))
    if not xap:
        sys.exit(f"{inbox} has no xap* folder: not a v2 inbox indexed with Xapian")
    shards = [p for p in xap[-1].iterdir() if p.is_dir() and p.name.isdigit()]
    over = xap[-1] / "over.sqlite3"
    return {
        "xapian": sum(du(p)[0] for p in shards),
        "shards": len(shards),
        "over": over.stat().st_size if over.exists() else 0,
        "git": du(inbox / "git")[0] if (inbox / "git").exists() else 0,
        "all": du(inbox)[0],
    }


def pi_query(q: Q) -> str:
    """The query in public-inbox's syntax (Xapian query parser, AND by default)."""
    parts = list(q.words)
    if q.phrase:
        parts.append('"' + " ".join(q.phrase) + '"')
    if q.prefix:
        parts.append(q.prefix + "*")
    if q.from_:
        parts.append("f:" + q.from_)
    if q.after or q.before:
        # moot: after inclusive, before exclusive; public-inbox d:A..B holds both ends
        lo = q.after.strftime("%Y%m%d") if q.after else ""
        hi = (q.before - dt.timedelta(days=1)).strftime("%Y%m%d") if q.before else ""
        parts.append(f"d:{lo}..{hi}")
    return " ".join(parts)


RESULTS = re.compile(r"Results \d+-\d+ of (~?)([0-9]+)")
HIT = re.compile(r'(?:^|<pre>) *\d+\. <b><a\nhref="([^"]+)/">', re.M)


def pi_search(base: str, name: str, q: str, limit: int = 20) -> tuple[float, int, int, list[str]]:
    """(ms, HTTP status, hits (Xapian's estimate), Message-IDs of this page); public-inbox
    answers 404 when nothing matches."""
    url = f"{base}/{name}/?{urllib.parse.urlencode({'q': q, 'l': str(limit), 'r': '1'})}"
    ms, status, body = timed_get(url)
    text = body.decode(errors="replace")
    m = RESULTS.search(text)
    total = int(m.group(2)) if m else 0
    mids = [urllib.parse.unquote(html.unescape(h)) for h in HIT.findall(text)]
    if status == 200 and not m:
        total = len(mids)
    return ms, status, total, mids


def moot_search(base: str, q: str, address: str, limit: int = 20) -> tuple[float, int, int,
                                                                        list[str]]:
    url = (f"{base}/api/v1/search?"
           f"{urllib.parse.urlencode({'q': q, 'list': address, 'limit': str(limit)})}")
    ms, status, body = timed_get(url)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {}
    return ms, status, int(doc.get("total", 0)), [h["message_id"] for h in doc.get("hits", [])]


# --------------------------------------------------------------------------- servers

def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, what: str,
              timeout: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not answer {url} in {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Ends a server this script started, and its workers (its own process group)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# --------------------------------------------------------------------------- reporting

def stats(times: list[float]) -> tuple[float, float, float]:
    return statistics.median(times), pct(times, 95), max(times)


def latency(moot_base: str, pi_base: str, name: str, address: str,
            queries: list[Q]) -> dict[str, tuple[float, float, float]]:
    pairs = [(q.text(), pi_query(q)) for q in queries]
    for mt, pt in pairs:  # warm-up: every query once on both, untimed
        moot_search(moot_base, mt, address)
        pi_search(pi_base, name, pt)
    print(f"warm-up done; load average before the timed pass {fmt_load()}", flush=True)
    rows = []
    for i, (q, (mt, pt)) in enumerate(zip(queries, pairs, strict=True)):
        # take turns, first one then the other, so that neither always runs first
        if i % 2:
            p = pi_search(pi_base, name, pt)
            m = moot_search(moot_base, mt, address)
        else:
            m = moot_search(moot_base, mt, address)
            p = pi_search(pi_base, name, pt)
        rows.append((q.kind, mt, pt, m, p))
    kinds = list(dict.fromkeys(q.kind for q in queries))
    print(f"\n{'':<9} {'':>4} {'moot (ms)':^26}   {'public-inbox (ms)':^26}"
          f"   {'median hits':^15} {'no hits':^11}")
    print(f"{'kind':<9} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}   {'median':>8} {'p95':>8}"
          f" {'max':>8}   {'moot':>7} {'p-i':>7} {'moot':>5} {'p-i':>5}")
    overall = {}
    for kind in [*kinds, "overall"]:
        rs = [r for r in rows if kind in (r[0], "overall")]
        ms = stats([r[3][0] for r in rs])
        ps = stats([r[4][0] for r in rs])
        mh = statistics.median(r[3][2] for r in rs)
        ph = statistics.median(r[4][2] for r in rs)
        mz = sum(1 for r in rs if r[3][2] == 0)
        pz = sum(1 for r in rs if r[4][2] == 0)
        print(f"{kind:<9} {len(rs):>4} {ms[0]:>8.2f} {ms[1]:>8.2f} {ms[2]:>8.2f}   {ps[0]:>8.2f}"
              f" {ps[1]:>8.2f} {ps[2]:>8.2f}   {mh:>7,.0f} {ph:>7,.0f} {mz:>5} {pz:>5}")
        overall[kind] = (ms, ps)
    for label, idx in (("moot", 3), ("public-inbox", 4)):
        print(f"\nslowest 5 on {label}:")
        for r in sorted(rows, key=lambda r: -r[idx][0])[:5]:
            print(f"  {r[idx][0]:8.2f} ms  {r[0]:<8} {r[idx][2]:>7,} hits  "
                  f"{r[1] if idx == 3 else r[2]}")
    bad = [(r[1], r[3][1], r[2], r[4][1]) for r in rows
           if r[3][1] != 200 or r[4][1] not in (200, 404)]
    if bad:
        print(f"\n{len(bad)} queries answered an HTTP error on one side, e.g.:")
        for mt, ms_, pt, ps_ in bad[:5]:
            print(f"  moot {ms_} for {mt!r}; public-inbox {ps_} for {pt!r}")
    # how far the hit counts differ (different tokenisers, stemmers and fields indexed)
    diff = [abs(r[3][2] - r[4][2]) / max(1, r[3][2], r[4][2]) for r in rows]
    print(f"\nhit counts differ by more than 20% on {sum(d > 0.2 for d in diff)} of {len(rows)}"
          " queries (public-inbox prints Xapian's estimate; moot counts exactly)")
    return overall


def recall(moot_base: str, pi_base: str, name: str, address: str,
           items: list[tuple[int, Q]], truth: list[set[int]],
           ids: dict[int, tuple[str, str]]) -> None:
    score = {"moot": [0, 0], "public-inbox": [0, 0]}
    for (pk, q), pks in zip(items, truth, strict=True):
        mid = ids[pk][0]
        holders = {ids[p][0] for p in pks if p in ids}
        for label, top in (("moot", moot_search(moot_base, q.text(), address, 10)[3]),
                           ("public-inbox", pi_search(pi_base, name, pi_query(q), 10)[3])):
            found = mid in top
            fair = found or (len(pks) > 10 and len(top) == 10 and set(top) <= holders)
            score[label][0] += found
            score[label][1] += fair
    n = len(items)
    print(f"\nrecall of {n} quoted phrases (source message in the first 10 hits; fair also counts"
          " a phrase held by more than 10 messages whose first 10 hits all hold it):")
    for label, (hit, fair) in score.items():
        print(f"  {label:<13} {hit}/{n}, fair {fair}/{n}")


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True,
                    help="a moot data folder in which --list has been imported")
    ap.add_argument("--list", default="alsa-devel@alsa-project.org",
                    help="the list compared (default alsa-devel@alsa-project.org)")
    ap.add_argument("--mbox", type=Path,
                    default=REPO.parent / "shared" / "data" / "alsa-devel-25k.mbox.gz",
                    help="the mboxrd (gzip or plain) public-inbox imports: the one moot imported")
    ap.add_argument("--inbox", type=Path, help="reuse this public-inbox v2 inbox (skip import)")
    ap.add_argument("--keep", action="store_true", help="keep the inbox built (path printed)")
    ap.add_argument("--queries", type=int, default=200, help="timed queries (default 200)")
    ap.add_argument("--recall", type=int, default=50, help="recall phrases (default 50)")
    ap.add_argument("--seed", type=int, default=3, help="seed (default 3, as search_speed.py)")
    ap.add_argument("--no-compact", action="store_true",
                    help="search the inbox as imported, without public-inbox-compact")
    ap.add_argument("--moot-import", action="store_true",
                    help="also import the mbox alone into a scratch moot data folder, for moot's"
                         " import time and index size of that list alone")
    ap.add_argument("--import-timeout", type=float, default=1800,
                    help="give up on the public-inbox import after this many s (default 1800)")
    args = ap.parse_args()

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {os.cpu_count()} processors, python {sys.version.split()[0]};"
          f" load average at start {fmt_load()}", flush=True)
    check_tools()
    if not (args.data / "moot.sqlite3").is_file():
        sys.exit(f"{args.data} holds no moot.sqlite3")
    name = args.list.split("@")[0]

    # the workload, as bench/search_speed.py makes it, from this list's messages only
    started = time.perf_counter()
    all_docs = load_docs(args.data)
    moot_text = text_bytes(all_docs)
    docs = [d for d in all_docs if d.list == args.list]
    del all_docs
    if not docs:
        sys.exit(f"no messages of {args.list} in {args.data}")
    tbytes = text_bytes(docs)
    rng = random.Random(args.seed)
    queries = make_queries(docs, rng)
    if args.queries != len(queries):  # keep the mix, as search_speed.py does
        queries = [queries[round(i * len(queries) / args.queries)]
                   for i in range(args.queries)] if args.queries < len(queries) else \
            [queries[i % len(queries)] for i in range(args.queries)]
    items = make_recall(docs, rng)[: args.recall]
    hay = haystacks(docs)
    truth = recall_truth(docs, hay, items)
    del hay
    ids = message_ids(args.data)
    print(f"{len(docs):,} messages of {args.list}; {tbytes / 1e6:.1f} MB of text; workload made"
          f" in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    print(f"{len(queries)} queries, e.g. (moot => public-inbox): "
          + " | ".join(f"{q.text()} => {pi_query(q)}" for q in queries[::40]), flush=True)
    del docs

    work = Path(tempfile.mkdtemp(prefix="moot-pi-compare-"))
    servers: list[subprocess.Popen[bytes]] = []
    pi_wall = raw = None
    moot_alone = None
    try:
        if args.inbox:
            inbox = args.inbox.resolve()
            write_config(work, name, inbox, args.list)
        else:
            inbox = work / name
            pi_wall = build_inbox(work, name, inbox, args.list, args.mbox, args.import_timeout)
            raw = inbox_sizes(inbox)["xapian"]
            if not args.no_compact:
                compact(work, inbox, args.import_timeout)
        if args.moot_import:
            moot_alone = moot_import(work, args.list, args.mbox)
        sz = inbox_sizes(inbox)
        m_app, _ = du(args.data / "index")
        print(f"\nindex size, public-inbox: Xapian {sz['xapian'] / 1e6:.1f} MB in {sz['shards']}"
              f" shard(s) = {sz['xapian'] / tbytes:.2f}x the {tbytes / 1e6:.1f} MB of text;"
              f" + over.sqlite3 {sz['over'] / 1e6:.1f} MB"
              f" = {(sz['xapian'] + sz['over']) / tbytes:.2f}x;"
              f" git storage {sz['git'] / 1e6:.1f} MB; whole inbox {sz['all'] / 1e6:.1f} MB")
        print(f"index size, moot: {m_app / 1e6:.1f} MB (tantivy, every list of --data)"
              f" = {m_app / moot_text:.2f}x the {moot_text / 1e6:.1f} MB of text it holds",
              flush=True)

        mport, pport = free_port(), free_port()
        mlog, plog = work / "moot-serve.log", work / "pi-httpd.log"
        with mlog.open("wb") as err:
            servers.append(subprocess.Popen(
                moot_cmd(args.data, "serve", "--http", f"127.0.0.1:{mport}"), env=child_env(),
                stdout=err, stderr=err, start_new_session=True))
        with plog.open("wb") as err:
            servers.append(subprocess.Popen(
                ["public-inbox-httpd", "-l", f"http://127.0.0.1:{pport}"], env=pi_env(work),
                stdout=err, stderr=err, start_new_session=True))
        moot_base, pi_base = f"http://127.0.0.1:{mport}", f"http://127.0.0.1:{pport}"
        wait_http(moot_base + "/healthz", servers[0], mlog, "moot serve")
        wait_http(f"{pi_base}/{name}/", servers[1], plog, "public-inbox-httpd")
        print("both servers answer", flush=True)

        overall = latency(moot_base, pi_base, name, args.list, queries)
        recall(moot_base, pi_base, name, args.list, items, truth, ids)
        (mmed, mp95, mmax), (pmed, pp95, pmax) = overall["overall"]
        print(f"\nside by side ({args.list}, {len(queries)} queries end to end over HTTP):")
        print(f"  {'':<28} {'moot':>12} {'public-inbox':>14}")
        print(f"  {'median ms':<28} {mmed:>12.2f} {pmed:>14.2f}")
        print(f"  {'p95 ms':<28} {mp95:>12.2f} {pp95:>14.2f}")
        print(f"  {'max ms':<28} {mmax:>12.2f} {pmax:>14.2f}")
        if moot_alone:
            print(f"  {'index / text, this list':<28} {moot_alone[1] / moot_alone[2]:>11.2f}x"
                  f" {sz['xapian'] / tbytes:>13.2f}x")
        else:
            print(f"  {'index / text':<28} {m_app / moot_text:>11.2f}x"
                  f" {sz['xapian'] / tbytes:>13.2f}x   (moot: both lists of --data)")
        if raw is not None and raw != sz["xapian"]:
            print(f"  {'  (p-i before compact)':<28} {'':>12} {raw / tbytes:>13.2f}x")
        if pi_wall is not None:
            print(f"  {'import + index s':<28} "
                  + (f"{moot_alone[0]:>12.1f}" if moot_alone else f"{'(not run)':>12}")
                  + f" {pi_wall:>14.1f}")
        print(f"\nload average at the end {fmt_load()}")
    finally:
        for proc in servers:
            stop(proc)
        if args.keep and not args.inbox:
            print(f"inbox kept at {work / name} (reuse with --inbox)")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
