"""What a search index is given for each message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IndexDoc:
    """One message as every search engine indexes it."""

    pk: int
    list_id: int
    thread_id: int
    date: datetime
    subject: str
    sender: str  # name and address
    body: str
    # The PostgreSQL engine's tsvector text when an import's parser process made it already
    # (moot.importer.worker): the storing thread then only sends it.
    vector: str | None = None


def sender_text(from_name: str, from_addr: str) -> str:
    """The sender as every engine indexes it: name and address."""
    return f"{from_name} {from_addr}"
