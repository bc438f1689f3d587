"""The REST API for what a list says and shows: its own texts (templates) and taking archived
messages down.

- ``GET /lists/{list}/templates``: every text, whether the list words it itself, who changed
  it last (owners).
- ``GET|PUT|DELETE /lists/{list}/templates/{name}``: one text (the list's, or the built-in
  one), its fields; ``PUT {"body"}`` saves the list's own, ``DELETE`` restores the built-in
  one (owners).
- ``POST /lists/{list}/templates/{name}/preview {"body"}`` -> ``{"text"}``: what someone would
  read, with sample values; nothing is saved (owners).
- ``POST /lists/{list}/messages/{msgid}/remove {"kind": "delete"|"redact", "passages"?,
  "reason"?}`` -> ``{"message_id", "kind", "removed_at", "search_index_updated"}``
  (moderators and owners; the last is false when the index was busy: run `moot reindex`);
  ``?n=K`` picks one of several messages sharing a Message-ID.

What each text and field means is in :mod:`moot.storage.templates`; what removal does, in
:mod:`moot.removal`.  Every change is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from moot.app import Moot
from moot.core.errors import MessageNotFound
from moot.core.mailinglist import ListConfig
from moot.removal import AlreadyDeleted, RemovalError, take_down
from moot.storage import templates as texts
from moot.storage.store import now_utc
from moot.web.authz import list_role

JsonBody = Annotated[dict[str, Any], Body()]
# Documents the Bearer scheme in the OpenAPI file; each route checks who may call it.
router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _json(doc: dict[str, Any]) -> dict[str, Any]:
    at = doc["updated_at"]
    return {**doc, "updated_at": at.isoformat() + "Z" if at else None}


def _current(moot: Moot, config: ListConfig, name: str) -> dict[str, Any]:
    with moot.engine.connect() as conn:
        return _json(texts.current(conn, config, name))


def _name(name: str) -> None:
    try:
        texts.kind(name)
    except texts.TemplateError as exc:
        raise HTTPException(404, str(exc)) from None


def _body(doc: dict[str, Any]) -> str:
    body = doc.get("body")
    if not isinstance(body, str):
        raise HTTPException(400, 'send {"body": TEXT}; GET this template for its fields')
    return body


@router.get("/lists/{address}/templates")
def templates(request: Request, address: str) -> dict[str, Any]:
    """Every text the list may word itself (the body of each is left out: GET it by name)."""
    config, _ = list_role(request, address, "owner")
    with _moot(request).engine.connect() as conn:
        rows = texts.overview(conn, config)
    return {"templates": [{k: v for k, v in _json(r).items() if k != "body"} for r in rows]}


@router.get("/lists/{address}/templates/{name}")
def template(request: Request, address: str, name: str) -> dict[str, Any]:
    """One text: the list's own, or the built-in one (``customised`` says which)."""
    config, _ = list_role(request, address, "owner")
    _name(name)
    return _current(_moot(request), config, name)


@router.put("/lists/{address}/templates/{name}")
def save_template(request: Request, address: str, name: str,
                  doc: JsonBody) -> dict[str, Any]:
    """``{"body": TEXT}``: the list's own text from now on (400 says what to change)."""
    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    _name(name)
    body = _body(doc)
    try:
        with moot.engine.begin() as conn:
            texts.save(conn, config, name, body, by=who.actor, now=now_utc())
    except texts.TemplateError as exc:
        raise HTTPException(400, str(exc)) from None
    return _current(moot, config, name)


@router.delete("/lists/{address}/templates/{name}")
def reset_template(request: Request, address: str, name: str) -> dict[str, Any]:
    """Back to the built-in text (the footer: none)."""
    moot = _moot(request)
    config, who = list_role(request, address, "owner")
    _name(name)
    with moot.engine.begin() as conn:
        texts.reset(conn, config, name, by=who.actor, now=now_utc())
    return _current(moot, config, name)


@router.post("/lists/{address}/templates/{name}/preview")
def preview_template(request: Request, address: str, name: str,
                     doc: JsonBody) -> dict[str, str]:
    """``{"body": TEXT}`` -> ``{"text"}``: the body someone would read, with sample values."""
    moot = _moot(request)
    config, _ = list_role(request, address, "owner")
    _name(name)
    try:
        shown = texts.preview(config, name, _body(doc), base_url=moot.settings.base_url,
                              now=now_utc())
    except texts.TemplateError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"text": shown}


@router.post("/lists/{address}/messages/{msgid:path}/remove")
def remove_message(request: Request, address: str, msgid: str, doc: JsonBody,
                   n: int = 1) -> dict[str, Any]:
    """``{"kind": "delete"|"redact", "passages": [TEXT, ...], "reason": TEXT}``."""
    config, who = list_role(request, address, "moderator")
    passages = doc.get("passages") or []
    if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
        raise HTTPException(400, "passages is a list of texts to strike, exactly as they "
                                 "appear in the message")
    kind, reason = doc.get("kind"), doc.get("reason") or ""
    if not isinstance(kind, str) or not isinstance(reason, str):
        raise HTTPException(400, 'send {"kind": "delete"|"redact", "passages"?: [TEXT], '
                                 '"reason"?: TEXT}')
    try:
        done = take_down(_moot(request), config, msgid, kind, passages=passages,
                         by=who.actor, reason=reason, n=n)
    except MessageNotFound:
        raise HTTPException(404, f"no message <{msgid}> in {config.address}") from None
    except AlreadyDeleted as exc:
        raise HTTPException(409, str(exc)) from None
    except RemovalError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"message_id": done.message_id, "kind": done.kind,
            "removed_at": done.removed_at.isoformat() + "Z", "search_index_updated": done.indexed}
