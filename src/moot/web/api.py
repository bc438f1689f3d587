"""The REST API (JSON), mounted at /api/v1; its OpenAPI document is /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from moot import __version__
from moot.app import Moot
from moot.reading import thread_rows


class Error(BaseModel):
    """Every refusal: what went wrong and what to do, in one sentence for a person."""

    error: str


# Documented on every operation: each can meet these (a bad token, a list that is not there).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "The request is not what this call takes."},
    401: {"model": Error, "description": "Nobody is logged in, or the token is not valid."},
    403: {"model": Error, "description": "The caller lacks the role this call needs."},
    404: {"model": Error, "description": "No such list, message or item (or not readable)."},
    409: {"model": Error, "description": "It is already so, or was already decided."},
    413: {"model": Error, "description": "The request body is over the site's limit."},
    422: {"model": Error, "description": "A parameter or the body has the wrong shape."},
}


def _validation_text(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one sentence: which field, what is wrong.

    >>> _validation_text(RequestValidationError([{"loc": ("query", "limit"),
    ...     "msg": "Input should be a valid integer"}]))
    'limit: Input should be a valid integer'
    """
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "body"
        parts.append(f"{where}: {err.get('msg', 'not valid')}")
    return "; ".join(parts) or "the request is not valid"


def create_api(moot: Moot) -> FastAPI:
    api = FastAPI(title="moot API", version=__version__, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None, responses=ERRORS)

    @api.exception_handler(StarletteHTTPException)
    async def json_error(_request: Any, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Any, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_text(exc)}, status_code=422)

    def readable_list(request: Request, address: str) -> Any:
        row = moot.archive.find_list(address)
        readable = readable_for(request)
        if row is None or row.address not in readable:
            raise HTTPException(404, f"no list {address} that you may read (private archives "
                                     "are for their members: log in or send an API token)")
        return row

    @api.get("/lists")
    def lists(request: Request) -> dict[str, Any]:
        """The lists whose archives the caller may read (public ones, and private ones the
        caller is a member of), with their counts."""
        readable = readable_for(request)
        return {"lists": [
            {"address": r.address, "display_name": r.display_name,
             "description": r.description, "archive": r.archive_policy,
             "messages": r.messages, "threads": r.threads}
            for r in moot.archive.lists() if r.address in readable]}

    @api.get("/lists/{address}/threads/{message_id:path}")
    def thread(request: Request, address: str, message_id: str) -> dict[str, Any]:
        """A thread in display order, as `moot thread --json` prints it."""
        lst = readable_list(request, address)
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
    def search(request: Request, q: str = "", list: str = "",  # noqa: A002
               limit: int = 20, offset: int = 0, newest: bool = False,
               threads: bool = False) -> JSONResponse:
        """The same JSON as `moot search --json`, over the lists the caller may read (public
        ones, and private ones the caller is a member of); a malformed query answers 400."""
        from moot.core.query import QueryError

        try:
            results = run_search(moot, q, list, limit=max(1, min(limit, 100)), offset=offset,
                                 newest=newest, threads=threads,
                                 readable=readable_for(request))
        except QueryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(results.as_json())

    from moot.web.admin_api import router as admin_router

    api.state.moot = moot
    api.include_router(admin_router)
    from moot.web.bans_api import router as bans_router

    api.include_router(bans_router)
    from moot.web.content_api import router as content_router

    api.include_router(content_router)  # a list's templates; taking messages down
    from moot.web.me_api import router as me_router

    api.include_router(me_router)
    from moot.web.links_api import router as links_router

    api.include_router(links_router)  # /messages/{msgid}/links
    from moot.web.issues_api import router as issues_router

    api.include_router(issues_router)  # /lists/{list}/issues: edited issues
    return api


def run_search(moot: Moot, q: str, list_address: str = "", *, readable: dict[str, int],
               limit: int = 20, offset: int = 0, newest: bool = False,
               threads: bool = False) -> Any:
    """A search over the lists this reader may read (``readable``: address -> id, from
    :func:`readable_for`).  Nothing else is ever searched, so a private list's words never
    reach a hit, a snippet or a count."""
    public = readable
    ids = list(public.values())
    if list_address:
        ids = [public[list_address.lower()]] if list_address.lower() in public else []
    return moot.search.search(q, list_ids=ids, limit=limit, offset=max(0, offset),
                              newest_first=newest, by_thread=threads,
                              list_address_ids=lambda a: public.get(a))


def readable_for(request: Any) -> dict[str, int]:
    """address -> id of the lists the requester may read: the public ones for nobody in
    particular, and private ones too for their members and site admins."""
    from moot.authz import readable_lists
    from moot.web.authz import viewer

    who = viewer(request)
    if who.anonymous:
        return request.app.state.moot.archive.public_lists()  # type: ignore[no-any-return]
    request.state.private = True  # a signed-in reader's results may hold private lists
    with request.app.state.moot.engine.connect() as conn:
        return readable_lists(conn, who)
