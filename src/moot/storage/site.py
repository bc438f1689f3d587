"""Site-wide values kept in the database, so every worker on every machine agrees on them."""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from moot.storage import schema as s


def secret(conn: Connection, name: str = "signing-key") -> bytes:
    """A random 32-byte secret, made the first time it is asked for and the same ever after."""
    found = conn.execute(select(s.site.c.value).where(s.site.c.name == name)).scalar()
    if found is not None:
        return bytes(found)
    value = secrets.token_bytes(32)
    try:
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            conn.execute(insert(s.site), {"name": name, "value": value})
    except IntegrityError:  # another worker made it first
        return bytes(conn.execute(select(s.site.c.value).where(s.site.c.name == name))
                     .scalar_one())
    return value


def mark(conn: Connection, name: str) -> int:
    """How far an incremental step got (a message number; 0 before it ever ran)."""
    value = conn.execute(select(s.site.c.value).where(s.site.c.name == name)).scalar()
    return int(bytes(value).decode("ascii")) if value is not None else 0


def set_mark(conn: Connection, name: str, message_pk: int) -> None:
    """Records how far an incremental step got."""
    value = str(message_pk).encode("ascii")
    if conn.execute(update(s.site).where(s.site.c.name == name)
                    .values(value=value)).rowcount == 0:
        conn.execute(insert(s.site), {"name": name, "value": value})
