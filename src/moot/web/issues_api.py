"""Edited issues over the API (mounted at /api/v1), the same as the pages (moot.web.
issues_pages): reading for whoever may read the publishing list's archive, composing for its
editors (role "editor", moderators, owners).

- ``GET /lists/{list}/issues``: the published issues (editors: drafts too), newest first;
- ``GET /lists/{list}/issues/{n}``: one issue as the caller may see it (``?version=k`` for an
  earlier version; ``?draft=true`` for an editor's working copy), with ``versions``;
- ``POST /lists/{list}/issues`` ``{"title", "introduction"}``: a new draft;
- ``PATCH /lists/{list}/issues/{n}`` ``{"title", "introduction"}``;
- ``POST /lists/{list}/issues/{n}/items`` ``{"reference", "note"}``: add a post (Message-ID or
  permalink);
- ``PATCH /lists/{list}/issues/{n}/items/{position}`` ``{"note"}`` or ``{"move": -1|1}``;
- ``DELETE /lists/{list}/issues/{n}/items/{position}``;
- ``POST /lists/{list}/issues/{n}/publish`` ``{"change_note", "mail"}``: the next version.

Positions count from 1, as on the pages.  A refused edit answers 400 saying why.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError

from moot import issues as uc
from moot.app import Moot
from moot.authz import RANK, may_read_archive, role_on
from moot.core.issues import IssueError
from moot.core.mailinglist import ListConfig
from moot.storage import issues as store
from moot.storage import lists as list_store
from moot.storage.issues import IssueRow
from moot.storage.store import now_utc
from moot.web.authz import list_role, viewer

# Documents the Bearer scheme in the OpenAPI file; each route checks who may call it.
router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])
# Bodies are read after the caller's role is checked (nobody learns the shape first).
JsonBody = Annotated[dict[str, Any], Body()]
M = TypeVar("M", bound=BaseModel)


def _body(model: type[M], doc: dict[str, Any]) -> M:
    """The body as ``model``, or 422 naming the field that is wrong."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "body"
        raise HTTPException(422, f"{where}: {err.get('msg', 'not valid')}") from None


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _readable(request: Request, address: str) -> tuple[ListConfig, bool]:
    """The publishing list if the caller may read it (404 otherwise), and whether the caller
    is one of its editors."""
    who = viewer(request)
    with _moot(request).engine.connect() as conn:
        config = list_store.get_config(conn, address)
        if config is None or not may_read_archive(conn, who, config.id,
                                                  config.archive_policy):
            raise HTTPException(404, f"no list {address} that you may read (private archives "
                                     "are for their members: log in or send an API token)")
        role = role_on(conn, who, config.id) if not who.anonymous else None
    if not who.anonymous:
        request.state.private = True
    return config, RANK.get(role or "", 0) >= RANK["editor"]


def _issue(request: Request, config: ListConfig, number: int, drafts: bool) -> IssueRow:
    with _moot(request).engine.connect() as conn:
        issue = store.get(conn, config.id, number)
    if issue is None or (issue.status != "published" and not drafts):
        raise HTTPException(404, f"{config.address} has no issue {number}")
    return issue


def _summary(config: ListConfig, r: IssueRow, editor: bool) -> dict[str, Any]:
    return {"number": r.number, "status": r.status, "version": r.version,
            "title": r.title if editor or r.status != "published" else r.published_title,
            "published_at": r.published_at.isoformat() + "Z" if r.published_at else None,
            "url": uc.issue_url(config.address, r.number)}


@router.get("/lists/{address}/issues")
def list_issues(request: Request, address: str) -> dict[str, Any]:
    """The list's issues, newest first: published ones (and drafts, for its editors)."""
    config, editor = _readable(request, address)
    with _moot(request).engine.connect() as conn:
        rows = store.listing(conn, config.id, drafts=editor)
    return {"list": config.address, "issues": [_summary(config, r, editor) for r in rows]}


@router.get("/lists/{address}/issues/{number}")
def get_issue(request: Request, address: str, number: int, version: int | None = None,
              draft: bool = False) -> dict[str, Any]:
    """One issue with its items as the caller may see them, and its versions."""
    config, editor = _readable(request, address)
    issue = _issue(request, config, number, drafts=editor)
    working = draft or issue.status != "published"
    if working and not editor:
        raise HTTPException(403, f"only the editors of {config.address} see working copies")
    with _moot(request).engine.connect() as conn:
        try:
            shown = uc.view(conn, viewer(request), issue, version=version, draft=working)
        except LookupError:
            raise HTTPException(404, f"issue {number} has no version {version}") from None
    items = []
    for it in shown.items:
        doc: dict[str, Any] = {"position": it.position + 1, "note": it.note,
                               "readable": it.readable}
        if it.post is not None and it.readable:
            doc.update(message_id=it.post.message_id, list=it.post.list_address,
                       subject=it.post.subject, author=it.post.from_name,
                       date=it.post.date.isoformat() + "Z", permalink=it.permalink,
                       removed=it.removed)
        items.append(doc)
    return {**_summary(config, issue, editor), "shown_version": shown.version,
            "title": shown.title, "introduction": shown.introduction,
            "change_note": shown.change_note, "items": items,
            "versions": [{"version": v.version, "published_at": v.published_at.isoformat() + "Z",
                          "published_by": v.published_by, "change_note": v.change_note,
                          "url": uc.issue_url(config.address, number, v.version)}
                         for v in shown.versions]}


