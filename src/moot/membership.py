"""Joining and leaving a list, the same way by email, by the web page, the CLI and the API.

Double opt-in: a request by mail or on the web creates a pending confirmation with a random
token and sends it to the address; the subscription happens only when the token comes back
(a reply, a mail to LIST-confirm+TOKEN@, or the web page), before it expires.  The CLI and the
API may subscribe at once (``--no-confirm``): their callers are the list's administrators.

Every function takes the caller's connection: what it changes and the mail it queues are one
transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from urllib.parse import quote

from sqlalchemy.engine import Connection

from moot.core import notices
from moot.core.errors import Banned
from moot.core.mailinglist import ListConfig
from moot.core.member import DELIVERY_MODES, ROLES, Member
from moot.core.tokens import unsubscribe_token
from moot.storage import members as m
from moot.storage import outbox
from moot.storage.lists import get_config_by_id
from moot.storage.templates import text as own_text

CONFIRM_FOR = timedelta(days=3)
# A second request for the same address within this time sends no second mail: a form or a
# script cannot be used to flood someone's mailbox with confirmation requests.
RESEND_AFTER = timedelta(minutes=10)


def new_message_id(config: ListConfig) -> str:
    return make_msgid(domain=config.domain)[1:-1]


def aware(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Urls:
    """Where the web pages are (links in the mail the list sends)."""

    base_url: str

    def list_home(self, config: ListConfig) -> str:
        return f"{self.base_url}/l/{quote(config.address)}/"

    def confirm(self, token: str) -> str:
        return f"{self.base_url}/confirm/{token}"

    def unsubscribe(self, config: ListConfig, token: str) -> str:
        return f"{self.base_url}/l/{quote(config.address)}/unsubscribe/{token}"


class Membership:
    def __init__(self, urls: Urls, secret: bytes) -> None:
        self.urls = urls
        self.secret = secret

    def unsubscribe_url(self, config: ListConfig, email: str) -> str:
        return self.urls.unsubscribe(config, unsubscribe_token(self.secret, config.address, email))

    def send_notice(self, conn: Connection, config: ListConfig, to: str, data: bytes,
                    now: datetime) -> None:
        """Queue a message the list sends by itself (in the caller's transaction)."""
        outbox.enqueue(conn, list_id=config.id, kind="notice", mail_from=config.bounces_address,
                       data=data, recipients=[to], now=now)

    # -- requests that need a confirmation ------------------------------------------------

    def request_subscribe(self, conn: Connection, config: ListConfig, email: str, now: datetime,
                          *, delivery: str = "regular", by_owner: bool = False) -> str:
        """Send a confirmation request; returns what happened, for the person who asked.

        A list with ``subscriptions = closed`` takes requests only from its owners
        (``by_owner``)."""
        email = email.strip().lower()
        if config.subscriptions == "closed" and not by_owner:
            return (f"{config.address} does not take requests to join; write to "
                    f"{config.owner_address}")
        if delivery not in DELIVERY_MODES:
            delivery = "regular"
        if m.get_member(conn, config.id, email) is not None:
            return f"{email} is already subscribed to {config.address}"
        if self.banned(conn, config, email, now):
            return f"{email} may not join {config.address}; write to {config.owner_address}"
        if m.recent_pending(conn, config.id, email, "subscribe", now - RESEND_AFTER):
            return f"a confirmation request was sent to {email} a few minutes ago"
        token = secrets.token_urlsafe(24)
        m.add_pending(conn, token=token, list_id=config.id, email=email, action="subscribe",
                      delivery=delivery, now=now, expires=now + CONFIRM_FOR)
        self.send_notice(conn, config, email, notices.confirm_subscribe(
            config, email, token=token, confirm_address=config.sub_address(f"confirm+{token}"),
            confirm_url=self.urls.confirm(token), expires=aware(now + CONFIRM_FOR),
            message_id=new_message_id(config), date=aware(now),
            text=own_text(conn, config.id, "confirm_subscribe")), now)
        return f"a confirmation request was sent to {email}"

    def request_unsubscribe(self, conn: Connection, config: ListConfig, email: str,
                            now: datetime) -> str:
        email = email.strip().lower()
        if m.get_member(conn, config.id, email) is None:
            return f"{email} is not subscribed to {config.address}"
        if m.recent_pending(conn, config.id, email, "unsubscribe", now - RESEND_AFTER):
            return f"a confirmation request was sent to {email} a few minutes ago"
        token = secrets.token_urlsafe(24)
        m.add_pending(conn, token=token, list_id=config.id, email=email, action="unsubscribe",
                      delivery="regular", now=now, expires=now + CONFIRM_FOR)
        self.send_notice(conn, config, email, notices.confirm_unsubscribe(
            config, email, token=token, confirm_address=config.sub_address(f"confirm+{token}"),
            confirm_url=self.urls.confirm(token), expires=aware(now + CONFIRM_FOR),
            message_id=new_message_id(config), date=aware(now),
            text=own_text(conn, config.id, "confirm_unsubscribe")), now)
        return f"a confirmation request was sent to {email}"

    def confirm(self, conn: Connection, token: str, now: datetime
                ) -> tuple[ListConfig, str, str] | None:
        """Carry out the request a token confirms: (list, action, email), or None when the
        token is unknown, used or expired."""
        row = m.take_pending(conn, token.strip(), now)
        if row is None:
            return None
        config = get_config_by_id(conn, row.list_id)
        if config is None:
            return None
        if row.action == "subscribe":
            if self.banned(conn, config, row.email, now):
                return None  # banned since the request
            self.subscribe_now(conn, config, Member(row.email, delivery=row.delivery), now)
        elif row.action == "enable":  # delivery that bounces had stopped: on again
            from moot.core.bounce_score import BounceState
            from moot.storage import bounces

            if bounces.state(conn, config.id, row.email) is None:
                return None
            bounces.set_state(conn, config.id, row.email, BounceState())
            bounces.add_event(conn, config.id, row.email, "enabled", now, "the member asked")
        else:
            self.unsubscribe_now(conn, config, row.email, now)
        return config, row.action, row.email

    # -- at once ------------------------------------------------------------------------------

    @staticmethod
    def banned(conn: Connection, config: ListConfig, email: str, now: datetime) -> bool:
        """Whether a ban on the list or the site covers the address (it may not join)."""
        from moot.core.ban import first_match

        return first_match(m.ban_patterns(conn, config.id, now), email.lower()) is not None

    def subscribe_now(self, conn: Connection, config: ListConfig, member: Member, now: datetime,
                      *, welcome: bool = True) -> bool:
        """Subscribe at once; :class:`~moot.core.errors.Banned` for a banned address."""
        if member.role not in ROLES:
            raise ValueError(f"unknown role {member.role!r}")
        if self.banned(conn, config, member.email, now):
            raise Banned(f"{member.email} is banned from {config.address}: lift the ban first "
                         f"(`moot unban`, or `moot readmit` after an expulsion)")
        added = m.add_member(conn, config.id, member, now)
        if added and welcome:
            self.send_notice(conn, config, member.email, notices.welcome(
                config, member.email, unsubscribe_url=self.unsubscribe_url(config, member.email),
                archive_url=self.urls.list_home(config) if config.archive_policy != "none"
                else None, message_id=new_message_id(config), date=aware(now),
                text=own_text(conn, config.id, "welcome")), now)
        return added

    def welcome_many(self, conn: Connection, config: ListConfig, emails: list[str],
                     now: datetime) -> None:
        """The welcome message for each of many new members, queued in one go (members
        added from a pasted roster: :func:`moot.storage.members.add_members`)."""
        own = own_text(conn, config.id, "welcome")
        archive = self.urls.list_home(config) if config.archive_policy != "none" else None
        when = aware(now)
        outbox.enqueue_each(conn, list_id=config.id, kind="notice",
                            mail_from=config.bounces_address, now=now, messages=[
                                (email, notices.welcome(
                                    config, email,
                                    unsubscribe_url=self.unsubscribe_url(config, email),
                                    archive_url=archive, message_id=new_message_id(config),
                                    date=when, text=own))
                                for email in emails])

    def unsubscribe_now(self, conn: Connection, config: ListConfig, email: str, now: datetime,
                        *, goodbye: bool = True) -> bool:
        removed = m.remove_member(conn, config.id, email)
        if removed and goodbye:
            self.send_notice(conn, config, email.lower(), notices.goodbye(
                config, email.lower(), message_id=new_message_id(config), date=aware(now),
                text=own_text(conn, config.id, "goodbye")), now)
        return removed
