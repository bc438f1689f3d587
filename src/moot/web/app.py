"""The web application factory.  No module globals: everything hangs off ``app.state``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from moot import __version__
from moot.app import Moot
from moot.core.address import obfuscate
from moot.web import api, archive, metrics, moderation, subscription
from moot.web.authz import LogInFirst, to_login
from moot.web.limits import BodyLimit

HERE = Path(__file__).parent

SECURITY_HEADERS = {
    # Pages carry no scripts at all; mail can never bring its own.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(moot: Moot) -> FastAPI:
    app = FastAPI(title="moot", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    # A long thread is a megabyte of HTML; compressed it is a tenth of that on a phone.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.add_middleware(BodyLimit)  # outermost: a huge body is refused before anything reads it
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["who"] = _who
    templates.env.filters["identity"] = _identity
    templates.env.filters["filename_segment"] = filename_segment

    def visitor(request: Request) -> object:
        """The logged-in account, for the page header (no look-up without a session)."""
        from moot.web.accounts import current_user

        return current_user(request)

    templates.env.globals["visitor"] = visitor
    templates.env.globals["base_url"] = moot.settings.base_url.rstrip("/")
    app.state.moot = moot
    app.state.templates = templates

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    # A page for someone logged in, asked for by nobody: the log-in page, then back.
    app.add_exception_handler(LogInFirst, to_login)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            from fastapi.responses import JSONResponse

            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(request, "error.html",
                                          {"status": exc.status_code, "detail": exc.detail},
                                          status_code=exc.status_code)

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    def healthz() -> PlainTextResponse:
        try:
            with moot.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - whatever it is, the answer is 503
            # The reason goes to the log, not to the (public) answer: it may name hosts,
            # ports and users of the database.
            logging.getLogger("moot.web").warning(
                "health check: database unavailable: %s",
                (str(exc).splitlines() or [type(exc).__name__])[0])
            return PlainTextResponse("database unavailable: see the server's log",
                                     status_code=503)
        return PlainTextResponse("ok")

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.mount("/api/v1", api.create_api(moot))
    app.include_router(archive.router)
    app.include_router(subscription.router)
    app.include_router(moderation.router)
    app.include_router(metrics.router)
    from moot.web import removal_pages, templates_pages

    app.include_router(templates_pages.router)  # /l/{list}/admin/templates: a list's texts
    app.include_router(removal_pages.router)  # /l/{list}/m/{msgid}/remove: take a post down
    from moot.web import admin_pages

    admin_pages.install(app)  # /l/{list}/admin/: the owners' and moderators' pages
    from moot.web import issues_pages

    issues_pages.install(app)  # /l/{list}/issues/: edited issues of the list's periodical
    from moot.web import accounts

    app.include_router(accounts.router)
    from moot.web import me

    app.include_router(me.router)
    templates.env.globals["list_box"] = me.list_box  # list.html's join / post box

    @app.middleware("http")
    async def csrf_cookie(request: Request, call_next: Any) -> Any:
        """A page whose template put a form token in a form (list.html's join box) also
        sets the token's cookie, if its handler did not (moot.web.forms)."""
        from moot.web import forms

        response = await call_next(request)
        if not any(v.startswith(f"{forms.COOKIE}=") for v in
                   response.headers.getlist("set-cookie")):
            forms.set_cookie(request, response)
        return response

    @app.middleware("http")
    async def private_pages(request: Request, call_next: Any) -> Any:
        """A private list's pages, and any page for a logged-in reader, are for one reader: no
        shared cache may keep them."""
        response = await call_next(request)
        if getattr(request.state, "private", False) or getattr(request.state, "user", None):
            response.headers["Cache-Control"] = "private, no-store"
        return response
    return app


def filename_segment(name: str) -> str:
    r"""An attachment's name as one URL path segment: only its last part (a name like
    ``../../etc/passwd`` is ``passwd``), dot-only names replaced, everything else
    percent-encoded, slashes included, so a browser never resolves it to another path.

    >>> filename_segment("../../etc/passwd"), filename_segment("a b/c\\d.pdf")
    ('passwd', 'd.pdf')
    >>> filename_segment(".."), filename_segment("<x>.html")
    ('attachment', '%3Cx%3E.html')
    """
    from urllib.parse import quote

    last = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not last.strip("."):
        last = "attachment"
    return quote(last, safe="")


_VERDICTS = {"verified": "verified", "unverified": "not verified",
             "failed": "failed verification"}


def _identity(m: object) -> dict[str, str] | None:
    """What was found about a message's sender when it came in, in words (None: nobody
    checked, as for imported mail)."""
    import json

    raw = getattr(m, "identity", None)
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    verdict = doc.get("verdict") if isinstance(doc, dict) else None
    if verdict not in _VERDICTS:
        return None
    return {"verdict": verdict, "words": _VERDICTS[verdict], "how": str(doc.get("how", ""))}


def _who(m: object) -> str:
    """How a sender is shown on public pages: the name, else the address obfuscated."""
    name = getattr(m, "from_name", "") or ""
    addr = getattr(m, "from_addr", "") or ""
    return name or (obfuscate(addr) if addr else "(unknown sender)")
