"""One archive per test module and database (the corpus tests import hundreds of files; one
database per test would cost more than the tests themselves)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from moot.storage.db import normalize_url
from tests.conftest import POSTGRES, SHARED_DATA


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def corpus_moot(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moot]:
    """A migrated moot shared by a whole test module: SQLite, and PostgreSQL when
    MOOT_TEST_POSTGRES is set.  Tests keep apart by creating their own lists."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real-mail corpus is not at {SHARED_DATA}")
    data = tmp_path_factory.mktemp(f"corpus-{request.param}")
    schema = None
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{data / 'moot.sqlite3'}"
    else:
        if not POSTGRES:
            pytest.skip("PostgreSQL tests need MOOT_TEST_POSTGRES=postgresql://...")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(normalize_url(POSTGRES))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in POSTGRES else "?"
        url = f"{POSTGRES}{sep}options=-csearch_path%3D{schema}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MOOT_DATABASE_URL", url)
            init_data_dir(data)
            moot = build(load_settings(data))
        try:
            yield moot
        finally:
            moot.close()
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

