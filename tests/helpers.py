"""Helpers for tests: small messages and mbox files of our own making."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def make_message(
    message_id: str | None = "a@example.org",
    *,
    subject: str = "Hello",
    sender: str = "Ada Quill <ada@example.org>",
    date: str = "Mon, 02 Mar 2026 09:14:00 +0000",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    body: str = "Hello, world.\n",
    extra: str = "",
) -> bytes:
    """A small well-formed message (LF line ends) with the given headers."""
    lines = [f"From: {sender}", "To: list@example.org", f"Subject: {subject}", f"Date: {date}"]
    if message_id is not None:
        lines.append(f"Message-ID: <{message_id}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references))
    lines.append("MIME-Version: 1.0")
    lines.append("Content-Type: text/plain; charset=utf-8")
    if extra:
        lines.append(extra.rstrip("\n"))
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    """Write messages as mboxrd."""
    from datetime import datetime

    from moot.core.mbox import mboxrd_entry

    with open(path, "wb") as f:
        for raw in messages:
            f.write(mboxrd_entry(None, "sender@example.org", datetime(2026, 3, 2), raw))
    return path


def dkim_keypair() -> tuple[bytes, str]:
    """A fresh 2048-bit RSA key made with openssl: (PEM private key, the DKIM TXT record
    publishing its public half)."""
    import base64
    import subprocess

    pem = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def run_cli(data: Path, *args: str, stdin: bytes | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    """``moot --data DATA ARGS`` run in this process (Typer's runner), answered as a finished
    subprocess would be: the same code and output without a Python start-up per command,
    which made up most of the end-to-end tests' set-up time."""
    from typer.testing import CliRunner

    from moot.cli.main import app

    result = CliRunner().invoke(app, ["--data", str(data), *args], input=stdin,
                                env=dict(os.environ))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["moot", *args], result.exit_code,
                                       result.stdout_bytes, result.stderr_bytes or b"")
