"""Taking an archived message down on the web: ``/l/{list}/m/{msgid}/remove``.

A list's moderators (and owners, and site admins) see a "Remove or redact" link on each
message page.  It leads here: a form to delete the message or strike passages from it
(:mod:`moot.removal`), with a reason for the audit log.  The message's current text is shown
below the form as stored (addresses not obfuscated, unlike the public pages), so passages
can be copied exactly.  The POST carries the page's form token and
answers with a redirect back to the message, where everyone now sees the placeholder.

Nobody logged in is sent to the log-in page and back; members and strangers are refused (403).
``?n=K`` picks one of several messages that share a Message-ID, as on the raw route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Row

from moot.app import Moot
from moot.core.errors import MessageNotFound
from moot.core.mailinglist import ListConfig
from moot.removal import AlreadyDeleted, RemovalError, passages_from, take_down
from moot.web import forms
from moot.web.archive import msgid_url
from moot.web.authz import page_role

router = APIRouter()

KINDS = (("redact", "Strike passages (the rest of the message stays readable)"),
         ("delete", "Delete the whole message (its place in the thread stays)"))


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _message(request: Request, config: ListConfig, msgid: str, n: int) -> Row[Any]:
    found = _moot(request).archive.messages_by_id(config.id, msgid)
    if not 1 <= n <= len(found):
        raise HTTPException(404, f"No message <{msgid}> in {config.address}.")
    return found[n - 1]


def _form(request: Request, config: ListConfig, msgid: str, n: int, status_code: int = 200,
          **ctx: Any) -> HTMLResponse:
    m = _message(request, config, msgid, n)
    ctx.setdefault("csrf", forms.form_token(request))
    ctx.setdefault("kind", "redact")
    response = request.app.state.templates.TemplateResponse(request, "remove.html", {
        "lst": config, "msgid": msgid, "n": n, "m": m, "kinds": KINDS,
        # As stored: addresses are not obfuscated here, so a moderator can copy them exactly.
        "text": m.body_text if m.removed_kind != "deleted" else None,
        "back": msgid_url(config.address, msgid), **ctx}, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


@router.get("/l/{address}/m/{msgid:path}/remove", response_class=HTMLResponse,
            response_model=None)
def remove_form(request: Request, address: str, msgid: str, n: int = 1) -> Response:
    found = page_role(request, address, "moderator")
    if isinstance(found, Response):
        return found
    config = found[0]
    return _form(request, config, msgid, n)


@router.post("/l/{address}/m/{msgid:path}/remove", response_class=HTMLResponse,
             response_model=None)
def remove(request: Request, address: str, msgid: str, n: int = 1, kind: str = Form(""),
           passages: str = Form(""), reason: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    config, who, _ = page_role(request, address, "moderator")
    if kind not in dict(KINDS):
        return _form(request, config, msgid, n, 400, passages=passages, reason=reason,
                     error="Choose whether to strike passages or delete the message.")
    try:
        done = take_down(_moot(request), config, msgid, kind, passages=passages_from(passages),
                         by=who.actor, reason=reason, n=n)
    except MessageNotFound:
        raise HTTPException(404, f"No message <{msgid}> in {config.address}.") from None
    except AlreadyDeleted as exc:
        return _form(request, config, msgid, n, 409, error=f"{exc}.")
    except RemovalError as exc:
        return _form(request, config, msgid, n, 400, kind=kind, passages=passages,
                     reason=reason, error=f"Nothing was changed: {exc}.")
    if not done.indexed:
        return _form(request, config, msgid, n, 503, error=(
            f"The message was {done.kind}, but the search index could not be updated (another "
            "process is writing to it), so searches may still find the removed words. Ask the "
            "server's operator to run `moot reindex`."))
    return RedirectResponse(msgid_url(config.address, msgid) + (f"#m{n}" if n > 1 else ""),
                            status_code=303)
