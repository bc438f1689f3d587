"""The REST API's list administration: lists, members, held posts, the audit log.

Every call that reads members or changes anything needs ``Authorization: Bearer TOKEN`` with
the site's ``admin_token`` (moot.toml / MOOT_ADMIN_TOKEN); without one configured they are all
refused.  Web accounts with per-list roles replace this with the accounts issue.
Joining (``POST /lists/{list}/subscribe``) is open to anyone and always double opt-in.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from moot.app import Moot
from moot.core.address import valid_email, valid_list_address
from moot.core.errors import BadSetting, ListExists, MootError
from moot.core.mailinglist import ListConfig, validate_setting
from moot.core.member import DELIVERY_MODES, ROLES, Member
from moot.storage import held as held_store
from moot.storage import lists as list_store
from moot.storage import members as member_store
from moot.storage.store import now_utc


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def require_admin(request: Request) -> None:
    expected = _moot(request).settings.admin_token
    if not expected:
        raise HTTPException(403, "list administration over the API is off: set admin_token in "
                                 "moot.toml (or MOOT_ADMIN_TOKEN) and send it as a Bearer token")
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                             expected.encode()):
        raise HTTPException(401, "send 'Authorization: Bearer TOKEN' with the site's admin_token")


admin = [Depends(require_admin)]
JsonBody = Annotated[dict[str, Any], Body()]
router = APIRouter()


def _config(moot: Moot, address: str) -> ListConfig:
    with moot.engine.connect() as conn:
        config = list_store.get_config(conn, address)
    if config is None:
        raise HTTPException(404, f"no list {address}")
    return config


@router.post("/lists", dependencies=admin, status_code=201)
def create_list(request: Request, doc: JsonBody) -> dict[str, Any]:
    """Create a list: ``{"address": ..., and any settings}``."""
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


@router.get("/lists/{address}/settings", dependencies=admin)
def get_settings(request: Request, address: str) -> dict[str, Any]:
    return _config(_moot(request), address).as_json()


@router.patch("/lists/{address}", dependencies=admin)
def change_list(request: Request, address: str,
                doc: JsonBody) -> dict[str, Any]:
    """Change settings: ``{"reply_to": "list", ...}``."""
    moot = _moot(request)
    _config(moot, address)
    try:
        with moot.engine.begin() as conn:
            config = list_store.update_settings(conn, address, doc, by="api")
    except MootError as exc:
        raise HTTPException(400, str(exc)) from None
    return config.as_json()


@router.delete("/lists/{address}", dependencies=admin)
def delete_list(request: Request, address: str) -> dict[str, Any]:
    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.begin() as conn:
        list_store.delete_list(conn, config.address, by="api")
    return {"deleted": config.address}


def _member_json(x: Member) -> dict[str, Any]:
    return {"email": x.email, "role": x.role, "delivery": x.delivery, "nomail": x.nomail,
            "receive_own": x.receive_own, "moderated": x.moderated}


@router.get("/lists/{address}/members", dependencies=admin)
def members(request: Request, address: str) -> dict[str, Any]:
    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        return {"members": [_member_json(x) for x in member_store.all_members(conn, config.id)]}


@router.post("/lists/{address}/members", dependencies=admin, status_code=201)
def add_member(request: Request, address: str,
               doc: JsonBody) -> JSONResponse:
    """``{"email", "role"?, "delivery"?, "confirm"?: true}``: confirm false subscribes at once."""
    moot = _moot(request)
    config = _config(moot, address)
    email = str(doc.get("email", "")).strip().lower()
    role, delivery = doc.get("role", "member"), doc.get("delivery", "regular")
    if not valid_email(email):
        raise HTTPException(400, "email must be an address like someone@example.org")
    if role not in ROLES or delivery not in DELIVERY_MODES:
        raise HTTPException(400, f"role is one of {ROLES}, delivery one of {DELIVERY_MODES}")
    with moot.engine.begin() as conn:
        if doc.get("confirm", True):
            text = moot.membership.request_subscribe(conn, config, email, now_utc(),
                                                     delivery=delivery)
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


@router.patch("/lists/{address}/members/{email}", dependencies=admin)
def change_member(request: Request, address: str, email: str, doc: JsonBody) -> dict[str, Any]:
    """``{"role"?, "delivery"?, "nomail"?, "receive_own"?, "moderated"?}``."""
    moot = _moot(request)
    config = _config(moot, address)
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


@router.delete("/lists/{address}/members/{email}", dependencies=admin)
def remove_member(request: Request, address: str, email: str) -> dict[str, Any]:
    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.begin() as conn:
        if not moot.membership.unsubscribe_now(conn, config, email, now_utc()):
            raise HTTPException(404, f"{email} is not subscribed to {config.address}")
    return {"email": email.lower(), "status": "unsubscribed"}


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


@router.get("/lists/{address}/held", dependencies=admin)
def held(request: Request, address: str) -> dict[str, Any]:
    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        rows = held_store.waiting(conn, config.id)
    return {"held": [held_store.summary_json(r) for r in rows]}


@router.post("/lists/{address}/held/{hold_id}", dependencies=admin)
def moderate(request: Request, address: str, hold_id: int,
             doc: JsonBody) -> dict[str, Any]:
    """``{"decision": "approve"|"reject"|"discard"|"defer"|"approve+unmoderate"|
    "approve+accept", "reason"?: TEXT}``."""
    from moot.core.moderation import MODERATOR_DECISIONS

    moot = _moot(request)
    config = _config(moot, address)
    decision = doc.get("decision")
    if decision not in MODERATOR_DECISIONS:
        raise HTTPException(400, f"decision is one of {', '.join(MODERATOR_DECISIONS)}")
    try:
        with moot.engine.begin() as conn:
            outcome = moot.inbound.moderate(conn, config, hold_id, decision, by="api",
                                            reason=str(doc.get("reason", "")))
    except MootError as exc:
        raise HTTPException(409 if "already" in str(exc) else 404, str(exc)) from None
    if outcome.message_pk is not None:
        moot.search.catch_up()
    return {"id": hold_id, "decision": decision, "outcome": outcome.line()}


@router.get("/lists/{address}/audit", dependencies=admin)
def audit_log(request: Request, address: str, limit: int = 200) -> dict[str, Any]:
    """Who did what and when (newest first), as ``moot audit ADDR --json`` gives it."""
    from moot.storage import audit

    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        return {"entries": audit.entries(conn, config.id, limit=max(1, min(limit, 1000)))}


@router.get("/lists/{address}/bounces", dependencies=admin)
def bounces(request: Request, address: str, email: str | None = None) -> dict[str, Any]:
    """Members whose delivery bounces stopped, and the bounce history (newest first), as
    ``moot bounces ADDR --json`` gives them."""
    from moot.storage import bounces as bounce_store

    moot = _moot(request)
    config = _config(moot, address)
    with moot.engine.connect() as conn:
        events = bounce_store.history(conn, config.id, email)
        stopped = [{"email": e, "since": st.disabled_at.isoformat() + "Z", "score": st.score,
                    "notices": st.warnings_sent}
                   for lid, e, st in bounce_store.disabled(conn)
                   if lid == config.id and st.disabled_at is not None
                   and (email is None or e == email.lower())]
    return {"disabled": stopped, "events": events}


@router.get("/queue", dependencies=admin)
def queue(request: Request) -> dict[str, Any]:
    """The outbound queue, as `moot queue --json` prints it."""
    from moot.storage import outbox

    with _moot(request).engine.connect() as conn:
        return {"lists": outbox.summary(conn), "problems": outbox.failures(conn)}
