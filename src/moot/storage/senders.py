"""What a list knows about a sender beyond membership: its sender rules and, for members, how
many of their posts were accepted.

A sender rule says what to do with every post from a sender, whatever else applies: ``accept``
(a moderator's "always accept this sender": the membership and moderation rules are skipped),
``hold``, ``reject`` or ``discard``.  Patterns are :mod:`moot.core.ban`'s: an address,
``*@domain`` (``*@*.domain`` for its subdomains) or ``^regex$``.  When several rules match, the
most specific wins: an address before a domain, a domain before its subdomains, those before
a regex, and then the oldest rule.

What it won't do: apply the rules (see :mod:`moot.core.policy`) or record who changed them in
the audit log (the caller does, in the same transaction).  Every function takes an open
connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.ban import matches, validate_pattern
from moot.core.errors import BadSetting
from moot.storage import schema as s

ACTIONS = ("accept", "hold", "reject", "discard")


def specificity(pattern: str) -> int:
    """How specific a pattern is, most specific first.

    >>> [specificity(p) for p in ("jo@x.org", "*@x.org", "*@*.x.org", "^jo")]
    [0, 1, 2, 3]
    """
    if pattern.startswith("^"):
        return 3
    if pattern.startswith("*@*."):
        return 2
    if pattern.startswith("*@"):
        return 1
    return 0


def add(conn: Connection, list_id: int, pattern: str, action: str, *, by: str,
        now: datetime) -> str:
    """Set the rule for ``pattern`` (replacing the one there was); the pattern as stored.
    Raises :class:`BadSetting` for a pattern or action that cannot be."""
    if action not in ACTIONS:
        raise BadSetting(f"sender rule action {action!r}: use one of {', '.join(ACTIONS)}")
    stored = validate_pattern(pattern)
    r = s.sender_rules.c
    done = conn.execute(update(s.sender_rules).where(r.list_id == list_id, r.pattern == stored)
                        .values(action=action, by=by, at=now))
    if done.rowcount == 0:
        conn.execute(insert(s.sender_rules), {"list_id": list_id, "pattern": stored,
                                              "action": action, "by": by, "at": now})
    return stored


def remove(conn: Connection, list_id: int, pattern: str) -> bool:
    """Drop the rule for ``pattern`` (as written or as stored); False when there was none."""
    try:
        stored = validate_pattern(pattern)
    except BadSetting:
        return False
    r = s.sender_rules.c
    return conn.execute(delete(s.sender_rules).where(
        r.list_id == list_id, r.pattern == stored)).rowcount > 0


def rules(conn: Connection, list_id: int) -> list[tuple[str, str]]:
    """(pattern, action), in the order they are tried."""
    r = s.sender_rules.c
    found = [(row.pattern, row.action) for row in conn.execute(
        select(r.pattern, r.action).where(r.list_id == list_id).order_by(r.id))]
    return sorted(found, key=lambda pa: specificity(pa[0]))  # stable: oldest first within


def first_rule(ordered: Sequence[tuple[str, str]], address: str) -> str | None:
    """The action of the first rule (as :func:`rules` orders them) matching the address.

    >>> first_rule([("jo@x.org", "accept"), ("*@x.org", "discard")], "Jo@X.org")
    'accept'
    >>> first_rule([("jo@x.org", "accept")], "al@x.org") is None
    True
    """
    for pattern, action in ordered:
        if matches(pattern, address):
            return action
    return None


def rule_for(conn: Connection, list_id: int, address: str) -> str | None:
    """What the list's sender rules say about ``address``: accept, hold, reject, discard, or
    None when no rule matches."""
    return first_rule(rules(conn, list_id), address)


def listed(conn: Connection, list_id: int) -> list[dict[str, Any]]:
    r = s.sender_rules.c
    return [{"pattern": row.pattern, "action": row.action, "by": row.by,
             "at": row.at.isoformat() + "Z"}
            for row in conn.execute(select(s.sender_rules).where(r.list_id == list_id)
                                    .order_by(r.id))]


# -- members' accepted posts (new members are moderated for their first few) -----------------


def accepted_posts(conn: Connection, list_id: int, email: str) -> int:
    m = s.members.c
    found = conn.execute(select(m.accepted_posts).where(
        m.list_id == list_id, m.email == email.strip().lower())).scalar()
    return int(found or 0)


def count_accepted(conn: Connection, list_id: int, email: str) -> None:
    """One more post of theirs accepted (nothing happens for a non-member)."""
    m = s.members.c
    conn.execute(update(s.members).where(m.list_id == list_id, m.email == email.strip().lower())
                 .values(accepted_posts=m.accepted_posts + 1))


def trust(conn: Connection, list_id: int, email: str, posts: int) -> None:
    """Count at least ``posts`` accepted posts for the member, so a new member's first-posts
    moderation is over."""
    m = s.members.c
    conn.execute(update(s.members).where(m.list_id == list_id, m.email == email.strip().lower(),
                                         m.accepted_posts < posts)
                 .values(accepted_posts=posts))
