"""Joining and leaving on the web: the subscribe form, the confirmation page and the
unsubscribe link each member gets in every post (RFC 8058 one-click).

Nothing changes on a GET: mail scanners follow links.  A confirmation or unsubscribe link
opens a page with one button; the button (a POST) does it.  Mail programs that support
RFC 8058 send that POST themselves, with the body ``List-Unsubscribe=One-Click``: the signed
token in the URL is the authority there, so that POST needs no form token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from moot.app import Moot
from moot.core.address import valid_email
from moot.core.mailinglist import ListConfig
from moot.core.tokens import read_unsubscribe_token
from moot.storage import members as member_store
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from moot.web import forms

router = APIRouter()


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _config(request: Request, address: str) -> ListConfig:
    with _moot(request).engine.connect() as conn:
        config = get_config(conn, address)
    if config is None:
        raise HTTPException(404, f"There is no list {address} here.")
    return config


@router.get("/l/{address}/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, address: str) -> HTMLResponse:
    config = _config(request, address)
    return _page(request, "subscribe.html", lst=config, csrf=forms.form_token(request))


@router.post("/l/{address}/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, address: str, email: str = Form(""), digest: str = Form(""),
              csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    config = _config(request, address)
    if not valid_email(email):
        return _page(request, "subscribe.html", 400, lst=config, email=email,
                     csrf=forms.form_token(request),
                     error="That is not an email address; write it as name@example.org.")
    if config.subscriptions == "closed":
        return _page(request, "done.html", 403, lst=config, title="This list is closed",
                     message=f"{config.name} does not take requests to join. Write to "
                             f"{config.owner_address} to ask its owners.")
    moot = _moot(request)
    with moot.engine.begin() as conn:
        moot.membership.request_subscribe(conn, config, email, now_utc(),
                                          delivery="digest" if digest else "regular")
    # The same words whether or not the address is already a member: this page must not tell
    # anyone who is subscribed.
    return _page(request, "done.html", lst=config, title="Check your mail",
                 message=f"Unless {email.strip().lower()} is already subscribed, a message is "
                         f"on its way to it. Follow the link in it, or reply to it, to join "
                         f"{config.name}. Nothing happens if you ignore it.")


@router.post("/l/{address}/leave", response_class=HTMLResponse)
def leave(request: Request, address: str, email: str = Form(""),
          csrf: str = Form("")) -> HTMLResponse:
    """Leave without a link at hand: a confirmation goes to the address."""
    forms.check(request, csrf)
    config = _config(request, address)
    if not valid_email(email):
        return _page(request, "subscribe.html", 400, lst=config, leave_email=email,
                     csrf=forms.form_token(request),
                     error="That is not an email address; write it as name@example.org.")
    moot = _moot(request)
    with moot.engine.begin() as conn:
        moot.membership.request_unsubscribe(conn, config, email, now_utc())
    return _page(request, "done.html", lst=config, title="Check your mail",
                 message=f"If {email.strip().lower()} is subscribed, a message is on its way "
                         f"to it; follow the link in it to leave {config.name}.")


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_form(request: Request, token: str) -> HTMLResponse:
    return _page(request, "confirm.html", token=token, csrf=forms.form_token(request))


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    moot = _moot(request)
    with moot.engine.begin() as conn:
        done = moot.membership.confirm(conn, token, now_utc())
    if done is None:
        return _page(request, "done.html", 404, title="Link expired",
                     message="This confirmation link is unknown, already used or expired. "
                             "Ask again from the list's subscribe page.")
    config, action, email = done
    what = {"subscribe": "are now subscribed to", "enable": "will get posts again from"
            }.get(action, "have left")
    return _page(request, "done.html", lst=config, title="Done",
                 message=f"{email}: you {what} {config.name} ({config.address}).")


def _member_from_token(request: Request, config: ListConfig, token: str) -> str:
    email = read_unsubscribe_token(_moot(request).membership.secret, config.address, token)
    if email is None:
        raise HTTPException(404, "This unsubscribe link is not valid for this list. Use the "
                                 "link in a recent post, or write to the list's -leave address.")
    return email


@router.get("/l/{address}/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(request: Request, address: str, token: str) -> HTMLResponse:
    config = _config(request, address)
    email = _member_from_token(request, config, token)
    return _page(request, "unsubscribe.html", lst=config, email=email, token=token)


@router.post("/l/{address}/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, address: str, token: str) -> HTMLResponse:
    """One click: the signed link is the proof (RFC 8058); leaving twice is harmless."""
    config = _config(request, address)
    email = _member_from_token(request, config, token)
    moot = _moot(request)
    with moot.engine.begin() as conn:
        was = member_store.get_member(conn, config.id, email) is not None
        moot.membership.unsubscribe_now(conn, config, email, now_utc())
    return _page(request, "done.html", lst=config, title="Unsubscribed",
                 message=f"{email} has left {config.name}." if was
                 else f"{email} is not subscribed to {config.name} (any more).")
