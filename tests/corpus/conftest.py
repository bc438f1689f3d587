"""One archive per test module and database (the corpus tests import hundreds of files; one
database per test would cost more than the tests themselves)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from tests.conftest import SHARED_DATA, fresh_database


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def corpus_moot(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moot]:
    """A migrated moot shared by a whole test module: SQLite, and PostgreSQL when
    MOOT_TEST_POSTGRES is set.  Tests keep apart by creating their own lists."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real-mail corpus is not at {SHARED_DATA}")
    data = tmp_path_factory.mktemp(f"corpus-{request.param}")
    with fresh_database(request.param, data) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOOT_DATABASE_URL", url)
        init_data_dir(data)
        moot = build(load_settings(data))
        try:
            yield moot
        finally:
            moot.close()
