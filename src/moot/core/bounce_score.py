"""When bounces stop a member's delivery, and what happens to a member whose delivery stopped.

Why: one bounce proves little (a full mailbox, a receiver's bad afternoon), and a list that
unsubscribes people on the first one loses members; a list that never stops sending to dead
addresses gets its mail refused everywhere.  So a member gets one point per day on which a
permanent failure came back; points older than a week are forgotten; at the list's
``bounce_threshold`` their delivery stops and they are told.  Each notice is also a probe: it
goes out with a return address of its own, and if it has not bounced after
:data:`PROBE_WAIT` the trouble is taken to be over and delivery starts again.  A probe that
bounces waits a week for the next notice; after ``bounce_warnings`` notices the member is
removed.

What it won't do: read bounces (:mod:`moot.core.bounce`), look anything up, or send.  Times
are naive UTC, as the storage keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

STALE_AFTER = timedelta(days=7)  # a score whose last point is older starts again from 1
WARNING_INTERVAL = timedelta(days=7)  # between two notices to a member whose delivery stopped
PROBE_WAIT = timedelta(days=3)  # a notice that has not bounced by then re-enables delivery


@dataclass(frozen=True)
class BounceState:
    """One member's bounce record, as ``members`` keeps it."""

    score: int = 0
    last_bounce: datetime | None = None
    disabled_at: datetime | None = None  # delivery stopped then; None: it goes on
    warnings_sent: int = 0
    last_warning: datetime | None = None


def scored(state: BounceState, now: datetime, threshold: int) -> tuple[BounceState, bool]:
    """The state after a permanent failure at ``now``, and whether delivery stops now.

    >>> day = datetime(2026, 11, 2, 9)
    >>> s, stop = scored(BounceState(), day, 2)
    >>> s.score, stop
    (1, False)
    >>> scored(s, day.replace(hour=17), 2)[0].score  # one point a day at most
    1
    >>> s, stop = scored(s, day + timedelta(days=1), 2)
    >>> s.score, stop, s.disabled_at == day + timedelta(days=1)
    (2, True, True)
    >>> scored(BounceState(score=4, last_bounce=day), day + timedelta(days=9), 5)[0].score
    1
    """
    last = state.last_bounce
    if last is not None and last.date() == now.date():
        return state, False
    score = 1 if last is None or now - last > STALE_AFTER else state.score + 1
    new = replace(state, score=score, last_bounce=now)
    if state.disabled_at is None and threshold > 0 and score >= threshold:
        return replace(new, disabled_at=now), True
    return new, False


def next_step(state: BounceState, now: datetime, *, warnings: int,
              probe_returned: bool) -> str | None:
    """For a member whose delivery stopped: ``"enable"`` (the last notice came through),
    ``"warn"`` (time for another notice), ``"remove"`` (enough notices bounced), or None.
    ``probe_returned``: the latest notice came back as a bounce.

    >>> stopped = datetime(2026, 11, 2)
    >>> s = BounceState(score=5, disabled_at=stopped, warnings_sent=1, last_warning=stopped)
    >>> next_step(s, stopped + timedelta(days=1), warnings=3, probe_returned=False)
    >>> next_step(s, stopped + timedelta(days=3), warnings=3, probe_returned=False)
    'enable'
    >>> next_step(s, stopped + timedelta(days=3), warnings=3, probe_returned=True)
    >>> next_step(s, stopped + timedelta(days=7), warnings=3, probe_returned=True)
    'warn'
    >>> s3 = replace(s, warnings_sent=3)
    >>> next_step(s3, stopped + timedelta(days=7), warnings=3, probe_returned=True)
    'remove'
    >>> next_step(s3, stopped + timedelta(days=7), warnings=0, probe_returned=True)
    """
    if state.disabled_at is None:
        return None
    if state.last_warning is None:
        return "warn"  # stopped, but not told yet
    waited = now - state.last_warning
    if not probe_returned and waited >= PROBE_WAIT:
        return "enable"
    if waited < WARNING_INTERVAL:
        return None
    if warnings == 0:
        return None  # told once; never removed
    return "remove" if state.warnings_sent >= warnings else "warn"


def enabled(state: BounceState) -> BounceState:
    """Delivery on again, the slate clean."""
    return BounceState()
