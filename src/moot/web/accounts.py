"""Log-in and log-out (``/login``, ``/logout``), and who the visitor is (:func:`current_user`).

The session cookie (``moot_session``: HttpOnly, SameSite=Lax, Secure on https) holds a random
token and an HMAC of it with the site secret, so a cookie that was not made here is refused
without a database look-up; the session itself lives in the database (``sessions``), where
logging out revokes it.  Failed log-ins are limited per address and per client: after
:data:`MAX_FAILURES` in :data:`FAILURE_WINDOW` seconds, the form answers 429 until the window
has passed.  Forms carry the CSRF token of :mod:`moot.web.forms`; ``next`` only ever leads to
a path on this site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moot.accounts import User, authenticate, end_session, session_user, start_session
from moot.app import Moot
from moot.storage.store import now_utc
from moot.web import forms

router = APIRouter()
COOKIE = "moot_session"
MAX_FAILURES = 5
FAILURE_WINDOW = 600.0
_failures: dict[str, deque[float]] = {}
_lock = threading.Lock()


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _sign(request: Request, token: str) -> str:
    key = _moot(request).membership.secret
    return hmac.new(key, b"session:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def current_user(request: Request) -> User | None:
    """The logged-in account, or None."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    user = None
    token, dot, sig = request.cookies.get(COOKIE, "").rpartition(".")
    if dot and token and hmac.compare_digest(sig, _sign(request, token)):
        with _moot(request).engine.connect() as conn:
            user = session_user(conn, token, now_utc())
    request.state.user = user
    return user


def safe_next(target: str) -> str:
    r"""Where to go after logging in: a path on this site, never another site.

    Browsers read a backslash as a slash and drop tabs and newlines from a URL, so
    ``/\evil.example`` or ``/<TAB>/evil.example`` would lead off the site: any of those, and
    anything that is not a plain path, gives ``/``.

    >>> safe_next("/l/dev@example.org/"), safe_next("//evil.example/"), safe_next("https://x")
    ('/l/dev@example.org/', '/', '/')
    >>> safe_next("/\\evil.example"), safe_next("/\t/evil.example"), safe_next("javascript:x")
    ('/', '/', '/')
    """
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 0x21 or c == "\x7f" for c in target)):
        return "/"
    return target


def _limited(keys: list[str]) -> bool:
    cutoff = time.monotonic() - FAILURE_WINDOW
    with _lock:
        for key in keys:
            seen = _failures.get(key)
            while seen and seen[0] < cutoff:
                seen.popleft()
            if seen and len(seen) >= MAX_FAILURES:
                return True
    return False


def _failed(keys: list[str]) -> None:
    with _lock:
        for key in keys:
            _failures.setdefault(key, deque()).append(time.monotonic())


