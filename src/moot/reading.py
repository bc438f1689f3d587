"""What a reader asks of the archive, shared by the web pages and the command line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from moot.core.errors import MessageNotFound
from moot.core.mbox import mboxrd_entry
from moot.core.threads import ThreadItem, build_tree
from moot.storage.archive import Archive


@dataclass
class ThreadRow:
    """One line of a thread as shown: a message, or a placeholder for one never received."""

    message_id: str
    depth: int
    parent: str | None
    message: Row[Any] | None


def thread_rows(archive: Archive, thread_id: int, *, with_body: bool = True) -> list[ThreadRow]:
    msgs = archive.thread_messages(thread_id, with_body=with_body)
    by_key = {m.id: m for m in msgs}
    items = [ThreadItem(m.id, m.message_id, parent_ids(m), m.subject, m.sort_date) for m in msgs]
    rows = []
    for placed in build_tree(items):
        item = placed.node.item
        rows.append(ThreadRow(placed.node.message_id, placed.depth, placed.parent_id,
                              by_key[item.key] if item else None))
    return rows


def parent_ids(m: Row[Any]) -> list[str]:
    """The Message-IDs a message answers, nearest first (In-Reply-To, then References
    newest to oldest)."""
    out = [m.in_reply_to] if m.in_reply_to else []
    for ref in reversed(m.references.split()):
        if ref not in out:
            out.append(ref)
    return out


def find_thread(archive: Archive, list_id: int, message_id: str) -> int:
    found = archive.messages_by_id(list_id, message_id)
    if not found:
        raise MessageNotFound(message_id)
    return int(found[0].thread_id)


def export_mbox(archive: Archive, list_id: int, *, thread_id: int | None = None,
                month: tuple[int, int] | None = None) -> Iterator[bytes]:
    for row, raw in archive.iter_raw(list_id, thread_id=thread_id, month=month):
        yield mboxrd_entry(row.mbox_from, row.from_addr, row.sort_date, raw)
