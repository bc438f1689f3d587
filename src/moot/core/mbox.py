"""Writing mbox (mboxrd): each message exactly as received, escaped so it reads back the same."""

from __future__ import annotations

import re
from datetime import datetime

_FROM_LINES = re.compile(rb"(?m)^(>*From )")


def from_line(sender: str, date: datetime) -> bytes:
    """An mbox envelope line.

    >>> from_line("a@b.org", datetime(2019, 4, 26, 16, 47, 40))
    b'From a@b.org Fri Apr 26 16:47:40 2019\\n'
    """
    return f"From {sender or 'MAILER-DAEMON'} {date.strftime('%a %b %d %H:%M:%S %Y')}\n".encode()


def mboxrd_entry(envelope: str | None, sender: str, date: datetime, raw: bytes) -> bytes:
    """One message as an mboxrd entry: envelope, escaped body, blank line.

    >>> mboxrd_entry(None, "a@b", datetime(2020, 1, 1), b"S: x\\n\\nFrom me\\n>From you\\n")
    b'From a@b Wed Jan 01 00:00:00 2020\\nS: x\\n\\n>From me\\n>>From you\\n\\n'
    """
    head = (envelope.encode("latin-1", "replace") + b"\n") if envelope else from_line(sender, date)
    body = _FROM_LINES.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    return head + body + b"\n"
