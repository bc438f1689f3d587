"""What the benchmark scripts share: how to run ``moot`` in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MOOT_DATABASE_URL", None)  # the data folder's own SQLite database
    env.pop("MOOT_DATA", None)
    return env


def moot_cmd(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "moot.cli.main", "--data", str(data), *args]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server we started: politely, then not."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def timed_get(url: str, timeout: float = 60) -> tuple[float, int, bytes]:
    """(milliseconds, HTTP status, body) of one GET, error statuses included."""
    import time
    import urllib.error
    import urllib.request

    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body, status = r.read(), r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return (time.perf_counter() - started) * 1000, status, body


def fresh_postgres(server: str, name: str) -> str:
    """Drop and create the database ``name`` on ``server`` (``postgresql://user@host:port``);
    its URL.  Connections still open to an earlier one are ended (a benchmark's own)."""
    from sqlalchemy import create_engine, text

    from moot.storage.db import normalize_url

    base = server.rstrip("/")
    admin = create_engine(normalize_url(base + "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


def use_database(data: Path, url: str) -> None:
    """Point a data folder (made if needed) at ``url`` before ``moot init``, which keeps an
    existing moot.toml."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "moot.toml").write_text(f'database_url = "{url}"\n', "utf-8")
