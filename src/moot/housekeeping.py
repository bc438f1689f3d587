"""The server's housekeeper: the work nobody's mail waits for, done soon and done again every
minute — reading the bounces that came in, the notices, re-enabling and removals that bounce
records call for, and the digests that are due.  It queues what it sends in the outbound
queue like everything else, and wakes the delivery workers when it did.

One thread.  Each job is its own transaction (see :mod:`moot.bouncing`, :mod:`moot.digests`),
so a failure in one leaves the others done and is tried again at the next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from moot.storage.store import now_utc

log = logging.getLogger("moot.housekeeping")

Job = Callable[..., int]  # called with the time (naive UTC); how much it did


class Housekeeper:
    def __init__(self, jobs: Sequence[tuple[str, Job]], *, every: float = 60.0,
                 gap: float = 1.0, after: Callable[[], None] | None = None) -> None:
        self.jobs = list(jobs)
        self.every = every
        self.gap = gap  # at least this long between passes, however often it is poked
        self.after = after  # called when a pass did something (wake the senders)
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="moot-housekeeping", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Something came in (a bounce, a post for a digest): look soon (any thread)."""
        self._wanted.set()

    def close(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=30)

    def run_once(self) -> int:
        done = 0
        for name, job in self.jobs:
            try:
                done += job(now_utc())
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("housekeeping: %s failed", name)
        if done and self.after is not None:
            self.after()
        return done

    def _run(self) -> None:
        while not self._stopping:
            self.run_once()
            time.sleep(self.gap)
            self._wanted.wait(self.every)
            self._wanted.clear()
