"""Bans and expulsions as the owners carry them out (the CLI and the REST API both come here),
each with its record in the audit log, in the caller's transaction.

A ban stops an address, ``*@domain`` or ``^regex$`` from posting to one list, or to every list
(site-wide).  An expulsion is what an owner does to a member who has to go: unsubscribed
without the usual goodbye, banned by address with the reason, told why and where to appeal
(unless the owner says not to), and recorded.  A re-admission lifts that ban and is recorded
too; the person may then join again like anyone.

What it won't do: decide who deserves it, or delete anything from the archive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from moot.core import notices
from moot.core.address import valid_email
from moot.core.ban import validate_pattern
from moot.core.errors import MootError
from moot.core.mailinglist import ListConfig
from moot.membership import Membership, aware, new_message_id
from moot.storage import audit, bans
from moot.storage import members as m


class NotAllowed(MootError):
    """The request cannot be carried out as asked (the message says what to do instead)."""


def ban(conn: Connection, config: ListConfig | None, pattern: str, *, reason: str, by: str,
        now: datetime, days: float | None = None) -> str:
    """Ban ``pattern`` on ``config``'s list (None: site-wide); the pattern as stored."""
    stored = validate_pattern(pattern)
    expires = now + timedelta(days=days) if days else None
    list_id = config.id if config else None
    if not bans.add(conn, list_id, stored, reason=reason, by=by, now=now, expires=expires):
        raise NotAllowed(f"{stored} is already banned "
                         f"{'on ' + config.address if config else 'site-wide'}")
    audit.record(conn, list_id, by, "ban", stored,
                 reason + (f" (until {expires:%Y-%m-%d %H:%M} UTC)" if expires else ""), now)
    return stored


def unban(conn: Connection, config: ListConfig | None, pattern: str, *, by: str,
          now: datetime, reason: str = "") -> None:
    stored = validate_pattern(pattern)
    list_id = config.id if config else None
    if not bans.remove(conn, list_id, stored):
        raise NotAllowed(f"{stored} is not banned "
                         f"{'on ' + config.address if config else 'site-wide'}: see "
                         "`moot ban ls`")
    audit.record(conn, list_id, by, "unban", stored, reason, now)


def expel(conn: Connection, membership: Membership, config: ListConfig, email: str, *,
          reason: str, by: str, now: datetime, notify: bool = True,
          appeal: str | None = None) -> None:
    """Unsubscribe, ban and record; tell the member why unless ``notify`` is false."""
    email = email.strip().lower()
    if not valid_email(email):
        raise NotAllowed(f"{email!r} is not an address like someone@example.org")
    if not reason.strip():
        raise NotAllowed("an expulsion needs a reason (--reason): it is kept on record and "
                         "told to the member")
    was_member = m.get_member(conn, config.id, email) is not None
    bans.remove(conn, config.id, email)  # an older plain ban gives way to the expulsion
    bans.add(conn, config.id, email, reason=reason, by=by, now=now, expulsion=True)
    if was_member:
        membership.unsubscribe_now(conn, config, email, now, goodbye=False)
    appeal = appeal or config.owner_address
    if notify:
        membership.send_notice(conn, config, email, notices.expelled(
            config, email, reason=notices.one_line(reason, 500), appeal_address=appeal,
            message_id=new_message_id(config), date=aware(now)), now)
    audit.record(conn, config.id, by, "expel", email,
                 f"{reason} ({'was a member' if was_member else 'was not a member'}; "
                 f"{'told, appeals to ' + appeal if notify else 'not told'})", now)


def readmit(conn: Connection, config: ListConfig, email: str, *, by: str, now: datetime,
            reason: str = "") -> None:
    """Lift an expulsion: the person may join again (they are not subscribed by this)."""
    email = email.strip().lower()
    found = [b for b in bans.listed(conn, config.id) if b["pattern"] == email]
    if not found or not found[0]["expulsion"]:
        raise NotAllowed(f"{email} was not expelled from {config.address}: see `moot ban ls "
                         f"{config.address}`")
    bans.remove(conn, config.id, email)
    audit.record(conn, config.id, by, "readmit", email, reason, now)
