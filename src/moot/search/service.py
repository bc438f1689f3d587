"""Search as readers use it: parse the query, ask the index, dress the hits.

Also keeps the index in step with the archive: every message with a key above the index's
committed high-water mark is indexed by :meth:`Search.catch_up`, which the importer calls when
it ends and the server calls when it starts.  An import interrupted between storing and
indexing therefore leaves no silent gap: the next catch-up fills it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Histogram

from moot.core.query import Phrase, Query, parse_query, words
from moot.core.snippet import make_snippet
from moot.ports import SearchIndex
from moot.search.doc import IndexDoc, sender_text
from moot.storage.archive import IndexFeed


@dataclass
class Hit:
    message_id: str
    list: str
    subject: str
    sender: str
    date: datetime | None
    score: float
    snippet: str
    spans: list[tuple[int, int]]
    thread_id: int
    thread_hits: int = 1
    # False when the hits read ended before every hit was seen: the thread may hold more.
    thread_hits_exact: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "list": self.list, "subject": self.subject,
                "from": self.sender, "date": self.date.isoformat() + "Z" if self.date else None,
                "score": round(self.score, 4), "snippet": self.snippet}


@dataclass
class Results:
    query: Query
    total: int
    hits: list[Hit] = field(default_factory=list)
    offset: int = 0
    limit: int = 20

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "hits": [h.as_json() for h in self.hits]}


Progress = Callable[[int, int], None]  # (done, total)
# Seconds: typical searches take a millisecond or two (docs/search.md), a cold one far longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Search:
    def __init__(self, index: SearchIndex, feed: IndexFeed) -> None:
        self.index = index
        self.feed = feed
        # One writer at a time: the server's inbound thread and an approval over the API may
        # both bring the index up to date (tantivy's writer refuses to be used twice at once).
        self._writing = threading.RLock()
        # Process-local (registered in no registry: the web application's collector reads it).
        self.latency = Histogram("moot_search_seconds", "Time to answer one search, in this "
                                 "process.", buckets=LATENCY_BUCKETS, registry=None)

    def catch_up(self, progress: Progress | None = None, *,
                 already: Collection[int] = (), final: bool = True) -> int:
        """``final=False``: keep the index writer open for more (the server's indexer)."""
        with self._writing:
            return self._catch_up(progress, already=already, final=final)

    def _catch_up(self, progress: Progress | None = None, *,
                  already: Collection[int] = (), final: bool = True) -> int:
        """Index every stored message the index has not committed yet; returns how many.

        ``already``: keys an import has handed to the index itself (not yet committed); they
        are skipped, everything else above the high-water mark is read back and indexed, and
        only then is the new mark committed.
        """
        last = self.index.last_pk
        newest = self.feed.newest_pk()
        if newest <= last:
            return 0
        if not already:
            # Above the mark everything is provisional: an import that crashed after a
            # mid-way commit may have left some of it searchable.  Index it all afresh.
            self.index.discard_above(last)
        total = newest - last
        done = 0
        while True:
            ids = self.feed.ids_after(last)
            if not ids:
                break
            missing = [i for i in ids if i not in already]
            for start in range(0, len(missing), 2000):
                rows = self.feed.rows(missing[start : start + 2000])
                self.index.add(_doc(r) for r in rows)
            last = ids[-1]
            done += len(ids)
            if progress:
                progress(min(done, total), total)
        self.index.commit(last, final=final)
        return done

    def refresh(self, pks: Collection[int]) -> None:
        """Index these messages again as the archive now holds them: after the moderators
        deleted or redacted them, their old words must stop finding them.  A deleted message
        leaves the index; a redacted one is indexed with its redacted text.  Messages above
        the committed mark are left to :meth:`catch_up`, which reads them afresh anyway."""
        with self._writing:
            keys = sorted(set(pks))
            if not keys:
                return
            self.index.delete(keys)
            mark = self.index.last_pk
            self.index.add(_doc(r) for r in self.feed.rows([k for k in keys if k <= mark]))
            self.index.commit(mark)

    def rebuild(self, progress: Progress | None = None) -> int:
        with self._writing:
            self.index.clear()
            return self._catch_up(progress)

    def search(self, text: str, *, list_ids: Sequence[int] | None, limit: int = 20,
               offset: int = 0, newest_first: bool = False, by_thread: bool = False,
               list_address_ids: Callable[[str], int | None] | None = None) -> Results:
        """Raises QueryError for a query that cannot be read.  Each search is timed for
        ``/metrics`` (moot.web.metrics), queries that cannot be read included."""
        with self.latency.time():
            return self._search(text, list_ids=list_ids, limit=limit, offset=offset,
                                newest_first=newest_first, by_thread=by_thread,
                                list_address_ids=list_address_ids)

    def _search(self, text: str, *, list_ids: Sequence[int] | None, limit: int,
                offset: int, newest_first: bool, by_thread: bool,
                list_address_ids: Callable[[str], int | None] | None) -> Results:
        query = parse_query(text)
        ids = None if list_ids is None else list(list_ids)
        if query.lists:
            wanted = [list_address_ids(a) if list_address_ids else None for a in query.lists]
            named = [i for i in wanted if i is not None]
            ids = named if ids is None else [i for i in ids if i in named]
        limit = max(1, min(limit, 100))
        fetch = (offset + limit) * 4 if by_thread else limit
        while True:
            total, raw = self.index.search(query, list_ids=ids, limit=fetch,
                                           offset=0 if by_thread else offset,
                                           newest_first=newest_first)
            if not by_thread:
                break
            # Threads merge after messages are indexed: group by the archive's thread, not
            # the one the index remembers (one cheap lookup; bodies only for the page).
            thread_of = self.feed.threads_of([pk for pk, _, _ in raw])
            # A long thread can fill a fixed window and leave the page empty, so widen it
            # until it shows a thread past the page, or holds every hit.
            if (len(raw) < fetch or fetch >= 10_000
                    or len(set(thread_of.values())) > offset + limit):
                break
            fetch *= 4
        seen: dict[int, int] = {}
        exact = not by_thread or len(raw) < fetch  # every hit was read
        if by_thread:
            grouped = []
            for pk, _tid, score in raw:
                tid = thread_of.get(pk)
                if tid is None:
                    continue
                if tid in seen:
                    seen[tid] += 1
                    continue
                seen[tid] = 1
                grouped.append((pk, tid, score))
            raw = grouped[offset : offset + limit]
        rows = self.feed.hits([pk for pk, _, _ in raw])
        marks = _highlight_words(query)
        hits = []
        for pk, _tid, score in raw:
            r = rows.get(pk)
            if r is None:  # indexed, then removed from the archive
                continue
            snippet, spans = make_snippet(r.body_text or r.subject, marks)
            sender = f"{r.from_name} <{r.from_addr}>" if r.from_name and r.from_addr \
                else r.from_name or r.from_addr
            hits.append(Hit(r.message_id, r.address, r.subject, sender, r.date_utc, score,
                            snippet, spans, r.thread_id, seen.get(r.thread_id, 1), exact))
        return Results(query, total, hits, offset, limit)


def _highlight_words(query: Query) -> list[str]:
    out: list[str] = []
    for clause in query.positive:
        for node in clause.alternatives:
            if node.field == "from":
                continue
            out.extend(node.words if isinstance(node, Phrase) else words(node.text))
    return out


def _doc(r: Any) -> IndexDoc:
    return IndexDoc(r.id, r.list_id, r.thread_id, r.sort_date, r.subject,
                    sender_text(r.from_name, r.from_addr), r.body_text)
