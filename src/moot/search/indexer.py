"""The server's indexer: brings the search index up to date soon after posts are committed.

The LMTP reply does not wait for it: the post is safe once committed, and the index is derived
from what is committed (a gap left by a crash is filled at the next start-up).  Posts that are
committed while it works are picked up by its next pass, so under load one pass covers many
posts; it keeps tantivy's writer open between passes instead of building one each time.
"""

from __future__ import annotations

import logging
import threading
import time

from moot.search.service import Search

log = logging.getLogger("moot.search")


class Indexer:
    def __init__(self, search: Search, *, pause: float = 0.05) -> None:
        self.search = search
        self.pause = pause
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="moot-indexer", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """New posts are committed: index them soon (any thread)."""
        self._wanted.set()

    def close(self) -> None:
        """Index what is left, commit for good and stop."""
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=60)
        try:
            self.search.catch_up(final=True)
        except Exception:  # noqa: BLE001 - the next start-up catches up
            log.exception("final indexing pass failed")

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping:
                return
            self._wanted.clear()
            try:
                self.search.catch_up(final=False)
            except Exception:  # noqa: BLE001 - the posts are safe; the next pass tries again
                log.exception("indexing pass failed")
            time.sleep(self.pause)  # let a few more commits gather
