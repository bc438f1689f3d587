"""A ceiling on request bodies: no form or API call needs more than :data:`MAX_BODY` bytes, and
without a ceiling one request could fill the server's memory.  A body announced as too large
(Content-Length) is refused before it is read; one sent in chunks is refused as soon as it
passes the limit.  The answer is 413 with a line saying what the limit is (JSON under /api/)."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY = 2 * 1024 * 1024  # bytes; a pasted roster of 10,000 addresses is ~300 KB

Scope = dict[str, Any]


class BodyLimit:
    """Pure ASGI middleware (it must see the body as it streams, before any handler)."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if refused:  # whatever the handler made of a cut-off body, the answer is 413
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(scope, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)
        except Exception:
            if refused and not started:  # a handler wrapped our signal in its own error
                await self._refuse(scope, send)
                return
            raise

    async def _refuse(self, scope: Scope, send: Any) -> None:
        text = (f"This request is larger than the {self.limit // (1024 * 1024)} MB this site "
                "accepts. Send less at a time (split a long list of addresses, say).")
        if str(scope.get("path", "")).startswith("/api/"):
            body, ctype = json.dumps({"error": text}).encode(), b"application/json"
        else:
            body, ctype = text.encode(), b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
