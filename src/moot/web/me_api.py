"""The REST API for one person: their account, addresses, lists, posts and API tokens
(``/api/v1/me...``), joining a list (``POST /lists/{list}/join``) and posting to one
(``POST /lists/{list}/posts``).

Who: an account, by its API token (``Authorization: Bearer moot_...``, made on /me or with
``POST /me/tokens``) or by a logged-in browser (which must send ``X-CSRF-Token`` to change
anything: see :mod:`moot.web.authz`).  The site's admin token is no account and is refused
here (403).  Anybody else gets 401.  An address must be one of the account's confirmed ones
(403 otherwise).  Every error is ``{"error": TEXT}`` saying what to do.

The work is the same as the pages' (:mod:`moot.web.me`, :mod:`moot.posting`), so both answer
alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from moot.accounts import AccountError, all_addresses, unlink
from moot.app import Moot
from moot.authz import Viewer, create_token, revoke_token, tokens
from moot.storage.store import now_utc
from moot.web.archive import msgid_url
from moot.web.authz import signed_in
from moot.web.me import (
    Refused,
    join_list,
    leave_list,
    list_config,
    memberships,
    my_posts,
    send_link,
    set_mode,
    token_name,
)

# Documents the Bearer scheme in the OpenAPI file; each route checks who may call it.
router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _account(request: Request) -> Viewer:
    """The account calling: 401 for nobody, 403 for the site's admin token."""
    who = signed_in(request)
    if who.user is None:
        raise HTTPException(403, "the site's admin token belongs to no account: use an API "
                                 "token made on an account's page (/me)")
    return who


async def _json(request: Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise HTTPException(400, "send a JSON object as the body, with Content-Type: "
                                 "application/json")
    return doc


Me = Annotated[Viewer, Depends(_account)]  # declared first: who asks is checked first
Doc = Annotated[dict[str, Any], Depends(_json)]


def _text(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise HTTPException(400, f'"{key}" is required, as a string')
    return value


def _body(**fields: str) -> dict[str, Any]:
    """The OpenAPI description of a JSON body with these string fields (name -> what)."""
    required = [k for k, v in fields.items() if not v.startswith("optional")]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required,
        "properties": {k: {"type": "string", "description": v} for k, v in fields.items()}}}}}}


def _refused(exc: Refused) -> HTTPException:
    return HTTPException(exc.status, exc.text)


@router.get("/me")
def me(request: Request, who: Me) -> dict[str, Any]:
    """The account: its log-in address, whether it runs the site, its addresses (confirmed
    or waiting for their link) and every list its confirmed addresses are on."""
    assert who.user is not None
    with _moot(request).engine.connect() as conn:
        addresses = all_addresses(conn, who.user.id)
        lists = memberships(conn, who.addresses)
    return {"email": who.user.email, "admin": who.user.is_admin,
            "addresses": [{"email": a.email, "confirmed": a.confirmed} for a in addresses],
            "lists": [{k: x[k] for k in ("list", "address", "role", "delivery", "nomail")}
                      for x in lists]}


@router.post("/me/addresses", status_code=202,
             openapi_extra=_body(email="the address to add to the account"))
def add_address(request: Request, who: Me, doc: Doc) -> dict[str, Any]:
    """Add an address: a link is mailed to it, and it is the account's once the link is
    followed (within two days).  400 for an address another account holds (never saying
    whose) or one already on this account; 429 after five in ten minutes."""
    assert who.user is not None
    try:
        email = send_link(request, who.user, _text(doc, "email")[:320])
    except Refused as exc:
        raise _refused(exc) from None
    return {"email": email, "status": "confirmation sent"}


@router.delete("/me/addresses/{email}")
def remove_address(request: Request, who: Me, email: str) -> dict[str, Any]:
    """Remove an address from the account (not the one it logs in with).  Its list
    memberships stay: they belong to the address."""
    assert who.user is not None
    try:
        with _moot(request).engine.begin() as conn:
            gone = unlink(conn, who.user.id, email)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    if not gone:
        raise HTTPException(404, f"{email} is not on your account (GET /api/v1/me lists them)")
    return {"email": email.strip().lower(), "status": "removed"}


@router.patch("/me/lists/{list_address}",
              openapi_extra=_body(address="one of your confirmed addresses on the list",
                                  mode="regular (each post), digest or nomail"))
def change_mode(request: Request, who: Me, list_address: str, doc: Doc) -> dict[str, Any]:
    """How one of your memberships gets mail: ``{"address", "mode"}``, mode ``regular``,
    ``digest`` or ``nomail`` (subscribed, may post, gets nothing)."""
    moot = _moot(request)
    try:
        return set_mode(moot, who, list_config(moot, list_address), _text(doc, "address"),
                        _text(doc, "mode"))
    except Refused as exc:
        raise _refused(exc) from None


@router.delete("/me/lists/{list_address}")
def leave(request: Request, who: Me, list_address: str, address: str = "") -> dict[str, Any]:
    """Leave a list at once with one of your confirmed addresses: ``?address=EMAIL`` (a
    goodbye message is sent to it)."""
    if not address.strip():
        raise HTTPException(400, "say which of your addresses leaves: ?address=EMAIL")
    moot = _moot(request)
    try:
        config = list_config(moot, list_address)
        leave_list(moot, who, config, address)
    except Refused as exc:
        raise _refused(exc) from None
    return {"list": config.address, "address": address.strip().lower(),
            "status": "unsubscribed"}


