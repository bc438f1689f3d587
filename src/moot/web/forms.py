"""CSRF protection for the forms a visitor submits (double-submit token).

A form page sets a random token in a cookie (SameSite=Strict, HttpOnly) and in a hidden field;
a POST is accepted only when the two are present and equal, and, when the browser says where
the request came from (Origin), only from this site.  Another site can make a browser post to
us, but it can neither read our cookie nor set it, so it cannot know the token.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

COOKIE = "moot_csrf"


def form_token(request: Request) -> str:
    """The token to put in a form (the visitor's existing one, or a new one)."""
    token = request.cookies.get(COOKIE, "")
    if len(token) < 20:
        token = secrets.token_urlsafe(24)
    request.state.csrf_token = token
    return token


def set_cookie(request: Request, response: Response) -> Response:
    token = getattr(request.state, "csrf_token", None)
    if token and request.cookies.get(COOKIE) != token:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
    return response


def check(request: Request, submitted: str) -> None:
    """Refuse (403) a form post that did not come from our own page."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc
        if host and host != request.headers.get("host", ""):
            raise HTTPException(403, "This form was sent from another site. Open the page on "
                                     "this site and send it again.")
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(403, "This form has expired or did not come from this site. "
                                 "Reload the page and send it again.")
