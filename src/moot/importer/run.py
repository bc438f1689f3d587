"""The import pipeline: read, parse in batches on every core, store, thread.

Memory stays bounded: one batch of messages is in flight at a time, whatever the archive's
size.  Nothing is dropped: bytes that are not mail are kept as rejects with the reason, and a
message the parsers struggle with is stored with its problems noted.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from moot.core.errors import NotMail
from moot.core.message import ParsedMessage
from moot.importer import worker
from moot.importer.sources import RawItem, Reader, refuse_reason
from moot.search.doc import IndexDoc, sender_text
from moot.storage import positions
from moot.storage.store import BatchResult, Incoming, Store, sha256

if TYPE_CHECKING:
    from moot.search.service import Search

BATCH = 1000  # messages, or
BATCH_BYTES = 8 << 20  # bytes of raw mail: at most ~6 batches are in flight at once
COMMIT_EVERY = 100_000  # messages between index commits during a long import
POOL_THRESHOLD = 16 << 20  # input bytes from which parsing moves to a second process


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    bytes: int = 0
    refused: list[str] = field(default_factory=list)  # "PATH: reason", for whole files

    def add(self, other: ImportSummary) -> None:
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.bytes += other.bytes
        self.refused.extend(other.refused)

    def as_json(self) -> dict[str, object]:
        return {"imported": self.imported, "duplicates": self.duplicates,
                "rejected": self.rejected, "seconds": round(self.seconds, 3)}


Progress = Callable[[ImportSummary, int], None]  # (summary so far, bytes of input read)


def import_paths(store: Store, list_id: int, paths: Iterable[Path], fmt: str = "auto",
                 progress: Progress | None = None,
                 search: Search | None = None) -> ImportSummary:
    """Import every message under ``paths`` into a list; idempotent.

    Stages overlap on the machine's cores: a reader thread decompresses and splits the archive;
    this thread drops what is already stored and hands the rest to the parser (a separate
    process for large archives, see :mod:`moot.importer.worker`); a writer thread stores.
    Bounded queues keep memory flat.  With ``search``, each stored batch is indexed as it is
    stored (the engine works in its own threads) and the index is committed when the import
    ends; an interrupted import leaves the index behind the store, never ahead of it, and the
    next catch-up fills the gap.
    """
    summary = ImportSummary()
    started = time.perf_counter()
    # The reader thread inflates gzip outside the GIL in short steps; with the default 5 ms
    # switch interval it waits longer for the GIL than it works.  Measured on alsa-devel:
    # re-import 19,400 -> 22,500 messages/s.  Restored when the import ends.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        return _import(store, list_id, paths, fmt, progress, summary, started, search)
    finally:
        sys.setswitchinterval(switch_interval)


def _import(store: Store, list_id: int, paths: Iterable[Path], fmt: str,
            progress: Progress | None, summary: ImportSummary, started: float,
            search: Search | None) -> ImportSummary:
    readers = [Reader(p, fmt) for p in paths]
    raw_batches: queue.Queue[object] = queue.Queue(maxsize=2)
    to_store: queue.Queue[object] = queue.Queue(maxsize=2)
    total_size = sum(r.size for r in readers)
    indexed: set[int] = set()  # keys handed to the search index
    next_commit = [COMMIT_EVERY]
    if search is not None:
        search.catch_up()  # so that the mark, at the end, speaks for everything below it
    stopping = threading.Event()  # set when the import ends early: the reader stops reading
    counting = threading.Lock()  # the summary's counts are added to from two threads

    def read() -> None:
        # A batch may span files (a year of pipermail months is hundreds of small files),
        # but never formats: pipermail is parsed differently.
        done = 0
        batch: list[RawItem] = []
        size = 0
        fmt_of_batch = ""
        for reader in readers:
            if stopping.is_set():
                return
            if batch and reader.format != fmt_of_batch:
                raw_batches.put((fmt_of_batch, batch, done))
                batch, size = [], 0
            fmt_of_batch = reader.format
            for item in reader:
                batch.append(item)
                size += len(item.raw)
                if len(batch) >= BATCH or size >= BATCH_BYTES:
                    raw_batches.put((fmt_of_batch, batch, done + reader.bytes_read))
                    batch, size = [], 0
                    if stopping.is_set():
                        return
            done += reader.size
        raw_batches.put((fmt_of_batch, batch, done))

    def write() -> None:
        while (job := to_store.get()) is not _DONE:
            items, future, read_bytes, placed = job  # type: ignore[misc]
            if items:
                parsed, blobs, vecs = future.result()
                incoming = [Incoming(i.raw, p, d, i.mbox_from,
                                     i.envelope_date if p.date_utc is None else None, blob)
                            for (i, d), p, blob in zip(items, parsed, blobs, strict=True)]
                result = store.add_messages(list_id, incoming)
                if search is not None and result.stored:
                    vector_of = None if vecs is None else dict(
                        zip((id(p) for p in parsed), vecs, strict=True))
                    search.index.add(index_docs(list_id, result, vector_of))
                    indexed.update(result.stored)
                    if len(indexed) >= next_commit[0]:
                        # A long import: make what it stored so far searchable.  The mark
                        # stays: until the end, everything above it is provisional.
                        search.index.commit(search.index.last_pk, final=False)
                        next_commit[0] += COMMIT_EVERY
                with counting:
                    summary.imported += len(result.stored)
                    summary.duplicates += result.duplicates
            # Where each piece stood in its file, repeated copies too (pipermail numbers count
            # them): kept after the batch, so an interruption between the two loses positions,
            # never messages.
            positions.record(store.engine, list_id, placed)
            if progress:
                progress(summary, read_bytes)

    pool = _parser_pool() if total_size >= POOL_THRESHOLD else None
    vectors = search is not None and getattr(search.index, "vectors_in_parser", False)
    reader_thread = _Stage(read, raw_batches)
    writer_thread = _Stage(write, None)
    reader_thread.start()
    writer_thread.start()
    try:
        while (job := raw_batches.get()) is not _DONE:
            batch_format, batch, read_bytes = job  # type: ignore[misc]
            part = ImportSummary()
            fresh, placed = _fresh(store, list_id, batch, part)
            with counting:
                summary.add(part)
            raws = [i.raw for i, _ in fresh]
            pipermail = batch_format == "pipermail"
            future: Future[tuple[list[ParsedMessage], list[bytes], list[str] | None]]
            if pool is not None and fresh:
                future = pool.submit(worker.prepare, raws, pipermail, vectors)
            else:
                future = Future()
                future.set_result(worker.prepare(raws, pipermail, vectors) if fresh
                                  else ([], [], None))
            if not _put(to_store, (fresh, future, read_bytes, placed), writer_thread):
                break
    finally:
        stopping.set()
        _put(to_store, _DONE, writer_thread)
        writer_thread.join()
        reader_thread.stop()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for stage in (reader_thread, writer_thread):
        if stage.error:
            raise stage.error
    if search is not None:
        search.catch_up(already=indexed)
    if progress:
        progress(summary, total_size)
    summary.seconds = time.perf_counter() - started
    return summary


def _put(q: queue.Queue[object], job: object, consumer: threading.Thread) -> bool:
    """Queue a job unless the consumer has died (then its error is raised by the caller)."""
    while consumer.is_alive():
        try:
            q.put(job, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _parser_pool() -> ProcessPoolExecutor | None:
    if (os.cpu_count() or 1) < 2:
        return None
    # spawn, not fork: this process already runs threads.
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


_DONE = object()


class _Stage(threading.Thread):
    """A pipeline stage that keeps its exception for the caller and always ends its queue."""

    def __init__(self, work: Callable[[], None], out: queue.Queue[object] | None) -> None:
        super().__init__(daemon=True)
        self._work, self._out = work, out
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc
        finally:
            if self._out is not None:
                self._out.put(_DONE)

    def stop(self) -> None:
        # Drain the queue so a reader blocked on put() can finish.
        assert self._out is not None
        while self.is_alive():
            try:
                self._out.get(timeout=0.1)
            except queue.Empty:
                pass
        self.join()


def _fresh(store: Store, list_id: int, batch: list[RawItem], summary: ImportSummary
           ) -> tuple[list[tuple[RawItem, bytes]], list[positions.Placed]]:
    """The batch's items that are mail and not yet stored, with their digests; and where every
    item that is mail stood in its file."""
    good: list[RawItem] = []
    for item in batch:
        reason = refuse_reason(item)
        if reason is None:
            good.append(item)
            continue
        if store.add_reject(list_id, item.raw, item.source, reason):
            summary.rejected += 1
        if item.whole_file:
            summary.refused.append(str(NotMail(item.source, reason)))
    # Drop what the archive already holds before paying for a parse: re-imports stay cheap.
    digests = [sha256(i.raw) for i in good]
    known = store.known_digests(list_id, digests)
    fresh = [(i, d) for i, d in zip(good, digests, strict=True) if d not in known]
    summary.duplicates += len(good) - len(fresh)
    summary.bytes += sum(len(i.raw) for i in batch)
    placed = [p for i, d in zip(good, digests, strict=True)
              if (p := positions.placed(i.source, d)) is not None]
    return fresh, placed


_EPOCH = datetime(1970, 1, 1)


def index_docs(list_id: int, result: BatchResult,
               vector_of: dict[int, str] | None = None) -> list[IndexDoc]:
    """What the search index is given for a stored batch (``vector_of``: tsvector texts the
    parser process made, by ``id()`` of each parsed message)."""
    docs = []
    for pk, tid, item in zip(result.stored, result.threads, result.items, strict=True):
        p = item.parsed
        docs.append(IndexDoc(pk, list_id, tid, p.date_utc or item.envelope_date or _EPOCH,
                             p.subject, sender_text(p.from_name, p.from_addr), p.body_text,
                             None if vector_of is None else vector_of.get(id(p))))
    return docs
