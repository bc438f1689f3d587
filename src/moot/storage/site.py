"""Site-wide values kept in the database, so every worker on every machine agrees on them."""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select
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
