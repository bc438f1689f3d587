"""Who is asking, for the web pages and the API, and the checks every protected route makes.

A request is made by:
- a script with ``Authorization: Bearer moot_...`` (an account's API token) or ``Bearer`` the
  site's ``admin_token`` (a site admin);
- a browser with a session cookie (log in at /login);
- nobody.

Refusals: nobody when someone is needed -> 401 (log in, or send a token); someone without the
role -> 403 saying which role is needed; a list that does not exist -> 404.  A browser's own
session may change things through the API only with the CSRF token in ``X-CSRF-Token`` (the
``moot_csrf`` cookie's value), so another site cannot make a logged-in browser do it.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from moot.app import Moot
from moot.authz import ANONYMOUS, RANK, Viewer, may, token_user, viewer_for
from moot.core.mailinglist import ListConfig
from moot.storage import lists as list_store
from moot.storage.store import now_utc

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def viewer(request: Request) -> Viewer:
    """Whoever makes this request (looked up once per request)."""
    found = getattr(request.state, "viewer", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    moot = _moot(request)
    given = request.headers.get("authorization", "")
    if given:
        scheme, _, token = given.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "send 'Authorization: Bearer TOKEN' with an API token "
                                     "(make one on your account page) or the site's "
                                     "admin_token")
        expected = moot.settings.admin_token
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            found = Viewer(None, "admin_token")
        else:
            with moot.engine.begin() as conn:
                user = token_user(conn, token, now_utc())
                if user is None:
                    raise HTTPException(401, "that API token is not valid (revoked, or "
                                             "mistyped): make a new one on your account page")
                found = viewer_for(conn, user, "token")
    else:
        from moot.web.accounts import current_user

        user = current_user(request)
        if user is None:
            found = ANONYMOUS
        else:
            with moot.engine.connect() as conn:
                found = viewer_for(conn, user, "session")
    request.state.viewer = found
    return found


def check_api_csrf(request: Request, who: Viewer) -> None:
    """A browser session changing things over the API must prove it is our own page."""
    if who.via != "session" or request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get("moot_csrf", "")
    sent = request.headers.get("x-csrf-token", "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise HTTPException(403, "a logged-in browser must send the moot_csrf cookie's value "
                                 "in an X-CSRF-Token header; scripts should use an API token")


def who_may(need: str) -> str:
    """The people a role admits, in words.

    >>> who_may("editor"), who_may("owner")
    ('editors, moderators and owners', 'owners')
    """
    admitted = [r for r in RANK if RANK[r] >= RANK[need]]
    plural = [f"{r}s" for r in admitted]
    return plural[0] if len(plural) == 1 else ", ".join(plural[:-1]) + " and " + plural[-1]


def signed_in(request: Request) -> Viewer:
    """Someone with an account (or the admin token); 401 for nobody."""
    who = viewer(request)
    if who.anonymous:
        raise HTTPException(401, "log in first (or send an API token)")
    check_api_csrf(request, who)
    return who


def site_admin(request: Request) -> Viewer:
    who = signed_in(request)
    if not who.site_admin:
        raise HTTPException(403, "only a site admin may do this")
    return who


def list_role(request: Request, address: str, need: str) -> tuple[ListConfig, Viewer]:
    """The list and the viewer, if the viewer holds at least ``need`` there."""
    assert need in RANK
    moot = _moot(request)
    who = viewer(request)
    with moot.engine.connect() as conn:
        config = list_store.get_config(conn, address)
        if config is None:
            raise HTTPException(404, f"there is no list {address} here; see /api/v1/lists")
        if who.anonymous:
            raise HTTPException(401, f"log in (or send an API token) as a {need} of "
                                     f"{config.address}")
        check_api_csrf(request, who)
        if not may(conn, who, config.id, need):
            raise HTTPException(403, f"only the {who_may(need)} of {config.address} may do "
                                     "this")
    return config, who


# -- HTML pages ------------------------------------------------------------------------------
#
# Pages carry their CSRF token in a form field (moot.web.forms.check), not in a header, and
# send nobody-logged-in to the log-in page rather than answering 401.

class LogInFirst(Exception):
    """Nobody is logged in: the answer is the log-in page, then back to ``page``."""

    def __init__(self, page: str) -> None:
        super().__init__(page)
        self.page = page


def to_login(_request: Request, exc: Exception) -> Response:
    """The answer to :class:`LogInFirst` (installed by the web app): 303 to
    ``/login?next=PAGE``."""
    from urllib.parse import quote

    page = exc.page if isinstance(exc, LogInFirst) else "/"
    return RedirectResponse("/login?next=" + quote(page, safe="/@"), status_code=303)


def page_role(request: Request, address: str, need: str) -> tuple[ListConfig, Viewer, str]:
    """For a page of a list's administration: the list, the visitor and their role there, if
    they hold at least ``need``.  Nobody logged in: :class:`LogInFirst` (before saying
    whether the list exists); no such list: 404; too low a role: 403 saying who may."""
    from moot.authz import role_on

    assert need in RANK
    who = viewer(request)
    if who.anonymous:
        query = f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
        raise LogInFirst(request.url.path + query)
    with _moot(request).engine.connect() as conn:
        config = list_store.get_config(conn, address)
        if config is None:
            raise HTTPException(404, f"There is no list {address} here.")
        role = role_on(conn, who, config.id) or ""
    if RANK.get(role, 0) < RANK[need]:
        raise HTTPException(403, f"Only the {who_may(need)} of {config.address} may use this "
                                 "page. "
                                 f"You are logged in as {who.actor}.")
    return config, who, role
