"""Structured logs (moot.logs): ``moot serve --log-format json`` writes one JSON object per
line on stderr; the default stays readable text."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moot import logs
from moot.cli.main import app
from tests.web.test_serve import free_port, get, running, wait_until_up


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    moot_level = logging.getLogger("moot").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("moot").setLevel(moot_level)


def test_json_lines_carry_the_extra_fields(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("json", stream=out)
    logs.configure("json", stream=out)  # twice: still one handler
    log = logging.getLogger("moot.inbound")
    log.info("post %s held", "x@example.org", extra={"list": "dev@example.org",
                                                      "message_id": "x@example.org"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    logging.getLogger("aiosmtpd").info("a connection")  # other libraries: WARNING and up
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert {k: first[k] for k in ("level", "logger", "message", "list", "message_id")} == {
        "level": "info", "logger": "moot.inbound", "message": "post x@example.org held",
        "list": "dev@example.org", "message_id": "x@example.org"}
    assert first["time"].endswith("Z")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_stays_the_default(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("text", stream=out)
    logging.getLogger("moot.serve").warning("hello")
    assert out.getvalue().rstrip().endswith("WARNING moot.serve: hello")
    with pytest.raises(ValueError, match="unknown log format"):
        logs.configure("xml")


def test_serve_refuses_an_unknown_format(tmp_path: Path) -> None:
    env = {"MOOT_DATABASE_URL": None, "MOOT_DATA": None, "MOOT_LOG_FORMAT": None}
    assert CliRunner().invoke(app, ["--data", str(tmp_path), "init"], env=env).exit_code == 0
    result = CliRunner().invoke(app, ["--data", str(tmp_path), "serve", "--log-format", "xml"],
                                env=env)
    assert result.exit_code == 1 and "unknown log format 'xml'" in result.stderr


def test_the_server_writes_json_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MOOT_DATABASE_URL"}
    data = tmp_path / "data"
    assert CliRunner().invoke(app, ["--data", str(data), "init"],
                              env={"MOOT_DATABASE_URL": None}).exit_code == 0
    port = free_port()
    env["MOOT_LOG_FORMAT"] = "json"  # the environment's way; --log-format is the other
    with running(["--data", str(data), "serve", "--http", f"127.0.0.1:{port}",
                  "--lmtp", f"127.0.0.1:{free_port()}"], env) as proc:
        wait_until_up(proc, f"http://127.0.0.1:{port}/healthz")
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        proc.log.seek(0)  # type: ignore[attr-defined]
        text = proc.log.read().decode()  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(doc["message"].startswith("moot is serving") for doc in lines), text
