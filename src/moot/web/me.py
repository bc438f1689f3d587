"""A logged-in person's own pages: the account (``/me``: addresses, lists, API tokens), their
posts (``/me/posts``), joining a list with a proved address (``/l/{list}/join``) and posting
from the web (``/l/{list}/post``).

Why joining needs no confirmation mail here: the double opt-in of :mod:`moot.membership`
proves that the address's owner wants to join, and an account's confirmed addresses are
proved already (each by a link mailed to it).  The list's own rules still apply: a closed
list takes members from its owners only, and a banned address may not join.  Leaving is at
once for the same reason.

Every form carries the CSRF token of :mod:`moot.web.forms`; every change is a POST that ends
in a 303 to the account page (or re-renders the form with what went wrong).  The pages are
for one person: never cached (``Cache-Control: no-store``).  The functions that do the work
(:func:`join_list`, :func:`set_mode`, :func:`leave_list`, :func:`send_link`, :func:`my_posts`)
are shared with the REST API (:mod:`moot.web.me_api`), so both answer alike.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection

from moot.accounts import (
    AccountError,
    User,
    all_addresses,
    confirm_link,
    link_token,
    read_link_token,
    request_link,
    unlink,
)
from moot.app import Moot
from moot.authz import (
    RANK,
    Viewer,
    create_token,
    may_read_archive,
    readable_lists,
    revoke_token,
    tokens,
)
from moot.core.address import obfuscate
from moot.core.errors import Banned
from moot.core.mailinglist import ListConfig
from moot.core.member import Member
from moot.posting import MAX_BODY
from moot.storage import members as member_store
from moot.storage import schema as s
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from moot.web import forms
from moot.web.archive import msgid_url
from moot.web.authz import LogInFirst, viewer

router = APIRouter()

MODES = {"regular": "Each post", "digest": "A digest", "nomail": "No mail"}
LINK_FOR = 2 * 24 * 3600  # seconds a link to confirm an address works
POSTS_PAGE = 50
# What a finished change says on the account page (?done=KEY): fixed words, so that no link
# from elsewhere can make this page say anything else.
DONE = {
    "link": "A message with a link is on its way to that address. Follow the link within two "
            "days to add the address to your account.",
    "linked": "The address is now one of yours.",
    "removed": "The address is no longer on your account. Its list memberships stay: leave "
               "those lists first if you want them gone.",
    "mode": "Your delivery option is saved.",
    "left": "You have left the list. A goodbye message is on its way to that address.",
    "joined": "You are a member now. A welcome message is on its way to that address.",
    "revoked": "The token is revoked: scripts using it are refused from now on.",
}


class Refused(Exception):
    """What the person asked cannot be done; ``status`` is the HTTP answer, the text says
    what to do instead."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


# -- the work, shared with the API --------------------------------------------------------------

def mode_of(delivery: str, nomail: bool) -> str:
    """A membership's delivery as one choice: regular, digest or nomail."""
    return "nomail" if nomail else ("digest" if delivery == "digest" else "regular")


