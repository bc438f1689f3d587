"""The archive's pages.  URLs are keyed on Message-IDs and are stable (docs/urls.md).

Message-IDs may contain ``/``: the ``path`` converters below take everything up to the fixed
suffix, so a percent-encoded slash still reaches the right message.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import Row

from moot.app import Moot
from moot.core.address import obfuscate
from moot.core.errors import ListNotFound
from moot.core.htmlmail import sanitize_html
from moot.core.parse import attachment_content, html_body
from moot.reading import ThreadRow, export_mbox, thread_rows
from moot.storage import links
from moot.web.api import readable_for
from moot.web.render import obfuscate_addresses, render_body

router = APIRouter()

MONTH_NAMES = ("January February March April May June July August September October "
               "November December").split()
PAGE = 30
# Types a browser may show inline-safe anyway; everything else is served as bytes.
_SAFE_TYPES = {"image/png", "image/jpeg", "image/gif", "text/plain", "application/pdf"}


def msgid_url(list_address: str, message_id: str, kind: str = "m") -> str:
    return f"/l/{list_address}/{kind}/{quote(message_id, safe='@!$&*+=~:;,')}/"


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def removed_on(when: datetime) -> str:
    """The day the moderators took a message down, as the placeholder says it.

    >>> removed_on(datetime(2026, 11, 25, 17, 3))
    '25 November 2026'
    """
    return f"{when.day} {MONTH_NAMES[when.month - 1]} {when.year}"


def _gone(m: Row[Any]) -> None:
    """410 for what the moderators took down: its raw bytes and attachments are not kept."""
    if m.removed_kind:
        what = "removed" if m.removed_kind == "deleted" else "redacted"
        raise HTTPException(410, f"This message was {what} by the moderators on "
                                 f"{removed_on(m.removed_at)}; its original form and its "
                                 "attachments are no longer kept.")


def _moderates(request: Request, list_id: int) -> bool:
    """Whether the visitor may take this list's messages down (no look-up without a log-in;
    a page that says yes is theirs alone, never kept by a shared cache)."""
    from moot.web.accounts import current_user

    if current_user(request) is None:
        return False
    from moot.authz import may
    from moot.web.authz import viewer

    try:
        who = viewer(request)
    except HTTPException:  # a bad API token sent with a page request: a reader like others
        return False
    with _moot(request).engine.connect() as conn:
        if may(conn, who, list_id, "moderator"):
            request.state.private = True
            return True
    return False


def _render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("msgid_url", msgid_url)
    ctx.setdefault("month_names", MONTH_NAMES)
    ctx.setdefault("removed_on", removed_on)
    return request.app.state.templates.TemplateResponse(request, name, ctx,
                                                        status_code=status_code)


def readable_list(request: Request, address: str) -> Row[Any]:
    """The list, if this visitor may read its archive; 404 otherwise (never say it exists)."""
    try:
        row = _moot(request).archive.get_list(address)
    except ListNotFound:
        raise HTTPException(404, f"There is no public list {address} here.") from None
    if row.archive_policy == "private":
        from moot.authz import may
        from moot.web.authz import viewer

        who = viewer(request)
        with _moot(request).engine.connect() as conn:
            if not who.anonymous and may(conn, who, row.id, "member"):
                request.state.private = True  # not for shared caches (see web/app.py)
                return row
    if row.archive_policy != "public":
        raise HTTPException(404, f"There is no public list {address} here.")
    return row


def _message(request: Request, lst: Row[Any], msgid: str) -> list[Row[Any]]:
    found = _moot(request).archive.messages_by_id(lst.id, msgid)
    if not found:
        raise HTTPException(404, f"No message <{msgid}> in {lst.address}. "
                                 "Check the address, or search the archive.")
    return found


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "", l: str = "", page: int = 1,  # noqa: E741
                sort: str = "best", group: str = "") -> HTMLResponse:
    from moot.core.query import QueryError
    from moot.web.api import run_search
    from moot.web.render import highlight

    page = max(1, page)
    readable = readable_for(request)
    per_page = 20
    results, error = None, None
    if q.strip():
        try:
            results = run_search(_moot(request), q, l, limit=per_page,
                                 offset=(page - 1) * per_page, newest=sort == "newest",
                                 threads=group == "thread", readable=readable)
        except QueryError as exc:
            error = str(exc)
    lst = _moot(request).archive.find_list(l) if l else None
    if lst is not None and lst.address not in readable:
        lst = None
    hits = [{"h": h, "snippet": highlight(h.snippet, h.spans), "name": _public_name(h.sender)}
            for h in results.hits] if results else []
    return _render(request, "search.html", q=q, l=l, lst=lst, results=results, hits=hits,
                   error=error, page=page, per_page=per_page, sort=sort, group=group,
                   status_code=400 if error else 200)


def _public_name(sender: str) -> str:
    name = sender.split(" <")[0]
    return obfuscate(name) if "@" in name else name


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    readable = readable_for(request)
    lists = [r for r in _moot(request).archive.lists() if r.address in readable]
    return _render(request, "index.html", lists=lists)


@router.get("/l/{address}/", response_class=HTMLResponse)
def list_home(request: Request, address: str, page: int = 1) -> HTMLResponse:
    lst = readable_list(request, address)
    page = max(page, 1)
    archive = _moot(request).archive
    threads = archive.latest_threads(lst.id, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return _render(request, "list.html", lst=lst, threads=threads[:PAGE], page=page,
                   more=len(threads) > PAGE, months=archive.months(lst.id))


@router.get("/l/{address}/atom.xml")
def atom(request: Request, address: str) -> Response:
    lst = readable_list(request, address)
    threads = _moot(request).archive.new_threads(lst.id, limit=30)
    body = request.app.state.templates.get_template("atom.xml").render(
        lst=lst, threads=threads, msgid_url=msgid_url)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/l/{address}/{year:int}/{month:int}/", response_class=HTMLResponse)
def month_page(request: Request, address: str, year: int, month: int) -> HTMLResponse:
    lst = readable_list(request, address)
    if not 1 <= month <= 12 or not 1 <= year <= 9999:
        raise HTTPException(404, "No such month.")
    archive = _moot(request).archive
    months = archive.months(lst.id)
    keys = [(int(m.year), int(m.month)) for m in months]
    here = (year, month)
    newer = next((k for k in reversed(keys) if k > here), None)
    older = next((k for k in keys if k < here), None)
    threads = archive.month_threads(lst.id, year, month)
    return _render(request, "month.html", lst=lst, year=year, month=month, threads=threads,
                   newer=newer, older=older)


@router.get("/l/{address}/{year:int}/{month:int}/mbox")
def month_mbox(request: Request, address: str, year: int, month: int) -> StreamingResponse:
    lst = readable_list(request, address)
    if not 1 <= month <= 12:
        raise HTTPException(404, "No such month.")
    name = f"{lst.address}-{year:04d}-{month:02d}.mbox"
    return _mbox_response(export_mbox(_moot(request).archive, lst.id, month=(year, month)), name)


def _mbox_response(chunks: Iterator[bytes], filename: str) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="application/mbox", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}"})


@router.get("/l/{address}/m/{msgid:path}/raw")
def raw_message(request: Request, address: str, msgid: str, n: int = 1) -> Response:
    lst = readable_list(request, address)
    found = _message(request, lst, msgid)
    if not 1 <= n <= len(found):
        raise HTTPException(404, f"There are {len(found)} messages with this Message-ID.")
    _gone(found[n - 1])
    data = _moot(request).archive.raw(found[n - 1].id)
    return Response(data, media_type="text/plain", headers={"Content-Disposition": "inline"})


@router.get("/l/{address}/m/{msgid:path}/a/{position}/{filename}")
def attachment(request: Request, address: str, msgid: str, position: int,
               filename: str, n: int = 1) -> Response:
    lst = readable_list(request, address)
    found = _message(request, lst, msgid)
    if not 1 <= n <= len(found):
        raise HTTPException(404, "No such message.")
    _gone(found[n - 1])
    part = attachment_content(_moot(request).archive.raw(found[n - 1].id), position)
    if part is None:
        raise HTTPException(404, "No such attachment.")
    name, ctype, data = part
    ctype = ctype.lower() if ctype.lower() in _SAFE_TYPES else "application/octet-stream"
    if ctype == "text/plain":
        ctype = "text/plain; charset=utf-8"
    safe_name = quote(name or filename or f"attachment-{position}", safe="")
    return Response(data, media_type=ctype, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{safe_name}",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.get("/l/{address}/m/{msgid:path}/", response_class=HTMLResponse)
def message_page(request: Request, address: str, msgid: str) -> HTMLResponse:
    lst = readable_list(request, address)
    found = _message(request, lst, msgid)
    archive = _moot(request).archive
    rows = thread_rows(archive, found[0].thread_id, with_body=False)
    thread_ids = [r.message_id for r in rows if r.message is not None]
    pos = thread_ids.index(msgid) if msgid in thread_ids else -1
    prev_in_thread = thread_ids[pos - 1] if pos > 0 else None
    next_in_thread = thread_ids[pos + 1] if 0 <= pos < len(thread_ids) - 1 else None
    before, after = archive.month_neighbours(lst.id, found[0].sort_date, found[0].id)
    shown = []
    readable = set(readable_for(request).values())
    for m in found:
        html = None
        if m.has_html and not m.removed_kind:
            markup = html_body(archive.raw(m.id))
            html = obfuscate_addresses(sanitize_html(markup)) if markup else None
        with _moot(request).engine.connect() as conn:
            ties = {"out": links.outgoing(conn, m.id, readable),
                    "in": links.incoming(conn, m.id, readable),
                    "copies": links.appearances(conn, m.id, readable)}
        shown.append({"m": m, "body": render_body(m.body_text), "html": html,
                      "attachments": archive.attachments(m.id) if m.attachment_count else [],
                      "links": ties})
    return _render(request, "message.html", lst=lst, msgid=msgid, shown=shown,
                   thread=_tree_context(rows, msgid), prev_in_thread=prev_in_thread,
                   next_in_thread=next_in_thread, before=before, after=after,
                   thread_root=rows[0].message_id if rows else msgid,
                   may_remove=_moderates(request, lst.id))


def _tree_context(rows: list[ThreadRow], current: str) -> list[dict[str, Any]]:
    return [{"id": r.message_id, "depth": min(r.depth, 12), "m": r.message,
             "current": r.message_id == current} for r in rows]


@router.get("/l/{address}/t/{msgid:path}/mbox")
def thread_mbox(request: Request, address: str, msgid: str) -> StreamingResponse:
    lst = readable_list(request, address)
    found = _message(request, lst, msgid)
    chunks = export_mbox(_moot(request).archive, lst.id, thread_id=found[0].thread_id)
    return _mbox_response(chunks, f"thread-{msgid[:60]}.mbox")


@router.get("/l/{address}/t/{msgid:path}/", response_class=HTMLResponse)
def thread_page(request: Request, address: str, msgid: str) -> HTMLResponse:
    lst = readable_list(request, address)
    found = _message(request, lst, msgid)
    archive = _moot(request).archive
    rows = thread_rows(archive, found[0].thread_id)
    readable = set(readable_for(request).values())
    with _moot(request).engine.connect() as conn:
        ties = links.summaries(conn, [r.message.id for r in rows if r.message is not None],
                               readable)
    items = [{"id": r.message_id, "depth": min(r.depth, 12), "m": r.message,
              "body": render_body(r.message.body_text) if r.message else None,
              "ties": ties.get(r.message.id) if r.message is not None else None}
             for r in rows]
    return _render(request, "thread.html", lst=lst, msgid=msgid, items=items,
                   thread=archive.thread(found[0].thread_id))
