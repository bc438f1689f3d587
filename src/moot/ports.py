"""The interfaces between moot's core and its adapters (typing.Protocol: no registration, no
framework; app.py passes implementations to constructors)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from moot.core.query import Query
from moot.search.doc import IndexDoc


class SearchIndex(Protocol):
    """A full-text index of the archive's messages.

    ``last_pk`` is the highest message key whose indexing has been committed: everything above
    it is indexed by :meth:`moot.search.service.Search.catch_up`, so a crash between storing and
    indexing leaves no silent gap.
    """

    @property
    def last_pk(self) -> int: ...

    def add(self, docs: Iterable[IndexDoc]) -> None: ...

    def delete(self, pks: Iterable[int]) -> None: ...

    def discard_above(self, pk: int) -> None:
        """Forget documents above ``pk`` that a crashed import may have made searchable."""
        ...

    def commit(self, last_pk: int, *, final: bool = True) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...

    def search(self, query: Query, *, list_ids: Sequence[int] | None, limit: int,
               offset: int = 0, newest_first: bool = False
               ) -> tuple[int, list[tuple[int, int, float]]]:
        """(total hits, [(message key, thread id, score)]) for one page, best first (or
        newest first; filter-only queries are always newest first)."""
        ...
