"""Edited issues, the use cases: an editor of a list (role "editor", or a moderator or owner)
starts an issue, adds posts from any archive they may read, writes an introduction and a note
per post, orders them, and publishes: readers see version 1, and the list's members may get
it by mail.  An edit after publication is made on the working copy and published again with a
change note as version 2, 3...; every version stays readable.

Each function works in the caller's transaction and records what it changed in the audit log.
Who may call them is the web layer's check (moot.web.issues_pages, moot.web.issues_api); which
posts a reader may see is decided here, per reader, with moot.authz.may_read_archive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from sqlalchemy.engine import Connection

from moot.authz import Viewer, may_read_archive, readable_lists
from moot.core import issues as core
from moot.core.issues import IssueError, Item
from moot.core.mailinglist import ListConfig
from moot.membership import aware, new_message_id
from moot.storage import audit, members, outbox
from moot.storage import issues as store
from moot.storage.issues import IssueRow, Post

__all__ = ["IssueError", "create", "edit", "add_post", "move", "remove", "note", "publish",
           "view", "permalink", "issue_url"]


def permalink(list_address: str, message_id: str) -> str:
    """A post's page in the archive (the path, as moot.web.archive.msgid_url makes it)."""
    return f"/l/{list_address}/m/{quote(message_id, safe='@!$&*+=~:;,')}/"


def issue_url(list_address: str, number: int, version: int | None = None) -> str:
    """An issue's page (its latest version), or one version's."""
    url = f"/l/{list_address}/issues/{number}/"
    return url + f"v/{version}/" if version else url


def _log(conn: Connection, issue: IssueRow, by: str, action: str, detail: str, now: datetime
         ) -> None:
    audit.record(conn, issue.list_id, by, action, f"issue {issue.number}", detail, now=now)


def create(conn: Connection, config: ListConfig, title: str, introduction: str, *, by: str,
           now: datetime) -> IssueRow:
    """A new draft issue of ``config``'s periodical, numbered after the last one."""
    issue = store.create(conn, config.id, core.check_title(title),
                         core.check_text(introduction, "an introduction"), by, now)
    _log(conn, issue, by, "issue-create", issue.title, now)
    return issue


def edit(conn: Connection, issue: IssueRow, *, title: str, introduction: str, by: str,
         now: datetime) -> None:
    """Change the working copy's title and introduction."""
    store.update_issue(conn, issue.id, title=core.check_title(title),
                       introduction=core.check_text(introduction, "an introduction"))
    _log(conn, issue, by, "issue-edit", "title and introduction", now)


def add_post(conn: Connection, viewer: Viewer, issue: IssueRow, reference: str, note: str = "",
             *, publishing_list: str, now: datetime) -> Post:
    """Add the post an editor names (Message-ID or permalink) from an archive they may read;
    a bare Message-ID is looked for in the publishing list first, then in the others."""
    address, message_id = core.parse_reference(reference)
    readable = readable_lists(conn, viewer)
    if address is not None:
        if address not in readable:
            raise IssueError(f"there is no list {address} whose archive you may read")
        where = [readable[address]]
    else:
        where = ([readable[publishing_list]] if publishing_list in readable else []) + [
            i for a, i in sorted(readable.items()) if a != publishing_list]
    found: list[int] = []
    for list_id in where:
        found = store.find_post(conn, message_id, [list_id])
        if found:
            break
    if not found:
        raise IssueError(f"no post <{message_id}> in an archive you may read")
    items = core.add(store.items(conn, issue.id), found[0], note)
    store.set_items(conn, issue.id, items)
    _log(conn, issue, viewer.actor, "issue-add", f"<{message_id}>", now)
    return store.posts(conn, [found[0]])[found[0]]


def _change(conn: Connection, issue: IssueRow, by: str, action: str, detail: str, now: datetime,
            how: Callable[[tuple[Item, ...]], tuple[Item, ...]]) -> None:
    store.set_items(conn, issue.id, how(store.items(conn, issue.id)))
    _log(conn, issue, by, action, detail, now)


def move(conn: Connection, issue: IssueRow, position: int, delta: int, *, by: str,
         now: datetime) -> None:
    """Move item ``position`` (from 0) up (-1) or down (+1)."""
    _change(conn, issue, by, "issue-move", f"item {position + 1} by {delta}", now,
            lambda items: core.move(items, position, delta))


def remove(conn: Connection, issue: IssueRow, position: int, *, by: str, now: datetime) -> None:
    _change(conn, issue, by, "issue-remove", f"item {position + 1}", now,
            lambda items: core.remove(items, position))


def note(conn: Connection, issue: IssueRow, position: int, text: str, *, by: str,
         now: datetime) -> None:
    """Set the editor's note on item ``position`` (from 0)."""
    _change(conn, issue, by, "issue-note", f"item {position + 1}", now,
            lambda items: core.set_note(items, position, text))


@dataclass(frozen=True)
class Published:
    version: int
    changes: list[str]
    recipients: int


