"""The parse stage of an import, run in a separate process for large archives.

Why a process: after fast-mail-parser's Rust parse, turning its result into archive fields is
Python work that holds the GIL, and so is storing.  On two cores a second process takes the
parsing off the storing thread's back.  This module imports only what parsing needs, so the
process starts quickly; it receives raw bytes and returns fields plus the zstd-compressed
bytes the store keeps (smaller to send back than the raw bytes).
"""

from __future__ import annotations

from moot.core.message import ParsedMessage
from moot.core.parse import parse_many
from moot.search.doc import sender_text
from moot.storage.codec import compress_many


def prepare(raws: list[bytes], pipermail: bool, vectors: bool = False
            ) -> tuple[list[ParsedMessage], list[bytes], list[str] | None]:
    """Fields, compressed bytes and, with ``vectors``, each message's tsvector text for the
    PostgreSQL search engine (building it is most of that engine's indexing work, and this
    process has a core of its own)."""
    parsed = parse_many(raws, pipermail=pipermail)
    vecs = None
    if vectors:
        from moot.search.postgres_fts import tsvector_text

        vecs = [tsvector_text(p.subject, sender_text(p.from_name, p.from_addr), p.body_text)
                for p in parsed]
    return parsed, compress_many(raws), vecs
