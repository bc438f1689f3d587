"""What the list does with the mail that comes back: reads each report, scores the members it
names, stops delivery to those who keep bouncing, tells them (each notice doubling as a
probe), starts again when a probe gets through or the member asks, and removes those who
never come back.  The rules are :mod:`moot.core.bounce_score`'s; reading a report is
:mod:`moot.core.bounce`'s; this module applies them to the database, one transaction per
report and per member, and queues the notices in the same transaction.

Which member a report is about: the address it came back to, when the copy carried the
member's own return address (VERP, ``LIST-bounces+bob=example.net@``: certain, whatever the
report says), or else the failed addresses the report names that are members of the list
(copies shared by many members).  A report that does not read as a failure changes nothing; it
is recorded as ``unrecognized`` for the owner to see.

Several servers may run this at once (PostgreSQL): a report is claimed before it is read, and
a notice is counted with a compare-and-set, so each happens once.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from moot.core import notices
from moot.core.bounce import Failure, parse_bounce, verp_recipient
from moot.core.bounce_score import BounceState, next_step, scored
from moot.core.mailinglist import ListConfig
from moot.membership import Membership, aware, new_message_id
from moot.storage import bounces as b
from moot.storage import members as m
from moot.storage import outbox
from moot.storage.lists import get_config_by_id

log = logging.getLogger("moot.bounces")

_PROBE = re.compile(r"^probe-(\d+)$")
ENABLE_FOR = timedelta(days=30)  # how long the "start again" link in a notice works


class Bounces:
    def __init__(self, engine: Engine, membership: Membership) -> None:
        self.engine = engine
        self.membership = membership

    # -- reports ------------------------------------------------------------------------------

    def process_new(self, now: datetime, limit: int = 200) -> int:
        """Read the reports that came in since the last pass; how many were read."""
        with self.engine.connect() as conn:
            todo = b.unprocessed(conn, limit)
        done = 0
        for bounce_id, list_id, token, raw in todo:
            with self.engine.begin() as conn:
                if not b.claim(conn, bounce_id):
                    continue
                config = get_config_by_id(conn, list_id)
                if config is not None:
                    self.read(conn, config, bounce_id, token, raw, now)
                done += 1
        return done

    def read(self, conn: Connection, config: ListConfig, bounce_id: int, token: str,
             raw: bytes, now: datetime) -> None:
        """One report, in the caller's transaction."""
        failures = parse_bounce(raw)
        probe = _PROBE.match(token)
        if probe:
            sent = b.event(conn, int(probe[1]))
            if sent is None or sent.list_id != config.id or sent.kind != "warning":
                return
            if any(f.permanent for f in failures):
                b.add_event(conn, config.id, sent.email, "probe-bounced", now,
                            _detail(failures), bounce_id)
            else:
                b.add_event(conn, config.id, sent.email, "unrecognized", now,
                            "a reply to a delivery notice that is not a delivery failure",
                            bounce_id)
            return
        member = verp_recipient(token) if token else None
        if member is not None:
            mine = [f for f in failures if f.recipient == member] or failures
            self._count(conn, config, member, mine, bounce_id, now)
            return
        named: dict[str, list[Failure]] = {}
        for f in failures:
            named.setdefault(f.recipient, []).append(f)
        for email, theirs in named.items():
            if email and b.state(conn, config.id, email) is not None:
                self._count(conn, config, email, theirs, bounce_id, now)
        if not named:
            b.add_event(conn, config.id, "", "unrecognized", now,
                        "mail to the bounce address that is not a delivery failure", bounce_id)

    def _count(self, conn: Connection, config: ListConfig, email: str,
               failures: list[Failure], bounce_id: int, now: datetime) -> None:
        state = b.state(conn, config.id, email)
        if state is None:
            return  # not (or no longer) a member
        if not failures:
            b.add_event(conn, config.id, email, "unrecognized", now,
                        "came back to the member's bounce address but does not read as a "
                        "delivery failure", bounce_id)
            return
        if not any(f.permanent for f in failures):
            b.add_event(conn, config.id, email, "delayed", now, _detail(failures), bounce_id)
            return
        b.add_event(conn, config.id, email, "bounce", now, _detail(failures), bounce_id)
        new, stop = scored(state, now, config.bounce_threshold)
        b.set_state(conn, config.id, email, new)
        if stop:
            b.add_event(conn, config.id, email, "disabled", now,
                        f"bounce score {new.score} reached the list's threshold "
                        f"{config.bounce_threshold}")
            self._warn(conn, config, email, new, now, reason=_detail(failures))

    # -- members whose delivery stopped -------------------------------------------------------

    def tick(self, now: datetime) -> int:
        """Notices, re-enabling and removals that are due; how many were done."""
        with self.engine.connect() as conn:
            todo = b.disabled(conn)
        done = 0
        configs: dict[int, ListConfig | None] = {}
        for list_id, email, state in todo:
            with self.engine.begin() as conn:
                if list_id not in configs:
                    configs[list_id] = get_config_by_id(conn, list_id)
                config = configs[list_id]
                if config is None:
                    continue
                returned = state.last_warning is not None and b.probe_returned(
                    conn, list_id, email, state.last_warning)
                step = next_step(state, now, warnings=config.bounce_warnings,
                                 probe_returned=returned)
                if step == "enable":
                    b.set_state(conn, list_id, email, BounceState())
                    b.add_event(conn, list_id, email, "enabled", now,
                                f"the notice of {state.last_warning:%Y-%m-%d} did not bounce")
                elif step == "warn":
                    if not self._warn(conn, config, email, state, now):
                        continue
                elif step == "remove":
                    self.membership.unsubscribe_now(conn, config, email, now)
                    b.add_event(conn, list_id, email, "removed", now,
                                f"{state.warnings_sent} notices bounced")
                else:
                    continue
                done += 1
        return done

    def _warn(self, conn: Connection, config: ListConfig, email: str, state: BounceState,
              now: datetime, *, reason: str = "") -> bool:
        if not b.count_warning(conn, config.id, email, state.warnings_sent, now):
            return False  # another server sent this one
        number = state.warnings_sent + 1
        event_id = b.add_event(conn, config.id, email, "warning", now, f"notice {number}")
        token = secrets.token_urlsafe(24)
        m.add_pending(conn, token=token, list_id=config.id, email=email, action="enable",
                      delivery="regular", now=now, expires=now + ENABLE_FOR)
        if not reason:
            last = b.history(conn, config.id, email, limit=20)
            reason = next((h["detail"] for h in last if h["kind"] == "bounce"), "")
        left = None if config.bounce_warnings == 0 else max(config.bounce_warnings - number, 0)
        data = notices.delivery_stopped(
            config, email, reason=notices.one_line(str(reason)), token=token,
            confirm_address=config.sub_address(f"confirm+{token}"),
            confirm_url=self.membership.urls.confirm(token), notices_left=left,
            message_id=new_message_id(config), date=aware(now))
        # Its own return address: if it bounces, the report names this notice.
        outbox.enqueue(conn, list_id=config.id, kind="notice",
                       mail_from=config.sub_address(f"bounces+probe-{event_id}"), data=data,
                       recipients=[email], now=now)
        return True


def _detail(failures: list[Failure]) -> str:
    f = next((f for f in failures if f.permanent), failures[0])
    return " ".join(x for x in (f.status, f.diagnostic) if x) or f.action
