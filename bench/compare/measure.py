"""How the harness measures a child program: wall time, peak memory, disk use.

Peak RSS is the larger of two readings.  ``os.wait4`` gives the exact peak of the one process
started, but public-inbox forks a writer per Xapian shard and a git fast-import, whose memory
that figure leaves out; so the whole process group (the child is started in a session of its
own) is also sampled ten times a second and its resident sets summed.  A sample can miss a
short spike; wait4 cannot, but sees one process.  Neither is faked: both are kept.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    """One finished child program."""

    wall: float  # seconds
    rss_self: int  # bytes: wait4's ru_maxrss of the process started
    rss_tree: int  # bytes: largest sampled sum over its session
    code: int
    stdout: str
    stderr: str

    @property
    def rss(self) -> int:
        return max(self.rss_self, self.rss_tree)


def session_rss(sid: int) -> int:
    """Resident bytes summed over the processes of session ``sid``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            # the command name may hold spaces and parentheses: split after its last ')'
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) != sid:  # field 6 of stat, the session id
                continue
            with open(f"/proc/{entry.name}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        stdin: Path | None = None, timeout: float = 7200) -> Run:
    """Run ``cmd`` to the end and measure it; output goes through files (a forked helper left
    holding a pipe cannot block us)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            (stdin.open("rb") if stdin else open(os.devnull, "rb")) as inp:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=err, env=env, cwd=cwd,
                                start_new_session=True)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], session_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, 9))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_maxrss * 1024, peak[0], proc.returncode,
                   out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def du(*paths: Path) -> int:
    """Bytes on disk (allocated blocks, as ``du``) under the given files and folders."""
    total = 0
    for top in paths:
        if top.is_file():
            total += top.stat().st_blocks * 512
            continue
        for root, _dirs, files in os.walk(top):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass
    return total
