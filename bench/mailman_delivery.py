"""GNU Mailman 3.3.10's delivery speed, measured the way bench/delivery_speed.py measures moot's.

Why: issue 5 quotes a figure for Mailman's core ("1,379 recipients/s with its defaults, 2,715
at best tuning, 3.5 s from injection to the last recipient").  This script measures that on
this machine, against the same SMTP sink (bench/sink.py) and with the same post, so the two
figures can be put side by side.  It drives Mailman only as an outside program: its own
``mailman`` command, its REST API and its LMTP server.  No Mailman code is imported here, and
Mailman is never installed into the project's environment.

How:

1. Once, a virtualenv of its own (--venv, kept between invocations) with ``pip install
   mailman==3.3.10``.
2. Once per invocation, a template Mailman folder: ``mailman create`` the list and
   ``mailman addmembers --no-welcome-msg`` --members members at the sink's member domain (about
   two minutes for 10,000; not timed).
3. Each run, a fresh scratch folder holding a copy of the template: a mailman.cfg (SQLite,
   the null MTA for incoming mail so no Postfix maps are needed, LMTP and REST on free ports,
   the sink as the outgoing relay, --tuned settings if asked), ``mailman start``, wait until
   the REST API, the LMTP server and the in/pipeline/out runners are up, set the list through
   REST (members and non-members are accepted without moderation; ``personalize`` none, or
   individual with VERP under --personalize).  Then --posts posts go in over LMTP on one
   connection, and the clock runs from the connection until the sink has counted every
   member's copy of every post.  ``mailman stop``, and any process left behind that names this
   run's config file is ended.

--tuned (Mailman's own schema.cfg has the knobs): ``[mta] max_recipients: 0`` (one SMTP
transaction per post and domain instead of one per 10 recipients), runners poll their queues
every 0.1 s instead of 1 s, two pipeline and two outgoing runner instances.  ``[mta]
max_delivery_threads`` is in 3.3.10's schema.cfg but no code reads it, so it is not set.

Reported, median over --runs: seconds from injection to the last recipient, recipients per
second over that time, SMTP transactions the sink saw.  The load average is printed: the
machine has 2 cores and Mailman runs a dozen processes.

    python bench/mailman_delivery.py [--members 10000] [--posts 1] [--tuned] [--personalize]
        [--runs 3] [--json] [--set SECTION.KEY=VALUE ...] [--venv PATH] [--keep]
    python bench/mailman_delivery.py --members 1000 --posts 100 --tuned

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from common import free_port
from delivery_speed import LIST, post
from sink import MEMBER_DOMAIN, Sink

MAILMAN = "mailman==3.3.10"
VERSION = "GNU Mailman 3.3.10"
AUTHOR = "author@elsewhere.moot-bench.example"
LIST_ID = LIST.replace("@", ".")
REST_AUTH = "Basic " + base64.b64encode(b"restadmin:restpass").decode()

# Settings for --tuned, as (section, key, value).  All come from Mailman's schema.cfg.
TUNED = (
    ("mta", "max_recipients", "0"),
    ("runner.master", "sleep_time", "0.1s"),
    ("runner.pipeline", "instances", "2"),
    ("runner.out", "instances", "2"),
)


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- the virtualenv ---------------------------------------------------------------------------

def ensure_venv(venv: Path) -> Path:
    """The ``mailman`` program of a virtualenv holding Mailman 3.3.10, made if need be."""
    program = venv / "bin" / "mailman"
    marker = venv / ".moot-bench-installed"
    if marker.exists() and program.exists():
        return program
    log(f"making a virtualenv for {MAILMAN} at {venv} (once; kept for later runs)")
    shutil.rmtree(venv, ignore_errors=True)
    steps = ([sys.executable, "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", MAILMAN])
    for step in steps:
        log("  $", " ".join(step))
        out = subprocess.run(step, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{' '.join(step)} failed ({out.returncode}):\n{out.stderr[-3000:]}\n"
                     f"This benchmark needs Python's venv module (Debian: apt-get install "
                     f"python3-venv) and pip access to {MAILMAN} and its dependencies "
                     f"(aiosmtpd, falcon, gunicorn, SQLAlchemy, alembic, zope.component, "
                     f"lazr.config, flufl.*).  Install them into {venv} by hand, or point "
                     f"--venv at a virtualenv that has them, then run again.")
    version = subprocess.run([str(program), "--version"], capture_output=True, text=True)
    if VERSION not in version.stdout:
        sys.exit(f"{program} --version said {version.stdout!r}{version.stderr!r}, "
                 f"not {VERSION}; remove {venv} and run again")
    marker.write_text(version.stdout)
    log(f"  installed: {version.stdout.strip()}")
    return program


# -- Mailman's configuration and processes ----------------------------------------------------

def config_text(var: Path, sink: int, lmtp: int, rest: int, settings: list[tuple[str, str, str]]
                ) -> str:
    sections: dict[str, list[str]] = {
        "mailman": ["layout: bench", "site_owner: owner@lists.moot-bench.example"],
        "paths.bench": [f"var_dir: {var}"],
        "database": ["class: mailman.database.sqlite.SQLiteDatabase",
                     f"url: sqlite:///{var}/data/mailman.db"],
        "mta": ["incoming: mailman.mta.null.NullMTA", "smtp_host: 127.0.0.1",
                f"smtp_port: {sink}", "lmtp_host: 127.0.0.1", f"lmtp_port: {lmtp}"],
        "webservice": ["hostname: 127.0.0.1", f"port: {rest}"],
    }
    for section, key, value in settings:
        sections.setdefault(section, []).append(f"{key}: {value}")
    return "".join(f"[{name}]\n" + "".join(line + "\n" for line in lines) + "\n"
                   for name, lines in sections.items())


class Mailman:
    """One Mailman installation in a folder: its config file and its ``mailman`` command."""

    def __init__(self, program: Path, folder: Path) -> None:
        self.program, self.folder = program, folder
        self.cfg, self.var = folder / "mailman.cfg", folder / "var"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MAILMAN_CONFIG_FILE")}

    def write_config(self, sink: int, lmtp: int, rest: int,
                     settings: list[tuple[str, str, str]]) -> None:
        self.lmtp_port, self.rest_port = lmtp, rest
        self.cfg.write_text(config_text(self.var, sink, lmtp, rest, settings))

    def run(self, *args: str, stdin: str | None = None, timeout: float = 600) -> str:
        """A ``mailman`` command; its output goes through a file, as ``mailman start`` leaves
        a master process behind that would hold a pipe open."""
        cmd = [str(self.program), "--run-as-root", "-C", str(self.cfg), *args]
        with tempfile.TemporaryFile("w+") as output:
            code = subprocess.run(cmd, input=stdin, stdout=output, stderr=subprocess.STDOUT,
                                  text=True, env=self.env, timeout=timeout).returncode
            output.seek(0)
            text = output.read()
        if code != 0:
            sys.exit(f"mailman {' '.join(args)} failed ({code}):\n{text[-3000:]}")
        return text

    def start(self, runners: dict[str, int], timeout: float = 120) -> None:
        """``mailman start`` and wait until REST, LMTP and the given runners are up."""
        self.run("start", "--force", timeout=timeout)
        until = time.monotonic() + timeout
        mailman_log = self.var / "logs" / "mailman.log"
        while time.monotonic() < until:
            text = mailman_log.read_text(errors="replace") if mailman_log.exists() else ""
            started = re.findall(r"\(\d+\) (\w+) runner started\.", text)
            if (all(started.count(name) >= count for name, count in runners.items())
                    and self.rest_ready() and port_open(self.lmtp_port)):
                return
            time.sleep(0.2)
        sys.exit(f"Mailman did not come up within {timeout:.0f} s; see {mailman_log}")

    def rest(self, method: str, path: str, fields: dict[str, str] | None = None) -> bytes:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.rest_port}/3.1/{path}", data=data,
                                     method=method, headers={"Authorization": REST_AUTH})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    def rest_ready(self) -> bool:
        try:
            return b"3.3.10" in self.rest("GET", "system/versions")
        except (OSError, urllib.error.URLError):
            return False

    def processes(self) -> list[int]:
        """Ids of running processes whose command line names this folder's config file."""
        needle = str(self.cfg).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    pass
        return found

    def stop(self) -> None:
        """``mailman stop``, then end whatever of this installation is still running."""
        if self.cfg.exists():
            subprocess.run([str(self.program), "--run-as-root", "-C", str(self.cfg), "stop"],
                           capture_output=True, env=self.env, timeout=60)
        until = time.monotonic() + 20
        while self.processes() and time.monotonic() < until:
            time.sleep(0.2)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            stray = self.processes()
            if not stray:
                return
            log(f"ending {len(stray)} Mailman process(es) left running: {stray}")
            for pid in stray:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# -- the benchmark ----------------------------------------------------------------------------

