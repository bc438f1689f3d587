"""``GET /api/v1/messages/{msgid}/links``: how one message is tied to others.

``outgoing``: what it points at -- the message it answers (kind ``reply``), passages it quotes,
messages its prose refers to, an earlier appearance of the same letter; ``incoming``: what
points at it.  Only messages of lists the caller may read appear, on either side.  A Message-ID
found on several lists gives the links of each copy, with ``list`` saying which.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from moot.app import Moot
from moot.reading import parent_ids, thread_rows
from moot.storage import links
from moot.web.api import readable_for

router = APIRouter()


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


@router.get("/messages/{message_id:path}/links")
def message_links(request: Request, message_id: str) -> dict[str, Any]:
    """`{"message_id", "outgoing": [{"kind", "target", ...}], "incoming": [{"kind", "source",
    ...}]}`; kinds: reply, quote, reference, republication."""
    moot = _moot(request)
    readable = readable_for(request)
    ids = set(readable.values())
    copies = [c for c in moot.archive.find_message_everywhere(message_id)
              if c.address in readable]
    if not copies:
        raise HTTPException(404, f"no message <{message_id}> in a list you may read; check the "
                                 "Message-ID (without angle brackets), or log in")
    outgoing: list[dict[str, Any]] = []
    incoming: list[dict[str, Any]] = []
    seen_threads: dict[int, list[Any]] = {}
    for copy in copies:
        rows = seen_threads.setdefault(copy.thread_id, thread_rows(
            moot.archive, copy.thread_id, with_body=False))
        known = {r.message_id for r in rows if r.message is not None}
        for r in rows:
            if r.message is not None and r.message.id == copy.id:
                # The thread's parent; or, for a message whose parent never arrived and that
                # the thread shows as a root, the one its headers name.
                parent = r.parent or next(iter(parent_ids(r.message)), None)
                if parent:
                    outgoing.append({"kind": "reply", "target": parent,
                                     "list": copy.address, "found": parent in known})
            if r.parent == message_id and r.message is not None:
                incoming.append({"kind": "reply", "source": r.message_id,
                                 "list": copy.address})
        with moot.engine.connect() as conn:
            outgoing += [dict(x, list=copy.address) for x in links.outgoing(conn, copy.id, ids)]
            incoming += links.incoming(conn, copy.id, ids)
    return {"message_id": message_id, "outgoing": outgoing, "incoming": incoming}
