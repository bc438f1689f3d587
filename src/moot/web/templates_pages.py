"""A list's own texts on the web, for its owners: ``/l/{list}/admin/templates`` lists the
mail the list sends by itself (welcome, goodbye, confirmations, hold and rejection notices,
the footer), and ``/l/{list}/admin/templates/{name}`` edits one.

The edit page shows the list's text, or the built-in one to start from, with the fields it may
use.  Its one form has three buttons: Preview (the text as someone would get it, with sample
values, made by the code that makes the real message; nothing is saved), Save, and Restore the
built-in text.  Plain HTML forms (no scripts), each POST with the page's form token; a save or
a restore answers with a redirect, a preview or a refused text with the page again.

Who: the list's owners (and site admins).  Nobody logged in is sent to the log-in page and
back; anyone else is refused (403).  Every change is in the audit log.

Each page checks who may use it with :func:`moot.web.authz.page_role`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moot.app import Moot
from moot.core.mailinglist import ListConfig
from moot.storage import templates as texts
from moot.storage.store import now_utc
from moot.web import forms
from moot.web.authz import page_role

router = APIRouter()

DONE = {"saved": "Saved: the list now uses this text.",
        "reset": "The built-in text is back in use.",
        "unchanged": "The built-in text was in use already."}


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", forms.form_token(request))
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _kind(name: str) -> texts.Kind:
    try:
        return texts.kind(name)
    except texts.TemplateError as exc:
        raise HTTPException(404, f"{exc}.") from None


def _edit_url(config: ListConfig, name: str) -> str:
    return f"/l/{config.address}/admin/templates/{name}"


@router.get("/l/{address}/admin/templates", response_class=HTMLResponse, response_model=None)
def templates_page(request: Request, address: str, done: str = "") -> Response:
    config, _, role = page_role(request, address, "owner")
    with _moot(request).engine.connect() as conn:
        rows = texts.overview(conn, config)
    return _page(request, "admin/templates.html", lst=config, role=role, section="templates",
                 rows=rows, flash=DONE.get(done))


def _edit_page(request: Request, config: ListConfig, role: str, name: str, *,
               body: str | None = None, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    with _moot(request).engine.connect() as conn:
        doc = texts.current(conn, config, name)
    return _page(request, "admin/template_edit.html", status_code, lst=config, role=role,
                 section="templates", t=doc, body=doc["body"] if body is None else body,
                 fields=[("{" + f + "}", what, f in doc["required"])
                         for f, what in doc["fields"].items()],
                 braces=name != texts.FOOTER, **ctx)


@router.get("/l/{address}/admin/templates/{name}", response_class=HTMLResponse,
            response_model=None)
def edit_page(request: Request, address: str, name: str, done: str = "") -> Response:
    config, _, role = page_role(request, address, "owner")
    _kind(name)
    return _edit_page(request, config, role, name, flash=DONE.get(done))


@router.post("/l/{address}/admin/templates/{name}", response_class=HTMLResponse,
             response_model=None)
def edit(request: Request, address: str, name: str, action: str = Form(""),
         body: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    config, who, role = page_role(request, address, "owner")
    _kind(name)
    moot = _moot(request)
    if action == "preview":
        try:
            shown = texts.preview(config, name, body, base_url=moot.settings.base_url,
                                  now=now_utc())
        except texts.TemplateError as exc:
            return _edit_page(request, config, role, name, body=body, status_code=400,
                              error=f"This text cannot be used: {exc}.")
        return _edit_page(request, config, role, name, body=body, preview=shown)
    if action == "save":
        try:
            with moot.engine.begin() as conn:
                texts.save(conn, config, name, body, by=who.actor, now=now_utc())
        except texts.TemplateError as exc:
            return _edit_page(request, config, role, name, body=body, status_code=400,
                              error=f"Not saved: {exc}.")
        return RedirectResponse(f"{_edit_url(config, name)}?done=saved", status_code=303)
    if action == "reset":
        with moot.engine.begin() as conn:
            gone = texts.reset(conn, config, name, by=who.actor, now=now_utc())
        done = "reset" if gone else "unchanged"
        return RedirectResponse(f"{_edit_url(config, name)}?done={done}", status_code=303)
    return _edit_page(request, config, role, name, body=body, status_code=400,
                      error="Choose Preview, Save or Restore the built-in text.")