def make_template(program: Path, folder: Path, members: int) -> None:
    """A Mailman var folder with the list and its members, copied for every run."""
    mm = Mailman(program, folder)
    mm.write_config(0, free_port(), free_port(), [])  # nothing is started here
    mm.run("create", "-N", "--quiet", LIST)  # -N: no notice to an owner
    addresses = "".join(f"member{i:05d}@{MEMBER_DOMAIN}\n" for i in range(1, members + 1))
    started = time.monotonic()
    mm.run("addmembers", "--no-welcome-msg", "-", LIST, stdin=addresses, timeout=3600)
    log(f"subscribed {members} members with `mailman addmembers` in "
        f"{time.monotonic() - started:.0f} s (not timed)")
    for queue in (mm.var / "queue").glob("*/*"):  # nothing should be queued; make sure
        queue.unlink()


def settings_for(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    settings = list(TUNED) if args.tuned else []
    if args.personalize:
        settings.append(("mta", "verp_personalized_deliveries", "yes"))
    for item in args.set:
        key, eq, value = item.partition("=")
        section, _, name = key.rpartition(".")
        if not (section and name and eq):
            sys.exit(f"--set wants SECTION.KEY=VALUE, not {item!r}")
        settings.append((section, name, value))
    last = {(section, key): value for section, key, value in settings}  # --set wins
    return [(section, key, value) for (section, key), value in last.items()]


def one_run(args: argparse.Namespace, program: Path, template: Path) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="moot-mailman-bench-"))
    sink = Sink()
    mm = Mailman(program, scratch)
    finished = False
    try:
        shutil.copytree(template / "var", mm.var)
        shutil.rmtree(mm.var / "logs", ignore_errors=True)
        lmtp = free_port()
        rest = free_port()
        while rest in (lmtp, sink.port):
            rest = free_port()
        settings = settings_for(args)
        mm.write_config(sink.port, lmtp, rest, settings)
        instances = {f"runner.{name}": 1 for name in ("in", "pipeline", "out", "lmtp", "rest")}
        for section, key, value in settings:
            if section in instances and key == "instances":
                instances[section] = int(value)
        mm.start({name.removeprefix("runner."): n for name, n in instances.items()})
        mm.rest("PATCH", f"lists/{LIST_ID}/config", {
            "default_member_action": "accept", "default_nonmember_action": "accept",
            "send_welcome_message": "false",
            "personalize": "individual" if args.personalize else "none"})
        time.sleep(1.0)  # as delivery_speed.py: the runners settle with empty queues
        want = args.members * args.posts
        started = time.monotonic()
        with smtplib.LMTP("127.0.0.1", lmtp) as client:
            for n in range(args.posts):
                client.sendmail(AUTHOR, [LIST], post(n))
        accepted = time.monotonic() - started
        if not sink.wait_for(want, args.timeout):
            sys.exit(f"only {sink.member_copies.value} of {want} copies arrived in "
                     f"{args.timeout} s; see {mm.var / 'logs'}")
        seconds = sink.last.value - started
        time.sleep(0.5)  # anything else Mailman sends (it should send nothing else)
        finished = True
        return {"seconds": seconds, "recipients_per_s": want / seconds,
                "accepted_s": accepted, "transactions": float(sink.transactions.value),
                "other_copies": float(sink.other_copies.value)}
    finally:
        mm.stop()
        sink.close()
        if args.keep or not finished:
            log(f"kept {scratch} (Mailman's logs are in var/logs)")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--posts", type=int, default=1)
    ap.add_argument("--tuned", action="store_true",
                    help="the fastest settings without personalisation (see the docstring)")
    ap.add_argument("--personalize", action="store_true",
                    help="personalize=individual and VERP, one SMTP transaction per member")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="one more mailman.cfg setting, e.g. mta.max_recipients=500")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--venv", type=Path, default=Path("/tmp/moot-bench-mailman-venv"))
    ap.add_argument("--keep", action="store_true", help="keep each run's scratch folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    program = ensure_venv(args.venv)
    settings = settings_for(args)
    log(f"load average {os.getloadavg()[0]:.2f}; {VERSION}: {args.posts} post(s) to "
        f"{args.members} members, {'tuned' if args.tuned else 'default'} settings, "
        f"personalize={'individual' if args.personalize else 'none'}")
    for section, key, value in settings:
        log(f"  [{section}] {key}: {value}")
    template = Path(tempfile.mkdtemp(prefix="moot-mailman-template-"))
    results = []
    try:
        make_template(program, template, args.members)
        for run in range(1, args.runs + 1):
            r = one_run(args, program, template)
            log(f"run {run}: {r['seconds']:.2f} s, {r['recipients_per_s']:,.0f} recipients/s, "
                f"{r['transactions']:.0f} SMTP transactions (posts accepted in "
                f"{r['accepted_s']:.2f} s; load average {os.getloadavg()[0]:.2f})"
                + (f"; {r['other_copies']:.0f} copies to other addresses"
                   if r["other_copies"] else ""))
            results.append(r)
    finally:
        shutil.rmtree(template, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    if args.json:
        print(json.dumps({"mailman": VERSION, "args": {**vars(args), "venv": str(args.venv)},
                          "settings": [f"[{s}] {k}: {v}" for s, k, v in settings],
                          "load_average": os.getloadavg(), "median": med, "runs": results}))
    else:
        print(f"{VERSION}, median of {args.runs}: {med['seconds']:.2f} s from injection to the "
              f"last recipient, {med['recipients_per_s']:,.0f} recipients/s, "
              f"{med['transactions']:.0f} SMTP transactions "
              f"({'tuned' if args.tuned else 'default'} settings)")


if __name__ == "__main__":
    main()
