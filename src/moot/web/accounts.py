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
import threading
import time
from collections import deque
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
    """Where to go after logging in: a path on this site, never another site.

    >>> safe_next("/l/dev@example.org/"), safe_next("//evil.example/"), safe_next("https://x")
    ('/l/dev@example.org/', '/', '/')
    """
    if target.startswith("/") and not target.startswith("//") and "\\\\" not in target:
        return target
    return "/"


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
