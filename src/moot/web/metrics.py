"""``GET /metrics``: Prometheus text exposition (format 0.0.4), every name prefixed ``moot_``.

Gauges read from the database at scrape time (a few COUNT queries over indexed columns), so
every worker process answers the same numbers.  Only counts: no addresses, no subjects.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from moot.storage import schema as s

router = APIRouter()


def _escape(value: str) -> str:
    r"""A label value as the exposition format writes it (backslash, quote, newline escaped).

    >>> print(_escape('say "hi"'))
    say \"hi\"
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(request: Request) -> PlainTextResponse:
    moot = request.app.state.moot
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[dict[str, str], int]]) -> None:
        lines.append(f"# HELP moot_{name} {help_text}")
        lines.append(f"# TYPE moot_{name} gauge")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"moot_{name}{{{text}}} {value}" if text else f"moot_{name} {value}")

    with moot.engine.connect() as conn:
        gauge("lists", "Lists on this site.",
              [({}, conn.execute(select(func.count()).select_from(s.mailing_lists)).scalar_one())])
        gauge("messages", "Messages in the archive.",
              [({}, conn.execute(select(func.count()).select_from(s.messages)).scalar_one())])
        gauge("members", "Subscriptions, all lists.",
              [({}, conn.execute(select(func.count()).select_from(s.members)).scalar_one())])
        gauge("held_posts", "Posts waiting for a moderator.",
              [({}, conn.execute(select(func.count()).select_from(s.held)
                                 .where(s.held.c.decision.is_(None))).scalar_one())])
        r = s.outbox_recipients.c
        retrying = (r.status == "pending") & (r.attempts > 0)
        by_status: dict[str, int] = {}
        for status, again, n, tries in conn.execute(
                select(r.status, retrying, func.count(), func.coalesce(func.sum(r.attempts), 0))
                .group_by(r.status, retrying)).all():
            key = "retrying" if again else status
            by_status[key] = by_status.get(key, 0) + int(n)
            # Attempts the relay refused for now: all of a waiting row's, all but the last of
            # a row that was sent or failed.
            by_status["deferrals"] = by_status.get("deferrals", 0) + int(tries) - (
                int(n) if status in ("sent", "failed") else 0)
        gauge("outbound_recipients", "Outbound recipients by state: pending (not tried yet), "
              "retrying (refused for now, waiting), sent, failed (for good); sent and failed "
              "ones are kept 14 days.",
              [({"status": st}, by_status.get(st, 0))
               for st in ("pending", "retrying", "sent", "failed")])
        gauge("outbound_deferrals", "Delivery attempts the relay refused for now (4xx, "
              "timeouts, dropped connections), over the recipients kept.",
              [({}, max(by_status.get("deferrals", 0), 0))])
        gauge("members_bounce_disabled", "Members whose delivery stopped because of bounces.",
              [({}, conn.execute(select(func.count()).select_from(s.members).where(
                  s.members.c.bounce_disabled_at.is_not(None))).scalar_one())])
        gauge("bounces_unread", "Bounce reports not read yet.",
              [({}, conn.execute(select(func.count()).select_from(s.bounces).where(
                  s.bounces.c.processed.is_(False))).scalar_one())])
        gauge("digest_posts_waiting", "Posts waiting for the next digest of their list.",
              [({}, conn.execute(select(func.count()).select_from(s.digest_queue))
                .scalar_one())])
        gauge("rejects", "Things received that were not mail, kept with the reason.",
              [({}, conn.execute(select(func.count()).select_from(s.rejects)).scalar_one())])
    return PlainTextResponse("\n".join(lines) + "\n",
                             media_type="text/plain; version=0.0.4; charset=utf-8")
