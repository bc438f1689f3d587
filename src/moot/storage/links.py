"""The links between messages (table ``links``): what each message quotes, refers to, or
repeats.  Replies are not stored here: they are the thread's own shape (In-Reply-To and
References), read from the thread when asked for.  Each function works on an open connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from moot.storage import schema as s

KINDS = ("quote", "reference", "republication")
STATUSES = ("found", "ambiguous", "none")


@dataclass(frozen=True)
class Link:
    """One link as the linker makes it: from ``source_pk`` to ``target_pk`` (None when
    ambiguous or when nothing fits)."""

    source_pk: int
    kind: str
    target_pk: int | None
    status: str = "found"
    candidates: tuple[int, ...] = ()
    detail: dict[str, Any] | None = None


def replace(conn: Connection, list_id: int, source_pk: int, found: Sequence[Link]) -> None:
    """The links of one message, as found now (a relink replaces the old ones)."""
    conn.execute(delete(s.links).where(s.links.c.source_pk == source_pk))
    if found:
        conn.execute(insert(s.links), [
            {"list_id": list_id, "source_pk": x.source_pk, "kind": x.kind,
             "target_pk": x.target_pk, "status": x.status,
             "candidates": ",".join(str(c) for c in x.candidates),
             "detail": json.dumps(x.detail or {}, ensure_ascii=False)} for x in found])


def _described(conn: Connection, pks: set[int], readable: set[int] | None = None
               ) -> dict[int, dict[str, Any]]:
    """Message-ID, list, subject, sender and date of the messages named by id (only those on
    the ``readable`` lists, when given)."""
    if not pks:
        return {}
    m, lst = s.messages.c, s.mailing_lists.c
    q = (select(m.id, m.message_id, m.subject, m.from_name, m.date_utc, m.removed_kind,
                lst.address).join(s.mailing_lists, lst.id == m.list_id)
         .where(m.id.in_(sorted(pks))))
    if readable is not None:
        q = q.where(m.list_id.in_(sorted(readable)))
    return {r.id: {"message_id": r.message_id, "list": r.address,
                   "subject": "(removed)" if r.removed_kind == "deleted" else r.subject,
                   "from": r.from_name,
                   "date": r.date_utc.isoformat() + "Z" if r.date_utc else None}
            for r in conn.execute(q)}


def outgoing(conn: Connection, source_pk: int, readable: set[int]) -> list[dict[str, Any]]:
    """What a message points at, each target described if its list is readable (a target
    on a list the reader may not read is left out)."""
    rows = list(conn.execute(select(s.links).where(s.links.c.source_pk == source_pk)
                             .order_by(s.links.c.id)))
    wanted = {r.target_pk for r in rows if r.target_pk} | {
        int(c) for r in rows for c in r.candidates.split(",") if c}
    about = _described(conn, wanted, readable)
    out = []
    for r in rows:
        if r.target_pk and r.target_pk not in about:
            continue  # on a list the reader may not read
        target = about.get(r.target_pk) if r.target_pk else None
        out.append({"kind": r.kind, "status": r.status,
                    "target": target["message_id"] if target else None,
                    "target_detail": target,
                    "candidates": [about[int(c)] for c in r.candidates.split(",")
                                   if c and int(c) in about],
                    **json.loads(r.detail or "{}")})
    return out


def incoming(conn: Connection, target_pk: int, readable: set[int]) -> list[dict[str, Any]]:
    """What points at a message (found links only), from lists the reader may read."""
    q = (select(s.links.c.kind, s.links.c.source_pk, s.links.c.detail, s.links.c.list_id)
         .where(s.links.c.target_pk == target_pk, s.links.c.status == "found")
         .order_by(s.links.c.source_pk))
    rows = [r for r in conn.execute(q) if r.list_id in readable]
    about = _described(conn, {r.source_pk for r in rows})
    return [{"kind": r.kind, "source": about[r.source_pk]["message_id"],
             "source_detail": about[r.source_pk], **json.loads(r.detail or "{}")}
            for r in rows if r.source_pk in about]


def appearances(conn: Connection, pk: int, readable: set[int]) -> list[dict[str, Any]]:
    """Every appearance of the letter that message ``pk`` is (the original and each copy the
    linker tied to it), oldest first, each described with ``first`` (the original) and ``here``
    (this message); empty when the letter appeared once.  Copies on lists the reader may not
    read are left out."""
    lk = s.links.c
    original = conn.execute(select(lk.target_pk).where(
        lk.source_pk == pk, lk.kind == "republication", lk.status == "found")).scalar() or pk
    copies = set(conn.execute(select(lk.source_pk).where(
        lk.target_pk == original, lk.kind == "republication", lk.status == "found")).scalars())
    if not copies:
        return []
    wanted = copies | {original}
    about = _described(conn, wanted, readable)
    out = [dict(about[p], first=p == original, here=p == pk) for p in wanted if p in about]
    return sorted(out, key=lambda d: (not d["first"], d["date"] or ""))


def summaries(conn: Connection, pks: Sequence[int], readable: set[int]
              ) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """For a page showing many messages (a thread): each message's found links in one query,
    as ``{pk: {"quotes": [...], "refers": [...], "quoted_by": [...], "referred_by": [...],
    "copies": [...]}}``, each item a described message on a list the reader may read."""
    if not pks:
        return {}
    lk = s.links.c
    wanted = set(pks)
    rows = list(conn.execute(select(lk.source_pk, lk.kind, lk.target_pk).where(
        lk.status == "found", (lk.source_pk.in_(sorted(wanted)))
        | (lk.target_pk.in_(sorted(wanted))))))
    other = {r.target_pk for r in rows} | {r.source_pk for r in rows}
    about = _described(conn, other, readable)
    out: dict[int, dict[str, list[dict[str, Any]]]] = {
        p: {"quotes": [], "refers": [], "quoted_by": [], "referred_by": [], "copies": []}
        for p in wanted}
    names = {"quote": ("quotes", "quoted_by"), "reference": ("refers", "referred_by"),
             "republication": ("copies", "copies")}
    for r in rows:
        forward, backward = names.get(r.kind, ("", ""))
        if not forward:
            continue
        if r.source_pk in wanted and r.target_pk in about:
            _add_once(out[r.source_pk][forward], about[r.target_pk])
        if r.target_pk in wanted and r.source_pk in about:
            _add_once(out[r.target_pk][backward], about[r.source_pk])
    return out


def _add_once(items: list[dict[str, Any]], item: dict[str, Any]) -> None:
    if all(x["message_id"] != item["message_id"] or x["list"] != item["list"] for x in items):
        items.append(item)