def publish(conn: Connection, config: ListConfig, issue: IssueRow, *, by: str, now: datetime,
            change_note: str = "", mail: bool = False, base_url: str = "") -> Published:
    """Publish the working copy as the next version (1 for a draft).  A new version after
    the first needs a change note and a change.  With ``mail``, the issue goes to the
    members who get regular delivery, as one message from the list."""
    if issue.list_id != config.id:
        raise IssueError("this issue belongs to another list")
    items = store.items(conn, issue.id)
    if not items:
        raise IssueError("add at least one post before publishing")
    change_note = core.check_text(change_note, "a change note")
    frozen = core.snapshot(issue.title, issue.introduction, items)
    changed: list[str] = []
    if issue.status == "published":
        changed = pending(conn, issue)
        if not changed:
            raise IssueError("nothing changed since the last version")
        if not change_note:
            raise IssueError("say what changed (a change note) to publish a new version")
    version = issue.version + 1
    store.add_version(conn, issue.id, version, frozen, by=by, change_note=change_note, now=now,
                      pks=[i.message_pk for i in items])
    store.update_issue(conn, issue.id, status="published", version=version,
                       published_title=issue.title,
                       published_at=issue.published_at or now)
    _log(conn, issue, by, "issue-publish", f"version {version}"
         + (f": {change_note}" if change_note else ""), now)
    sent = 0
    if mail:
        fresh = store.get(conn, issue.list_id, issue.number)
        assert fresh is not None
        shown = view(conn, None, fresh, config=config)
        data = issue_mail(config, shown, base_url=base_url, now=now)
        rcpts = members.post_recipients(conn, config.id)
        personal = config.personalize == "member"
        outbox.enqueue(conn, list_id=config.id, kind="issue", mail_from=config.bounces_address,
                       data=data, recipients=[(r, personal) for r, _ in rcpts], now=now)
        sent = len(rcpts)
        _log(conn, issue, by, "issue-mail", f"version {version} to {sent} members", now)
    return Published(version, changed, sent)


def pending(conn: Connection, issue: IssueRow) -> list[str]:
    """What the working copy of a published issue changes from its latest version."""
    history = store.versions(conn, issue.id)
    if not history:
        return []
    now = core.Frozen(issue.title, issue.introduction, store.items(conn, issue.id))
    return core.changes(core.thaw(history[-1].snapshot), now)


# -- what a reader sees ------------------------------------------------------------------

@dataclass(frozen=True)
class ShownItem:
    """One post as this reader gets it (``readable`` False: only "a post from a private list";
    ``removed``: the moderators took it down, or it is gone from the archive)."""

    position: int
    note: str
    readable: bool
    removed: bool
    post: Post | None
    permalink: str

    def text_form(self) -> core.Shown:
        p = self.post
        if p is None or not self.readable:
            return core.Shown("", "", "", self.permalink, self.note, None)
        body = "(removed by the moderators)" if self.removed else p.body_text
        return core.Shown(p.subject, p.from_name or p.from_addr, p.date.strftime("%Y-%m-%d"),
                          self.permalink, self.note, body)


@dataclass(frozen=True)
class IssueView:
    issue: IssueRow
    version: int  # 0: the unpublished working copy
    title: str
    introduction: str
    items: list[ShownItem]
    published_at: datetime | None
    change_note: str
    versions: list[store.VersionRow]


def view(conn: Connection, viewer: Viewer | None, issue: IssueRow, *, version: int | None = None,
         draft: bool = False, config: ListConfig | None = None) -> IssueView:
    """The issue as ``viewer`` may see it: a published version (the latest unless asked), or
    with ``draft`` the working copy.  ``viewer`` None: the publishing list's members as a whole
    (the mail), who may see posts of public archives and of the publishing list itself."""
    history = store.versions(conn, issue.id)
    if draft:
        title, intro, items = issue.title, issue.introduction, store.items(conn, issue.id)
        at, change, number = None, "", 0
    else:
        chosen = [v for v in history if v.version == (version or issue.version)]
        if not chosen:
            raise LookupError(f"issue {issue.number} has no version {version or 1}")
        v = chosen[0]
        frozen = core.thaw(v.snapshot)
        title, intro, items = frozen.title, frozen.introduction, frozen.items
        at, change, number = v.published_at, v.change_note, v.version
    found = store.posts(conn, [i.message_pk for i in items])
    shown = []
    for n, item in enumerate(items):
        post = found.get(item.message_pk)
        if post is None:
            shown.append(ShownItem(n, item.note, False, True, None, ""))
            continue
        if viewer is None:
            ok = post.archive_policy == "public" or (config is not None
                                                     and post.list_id == config.id)
        else:
            ok = may_read_archive(conn, viewer, post.list_id, post.archive_policy)
        shown.append(ShownItem(n, item.note, ok, post.removed_kind == "deleted", post,
                               permalink(post.list_address, post.message_id)))
    return IssueView(issue, number, title, intro, shown, at, change, history)


def issue_text(config: ListConfig, shown: IssueView, *, base_url: str) -> str:
    """The issue as plain text, links made absolute with ``base_url``."""
    base = base_url.rstrip("/")
    items = [i.text_form() for i in shown.items]
    items = [core.Shown(i.subject, i.author, i.date, base + i.permalink, i.note, i.body)
             for i in items]
    edited = core.edited_line(shown.version, shown.published_at.strftime("%Y-%m-%d")
                              if shown.published_at else "", shown.change_note)
    return core.render_text(list_name=config.name, number=shown.issue.number, title=shown.title,
                            introduction=shown.introduction, items=items,
                            url=base + issue_url(config.address, shown.issue.number),
                            edited=edited)


def issue_mail(config: ListConfig, shown: IssueView, *, base_url: str, now: datetime) -> bytes:
    """One text/plain (UTF-8) message from the list to its members carrying the issue."""
    msg = EmailMessage()
    msg["From"] = formataddr((config.name, config.address))
    msg["To"] = config.address
    msg["Subject"] = f"{config.prefix}{shown.title} (issue {shown.issue.number})"
    msg["Date"] = format_datetime(aware(now))
    msg["Message-ID"] = f"<{new_message_id(config)}>"
    msg["List-Id"] = f"{config.name} <{config.list_id}>"
    msg["List-Archive"] = f"<{base_url.rstrip('/')}/l/{config.address}/issues/>"
    msg["Precedence"] = "list"
    msg.set_content(issue_text(config, shown, base_url=base_url), charset="utf-8")
    return msg.as_bytes()
