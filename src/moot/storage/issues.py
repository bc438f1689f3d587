"""Edited issues in the database: the issues, their working items, their published versions,
and which posts the latest version of each carries.  Plain reads and writes; who may do what,
and what an edit means, are moot.issues and moot.core.issues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.issues import Item
from moot.storage import schema as s


@dataclass(frozen=True)
class IssueRow:
    id: int
    list_id: int
    number: int
    title: str
    introduction: str
    status: str
    created_by: str
    created_at: datetime
    published_at: datetime | None
    version: int
    published_title: str


@dataclass(frozen=True)
class Post:
    """What an issue shows of a post, with where it was first published."""

    pk: int
    list_id: int
    list_address: str
    archive_policy: str
    message_id: str
    subject: str
    from_name: str
    from_addr: str
    date: datetime
    body_text: str
    removed_kind: str | None


def _issue(row: Any) -> IssueRow:
    return IssueRow(row.id, row.list_id, row.number, row.title, row.introduction, row.status,
                    row.created_by, row.created_at, row.published_at, row.version,
                    row.published_title)


def create(conn: Connection, list_id: int, title: str, introduction: str, by: str,
           now: datetime) -> IssueRow:
    """A new draft with the list's next number."""
    i = s.issues.c
    number = (conn.execute(select(func.max(i.number)).where(i.list_id == list_id)).scalar()
              or 0) + 1
    conn.execute(insert(s.issues), {"list_id": list_id, "number": number, "title": title,
                                    "introduction": introduction, "status": "draft",
                                    "created_by": by, "created_at": now, "version": 0,
                                    "published_title": ""})
    found = get(conn, list_id, number)
    assert found is not None
    return found


def get(conn: Connection, list_id: int, number: int) -> IssueRow | None:
    i = s.issues.c
    row = conn.execute(select(s.issues).where(i.list_id == list_id, i.number == number)).first()
    return _issue(row) if row else None


def listing(conn: Connection, list_id: int, *, drafts: bool) -> list[IssueRow]:
    """A list's issues, newest number first (drafts only when asked)."""
    i = s.issues.c
    q = select(s.issues).where(i.list_id == list_id).order_by(i.number.desc())
    if not drafts:
        q = q.where(i.status == "published")
    return [_issue(r) for r in conn.execute(q)]


def has_published(conn: Connection, list_id: int) -> bool:
    i = s.issues.c
    return conn.execute(select(i.id).where(i.list_id == list_id, i.status == "published")
                        .limit(1)).first() is not None


def update_issue(conn: Connection, issue_id: int, **values: Any) -> None:
    conn.execute(update(s.issues).where(s.issues.c.id == issue_id).values(**values))


def items(conn: Connection, issue_id: int) -> tuple[Item, ...]:
    """The working copy's items in order."""
    t = s.issue_items.c
    rows = conn.execute(select(t.message_pk, t.editor_note).where(t.issue_id == issue_id)
                        .order_by(t.position))
    return tuple(Item(pk, note) for pk, note in rows)


def set_items(conn: Connection, issue_id: int, new: Sequence[Item]) -> None:
    """Replace the working copy's items (an issue has a few dozen at most)."""
    conn.execute(delete(s.issue_items).where(s.issue_items.c.issue_id == issue_id))
    if new:
        conn.execute(insert(s.issue_items), [
            {"issue_id": issue_id, "position": n, "message_pk": i.message_pk,
             "editor_note": i.note} for n, i in enumerate(new)])


def posts(conn: Connection, pks: Iterable[int]) -> dict[int, Post]:
    """pk -> the post, for the posts of an issue (those that still exist)."""
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    m, lst = s.messages.c, s.mailing_lists.c
    q = (select(m.id, m.list_id, lst.address, lst.archive_policy, m.message_id, m.subject,
                m.from_name, m.from_addr, m.sort_date, m.body_text, m.removed_kind)
         .join(s.mailing_lists, lst.id == m.list_id).where(m.id.in_(wanted)))
    return {r.id: Post(*r) for r in conn.execute(q)}


def find_post(conn: Connection, message_id: str, list_ids: Sequence[int]) -> list[int]:
    """The keys of posts with this Message-ID in these lists (oldest first)."""
    m = s.messages.c
    q = (select(m.id).where(m.message_id == message_id, m.list_id.in_(list_ids))
         .order_by(m.sort_date, m.id))
    return list(conn.execute(q).scalars())


def add_version(conn: Connection, issue_id: int, version: int, snapshot: str, *, by: str,
                change_note: str, now: datetime, pks: Sequence[int]) -> None:
    """Keep a publication, and note which posts it carries."""
    conn.execute(insert(s.issue_versions), {
        "issue_id": issue_id, "version": version, "published_at": now, "published_by": by,
        "snapshot": snapshot, "change_note": change_note})
    conn.execute(delete(s.issue_published).where(s.issue_published.c.issue_id == issue_id))
    if pks:
        conn.execute(insert(s.issue_published),
                     [{"issue_id": issue_id, "message_pk": pk} for pk in sorted(set(pks))])


@dataclass(frozen=True)
class VersionRow:
    version: int
    published_at: datetime
    published_by: str
    snapshot: str
    change_note: str


def versions(conn: Connection, issue_id: int) -> list[VersionRow]:
    """Every publication of an issue, first one first."""
    v = s.issue_versions.c
    q = (select(v.version, v.published_at, v.published_by, v.snapshot, v.change_note)
         .where(v.issue_id == issue_id).order_by(v.version))
    return [VersionRow(*r) for r in conn.execute(q)]


def republished(conn: Connection, message_pks: Sequence[int]
                ) -> list[tuple[str, int, str, int, str]]:
    """(list address, list id, archive policy, number, title) of each published issue whose
    latest version carries one of these posts (for "Republished in" on the post's page)."""
    if not message_pks:
        return []
    i, p, lst = s.issues.c, s.issue_published.c, s.mailing_lists.c
    q = (select(lst.address, lst.id, lst.archive_policy, i.number, i.published_title)
         .distinct()
         .select_from(s.issue_published.join(s.issues, i.id == p.issue_id)
                      .join(s.mailing_lists, lst.id == i.list_id))
         .where(p.message_pk.in_(list(message_pks)), i.status == "published")
         .order_by(lst.address, i.number))
    return [(a, lid, pol, n, t) for a, lid, pol, n, t in conn.execute(q)]
