"""The composition root: settings in, adapters built and wired together.  Only this module
constructs engines, stores and the web application."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from moot.config import CONFIG_NAME, Settings, example_config, load_settings
from moot.storage.archive import Archive, IndexFeed
from moot.storage.db import migrate, open_engine
from moot.storage.store import Store

if TYPE_CHECKING:
    from moot.search.service import Search


@dataclass
class Moot:
    settings: Settings
    engine: Engine
    store: Store
    archive: Archive

    @cached_property
    def search(self) -> Search:
        """The search index (opened on first use: most commands never search)."""
        from moot.search.service import Search

        feed = IndexFeed(self.engine)
        # PostgreSQL: several worker processes on several machines share the database, and the
        # index lives in it (transactional, seen by all).  A tantivy directory allows one
        # writer on one machine, so it serves the embedded default (SQLite) only.
        if self.engine.dialect.name == "postgresql":
            from moot.search.postgres_fts import PostgresIndex

            return Search(PostgresIndex(self.engine), feed)
        from moot.search.tantivy_index import TantivyIndex

        return Search(TantivyIndex(self.settings.data_dir / "index"), feed)

    def close(self) -> None:
        if "search" in self.__dict__:  # opened
            self.search.index.close()
        self.engine.dispose()


def init_data_dir(data_dir: Path) -> Settings:
    """Create the data folder, its commented moot.toml and the database; safe to run twice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = data_dir / CONFIG_NAME
    if not cfg.exists():
        cfg.write_text(example_config(), "utf-8")
    settings = load_settings(data_dir)
    engine = open_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return settings


def build(settings: Settings) -> Moot:
    engine = open_engine(settings.database_url)
    return Moot(settings, engine, Store(engine), Archive(engine))
