"""The relay the benchmarks deliver to: an aiosmtpd server in a process of its own that accepts
everything and only counts (recipients at one member domain, the rest, the time of the last).

Shared memory counters (multiprocessing.Value) let the benchmark watch it without talking SMTP.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time

from common import free_port

MEMBER_DOMAIN = "members.moot-bench.example"


def sink_main(port: int, member_copies: mp.Value, other_copies: mp.Value, last: mp.Value,
              transactions: mp.Value, ready: mp.Event, stop: mp.Event) -> None:
    """An SMTP server that counts what it is given (runs in its own process)."""
    from aiosmtpd.controller import Controller

    suffix = "@" + MEMBER_DOMAIN

    class Counting:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
            ours = sum(1 for r in envelope.rcpt_tos if r.lower().endswith(suffix))
            member_copies.value += ours  # one writer (this process's event loop): no lock
            other_copies.value += len(envelope.rcpt_tos) - ours
            transactions.value += 1
            last.value = time.monotonic()
            return "250 2.0.0 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port,
                            data_size_limit=64 * 1024 * 1024)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.member_copies = ctx.Value("q", 0, lock=False)
        self.other_copies = ctx.Value("q", 0, lock=False)
        self.transactions = ctx.Value("q", 0, lock=False)
        self.last = ctx.Value("d", 0.0, lock=False)
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(target=sink_main, daemon=True, args=(
            self.port, self.member_copies, self.other_copies, self.last, self.transactions,
            self._ready, self._stop))
        self.proc.start()
        if not self._ready.wait(30):
            sys.exit("the SMTP sink did not start")

    def wait_for(self, copies: int, timeout: float) -> bool:
        """Until the sink has ``copies`` member copies; False if the time ran out first."""
        until = time.monotonic() + timeout
        while self.member_copies.value < copies:
            if time.monotonic() > until:
                return False
            time.sleep(0.002)
        return True

    def close(self) -> None:
        self._stop.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
