"""Edited issues on the web: ``/l/{list}/issues/`` (the published issues, newest first; its
editors also see drafts and start new ones), ``/l/{list}/issues/{n}/`` (an issue: introduction,
then each post with the editor's note, author, date and a link back to the original), earlier
versions at ``.../v/{k}/``, a printable page at ``.../print``, an Atom feed at
``/l/{list}/issues/atom.xml``, and the compose page ``.../edit`` where editors build it.

Readers: whoever may read the publishing list's archive; a post from a private list is shown
only to those who may read that list (others see "a post from a private list").  Editors:
the list's members with role "editor", and its moderators and owners; nobody logged in is
sent to log in, others are refused (403).  Forms are plain POSTs with the page's form token,
answered with a redirect (or the page again, with what was wrong).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moot import issues as uc
from moot.app import Moot
from moot.authz import ANONYMOUS, RANK, may_read_archive, role_on
from moot.core.issues import IssueError
from moot.core.mailinglist import ListConfig
from moot.storage import issues as store
from moot.storage import lists as list_store
from moot.storage.issues import IssueRow
from moot.storage.store import now_utc
from moot.web import forms
from moot.web.archive import readable_list
from moot.web.authz import page_role, viewer
from moot.web.render import render_body

router = APIRouter()

DONE = {"created": "A new draft issue: add posts to it, then publish it.",
        "saved": "Saved.", "added": "The post was added at the end.",
        "moved": "Moved.", "removed": "The post was taken out of this issue.",
        "noted": "The note was saved.", "published": "Published.",
        "mailed": "Published, and sent by mail to the list's members."}


def install(app: FastAPI) -> None:
    """Add these pages, and the helpers message.html and list.html use ("Republished in",
    the "Issues" link)."""
    app.include_router(router)
    app.state.templates.env.globals["republished_in"] = republished_in
    app.state.templates.env.globals["has_issues"] = has_issues


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def republished_in(request: Request, pks: list[int]) -> list[dict[str, Any]]:
    """The published issues that carry any of these posts, as links for the post's page
    (only issues of lists whose archive the visitor may read)."""
    try:
        who = viewer(request)
    except HTTPException:  # a bad API token sent with a page request: a reader like others
        who = ANONYMOUS
    with _moot(request).engine.connect() as conn:
        found = store.republished(conn, pks)
        return [{"title": t, "number": n, "url": uc.issue_url(a, n), "list": a}
                for a, lid, policy, n, t in found
                if may_read_archive(conn, who, lid, policy)]


def has_issues(request: Request, lst: Any) -> bool:
    """Whether the list's home page links its issues: it has published one, or the visitor
    may compose them (no look-up of roles without a log-in)."""
    with _moot(request).engine.connect() as conn:
        if store.has_published(conn, lst.id):
            return True
    from moot.web.accounts import current_user

    if "authorization" not in request.headers and current_user(request) is None:
        return False
    return _is_editor(request, lst.id)


def _is_editor(request: Request, list_id: int) -> bool:
    """Whether the visitor may compose this list's issues (no refusal: for showing links)."""
    try:
        who = viewer(request)
    except HTTPException:
        return False
    if who.anonymous:
        return False
    with _moot(request).engine.connect() as conn:
        return RANK.get(role_on(conn, who, list_id) or "", 0) >= RANK["editor"]


def _editor(request: Request, address: str) -> tuple[ListConfig, Any, str]:
    """The list, visitor and role, for a page only editors may use."""
    try:
        return page_role(request, address, "editor")
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        raise HTTPException(403, f"Only the editors, moderators and owners of {address} may "
                                 f"compose its issues. You are logged in as "
                                 f"{viewer(request).actor}.") from None


def _config(request: Request, address: str) -> ListConfig:
    """The publishing list, if this visitor may read its archive (404 otherwise)."""
    readable_list(request, address)
    with _moot(request).engine.connect() as conn:
        config = list_store.get_config(conn, address)
    if config is None:  # pragma: no cover - readable_list found it a moment ago
        raise HTTPException(404, f"There is no list {address} here.")
    return config


def _issue(request: Request, config: ListConfig, number: int, *, drafts: bool) -> IssueRow:
    with _moot(request).engine.connect() as conn:
        issue = store.get(conn, config.id, number)
    if issue is None or (issue.status != "published" and not drafts):
        raise HTTPException(404, f"{config.address} has no issue {number}.")
    return issue


def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", forms.form_token(request))
    ctx.setdefault("issue_url", uc.issue_url)
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _shown(request: Request, shown: uc.IssueView) -> list[dict[str, Any]]:
    """Each item of a view with its text rendered for the page."""
    out = []
    for it in shown.items:
        post = it.post
        out.append({"n": it.position + 1, "note": it.note, "readable": it.readable,
                    "removed": it.removed, "post": post, "permalink": it.permalink,
                    "body": render_body(post.body_text) if post and it.readable
                    and not it.removed else None})
    return out


@router.get("/l/{address}/issues/", response_class=HTMLResponse)
def issues_page(request: Request, address: str) -> HTMLResponse:
    config = _config(request, address)
    editor = _is_editor(request, config.id)
    with _moot(request).engine.connect() as conn:
        rows = store.listing(conn, config.id, drafts=editor)
    return _page(request, "issues/index.html", lst=config, rows=rows, editor=editor)


