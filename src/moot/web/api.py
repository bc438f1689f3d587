"""The REST API (JSON), mounted at /api/v1; its OpenAPI document is /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from moot import __version__
from moot.app import Moot
from moot.reading import thread_rows


def create_api(moot: Moot) -> FastAPI:
    api = FastAPI(title="moot API", version=__version__, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None)

    @api.exception_handler(StarletteHTTPException)
    async def json_error(_request: Any, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    def public_list(address: str) -> Any:
        row = moot.archive.find_list(address)
        if row is None or row.archive_policy != "public":
            raise HTTPException(404, f"no public list {address}")
        return row

    @api.get("/lists")
    def lists() -> dict[str, Any]:
        """The lists whose archives are public, with their counts."""
        return {"lists": [
            {"address": r.address, "display_name": r.display_name,
             "description": r.description, "messages": r.messages, "threads": r.threads}
            for r in moot.archive.lists() if r.archive_policy == "public"]}

    @api.get("/lists/{address}/threads/{message_id:path}")
    def thread(address: str, message_id: str) -> dict[str, Any]:
        """A thread in display order, as `moot thread --json` prints it."""
        lst = public_list(address)
        found = moot.archive.messages_by_id(lst.id, message_id)
        if not found:
            raise HTTPException(404, f"no message <{message_id}> in {address}")
        rows = thread_rows(moot.archive, found[0].thread_id, with_body=False)
        return {"root": rows[0].message_id, "list": lst.address, "messages": [
            {"message_id": r.message_id, "parent": r.parent, "depth": r.depth,
             "subject": r.message.subject if r.message else None,
             "from": r.message.from_name if r.message else None,
             "date": r.message.date_utc.isoformat() + "Z"
             if r.message and r.message.date_utc else None,
             "placeholder": r.message is None} for r in rows]}

    @api.get("/search")
    def search(q: str = "", list: str = "", limit: int = 20, offset: int = 0,  # noqa: A002
               newest: bool = False, threads: bool = False) -> JSONResponse:
        """The same JSON as `moot search --json`; a malformed query answers 400."""
        from moot.core.query import QueryError

        try:
            results = run_search(moot, q, list, limit=limit, offset=offset, newest=newest,
                                 threads=threads)
        except QueryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(results.as_json())

    from moot.web.admin_api import router as admin_router

    api.state.moot = moot
    api.include_router(admin_router)
    from moot.web.bans_api import router as bans_router

    api.include_router(bans_router)
    return api


def run_search(moot: Moot, q: str, list_address: str = "", *, limit: int = 20,
               offset: int = 0, newest: bool = False, threads: bool = False) -> Any:
    """A search over the public lists only (readers of the web and API are anonymous)."""
    public = moot.archive.public_lists()
    ids = list(public.values())
    if list_address:
        ids = [public[list_address.lower()]] if list_address.lower() in public else []
    return moot.search.search(q, list_ids=ids, limit=limit, offset=max(0, offset),
                              newest_first=newest, by_thread=threads,
                              list_address_ids=lambda a: public.get(a))
