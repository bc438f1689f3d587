"""Lists and their settings, read as :class:`moot.core.mailinglist.ListConfig` values.

Every function takes an open connection, so that the posting pipeline can read a list's
settings and write what it decides in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.engine import Connection

from moot.core.errors import ListNotFound
from moot.core.mailinglist import SETTINGS, ListConfig, validate_setting
from moot.storage import schema as s

# Settings kept as one text column: how a tuple is joined.
_JOINED = {"content_types": ",", "suspicious_headers": "\n"}


def config_from_row(row: Row[Any]) -> ListConfig:
    values: dict[str, Any] = {}
    for name in SETTINGS:
        value = getattr(row, name)
        if name in _JOINED:
            value = tuple(v for v in (value or "").split(_JOINED[name]) if v)
        values[name] = value
    return ListConfig(address=row.address, id=row.id, **values)


def get_config(conn: Connection, address: str) -> ListConfig | None:
    row = conn.execute(select(s.mailing_lists).where(
        s.mailing_lists.c.address == address.strip().lower())).first()
    return config_from_row(row) if row else None


def get_config_by_id(conn: Connection, list_id: int) -> ListConfig | None:
    row = conn.execute(select(s.mailing_lists).where(s.mailing_lists.c.id == list_id)).first()
    return config_from_row(row) if row else None


def all_configs(conn: Connection) -> list[ListConfig]:
    return [config_from_row(r) for r in conn.execute(
        select(s.mailing_lists).order_by(s.mailing_lists.c.address))]


def list_addresses(conn: Connection) -> set[str]:
    return set(conn.execute(select(s.mailing_lists.c.address)).scalars())


def update_settings(conn: Connection, address: str, changes: dict[str, Any], *,
                    by: str = "system") -> ListConfig:
    """Validate and store changed settings, with a line in the audit log saying who changed
    what; raises BadSetting or ListNotFound."""
    values = {k: validate_setting(k, v) for k, v in changes.items()}
    stored = {k: (_JOINED[k].join(v) if k in _JOINED else v) for k, v in values.items()}
    if stored:
        done = conn.execute(update(s.mailing_lists)
                            .where(s.mailing_lists.c.address == address.strip().lower())
                            .values(**stored))
        if done.rowcount == 0:
            raise ListNotFound(address)
    config = get_config(conn, address)
    if config is None:
        raise ListNotFound(address)
    if stored:
        from moot.storage.audit import record

        record(conn, config.id, by, "settings", config.address,
               "; ".join(f"{k}={_shown(v)}" for k, v in stored.items()))
    return config


def _shown(value: Any) -> str:
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= 200 else text[:199] + "\u2026"


def delete_list(conn: Connection, address: str, *, by: str = "system") -> None:
    """Delete a list with its members, held posts and archive (the caller has confirmed)."""
    config = get_config(conn, address)
    if config is None:
        raise ListNotFound(address)
    lid = config.id
    # Children first: not every database enforces ON DELETE CASCADE (SQLite needs a pragma).
    msg_ids = select(s.messages.c.id).where(s.messages.c.list_id == lid)
    outbox_ids = select(s.outbox.c.id).where(s.outbox.c.list_id == lid)
    conn.execute(delete(s.outbox_recipients).where(s.outbox_recipients.c.outbox_id.in_(outbox_ids)))
    conn.execute(delete(s.outbox).where(s.outbox.c.list_id == lid))
    if conn.dialect.name == "postgresql":
        conn.execute(delete(s.search_docs).where(s.search_docs.c.list_id == lid))
    for table in (s.raw_messages, s.attachments):
        conn.execute(delete(table).where(table.c.message_pk.in_(msg_ids)))
    conn.execute(delete(s.messages).where(s.messages.c.list_id == lid))
    conn.execute(delete(s.bounce_events).where(s.bounce_events.c.list_id == lid))
    for table in (s.thread_ids, s.threads, s.members, s.pending, s.held, s.bans, s.bounces,
                  s.rejects, s.digest_queue, s.sender_rules):
        conn.execute(delete(table).where(table.c.list_id == lid))
    # The audit log outlives the list: its entries become site-wide, with one more saying so.
    conn.execute(update(s.audit_log).where(s.audit_log.c.list_id == lid).values(list_id=None))
    from moot.storage.audit import record

    record(conn, None, by, "delete list", config.address)
    conn.execute(delete(s.mailing_lists).where(s.mailing_lists.c.id == lid))