@router.get("/l/{address}/issues/atom.xml")
def issues_atom(request: Request, address: str) -> Response:
    config = _config(request, address)
    with _moot(request).engine.connect() as conn:
        rows = store.listing(conn, config.id, drafts=False)[:30]
        entries = [uc.view(conn, viewer(request), r) for r in rows]
    body = request.app.state.templates.get_template("issues_atom.xml").render(
        lst=config, entries=entries, issue_url=uc.issue_url)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def _issue_page(request: Request, address: str, number: int, version: int | None,
                template: str) -> HTMLResponse:
    config = _config(request, address)
    editor = _is_editor(request, config.id)
    issue = _issue(request, config, number, drafts=editor)
    draft = issue.status != "published"
    if draft and version is not None:
        raise HTTPException(404, f"Issue {number} of {config.address} is not published yet.")
    with _moot(request).engine.connect() as conn:
        try:
            shown = uc.view(conn, viewer(request), issue, version=version, draft=draft)
        except LookupError:
            raise HTTPException(404, f"Issue {number} of {config.address} has no version "
                                     f"{version}.") from None
    return _page(request, template, lst=config, issue=issue, shown=shown,
                 items=_shown(request, shown), editor=editor, draft=draft)


@router.get("/l/{address}/issues/{number:int}/", response_class=HTMLResponse)
def issue_page(request: Request, address: str, number: int) -> HTMLResponse:
    return _issue_page(request, address, number, None, "issues/issue.html")


@router.get("/l/{address}/issues/{number:int}/v/{version:int}/", response_class=HTMLResponse)
def version_page(request: Request, address: str, number: int, version: int) -> HTMLResponse:
    return _issue_page(request, address, number, version, "issues/issue.html")


@router.get("/l/{address}/issues/{number:int}/print", response_class=HTMLResponse)
def print_page(request: Request, address: str, number: int) -> HTMLResponse:
    return _issue_page(request, address, number, None, "issues/print.html")


# -- composing ----------------------------------------------------------------------------

@router.post("/l/{address}/issues/new", response_class=HTMLResponse, response_model=None)
def new_issue(request: Request, address: str, title: str = Form(""),
              introduction: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    config, who, _ = _editor(request, address)
    try:
        with _moot(request).engine.begin() as conn:
            issue = uc.create(conn, config, title, introduction, by=who.actor, now=now_utc())
    except IssueError as exc:
        with _moot(request).engine.connect() as conn:
            rows = store.listing(conn, config.id, drafts=True)
        return _page(request, "issues/index.html", 400, lst=config, rows=rows, editor=True,
                     error=f"Not created: {exc}.", title=title, introduction=introduction)
    return RedirectResponse(f"{uc.issue_url(config.address, issue.number)}edit?done=created",
                            status_code=303)


def _compose(request: Request, config: ListConfig, issue: IssueRow, status_code: int = 200,
             **ctx: Any) -> HTMLResponse:
    with _moot(request).engine.connect() as conn:
        shown = uc.view(conn, viewer(request), issue, draft=True)
        pending = uc.pending(conn, issue)
    ctx.setdefault("title", issue.title)
    ctx.setdefault("pending", pending)
    ctx.setdefault("introduction", issue.introduction)
    return _page(request, "issues/compose.html", status_code, lst=config, issue=issue,
                 shown=shown, items=_shown(request, shown), **ctx)


@router.get("/l/{address}/issues/{number:int}/edit", response_class=HTMLResponse,
            response_model=None)
def compose_page(request: Request, address: str, number: int, done: str = "") -> Response:
    config, _, _ = _editor(request, address)
    issue = _issue(request, config, number, drafts=True)
    response = _compose(request, config, issue, flash=DONE.get(done))
    response.headers["Cache-Control"] = "no-store"
    return response


ACTIONS = ("save", "add", "note", "up", "down", "remove", "publish")


@router.post("/l/{address}/issues/{number:int}/edit", response_class=HTMLResponse,
             response_model=None)
def compose(request: Request, address: str, number: int, action: str = Form(""),
            title: str = Form(""), introduction: str = Form(""), reference: str = Form(""),
            note: str = Form(""), position: int = Form(0), mail: str = Form(""),
            change_note: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    config, who, _ = _editor(request, address)
    issue = _issue(request, config, number, drafts=True)
    moot = _moot(request)
    now = now_utc()
    if action not in ACTIONS:
        return _compose(request, config, issue, 400, error="Choose one of the page's buttons.")
    index = position - 1
    try:
        with moot.engine.begin() as conn:
            if action == "save":
                uc.edit(conn, issue, title=title, introduction=introduction, by=who.actor,
                        now=now)
                done = "saved"
            elif action == "add":
                uc.add_post(conn, who, issue, reference, note, publishing_list=config.address,
                            now=now)
                done = "added"
            elif action == "note":
                uc.note(conn, issue, index, note, by=who.actor, now=now)
                done = "noted"
            elif action in ("up", "down"):
                uc.move(conn, issue, index, -1 if action == "up" else 1, by=who.actor, now=now)
                done = "moved"
            elif action == "remove":
                uc.remove(conn, issue, index, by=who.actor, now=now)
                done = "removed"
            else:
                uc.publish(conn, config, issue, by=who.actor, now=now, change_note=change_note,
                           mail=bool(mail), base_url=moot.settings.base_url)
                done = "mailed" if mail else "published"
    except IssueError as exc:
        keep: dict[str, Any] = {"reference": reference, "change_note": change_note}
        if action == "save":
            keep.update(title=title, introduction=introduction)
        return _compose(request, config, issue, 400, error=f"Not done: {exc}.", **keep)
    url = uc.issue_url(config.address, number)
    if action == "publish":
        return RedirectResponse(f"{url}?done={done}", status_code=303)
    return RedirectResponse(f"{url}edit?done={done}", status_code=303)
