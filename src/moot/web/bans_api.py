"""The REST API's bans and expulsions (a list's moderators and owners; site bans: site admins):
the same as ``moot ban``, ``moot unban``, ``moot expel``, ``moot readmit``, ``moot ban ls``.

``{list}`` may be ``site`` for the site-wide bans.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from moot.core.errors import BadSetting, MootError
from moot.core.mailinglist import ListConfig
from moot.expulsion import NotAllowed, ban, expel, readmit, unban
from moot.storage import bans
from moot.storage.store import now_utc
from moot.web.admin_api import JsonBody, _moot
from moot.web.authz import list_role, site_admin

router = APIRouter()


def _where(request: Request, address: str) -> tuple[ListConfig | None, str]:
    if address == "site":
        return None, site_admin(request).actor
    config, who = list_role(request, address, "moderator")
    return config, who.actor


def _fail(exc: MootError) -> HTTPException:
    return HTTPException(409 if isinstance(exc, NotAllowed) and "already" in str(exc) else 400,
                         str(exc))


@router.get("/lists/{address}/bans")
def list_bans(request: Request, address: str) -> dict[str, Any]:
    config, actor = _where(request, address)
    with _moot(request).engine.connect() as conn:
        return {"bans": bans.listed(conn, config.id if config else None)}


@router.post("/lists/{address}/bans", status_code=201)
def add_ban(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """``{"pattern": ..., "reason"?: ..., "days"?: N}``."""
    config, actor = _where(request, address)
    days = doc.get("days")
    if days is not None and (not isinstance(days, (int, float)) or days <= 0):
        raise HTTPException(400, "days must be a positive number")
    try:
        with _moot(request).engine.begin() as conn:
            stored = ban(conn, config, str(doc.get("pattern", "")),
                         reason=str(doc.get("reason", "")), by=actor, now=now_utc(), days=days)
    except (BadSetting, MootError) as exc:
        raise _fail(exc) from None
    return {"banned": stored}


@router.delete("/lists/{address}/bans/{pattern}")
def remove_ban(request: Request, address: str, pattern: str) -> dict[str, Any]:
    config, actor = _where(request, address)
    try:
        with _moot(request).engine.begin() as conn:
            unban(conn, config, pattern, by=actor, now=now_utc())
    except (BadSetting, MootError) as exc:
        raise HTTPException(404, str(exc)) from None
    return {"lifted": pattern}


@router.post("/lists/{address}/expel")
def expel_member(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """``{"email": ..., "reason": ..., "notify"?: true, "appeal"?: ADDRESS}``."""
    moot = _moot(request)
    config, actor = _where(request, address)
    if config is None:
        raise HTTPException(400, "expulsions are from a list, not the site")
    try:
        with moot.engine.begin() as conn:
            expel(conn, moot.membership, config, str(doc.get("email", "")),
                  reason=str(doc.get("reason", "")), by=actor, now=now_utc(),
                  notify=bool(doc.get("notify", True)), appeal=doc.get("appeal") or None)
    except MootError as exc:
        raise _fail(exc) from None
    return {"expelled": str(doc.get("email", "")).strip().lower()}


@router.post("/lists/{address}/readmit")
def readmit_member(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """``{"email": ..., "reason"?: ...}``."""
    moot = _moot(request)
    config, actor = _where(request, address)
    if config is None:
        raise HTTPException(400, "expulsions are from a list, not the site")
    try:
        with moot.engine.begin() as conn:
            readmit(conn, config, str(doc.get("email", "")), by=actor, now=now_utc(),
                    reason=str(doc.get("reason", "")))
    except MootError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"readmitted": str(doc.get("email", "")).strip().lower()}