@router.post("/lists/{address}/join", status_code=201,
             openapi_extra=_body(address="one of your confirmed addresses",
                                 mode="optional: regular (default), digest or nomail"))
def join(request: Request, who: Me, address: str, doc: Doc) -> JSONResponse:
    """Join a list at once with one of your confirmed addresses (no confirmation mail: the
    address is proved already; a welcome message is sent).  201 subscribed, 200 already a
    member; 403 on a closed list (ask its owners) or for a banned address."""
    moot = _moot(request)
    email = _text(doc, "address").strip().lower()
    try:
        config = list_config(moot, address)
        added = join_list(moot, who, config, email, _text(doc, "mode", "regular"))
    except Refused as exc:
        raise _refused(exc) from None
    return JSONResponse({"list": config.address, "address": email,
                         "status": "subscribed" if added else "already subscribed"},
                        status_code=201 if added else 200)


@router.get("/me/posts")
def posts(request: Request, who: Me, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Your posts (From one of your confirmed addresses) on the lists whose archive you may
    read, newest first: ``limit`` (1-200) from ``offset``; ``next`` is the next page's URL,
    null on the last."""
    limit, offset = max(1, min(limit, 200)), max(0, offset)
    with _moot(request).engine.connect() as conn:
        rows, total = my_posts(conn, who, limit=limit, offset=offset)
    nxt = (f"/api/v1/me/posts?limit={limit}&offset={offset + limit}"
           if offset + limit < total else None)
    return {"posts": [{"list": r.list, "message_id": r.message_id, "subject": r.subject,
                       "date": (r.date_utc or r.sort_date).isoformat() + "Z",
                       "url": msgid_url(r.list, r.message_id)} for r in rows],
            "total": total, "next": nxt}


@router.post("/lists/{address}/posts", status_code=201,
             openapi_extra=_body(**{"from": "one of your confirmed addresses",
                                    "subject": "one line", "body": "plain text, up to 100 KB",
                                    "in_reply_to": "optional: the Message-ID answered"}))
def post(request: Request, who: Me, address: str, doc: Doc) -> JSONResponse:
    """Post to a list as mail would: the list's rules decide.  201 ``accepted`` (with the
    archived post's ``url`` when the list keeps an archive), 202 ``held`` (waiting for a
    moderator; ``detail`` says why), 422 ``rejected`` or ``discarded`` by the list's rules
    (``error`` says why).  Refused before the rules: 400 for a bad subject or text, 403 for
    a From that is not yours, 404 for an unknown list or a reply to a post you cannot read."""
    from moot.posting import PostError, submit

    moot = _moot(request)
    try:
        config = list_config(moot, address)
    except Refused as exc:
        raise _refused(exc) from None
    try:
        result = submit(moot, who, config, sender=_text(doc, "from"),
                        subject=_text(doc, "subject"), body=_text(doc, "body"),
                        reply=_text(doc, "in_reply_to", ""))
    except PostError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    answer: dict[str, Any] = {"outcome": result.status, "detail": result.detail(),
                              "reasons": list(result.reasons), "message_id": result.message_id}
    if result.status == "accepted":
        if result.message_pk is not None:
            answer["url"] = msgid_url(config.address, result.message_id)
        return JSONResponse(answer, status_code=201)
    if result.status == "held":
        return JSONResponse(answer, status_code=202)
    return JSONResponse({"error": result.detail(), **answer}, status_code=422)


@router.get("/me/tokens")
def list_tokens(request: Request, who: Me) -> dict[str, Any]:
    """Your live API tokens (names and dates; a token itself is shown only when made)."""
    assert who.user is not None
    with _moot(request).engine.connect() as conn:
        return {"tokens": tokens(conn, who.user.id)}


@router.post("/me/tokens", status_code=201,
             openapi_extra=_body(name="what will use the token, e.g. 'backup script'"))
def new_token(request: Request, who: Me, doc: Doc) -> dict[str, Any]:
    """Make an API token: ``{"name"}``.  The answer is the only time the token is shown
    (only its hash is kept)."""
    assert who.user is not None
    try:
        name = token_name(_text(doc, "name"))
    except Refused as exc:
        raise _refused(exc) from None
    with _moot(request).engine.begin() as conn:
        token = create_token(conn, who.user.id, name, now_utc())
        made = tokens(conn, who.user.id)[-1]  # the newest: made just now, in this transaction
    return {"id": made["id"], "name": name, "token": token}


@router.delete("/me/tokens/{token_id}")
def delete_token(request: Request, who: Me, token_id: int) -> dict[str, Any]:
    """Revoke one of your API tokens: scripts using it are refused from now on."""
    assert who.user is not None
    with _moot(request).engine.begin() as conn:
        if not revoke_token(conn, who.user.id, token_id, now_utc()):
            raise HTTPException(404, f"no live token {token_id} on your account "
                                     "(GET /api/v1/me/tokens lists them)")
    return {"id": token_id, "status": "revoked"}

