"""Shared fixtures: a real database (SQLite file, and PostgreSQL when MOOT_TEST_POSTGRES is set),
a migrated moot built on it, and helpers to make messages."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from moot.app import Moot, build, init_data_dir
from moot.config import load_settings
from moot.storage.db import normalize_url

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES = os.environ.get("MOOT_TEST_POSTGRES", "")
# Servers the tests start ask no real DNS; the DMARC tests run a name server of their own.
os.environ.setdefault("MOOT_DNS", "off")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "corpus" in item.fixturenames or "shared_data" in item.fixturenames:
            item.add_marker(pytest.mark.corpus)


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file in ``folder``, or a private
    PostgreSQL schema that is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'moot.sqlite3'}"
        return
    if not POSTGRES:
        pytest.skip("PostgreSQL tests need MOOT_TEST_POSTGRES=postgresql://... (.ci/run sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(POSTGRES))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private PostgreSQL schema."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised data folder whose database is ``db_url``."""
    d = tmp_path / "data"
    monkeypatch.setenv("MOOT_DATABASE_URL", db_url)
    init_data_dir(d)
    return d


@pytest.fixture
def moot(data_dir: Path) -> Iterator[Moot]:
    m = build(load_settings(data_dir))
    yield m
    m.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real-mail corpus is not at {SHARED_DATA}")
    return SHARED_DATA
