"""The REST API's list administration: lists, members, held posts, the audit log.

Who may call what (see moot.web.authz for how a caller is known): a list's owners change its
settings and members and read its bounces; its moderators (and owners) decide on held posts
and read the audit log; site admins create lists and see the outbound queue.  Joining
(``POST /lists/{list}/subscribe``) is open to anyone and always double opt-in.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer

from moot.app import Moot
from moot.core.address import valid_email, valid_list_address
from moot.core.errors import BadSetting, ListExists, MootError
from moot.core.mailinglist import ListConfig, validate_setting
from moot.core.member import DELIVERY_MODES, ROLES, Member
from moot.storage import held as held_store
from moot.storage import lists as list_store
from moot.storage import members as member_store
from moot.storage.store import now_utc
from moot.web.authz import list_role, site_admin


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


JsonBody = Annotated[dict[str, Any], Body()]
# Documents the Bearer scheme in the OpenAPI file; each route checks who may call it.
router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])


def _config(moot: Moot, address: str) -> ListConfig:
    with moot.engine.connect() as conn:
        config = list_store.get_config(conn, address)
    if config is None:
        raise HTTPException(404, f"no list {address}")
    return config


@router.post("/lists", status_code=201)
def create_list(request: Request, doc: JsonBody) -> dict[str, Any]:
    """Create a list: ``{"address": ..., and any settings}`` (site admins)."""
    site_admin(request)
    moot = _moot(request)
    address = str(doc.get("address", "")).strip().lower()
    if not valid_list_address(address):
        raise HTTPException(400, "address must be a list address like dev@example.org")
    settings = {k: v for k, v in doc.items() if k != "address"}
    try:
        for k, v in settings.items():  # refuse bad settings before creating anything
            validate_setting(k, v)
        moot.store.create_list(address)
        with moot.engine.begin() as conn:
            config = list_store.update_settings(conn, address, settings)
    except ListExists as exc:
        raise HTTPException(409, str(exc)) from None
    except BadSetting as exc:
        raise HTTPException(400, str(exc)) from None
    return config.as_json()


@router.get("/lists/{address}/settings")
def get_settings(request: Request, address: str) -> dict[str, Any]:
    """Every setting (owners)."""
    return list_role(request, address, "owner")[0].as_json()


@router.patch("/lists/{address}")
def change_list(request: Request, address: str,
                doc: JsonBody) -> dict[str, Any]:
    """Change settings: ``{"reply_to": "list", ...}`` (owners)."""
    moot = _moot(request)
    _, who = list_role(request, address, "owner")
    try:
        with moot.engine.begin() as conn:
            config = list_store.update_settings(conn, address, doc, by=who.actor)
    except MootError as exc:
        raise HTTPException(400, str(exc)) from None
    return config.as_json()


@router.delete("/lists/{address}")
def delete_list(request: Request, address: str) -> dict[str, Any]:
    """Delete a list, its members and its archive (site admins)."""
    moot = _moot(request)
    who = site_admin(request)
    config = _config(moot, address)
    with moot.engine.begin() as conn:
        list_store.delete_list(conn, config.address, by=who.actor)
    return {"deleted": config.address}


def _member_json(x: Member) -> dict[str, Any]:
    return {"email": x.email, "role": x.role, "delivery": x.delivery, "nomail": x.nomail,
            "receive_own": x.receive_own, "moderated": x.moderated}


@router.get("/lists/{address}/members")
def members(request: Request, address: str, q: str = "", role: str = "", after: str = "",
            limit: int = 100) -> dict[str, Any]:
    """Members in address order, a page at a time (owners): ``limit`` (1-1000) after the
    address ``after``; ``q`` matches part of an address or name; ``role`` picks one role.
    ``next`` is the URL of the next page, null on the last."""
    from urllib.parse import urlencode

    moot = _moot(request)
    config, _ = list_role(request, address, "owner")
    if role and role not in ROLES:
        raise HTTPException(400, f"role is one of {', '.join(ROLES)}")
    limit = max(1, min(limit, 1000))
    with moot.engine.connect() as conn:
        rows, total = member_store.page(conn, config.id, query=q[:320], role=role,
                                        after=after.lower(), limit=limit)
    nxt = None
    if len(rows) == limit:
        params = {k: v for k, v in (("q", q), ("role", role)) if v}
        params.update(after=rows[-1].email, limit=str(limit))
        nxt = f"/api/v1/lists/{config.address}/members?{urlencode(params)}"
    return {"members": [_member_json(x) for x in rows], "total": total, "next": nxt}


@router.post("/lists/{address}/members", status_code=201)
def add_member(request: Request, address: str,
               doc: JsonBody) -> JSONResponse:
    """``{"email", "role"?, "delivery"?, "confirm"?: true}``: confirm false subscribes at once."""
    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    email = str(doc.get("email", "")).strip().lower()
    role, delivery = doc.get("role", "member"), doc.get("delivery", "regular")
    if not valid_email(email):
        raise HTTPException(400, "email must be an address like someone@example.org")
    if role not in ROLES or delivery not in DELIVERY_MODES:
        raise HTTPException(400, f"role is one of {ROLES}, delivery one of {DELIVERY_MODES}")
    with moot.engine.begin() as conn:
        if doc.get("confirm", True):
            text = moot.membership.request_subscribe(conn, config, email, now_utc(),
                                                     delivery=delivery, by_owner=True)
            return JSONResponse({"email": email, "status": "confirmation sent", "detail": text},
                                status_code=202)
        try:
            added = moot.membership.subscribe_now(conn, config, Member(
                email, role=role, delivery=delivery), now_utc())
        except MootError as exc:
            raise HTTPException(409, str(exc)) from None
    return JSONResponse({"email": email, "status": "subscribed" if added
                         else "already subscribed"}, status_code=201 if added else 200)


_MEMBER_OPTIONS = {"role": ROLES, "delivery": DELIVERY_MODES, "nomail": (True, False),
                   "receive_own": (True, False), "moderated": (True, False)}


@router.patch("/lists/{address}/members/{email}")
def change_member(request: Request, address: str, email: str, doc: JsonBody) -> dict[str, Any]:
    """``{"role"?, "delivery"?, "nomail"?, "receive_own"?, "moderated"?}``."""
    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    for k, v in doc.items():
        allowed = _MEMBER_OPTIONS.get(k, ())
        if v not in allowed or (allowed == (True, False)) != isinstance(v, bool):
            raise HTTPException(400, f"{k}: not a member option, or not one of its values; "
                                     f"options: {', '.join(_MEMBER_OPTIONS)}")
    with moot.engine.begin() as conn:
        if not doc or not member_store.update_member(conn, config.id, email, **doc):
            raise HTTPException(404, f"{email} is not subscribed to {config.address}")
        member = member_store.get_member(conn, config.id, email)
    assert member is not None
    return _member_json(member)


@router.delete("/lists/{address}/members/{email}")
def remove_member(request: Request, address: str, email: str) -> dict[str, Any]:
    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    with moot.engine.begin() as conn:
        if not moot.membership.unsubscribe_now(conn, config, email, now_utc()):
            raise HTTPException(404, f"{email} is not subscribed to {config.address}")
    return {"email": email.lower(), "status": "unsubscribed"}


@router.get("/lists/{address}/members.csv", response_model=None)
def members_csv(request: Request, address: str) -> Response:
    """Every member as CSV (owners), streamed: email, name, role, delivery, nomail,
    moderated, subscribed_at; cells that a spreadsheet would run as formulas are defused."""
    from moot.web.admin_pages import csv_response

    config, _ = list_role(request, address, "owner")
    return csv_response(_moot(request), config)


@router.post("/lists/{address}/members/bulk")
def bulk_add_members(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """``{"addresses": TEXT, "invite"?: false, "welcome"?: true}`` (owners): TEXT holds
    addresses one a line or separated by commas, bare or as ``Name <address>``, at most
    10,000.  Each is subscribed at once (``invite``: sent a request to confirm instead).
    Answers ``{"added", "already", "invited", "banned": [ADDRESS...], "invalid": [{"address",
    "why"}]}``."""
    from moot.web.admin_pages import BadPaste, bulk_add

    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    text = doc.get("addresses")
    invite, welcome = doc.get("invite", False), doc.get("welcome", True)
    if not (isinstance(text, str) and isinstance(invite, bool) and isinstance(welcome, bool)):
        raise HTTPException(400, "send {\"addresses\": TEXT, \"invite\": true|false, "
                                 "\"welcome\": true|false}, TEXT one address a line")
    try:
        with moot.engine.begin() as conn:
            return bulk_add(conn, moot, config, text, invite=invite, welcome=welcome,
                            by=who.actor)
    except BadPaste as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/lists/{address}/subscribe", status_code=202)
def subscribe(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """Anyone may ask to join; a confirmation is mailed to the address (double opt-in)."""
    moot = _moot(request)
    config = _config(moot, address)
    email = str(doc.get("email", "")).strip().lower()
    if not valid_email(email):
        raise HTTPException(400, "email must be an address like someone@example.org")
    with moot.engine.begin() as conn:
        text = moot.membership.request_subscribe(conn, config, email, now_utc())
    return {"email": email, "status": "confirmation sent", "detail": text}


@router.get("/lists/{address}/held")
def held(request: Request, address: str, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """Posts waiting for a moderator, oldest first, as ``moot held --json`` gives them, a page
    at a time: ``limit`` (1-1000) numbered above ``after``; ``next``: the next page's URL, null
    on the last."""
    moot = _moot(request)
    config, who = list_role(request, address, "moderator")
    limit = max(1, min(limit, 1000))
    with moot.engine.connect() as conn:
        rows = held_store.waiting_after(conn, config.id, max(0, after), limit)
    nxt = (f"/api/v1/lists/{config.address}/held?after={rows[-1].id}&limit={limit}"
           if len(rows) == limit else None)
    return {"held": [held_store.summary_json(r) for r in rows], "next": nxt}


@router.post("/lists/{address}/held/{hold_id}")
def moderate(request: Request, address: str, hold_id: int,
             doc: JsonBody) -> dict[str, Any]:
    """``{"decision": "approve"|"reject"|"discard"|"defer"|"approve+unmoderate"|
    "approve+accept", "reason"?: TEXT}``."""
    from moot.core.moderation import MODERATOR_DECISIONS

    moot = _moot(request)
    config, who = list_role(request, address, "moderator")
    decision = doc.get("decision")
    if decision not in MODERATOR_DECISIONS:
        raise HTTPException(400, f"decision is one of {', '.join(MODERATOR_DECISIONS)}")
    try:
        with moot.engine.begin() as conn:
            outcome = moot.inbound.moderate(conn, config, hold_id, decision, by=who.actor,
                                            reason=str(doc.get("reason", "")))
    except MootError as exc:
        raise HTTPException(409 if "already" in str(exc) else 404, str(exc)) from None
    if outcome.message_pk is not None:
        moot.search.catch_up()
    return {"id": hold_id, "decision": decision, "outcome": outcome.line()}


@router.get("/lists/{address}/audit")
def audit_log(request: Request, address: str, limit: int = 200,
              before: int | None = None) -> dict[str, Any]:
    """Who did what and when, newest first, as ``moot audit ADDR --json`` gives it, a page at
    a time: ``limit`` (1-1000) entries numbered below ``before``; ``next``: the next page's
    URL, null on the last."""
    from moot.storage import audit

    moot = _moot(request)
    config, who = list_role(request, address, "moderator")
    limit = max(1, min(limit, 1000))
    with moot.engine.connect() as conn:
        rows = audit.entries_before(conn, config.id, before=before, limit=limit)
    nxt = (f"/api/v1/lists/{config.address}/audit?before={rows[-1]['id']}&limit={limit}"
           if len(rows) == limit else None)
    return {"entries": [{"id": r["id"], "at": r["at"].isoformat() + "Z", "actor": r["actor"],
                         "action": r["action"], "target": r["target"], "detail": r["detail"]}
                        for r in rows], "next": nxt}


@router.get("/lists/{address}/bounces")
def bounces(request: Request, address: str, email: str | None = None) -> dict[str, Any]:
    """Members whose delivery bounces stopped, and the bounce history (newest first), as
    ``moot bounces ADDR --json`` gives them."""
    from moot.storage import bounces as bounce_store

    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    with moot.engine.connect() as conn:
        events = bounce_store.history(conn, config.id, email)
        stopped = [{"email": e, "since": st.disabled_at.isoformat() + "Z", "score": st.score,
                    "notices": st.warnings_sent}
                   for lid, e, st in bounce_store.disabled(conn)
                   if lid == config.id and st.disabled_at is not None
                   and (email is None or e == email.lower())]
    return {"disabled": stopped, "events": events}


@router.get("/queue")
def queue(request: Request) -> dict[str, Any]:
    """The outbound queue, as `moot queue --json` prints it (site admins)."""
    site_admin(request)
    from moot.storage import outbox

    with _moot(request).engine.connect() as conn:
        return {"lists": outbox.summary(conn), "problems": outbox.failures(conn)}
