"""The moderators' page for one held post: ``/l/{list}/moderate/{hold_id}/{token}``.

Why there is no login: the link comes in the moderator notice, signed for that one hold
(:mod:`moot.core.moderation`); whoever holds it may decide that post, as whoever holds a
confirmation link may confirm.  The link stops working once the post is decided or expires,
and works for no other post or list.

A GET changes nothing (mail scanners follow links): it shows the post as the archive would
(escaped text, links made safe; never the post's own HTML), why it was held, and buttons.  The
buttons POST with the form token (:mod:`moot.web.forms`), so another site cannot make a
moderator's browser decide.  The page is not cached or indexed.

What it won't do: list a whole queue (that needs accounts: ``moot held`` and the REST API
have it), edit a post, or show its attachments.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Row

from moot.app import Moot
from moot.core.errors import MootError
from moot.core.mailinglist import ListConfig
from moot.core.moderation import MODERATOR_DECISIONS, check_hold_token, read_hold_token
from moot.core.parse import parse_message
from moot.moderation import row_key
from moot.storage import held
from moot.storage.lists import get_config
from moot.web import forms
from moot.web.render import render_body

router = APIRouter()

BUTTONS = (("approve", "Approve"), ("reject", "Turn down (the author is told)"),
           ("discard", "Discard (nobody is told)"), ("defer", "Decide later"),
           ("approve+unmoderate", "Approve, and stop holding this sender's posts"),
           ("approve+accept", "Approve, and always accept this sender"))
_NOT_VALID = ("This moderation link is not valid: it may be for another post, or the post "
              "was deleted. Use the link in the latest notice, or `moot held` on the server.")


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return forms.set_cookie(request, response)  # type: ignore[no-any-return]


def _hold(request: Request, address: str, hold_id: int, token: str
          ) -> tuple[ListConfig, Row[Any]]:
    """The list and the held post the token is for; 404 for anything else."""
    claimed = read_hold_token(token)
    if claimed is None or claimed != (hold_id, "moderate"):
        raise HTTPException(404, _NOT_VALID)
    moot = _moot(request)
    with moot.engine.connect() as conn:
        config = get_config(conn, address)
        row = held.get_held(conn, config.id, hold_id) if config is not None else None
    if config is None or row is None or not check_hold_token(
            moot.membership.secret, config.address, token, row_key(row)):
        raise HTTPException(404, _NOT_VALID)
    return config, row


def _decided(request: Request, config: ListConfig, row: Row[Any]) -> HTMLResponse:
    by = f" by {row.decided_by}" if row.decided_by else ""
    return _page(request, "done.html", 409, lst=config, title="Already decided",
                 message=f"Post #{row.id} ({row.subject or 'no subject'}) was already "
                         f"decided: {row.decision}{by}.")


@router.get("/l/{address}/moderate/{hold_id}/{token}", response_class=HTMLResponse)
def moderate_page(request: Request, address: str, hold_id: int, token: str) -> HTMLResponse:
    config, row = _hold(request, address, hold_id, token)
    if row.decision is not None:
        return _decided(request, config, row)
    parsed = parse_message(held.raw_of(row))
    return _page(request, "moderate.html", lst=config, hold=row, parsed=parsed,
                 body=render_body(parsed.body_text),
                 reasons=[r for r in row.reasons.split("\n") if r], buttons=BUTTONS,
                 action=request.url.path, csrf=forms.form_token(request))


@router.post("/l/{address}/moderate/{hold_id}/{token}", response_class=HTMLResponse)
def moderate(request: Request, address: str, hold_id: int, token: str,
             decision: str = Form(""), reason: str = Form(""),
             csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    config, row = _hold(request, address, hold_id, token)
    if decision not in MODERATOR_DECISIONS:
        raise HTTPException(400, f"Choose one of: {', '.join(MODERATOR_DECISIONS)}.")
    moot = _moot(request)
    reason = " ".join(reason.split())[:1000]
    try:
        with moot.engine.begin() as conn:
            outcome = moot.inbound.moderate(conn, config, hold_id, decision, by="web",
                                            reason=reason)
    except MootError:
        with moot.engine.connect() as conn:
            fresh = held.get_held(conn, config.id, hold_id)
        if fresh is None:
            raise HTTPException(404, _NOT_VALID) from None
        return _decided(request, config, fresh)
    if outcome.message_pk is not None:
        moot.search.catch_up()
    if decision == "defer":
        message = (f"Post #{hold_id} stays in the queue; the link in the notice still works "
                   "until someone decides or it expires.")
    else:
        message = f"Post #{hold_id}: {decision} — {outcome.line()}."
    return _page(request, "done.html", lst=config, title="Done", message=message)
