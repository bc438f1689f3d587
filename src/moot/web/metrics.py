"""``GET /metrics``: Prometheus text exposition (format 0.0.4), every name prefixed ``moot_``.

Why most numbers come from the database: ``moot serve`` runs the web server, the LMTP server
and the delivery workers in several processes (and with PostgreSQL, on several machines), so a
counter kept in one process would show only that process's share.  The gauges below are read
from the database at scrape time (a few COUNT queries over indexed columns): every process,
every replica, answers the same numbers.  Only two families are process-local: the posts the
intake pipeline of *this* process answered (``moot_posts_total``; under ``moot serve`` the LMTP
server runs in the web process, so that is all of them) and the search latency histogram
(``moot_search_seconds``), which has no meaning outside the process that searched.

Only counts: no addresses, no subjects, no list names.

Each web application has its own :class:`~prometheus_client.CollectorRegistry` (never the
library's global one), so tests that build several applications do not collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from moot.storage import schema as s

if TYPE_CHECKING:
    from moot.app import Moot

router = APIRouter()

OUTBOUND_STATES = ("pending", "retrying", "sent", "failed")


class DatabaseCollector(Collector):
    """Counts read from the database each time Prometheus scrapes."""

    def __init__(self, moot: Moot) -> None:
        self.moot = moot

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the names are fixed below

    def collect(self) -> Iterator[Metric]:
        def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"moot_{name}", help_text, value=value)

        def count(table: object, *where: object) -> int:
            query = select(func.count()).select_from(table)  # type: ignore[arg-type]
            return int(conn.execute(query.where(*where) if where else query).scalar_one())

        with self.moot.engine.connect() as conn:
            yield gauge("lists", "Lists on this site.", count(s.mailing_lists))
            yield gauge("messages", "Messages in the archive (posts accepted and archived, "
                        "and imported ones).", count(s.messages))
            yield gauge("members", "Subscriptions, all lists.", count(s.members))
            yield gauge("held_posts", "Posts waiting for a moderator.",
                        count(s.held, s.held.c.decision.is_(None)))
            decided = GaugeMetricFamily(
                "moot_held_decisions", "Posts ever held for moderation, by what became of "
                "them: waiting, approve, reject, discard.", labels=["decision"])
            by_decision = dict.fromkeys(("waiting", "approve", "reject", "discard"), 0)
            for decision, n in conn.execute(select(s.held.c.decision, func.count())
                                            .group_by(s.held.c.decision)).all():
                key = decision or "waiting"
                by_decision[key] = by_decision.get(key, 0) + int(n)
            for key, n in by_decision.items():
                decided.add_metric([key], n)
            yield decided
            yield from self._outbound(conn)
            yield gauge("members_bounce_disabled", "Members whose delivery stopped because "
                        "of bounces.", count(s.members, s.members.c.bounce_disabled_at
                                             .is_not(None)))
            yield gauge("bounces_unread", "Bounce reports not read yet.",
                        count(s.bounces, s.bounces.c.processed.is_(False)))
            yield gauge("bounce_reports", "Bounce reports received (read or not) and kept.",
                        count(s.bounces))
            yield gauge("digest_posts_waiting", "Posts waiting for the next digest of their "
                        "list.", count(s.digest_queue))
            yield gauge("rejects", "Things received that were not mail, kept with the reason.",
                        count(s.rejects))

    def _outbound(self, conn: object) -> Iterator[Metric]:
        r = s.outbox_recipients.c
        retrying = (r.status == "pending") & (r.attempts > 0)
        by_status: dict[str, int] = {}
        deferrals = 0
        for status, again, n, tries in conn.execute(  # type: ignore[attr-defined]
                select(r.status, retrying, func.count(), func.coalesce(func.sum(r.attempts), 0))
                .group_by(r.status, retrying)).all():
            key = "retrying" if again else status
            by_status[key] = by_status.get(key, 0) + int(n)
            # Attempts the relay refused for now: all of a waiting row's, all but the last of
            # a row that was sent or failed.
            deferrals += int(tries) - (int(n) if status in ("sent", "failed") else 0)
        family = GaugeMetricFamily(
            "moot_outbound_recipients", "Outbound recipients by state: pending (not tried "
            "yet), retrying (refused for now, waiting), sent (delivered), failed (bounced by "
            "the relay, for good); sent and failed ones are kept 14 days.", labels=["status"])
        for status in OUTBOUND_STATES:
            family.add_metric([status], by_status.get(status, 0))
        yield family
        yield GaugeMetricFamily("moot_outbound_queue_depth", "Outbound recipients still to "
                                "send (pending and retrying).",
                                value=by_status.get("pending", 0) + by_status.get("retrying", 0))
        yield GaugeMetricFamily("moot_outbound_deferrals", "Delivery attempts the relay "
                                "refused for now (4xx, timeouts, dropped connections), over "
                                "the recipients kept.", value=max(deferrals, 0))


class ProcessCollector(Collector):
    """What only this process knows: its intake outcomes and its search latencies.  Neither
    the intake pipeline nor the search index is opened for a scrape: a process that never
    used them shows none."""

    def __init__(self, moot: Moot) -> None:
        self.moot = moot

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        opened = vars(self.moot)  # cached properties opened so far
        if "inbound" in opened:
            yield from self.moot.inbound.outcomes.collect()
        if "search" in opened:
            yield from self.moot.search.latency.collect()


def registry_for(moot: Moot) -> CollectorRegistry:
    """A registry of its own for one application."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(moot))
    registry.register(ProcessCollector(moot))
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(request.app.state.moot)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
