"""Where imported messages stood in the files they came from (table ``import_positions``).

Why: some archive URLs name a message by its place rather than its Message-ID.  Pipermail's
``YYYY-Month/NNNNNN.html`` counts the list's articles in the order of its mbox, and its
public monthly text files list them in that same order; so a message's position in its month
file, kept at import time, is what moot.pipermail matches those numbers against.  Nothing else
can recover it later: the files are not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from moot.storage import schema as s

_CHUNK = 500
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december"
    .split(), start=1)}
_MONTH_FILE = re.compile(r"(\d{4})-([A-Za-z]+)\.txt(?:\.gz)?")


@dataclass(frozen=True)
class Placed:
    """One piece of an imported file that is a message: its file, 0-based position there and
    the digest of its bytes (which names the stored message, or the copy stored before)."""

    source: str
    position: int
    digest: bytes


def period_of(source: str) -> str | None:
    """The month a pipermail month file covers, as ``YYYY-MM``; None for other files.

    >>> period_of("2007-March.txt.gz"), period_of("alsa-devel.mbox.gz")
    ('2007-03', None)
    """
    m = _MONTH_FILE.fullmatch(source)
    if not m or m.group(2).lower() not in _MONTHS:
        return None
    return f"{m.group(1)}-{_MONTHS[m.group(2).lower()]:02d}"


def placed(source: str, digest: bytes) -> Placed | None:
    """A :class:`Placed` from an importer item's ``source`` ("PATH#N", N counting from 1 in
    the file); None for items that are not pieces of a file (maildir files, single messages).

    >>> placed("/data/r/2007-March.txt.gz#3", b"d")
    Placed(source='2007-March.txt.gz', position=2, digest=b'd')
    """
    path, hash_, n = source.rpartition("#")
    if not hash_ or not n.isdigit():
        return None
    return Placed(path.replace("\\", "/").rsplit("/", 1)[-1], int(n) - 1, digest)


def record(engine: Engine, list_id: int, items: Sequence[Placed]) -> None:
    """Keep the positions of a stored batch (repeated copies too); a position already kept
    (the same file imported again) stays as it is."""
    if not items:
        return
    with engine.begin() as conn:
        pk_of = _pks(conn, list_id, {i.digest for i in items})
        rows = [{"list_id": list_id, "source": i.source[:500], "position": i.position,
                 "period": period_of(i.source), "message_pk": pk_of[i.digest]}
                for i in items if i.digest in pk_of]
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(s.import_positions).on_conflict_do_nothing(), rows)


def _pks(conn: Connection, list_id: int, digests: Iterable[bytes]) -> dict[bytes, int]:
    wanted = sorted(digests)
    found: dict[bytes, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        q = select(s.messages.c.sha256, s.messages.c.id).where(
            s.messages.c.list_id == list_id, s.messages.c.sha256.in_(wanted[i:i + _CHUNK]))
        found.update({bytes(r.sha256): int(r.id) for r in conn.execute(q)})
    return found


def month(conn: Connection, list_id: int, period: str) -> dict[int, int]:
    """A month's positions and the message at each (repeated copies name the same one)."""
    q = select(s.import_positions.c.position, s.import_positions.c.message_pk).where(
        s.import_positions.c.list_id == list_id, s.import_positions.c.period == period)
    return {int(r.position): int(r.message_pk) for r in conn.execute(q)}


def periods(conn: Connection, list_id: int) -> dict[str, int]:
    """Every month file of the list, with the number of pieces it held as far as known (the
    last position kept, plus one)."""
    from sqlalchemy import func

    c = s.import_positions.c
    q = (select(c.period, func.max(c.position)).where(c.list_id == list_id,
                                                      c.period.is_not(None))
         .group_by(c.period))
    return {str(p): int(n) + 1 for p, n in conn.execute(q)}