class NewIssue(BaseModel):
    title: str
    introduction: str = ""


class IssueText(BaseModel):
    title: str | None = None
    introduction: str | None = None


class NewItem(BaseModel):
    reference: str
    note: str = ""


class ItemChange(BaseModel):
    note: str | None = None
    move: int | None = None


class Publish(BaseModel):
    change_note: str = ""
    mail: bool = False


def _refused(exc: IssueError) -> HTTPException:
    return HTTPException(400, str(exc))


@router.post("/lists/{address}/issues", status_code=201)
def create_issue(request: Request, address: str, doc: JsonBody) -> dict[str, Any]:
    """A new draft issue (editors)."""
    config, who = _editor(request, address)
    body = _body(NewIssue, doc)
    try:
        with _moot(request).engine.begin() as conn:
            issue = uc.create(conn, config, body.title, body.introduction, by=who.actor,
                              now=now_utc())
    except IssueError as exc:
        raise _refused(exc) from None
    return _summary(config, issue, True)


def _editor(request: Request, address: str) -> tuple[ListConfig, Any]:
    """The list and caller, if the caller is one of its editors (401/403/404 otherwise)."""
    try:
        return list_role(request, address, "editor")
    except HTTPException as exc:
        if exc.status_code != 403 or "X-CSRF-Token" in str(exc.detail):
            raise
        raise HTTPException(403, f"only the editors, moderators and owners of {address} may "
                                 "compose its issues") from None


def _editing(request: Request, address: str, number: int) -> tuple[ListConfig, Any, IssueRow]:
    config, who = _editor(request, address)
    return config, who, _issue(request, config, number, drafts=True)


@router.patch("/lists/{address}/issues/{number}")
def edit_issue(request: Request, address: str, number: int, doc: JsonBody) -> dict[str, Any]:
    """Change the working copy's title or introduction (editors)."""
    _, who, issue = _editing(request, address, number)
    body = _body(IssueText, doc)
    try:
        with _moot(request).engine.begin() as conn:
            uc.edit(conn, issue, title=issue.title if body.title is None else body.title,
                    introduction=issue.introduction if body.introduction is None
                    else body.introduction, by=who.actor, now=now_utc())
    except IssueError as exc:
        raise _refused(exc) from None
    return {"number": number, "saved": True}


@router.post("/lists/{address}/issues/{number}/items", status_code=201)
def add_item(request: Request, address: str, number: int, doc: JsonBody) -> dict[str, Any]:
    """Add a post at the end (editors; from any archive they may read)."""
    config, who, issue = _editing(request, address, number)
    body = _body(NewItem, doc)
    try:
        with _moot(request).engine.begin() as conn:
            post = uc.add_post(conn, who, issue, body.reference, body.note,
                               publishing_list=config.address, now=now_utc())
            count = len(store.items(conn, issue.id))
    except IssueError as exc:
        raise _refused(exc) from None
    return {"position": count, "message_id": post.message_id, "list": post.list_address}


@router.patch("/lists/{address}/issues/{number}/items/{position}")
def change_item(request: Request, address: str, number: int, position: int,
                doc: JsonBody) -> dict[str, Any]:
    """Set an item's note, or move it up (-1) or down (1) (editors)."""
    _, who, issue = _editing(request, address, number)
    body = _body(ItemChange, doc)
    if body.move not in (None, -1, 1):
        raise HTTPException(400, "move is -1 (up) or 1 (down)")
    try:
        with _moot(request).engine.begin() as conn:
            if body.note is not None:
                uc.note(conn, issue, position - 1, body.note, by=who.actor, now=now_utc())
            if body.move is not None:
                uc.move(conn, issue, position - 1, body.move, by=who.actor, now=now_utc())
    except IssueError as exc:
        raise _refused(exc) from None
    return {"number": number, "saved": True}


@router.delete("/lists/{address}/issues/{number}/items/{position}")
def remove_item(request: Request, address: str, number: int, position: int
                ) -> dict[str, Any]:
    """Take a post out of the working copy (editors)."""
    _, who, issue = _editing(request, address, number)
    try:
        with _moot(request).engine.begin() as conn:
            uc.remove(conn, issue, position - 1, by=who.actor, now=now_utc())
    except IssueError as exc:
        raise _refused(exc) from None
    return {"number": number, "removed": position}


@router.post("/lists/{address}/issues/{number}/publish")
def publish_issue(request: Request, address: str, number: int, doc: JsonBody
                  ) -> dict[str, Any]:
    """Publish the working copy as the next version, and with ``mail`` send it to the
    members (editors)."""
    config, who, issue = _editing(request, address, number)
    body = _body(Publish, doc)
    moot = _moot(request)
    try:
        with moot.engine.begin() as conn:
            done = uc.publish(conn, config, issue, by=who.actor, now=now_utc(),
                              change_note=body.change_note, mail=body.mail,
                              base_url=moot.settings.base_url)
    except IssueError as exc:
        raise _refused(exc) from None
    return {"number": number, "version": done.version, "changes": done.changes,
            "mailed_to": done.recipients, "url": uc.issue_url(config.address, number)}
