"""Moderation beyond the single decision: closing a hold with its record in the audit log, the
signed addresses and links that let people act on a hold without an account, held posts
nobody decided on in time, and the summary moderators get when too many posts were held to
tell them of each.

The posting pipeline (:class:`moot.inbound.service.Inbound`) holds posts and carries out
decisions (``Inbound.moderate``: delivering an approved post is its job); this module is what
both it and the server's housekeeper share.  The housekeeper calls :func:`expire_held` and
:func:`send_hold_summaries` every minute, each list in its own transaction.

What it won't do: decide who is a moderator (whoever holds a token may act on that one hold;
the CLI and the REST API check their own credentials), tell an author that their post
expired, or send anything itself (notices go to the outbound queue).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, Row
from sqlalchemy.engine import Connection

from moot.core import notices
from moot.core.errors import AlreadyDecided
from moot.core.mailinglist import ListConfig
from moot.core.moderation import (
    DECISIONS,
    NOTICE_WINDOW,
    hold_key,
    hold_token,
    summary_due,
    told_one_by_one,
)
from moot.membership import Membership, aware, new_message_id
from moot.storage import audit, held
from moot.storage import members as m
from moot.storage.lists import get_config_by_id

log = logging.getLogger("moot.moderation")

SUMMARY_LINES = 20  # holds listed one by one in a summary; the rest are counted


@dataclass(frozen=True)
class HoldLinks:
    """Where to act on one hold: ``LIST-confirm+TOKEN@`` addresses, and the web page."""

    approve: str
    reject: str
    discard: str
    withdraw: str
    page: str


def hold_links(secret: bytes, base_url: str, config: ListConfig, hold_id: int,
               key: str) -> HoldLinks:
    """The signed addresses and page of a hold (``key``: :func:`moot.core.moderation.hold_key`)."""
    def token(action: str) -> str:
        return hold_token(secret, config.address, hold_id, action, key)

    def address(action: str) -> str:
        return config.sub_address(f"confirm+{token(action)}")

    return HoldLinks(approve=address("approve"), reject=address("reject"),
                     discard=address("discard"), withdraw=address("withdraw"),
                     page=moderate_url(base_url, config, hold_id, token("moderate")))


def moderate_url(base_url: str, config: ListConfig, hold_id: int, token: str) -> str:
    return f"{base_url}/l/{quote(config.address, safe='@')}/moderate/{hold_id}/{token}"


def row_key(row: Row[Any]) -> str:
    """The hold key of a ``held`` row."""
    return hold_key(row.message_id, row.received_at)


def target(row: Row[Any]) -> str:
    """How the audit log names a hold."""
    return f"hold {row.id} <{row.message_id}>"


def close(conn: Connection, config: ListConfig, row: Row[Any], decision: str, *, by: str,
          reason: str, now: datetime) -> None:
    """Record a decision that ends a hold, once, with its line in the audit log; raises
    :class:`AlreadyDecided` when someone decided first."""
    if decision not in DECISIONS or decision == "defer":
        raise ValueError(f"{decision!r} does not end a hold")
    if row.decision is not None or not held.decide(conn, row.id, decision=decision, by=by,
                                                   reason=reason, now=now):
        raise AlreadyDecided(row.id, row.decision or "just now")
    audit.record(conn, config.id, by, f"moderate:{decision}", target(row), reason, now)


def expire_held(engine: Engine, now: datetime) -> int:
    """Discard the posts held longer than their list's ``held_expire_days`` (0: never) with
    nobody deciding; each is recorded (actor ``system``), and nobody is told.  How many."""
    with engine.connect() as conn:
        list_ids = held.lists_waiting(conn)
    done = 0
    for list_id in list_ids:
        with engine.begin() as conn:
            config = get_config_by_id(conn, list_id)
            if config is None or config.held_expire_days <= 0:
                continue
            days = config.held_expire_days
            reason = f"nobody decided within {days} day{'s' if days != 1 else ''}"
            for row in held.waiting_before(conn, list_id, now - timedelta(days=days)):
                try:
                    close(conn, config, row, "expire", by="system", reason=reason, now=now)
                except AlreadyDecided:
                    continue
                done += 1
    return done


def send_hold_summaries(engine: Engine, membership: Membership, now: datetime) -> int:
    """Tell each list's moderators, in one message, of the held posts they were not told of
    one by one (see :mod:`moot.core.moderation`), once a window has passed since the first
    of them.  How many summaries were queued."""
    with engine.connect() as conn:
        list_ids = held.lists_waiting(conn)
    sent = 0
    for list_id in list_ids:
        with engine.begin() as conn:
            config = get_config_by_id(conn, list_id)
            if config is not None and _summarise(conn, membership, config, now):
                sent += 1
    return sent


def _summarise(conn: Connection, membership: Membership, config: ListConfig,
               now: datetime) -> bool:
    fresh = held.waiting_after(conn, config.id, held.summarised_through(conn, config.id))
    if not fresh:
        return False
    told = told_one_by_one(held.arrivals_since(
        conn, config.id, min(r.received_at for r in fresh) - NOTICE_WINDOW))
    untold = [r for r in fresh if r.id not in told]
    if not untold:
        held.set_summarised_through(conn, config.id, fresh[-1].id)
        return False
    if not summary_due(untold[0].received_at, now):
        return False
    held.set_summarised_through(conn, config.id, fresh[-1].id)
    moderators = m.moderators(conn, config.id)
    if not moderators:
        return False
    base_url = membership.urls.base_url
    shown = [(r.id, notices.one_line(r.sender) or "(unknown sender)",
              notices.one_line(r.subject),
              hold_links(membership.secret, base_url, config, r.id, row_key(r)).page)
             for r in untold[:SUMMARY_LINES]]
    waiting = len(held.waiting(conn, config.id))
    for mod in moderators:
        membership.send_notice(conn, config, mod.email, notices.held_summary(
            config, mod.email, count=len(untold), waiting=waiting, holds=shown,
            message_id=new_message_id(config), date=aware(now)), now)
    return True
