"""How ``moot serve`` writes its log: readable lines (the default) or one JSON object per line.

JSON is for log collectors (journald's, Loki, Elasticsearch...): each line is a document with
``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, the exception's traceback as
``exception`` when there is one, and every extra field the code passed with ``extra=`` (such
as ``list`` or ``message_id``).  Only the standard library's logging: nothing else to
configure, and every library's records come out the same way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                          "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    >>> record = logging.LogRecord("moot.inbound", logging.WARNING, "", 0, "held %s", ("x",),
    ...                            None)
    >>> record.created = 0.0
    >>> record.list = "dev@example.org"
    >>> print(JsonFormatter().format(record))
    {"time": "1970-01-01T00:00:00.000Z", "level": "warning", "logger": "moot.inbound", \
"message": "held x", "list": "dev@example.org"}
    """

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, Any] = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(fmt: str, *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the root logger's records to ``stream`` (stderr) as ``fmt`` says: ``text`` or
    ``json``; moot's own from ``level`` up, other libraries' (aiosmtpd logs every connection
    at INFO) from WARNING up.  Replaces the handler an earlier call installed, so it is safe
    to call twice."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: choose {' or '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name("moot")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "moot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("moot").setLevel(level)
    # uvicorn's loggers write through handlers of their own unless told to pass records up.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
