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
