"""The real server, started the way an operator starts it, answering over real HTTP."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

from moot.app import Moot
from moot.importer.run import import_paths
from tests.helpers import make_message, write_mbox

LIST = "dev@example.org"
CRLF = (b"From: Ada <ada@example.org>\r\nSubject: Caf\xe9\r\nMessage-ID: <crlf@example.org>\r\n"
        b"Date: Mon, 02 Mar 2026 12:00:00 +0000\r\n\r\nCaf\xe9 au lait.\r\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes, Message]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def wait_until_up(proc: subprocess.Popen[bytes], url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, _ = proc.communicate()
            log = getattr(proc, "log", None)
            errs = b""
            if log is not None:
                log.seek(0)
                errs = log.read()
            raise AssertionError(f"the server exited with {proc.returncode}: {errs!r} {out!r}")
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    # stderr goes to a file: a pipe nobody reads would block a server that logs a lot.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "moot.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=log)
    proc.log = log  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        log.close()


def test_serve_answers_over_http(moot: Moot, data_dir: Path, tmp_path: Path) -> None:
    list_id = moot.store.create_list(LIST)
    messages = [
        make_message("root@example.org", subject="Real HTTP"),
        make_message("re@example.org", subject="Re: Real HTTP", in_reply_to="root@example.org",
                     date="Mon, 02 Mar 2026 10:00:00 +0000",
                     body="Over the wire.\n" + "A long line of text, to be compressed.\n" * 200),
        CRLF,
    ]
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "in.mbox", messages)])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # os.environ carries MOOT_DATABASE_URL (the data_dir fixture sets it): same database.
    with running(["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{port}",
                  "--lmtp", f"127.0.0.1:{free_port()}"],
                 dict(os.environ)) as proc:
        wait_until_up(proc, f"{base}/healthz")
        status, body, headers = get(f"{base}/healthz")
        assert (status, body) == (200, b"ok")

        status, body, headers = get(f"{base}/l/{LIST}/t/re@example.org/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        page = body.decode()
        assert "Real HTTP" in page and "Over the wire." in page
        assert '<li class="d1" id="re@example.org">' in page

        # A client that accepts gzip gets the same page compressed.
        req = urllib.request.Request(f"{base}/l/{LIST}/t/re@example.org/",
                                     headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            zipped = r.read()
        assert len(zipped) < len(body) / 4
        assert gzip.decompress(zipped) == body

        status, body, _ = get(f"{base}/l/{LIST}/m/crlf@example.org/raw")
        assert status == 200 and body == CRLF
        status, body, _ = get(f"{base}/l/{LIST}/m/root@example.org/raw")
        assert body == messages[0]

        assert get(f"{base}/l/{LIST}/m/nope@example.org/")[0] == 404
    assert proc.returncode is not None


def test_demo_serves_the_url_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MOOT_DATABASE_URL", "MOOT_DATA", "MOOT_BASE_URL")}
    data = tmp_path / "demo"
    with running(["--data", str(data), "demo", "--http", f"127.0.0.1:{port}",
                  "--lmtp", f"127.0.0.1:{free_port()}"], env) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()  # printed before serving starts
        assert url == f"http://127.0.0.1:{port}/l/demo@moot.example/"
        wait_until_up(proc, url)
        status, body, _ = get(url)
        assert status == 200
        page = body.decode()
        assert "moot demo" in page
        assert "Where should the garden club meet this spring?" in page
        assert get(f"http://127.0.0.1:{port}/healthz")[1] == b"ok"
    assert (data / "moot.toml").exists()
