"""Connection pool settings (docs/scaling.md): ``db_pool_size``, ``db_max_overflow`` and
``db_prepared_statements`` reach the engine, and bad values are refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.config import ConfigError, load_settings
from moot.storage.db import open_engine
from tests.conftest import POSTGRES


def test_pool_settings_reach_the_engine(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"MOOT_DB_POOL_SIZE": "3",
                                            "MOOT_DB_MAX_OVERFLOW": "0",
                                            "MOOT_DB_PREPARED_STATEMENTS": "off"})
    sqlite = open_engine(settings.database_url, **settings.pool())
    assert (sqlite.pool.size(), sqlite.pool._max_overflow) == (3, 0)  # type: ignore[attr-defined]
    pg = open_engine("postgresql://moot@127.0.0.1:1/none", **settings.pool())
    assert (pg.pool.size(), pg.pool._max_overflow) == (3, 0)  # type: ignore[attr-defined]
    sqlite.dispose()
    pg.dispose()


@pytest.mark.postgres
def test_prepared_statements_off(tmp_path: Path) -> None:
    """psycopg then never prepares on the server (PgBouncer < 1.21 in transaction mode)."""
    if not POSTGRES:
        pytest.skip("PostgreSQL tests need MOOT_TEST_POSTGRES=postgresql://...")
    for setting, threshold in (("off", None), ("on", 5)):
        settings = load_settings(tmp_path, env={"MOOT_DB_PREPARED_STATEMENTS": setting})
        engine = open_engine(POSTGRES, **settings.pool())
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold == threshold  # type: ignore[union-attr]
        engine.dispose()


def test_defaults_when_unset(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    engine = open_engine("postgresql://moot@127.0.0.1:1/none", **settings.pool())
    assert (engine.pool.size(), engine.pool._max_overflow) == (5, 10)  # type: ignore[attr-defined]
    engine.dispose()


@pytest.mark.parametrize("env", [{"MOOT_DB_POOL_SIZE": "0"}, {"MOOT_DB_POOL_SIZE": "many"},
                                 {"MOOT_DB_MAX_OVERFLOW": "-1"},
                                 {"MOOT_DB_PREPARED_STATEMENTS": "maybe"}])
def test_bad_values_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path, env=env)