def _page(request: Request, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", forms.form_token(request))
    response = request.app.state.templates.TemplateResponse(request, "login.html", ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
    return _page(request, next=safe_next(next), user=current_user(request))


@router.post("/login", response_model=None)
def login(request: Request, email: str = Form(""), password: str = Form(""),
          csrf: str = Form(""), next: str = Form("/")) -> Response:  # noqa: A002
    forms.check(request, csrf)
    client = request.client.host if request.client else "?"
    keys = [f"addr:{email.strip().lower()}", f"client:{client}"]
    if _limited(keys):
        return _page(request, 429, next=safe_next(next), email=email,
                     error=f"Too many failed log-ins. Wait {int(FAILURE_WINDOW // 60)} minutes "
                           "and try again.")
    with _moot(request).engine.begin() as conn:
        user = authenticate(conn, email, password[:1000])
        token = start_session(conn, user, now_utc()) if user else None
    if user is None or token is None:
        _failed(keys)
        return _page(request, 401, next=safe_next(next), email=email,
                     error="That address and password do not match an account.")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, f"{token}.{_sign(request, token)}", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/",
                        max_age=14 * 24 * 3600)
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    token, dot, sig = request.cookies.get(COOKIE, "").rpartition(".")
    if dot and token and hmac.compare_digest(sig, _sign(request, token)):
        with _moot(request).engine.begin() as conn:
            end_session(conn, token, now_utc())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- sign-up and password reset ---------------------------------------------------------------
#
# Neither page ever says whether an address has an account: the answer is always "check your
# mail", and the mail itself tells the owner of the address what happened.

CONFIRM_FOR = 2 * 24 * 3600  # seconds a confirmation link works
RESET_FOR = 3600  # seconds a reset link works


def _site_mail(request: Request, to: str, subject: str, lines: list[str]) -> None:
    from urllib.parse import urlsplit

    from moot.core.notices import account_mail
    from moot.storage import outbox

    moot = _moot(request)
    base = moot.settings.base_url.rstrip("/")
    host = urlsplit(base).hostname or "localhost"
    sender = f"noreply@{host}"
    data = account_mail(f"moot at {host}", sender, to, subject=subject, lines=lines,
                        message_id=f"account.{secrets.token_hex(12)}@{host}",
                        date=now_utc().replace(tzinfo=UTC))
    with moot.engine.begin() as conn:
        outbox.enqueue(conn, list_id=None, kind="notice", mail_from=sender, data=data,
                       recipients=[to], now=now_utc())


def _form(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", forms.form_token(request))
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _client(request: Request) -> str:
    return f"client:{request.client.host if request.client else '?'}"


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> HTMLResponse:
    return _form(request, "signup.html")


@router.post("/signup", response_class=HTMLResponse)
def signup(request: Request, email: str = Form(""), password: str = Form(""),
           csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    from moot.accounts import AccountError, sign_up
    from moot.core.tokens import account_token

    keys = [f"signup:{_client(request)}"]
    if _limited(keys):
        return _form(request, "signup.html", 429, email=email,
                     error="Too many sign-ups from here. Wait a few minutes and try again.")
    _failed(keys)  # every sign-up counts: five an address per ten minutes
    email = email.strip().lower()
    base = _moot(request).settings.base_url.rstrip("/")
    try:
        with _moot(request).engine.begin() as conn:
            uid = sign_up(conn, email, password[:1000], now_utc())
    except AccountError as exc:
        return _form(request, "signup.html", 400, email=email, error=str(exc))
    if uid is None:
        _site_mail(request, email, "Your account", [
            "Someone, probably you, tried to sign up with this address, which already has",
            "an account. If it was you, log in, or set a new password here:",
            f"  {base}/reset", "", "If it was not you, ignore this message."])
    else:
        token = account_token(_moot(request).membership.secret, "confirm", uid,
                              int(time.time()) + CONFIRM_FOR)
        _site_mail(request, email, "Confirm your account", [
            "Someone, probably you, made an account with this address. To confirm it,",
            "open this link:", f"  {base}/signup/confirm/{token}", "",
            "If it was not you, ignore this message: the account stays unusable."])
    return _form(request, "signup.html", sent=email)


@router.get("/signup/confirm/{token}", response_class=HTMLResponse)
def confirm_form(request: Request, token: str) -> HTMLResponse:
    # A GET changes nothing (mail scanners follow links): the page has the button.
    return _form(request, "account_confirm.html", token=token)


@router.post("/signup/confirm/{token}", response_class=HTMLResponse)
def confirm_account(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    from moot.accounts import confirm
    from moot.core.tokens import read_account_token

    uid = read_account_token(_moot(request).membership.secret, "confirm", token,
                             now=int(time.time()))
    if uid is None:
        return _form(request, "account_confirm.html", 400, token=token,
                     error="This link is not valid or has expired. Sign up again.")
    with _moot(request).engine.begin() as conn:
        confirm(conn, uid, now_utc())
    return _form(request, "account_confirm.html", done=True)


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request) -> HTMLResponse:
    return _form(request, "reset.html")


@router.post("/reset", response_class=HTMLResponse)
def reset_request(request: Request, email: str = Form(""), csrf: str = Form("")
                  ) -> HTMLResponse:
    forms.check(request, csrf)
    from moot.accounts import find_user
    from moot.core.tokens import account_token

    keys = [f"reset:{_client(request)}", f"reset:{email.strip().lower()}"]
    if _limited(keys):
        return _form(request, "reset.html", 429,
                     error="Too many requests. Wait a few minutes and try again.")
    _failed(keys)
    with _moot(request).engine.connect() as conn:
        row = find_user(conn, email)
    if row is not None and not row.disabled:
        token = account_token(_moot(request).membership.secret, "reset", row.id,
                              int(time.time()) + RESET_FOR, row.password_hash)
        base = _moot(request).settings.base_url.rstrip("/")
        _site_mail(request, row.email, "Set a new password", [
            "Someone, probably you, asked to set a new password for this account. Open",
            "this link within an hour:", f"  {base}/reset/{token}", "",
            "If it was not you, ignore this message: the password stays as it is."])
    return _form(request, "reset.html", sent=email.strip().lower())


@router.get("/reset/{token}", response_class=HTMLResponse)
def new_password_form(request: Request, token: str) -> HTMLResponse:
    return _form(request, "reset.html", token=token)


@router.post("/reset/{token}", response_class=HTMLResponse)
def new_password(request: Request, token: str, password: str = Form(""),
                 csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    from moot.accounts import AccountError, set_password, user_row
    from moot.core.tokens import read_account_token

    uid_part = token.split(".")[0]
    with _moot(request).engine.begin() as conn:
        row = user_row(conn, int(uid_part)) if uid_part.isdigit() else None
        uid = read_account_token(_moot(request).membership.secret, "reset", token,
                                 now=int(time.time()),
                                 bound=row.password_hash if row else "") if row else None
        if uid is None:
            return _form(request, "reset.html", 400, error="This link is not valid, was used "
                         "already or has expired. Ask for a new one.")
        try:
            set_password(conn, uid, password[:1000], now_utc())
        except AccountError as exc:
            return _form(request, "reset.html", 400, token=token, error=str(exc))
    return _form(request, "reset.html", done=True)