def memberships(conn: Connection, emails: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Every list any of these addresses is on: list, name, address, role, delivery, nomail
    and mode; by list, then address."""
    if not emails:
        return []
    m, ml = s.members.c, s.mailing_lists.c
    q = (select(ml.address.label("list"), ml.display_name, m.email, m.role, m.delivery,
                m.nomail)
         .join(s.mailing_lists, ml.id == m.list_id).where(m.email.in_(list(emails)))
         .order_by(ml.address, m.email))
    return [{"list": r.list, "name": r.display_name or r.list.partition("@")[0],
             "address": r.email, "role": r.role, "delivery": r.delivery,
             "nomail": bool(r.nomail), "mode": mode_of(r.delivery, bool(r.nomail))}
            for r in conn.execute(q)]


def list_config(moot: Moot, address: str) -> ListConfig:
    with moot.engine.connect() as conn:
        config = get_config(conn, address)
    if config is None:
        raise Refused(404, f"There is no list {address} here.")
    return config


def _mine(who: Viewer, email: str) -> str:
    email = email.strip().lower()
    if email not in who.addresses:
        raise Refused(403, f"{email or 'That address'} is not a confirmed address of your "
                           "account. Add it on your account page first.")
    return email


def join_list(moot: Moot, who: Viewer, config: ListConfig, email: str, mode: str) -> bool:
    """Subscribe one of the viewer's proved addresses at once (with a welcome message);
    False when it was a member already.  Refused: a closed list, a banned address, an
    address that is not the viewer's, an unknown mode."""
    email = _mine(who, email)
    if mode not in MODES:
        raise Refused(400, f"Choose how mail should come: {', '.join(MODES)}.")
    if config.subscriptions == "closed":
        raise Refused(403, f"{config.name} takes new members from its owners only. Write to "
                           f"{config.owner_address} to ask them.")
    member = Member(email, delivery="digest" if mode == "digest" else "regular",
                    nomail=mode == "nomail")
    try:
        with moot.engine.begin() as conn:
            return moot.membership.subscribe_now(conn, config, member, now_utc(), welcome=True)
    except Banned:
        raise Refused(403, f"{email} may not join {config.name}; write to "
                           f"{config.owner_address} if you think this is a mistake.") from None


def set_mode(moot: Moot, who: Viewer, config: ListConfig, email: str, mode: str
             ) -> dict[str, Any]:
    """Change how one of the viewer's memberships gets mail; the membership after it."""
    email = _mine(who, email)
    if mode not in MODES:
        raise Refused(400, f"mode is one of {', '.join(MODES)}")
    changes: dict[str, Any] = {"nomail": True} if mode == "nomail" else {
        "nomail": False, "delivery": mode}
    with moot.engine.begin() as conn:
        if not member_store.update_member(conn, config.id, email, **changes):
            raise Refused(404, f"{email} is not a member of {config.address}.")
        member = member_store.get_member(conn, config.id, email)
    assert member is not None
    return {"list": config.address, "address": email, "role": member.role,
            "delivery": member.delivery, "nomail": member.nomail,
            "mode": mode_of(member.delivery, member.nomail)}


def leave_list(moot: Moot, who: Viewer, config: ListConfig, email: str) -> None:
    """Unsubscribe one of the viewer's addresses at once (the address is proved)."""
    email = _mine(who, email)
    with moot.engine.begin() as conn:
        if not moot.membership.unsubscribe_now(conn, config, email, now_utc()):
            raise Refused(404, f"{email} is not a member of {config.address}.")


def send_link(request: Request, user: User, email: str) -> str:
    """Note an address as waiting for the account and mail it the link that proves it;
    the address as stored.  At most five such mails per account in ten minutes."""
    from moot.web.accounts import _failed, _limited, _site_mail

    keys = [f"link:{user.id}"]
    if _limited(keys):
        raise Refused(429, "Too many addresses asked for in a short time. Wait ten minutes "
                           "and try again.")
    moot = _moot(request)
    try:
        with moot.engine.begin() as conn:
            email = request_link(conn, user.id, email)
    except AccountError as exc:
        raise Refused(400, str(exc)) from None
    _failed(keys)
    token = link_token(moot.membership.secret, user.id, email, int(time.time()) + LINK_FOR)
    base = moot.settings.base_url.rstrip("/")
    _site_mail(request, email, "Confirm your address", [
        "Someone, probably you, asked to add this address to their account on this",
        "site, to read and post with it. To confirm that it is yours, open this link",
        "within two days:", f"  {base}/me/addresses/confirm/{token}", "",
        "If it was not you, ignore this message: nothing changes."])
    return email


def my_posts(conn: Connection, who: Viewer, *, limit: int, offset: int
             ) -> tuple[list[Row[Any]], int]:
    """The viewer's posts (From one of their confirmed addresses) on lists whose archive
    they may read, newest first; and how many there are in all."""
    readable = list(readable_lists(conn, who).values())
    if not who.addresses or not readable:
        return [], 0
    m, ml = s.messages.c, s.mailing_lists.c
    where = (m.from_addr.in_(list(who.addresses)), m.list_id.in_(readable))
    total = int(conn.execute(select(func.count()).select_from(s.messages).where(*where))
                .scalar_one())
    q = (select(ml.address.label("list"), ml.display_name, m.message_id, m.subject,
                m.date_utc, m.sort_date, m.removed_kind)
         .join(s.mailing_lists, ml.id == m.list_id).where(*where)
         .order_by(m.sort_date.desc(), m.id.desc()).limit(limit).offset(offset))
    return list(conn.execute(q)), total


def list_box(request: Request, lst: Any) -> dict[str, Any] | None:
    """For a list's archive pages (a template global): the logged-in visitor's confirmed
    addresses, which of them are members here and with what role, whether they may join,
    and whether a post of theirs would be taken; None for anonymous visitors."""
    try:
        who = viewer(request)
    except HTTPException:
        return None
    if who.user is None:
        return None
    with _moot(request).engine.connect() as conn:
        config = get_config(conn, lst.address)
        if config is None:
            return None
        m = s.members.c
        roles = dict(conn.execute(select(m.email, m.role).where(
            m.list_id == config.id, m.email.in_(list(who.addresses)))).all()
        ) if who.addresses else {}
    best = max(roles.values(), key=lambda r: RANK.get(r, 0), default=None)
    may_post = bool(who.addresses) and (
        config.posting_policy in ("open", "moderated")
        or (config.posting_policy == "members" and (best is not None
                                                     or config.nonmember_action == "hold"))
        or (config.posting_policy == "announce" and best in ("moderator", "owner")))
    return {"addresses": [a for a in who.addresses if a not in roles], "roles": roles,
            "member": bool(roles), "closed": config.subscriptions == "closed",
            "owner_address": config.owner_address, "may_post": may_post,
            "modes": MODES, "csrf": forms.form_token(request)}


# -- pages ---------------------------------------------------------------------------------------

def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", forms.form_token(request))
    ctx.setdefault("msgid_url", msgid_url)
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _account(request: Request, back: str = "") -> Viewer:
    """The logged-in person (an account, not the site's admin token); for anyone else
    :class:`~moot.web.authz.LogInFirst`, back to ``back`` (default: this page)."""
    who = viewer(request)
    if who.user is None:
        raise LogInFirst(back or request.url.path
                         + (f"?{request.url.query}" if request.url.query else ""))
    return who


def _done(key: str) -> RedirectResponse:
    return RedirectResponse(f"/me?done={key}", status_code=303)


def _me_page(request: Request, who: Viewer, status_code: int = 200, **ctx: Any
             ) -> HTMLResponse:
    assert who.user is not None
    with _moot(request).engine.connect() as conn:
        addresses = all_addresses(conn, who.user.id)
        lists = memberships(conn, who.addresses)
        mine = tokens(conn, who.user.id)
    return _page(request, "me.html", status_code, account=who.user, addresses=addresses,
                 lists=lists, tokens=mine, modes=MODES, **ctx)


@router.get("/me", response_class=HTMLResponse, response_model=None)
def me_page(request: Request, done: str = "") -> Response:
    who = _account(request, "/me")
    return _me_page(request, who, flash=DONE.get(done))


@router.post("/me/addresses", response_class=HTMLResponse, response_model=None)
def add_address(request: Request, email: str = Form(""), csrf: str = Form("")) -> Response:
    """Ask to link another address: a link to confirm it is mailed to it."""
    forms.check(request, csrf)
    who = _account(request, "/me")
    try:
        send_link(request, who.user, email[:320])
    except Refused as exc:
        return _me_page(request, who, exc.status, error=exc.text, email=email[:320])
    return _done("link")


@router.post("/me/addresses/remove", response_class=HTMLResponse, response_model=None)
def remove_address(request: Request, email: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    who = _account(request, "/me")
    try:
        with _moot(request).engine.begin() as conn:
            gone = unlink(conn, who.user.id, email)
    except AccountError as exc:
        return _me_page(request, who, 400, error=str(exc))
    if not gone:
        return _me_page(request, who, 404, error=f"{email} is not on your account.")
    return _done("removed")


def _link_claim(request: Request, token: str) -> tuple[int, str] | None:
    return read_link_token(_moot(request).membership.secret, token, now=int(time.time()))


@router.get("/me/addresses/confirm/{token}", response_class=HTMLResponse)
def confirm_address_form(request: Request, token: str) -> HTMLResponse:
    # A GET changes nothing (mail scanners follow links): the page has the button.
    claim = _link_claim(request, token)
    if claim is None:
        return _page(request, "address_confirm.html", 400, token=token, error=_BAD_LINK)
    return _page(request, "address_confirm.html", token=token, email=claim[1])


_BAD_LINK = ("This link is not valid or has expired. Ask again on your account page: the new "
             "link works for two days.")


@router.post("/me/addresses/confirm/{token}", response_class=HTMLResponse)
def confirm_address(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
    """Prove an address: it becomes the account's that asked for it (the link says which,
    and nobody can change that)."""
    forms.check(request, csrf)
    claim = _link_claim(request, token)
    if claim is None:
        return _page(request, "address_confirm.html", 400, token=token, error=_BAD_LINK)
    uid, email = claim
    who = viewer(request)
    if who.user is not None and who.user.id != uid:
        return _page(request, "address_confirm.html", 403, token=token, email=email,
                     error="This link was made for another account. Log out, or log in as "
                           "the account that asked for it, and open the link again.")
    try:
        with _moot(request).engine.begin() as conn:
            confirm_link(conn, uid, email, now_utc())
    except AccountError as exc:
        return _page(request, "address_confirm.html", 409, token=token, email=email,
                     error=f"{exc}.")
    return _page(request, "address_confirm.html", email=email, done=True)


@router.post("/me/lists/{list_address}", response_class=HTMLResponse, response_model=None)
def change_mode(request: Request, list_address: str, address: str = Form(""),
                mode: str = Form(""), csrf: str = Form("")) -> Response:
    """How one membership gets mail: each post, a digest, or nothing."""
    forms.check(request, csrf)
    who = _account(request, "/me")
    moot = _moot(request)
    try:
        set_mode(moot, who, list_config(moot, list_address), address, mode)
    except Refused as exc:
        return _me_page(request, who, exc.status, error=exc.text)
    return _done("mode")


@router.post("/me/lists/{list_address}/leave", response_class=HTMLResponse, response_model=None)
def leave(request: Request, list_address: str, address: str = Form(""),
          csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    who = _account(request, "/me")
    moot = _moot(request)
    try:
        leave_list(moot, who, list_config(moot, list_address), address)
    except Refused as exc:
        return _me_page(request, who, exc.status, error=exc.text)
    return _done("left")


@router.post("/me/tokens", response_class=HTMLResponse, response_model=None)
def new_token(request: Request, name: str = Form(""), csrf: str = Form("")) -> Response:
    """A new API token, shown on the page this once (only its hash is kept)."""
    forms.check(request, csrf)
    who = _account(request, "/me")
    try:
        name = token_name(name)
    except Refused as exc:
        return _me_page(request, who, exc.status, error=exc.text)
    with _moot(request).engine.begin() as conn:
        token = create_token(conn, who.user.id, name, now_utc())
    return _me_page(request, who, 201, new_token=token, new_token_name=name)


def token_name(name: str) -> str:
    """A token's name as stored: one line, not empty, at most 200 characters."""
    name = " ".join(name.split())
    if not name:
        raise Refused(400, "Give the token a name, such as the script that will use it.")
    return name[:200]


@router.post("/me/tokens/{token_id}/revoke", response_class=HTMLResponse, response_model=None)
def revoke(request: Request, token_id: int, csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    who = _account(request, "/me")
    with _moot(request).engine.begin() as conn:
        done = revoke_token(conn, who.user.id, token_id, now_utc())
    if not done:
        return _me_page(request, who, 404, error="There is no such token on your account "
                                                 "(revoked already?).")
    return _done("revoked")


@router.get("/me/posts", response_class=HTMLResponse, response_model=None)
def posts_page(request: Request, page: int = 1) -> Response:
    who = _account(request)
    page = max(1, min(page, 100_000))
    with _moot(request).engine.connect() as conn:
        rows, total = my_posts(conn, who, limit=POSTS_PAGE, offset=(page - 1) * POSTS_PAGE)
    return _page(request, "me_posts.html", posts=rows, total=total, page=page,
                 more=page * POSTS_PAGE < total, addresses=who.addresses)


# -- joining and posting from a list's pages -------------------------------------------------------

@router.post("/l/{list_address}/join", response_class=HTMLResponse, response_model=None)
def join(request: Request, list_address: str, address: str = Form(""),
         mode: str = Form("regular"), csrf: str = Form("")) -> Response:
    """Join at once with one of the account's proved addresses."""
    forms.check(request, csrf)
    who = _account(request, f"/l/{list_address}/")
    moot = _moot(request)
    try:
        config = list_config(moot, list_address)
        joined = join_list(moot, who, config, address, mode)
    except Refused as exc:
        return _page(request, "done.html", exc.status, title="Not joined", message=exc.text)
    if not joined:
        return _page(request, "done.html", lst=config, title="Already a member",
                     message=f"{address.strip().lower()} is a member of {config.name} "
                             "already; change how mail comes on your account page (/me).")
    return _done("joined")


def _post_form(request: Request, who: Viewer, config: ListConfig, status_code: int = 200,
               **ctx: Any) -> HTMLResponse:
    box = list_box(request, config)
    return _page(request, "post.html", status_code, lst=config, addresses=who.addresses,
                 box=box, max_body_kb=MAX_BODY // 1000, **ctx)


def _parent(moot: Moot, who: Viewer, config: ListConfig, reply: str) -> dict[str, Any]:
    """The post being answered, for the form: itself and its text as the archive shows it
    (404 when the viewer may not read it)."""
    from moot.posting import PostError, find_parent
    from moot.web.render import render_body

    try:
        parent = find_parent(moot, who, config, reply)
    except PostError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return {"parent": parent, "reply": parent.message_id,
            "parent_body": render_body(parent.body_text or "")}


@router.get("/l/{list_address}/post", response_class=HTMLResponse, response_model=None)
def post_form(request: Request, list_address: str, reply: str = "") -> Response:
    """The form to post: a new thread, or (``?reply=MSGID``) an answer to an archived post,
    its subject and quoted text filled in."""
    from moot.posting import quoted, reply_subject

    who = _account(request)
    moot = _moot(request)
    try:
        config = list_config(moot, list_address)
    except Refused as exc:
        raise HTTPException(exc.status, exc.text) from None
    ctx: dict[str, Any] = {"sender": who.addresses[0] if who.addresses else ""}
    if reply:
        ctx.update(_parent(moot, who, config, reply))
        parent = ctx["parent"]
        author = parent.from_name or obfuscate(parent.from_addr) or "Someone"
        ctx.update(subject=reply_subject(parent.subject),
                   body="" if parent.removed_kind else
                   "\n\n" + quoted(parent.body_text or "", author))
    return _post_form(request, who, config, **ctx)


@router.post("/l/{list_address}/post", response_class=HTMLResponse, response_model=None)
def post(request: Request, list_address: str, sender: str = Form("", alias="from"),
         subject: str = Form(""), body: str = Form(""), reply: str = Form(""),
         csrf: str = Form("")) -> Response:
    """Send a post: it goes through the list's rules as mail does (moot.posting)."""
    from moot.posting import NoParent, PostError, submit

    forms.check(request, csrf)
    who = _account(request, f"/l/{list_address}/post")
    moot = _moot(request)
    try:
        config = list_config(moot, list_address)
    except Refused as exc:
        raise HTTPException(exc.status, exc.text) from None
    try:
        result = submit(moot, who, config, sender=sender, subject=subject, body=body,
                        reply=reply)
    except NoParent as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except PostError as exc:  # the form again, as it was sent, with what to change
        back = _parent(moot, who, config, reply) if reply.strip() else {}
        return _post_form(request, who, config, exc.status, error=str(exc), sender=sender,
                          subject=subject, body=body, **back)
    if result.status == "accepted" and result.message_pk is not None:
        with moot.engine.connect() as conn:
            readable = may_read_archive(conn, who, config.id, config.archive_policy)
        if readable:  # the new post's own page, where the reader sees it arrived
            return RedirectResponse(msgid_url(config.address, result.message_id),
                                    status_code=303)
    titles = {"accepted": "Sent", "held": "Waiting for a moderator"}
    return _page(request, "done.html", 200 if result.status in titles else 403, lst=config,
                 title=titles.get(result.status, "Not sent"), message=result.detail())
