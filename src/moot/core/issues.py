"""Edited issues: an editor's selection of list posts, each with a note, published as one
numbered issue of a periodical (and mailed to the list's members).

Pure: the issue's items and how an editor changes them (add, move, remove, note), the frozen
form a publication keeps (a snapshot) and what changed between two of them, how a reader finds
a post (its Message-ID, or an archive permalink), and the issue as plain text for mail.  No I/O:
storage is moot.storage.issues, the use cases moot.issues.  It does not decide who may read
what: a caller passes ``None`` as the text of a post the reader may not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

STATUSES = ("draft", "published")
MAX_TITLE = 200
MAX_TEXT = 20_000  # an introduction or a note
MAX_ITEMS = 200
PRIVATE = "a post from a private list"


class IssueError(ValueError):
    """An edit that cannot be made; the message says why, to the editor."""


@dataclass(frozen=True)
class Item:
    """One post in an issue (``message_pk``: the archive's key) and the editor's note on it."""

    message_pk: int
    note: str = ""


def check_title(title: str) -> str:
    """The title, trimmed, if it may be used.

    >>> check_title("  Weekly news ")
    'Weekly news'
    >>> check_title(" ")
    Traceback (most recent call last):
    ...
    moot.core.issues.IssueError: an issue needs a title
    """
    title = " ".join(title.split())
    if not title:
        raise IssueError("an issue needs a title")
    if len(title) > MAX_TITLE:
        raise IssueError(f"a title has at most {MAX_TITLE} characters")
    return title


def check_text(text: str, what: str = "a note") -> str:
    """An introduction or a note, with its line ends made plain and its ends trimmed.

    >>> check_text("First line\\r\\nsecond\\r\\n")
    'First line\\nsecond'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_TEXT:
        raise IssueError(f"{what} has at most {MAX_TEXT} characters")
    return text


def add(items: Sequence[Item], message_pk: int, note: str = "") -> tuple[Item, ...]:
    """The items with a post added at the end; a post is in an issue once at most.

    >>> add((Item(1),), 2)
    (Item(message_pk=1, note=''), Item(message_pk=2, note=''))
    >>> add((Item(1),), 1)
    Traceback (most recent call last):
    ...
    moot.core.issues.IssueError: that post is in this issue already
    """
    if any(i.message_pk == message_pk for i in items):
        raise IssueError("that post is in this issue already")
    if len(items) >= MAX_ITEMS:
        raise IssueError(f"an issue has at most {MAX_ITEMS} posts")
    return (*items, Item(message_pk, check_text(note)))


def _index(items: Sequence[Item], position: int) -> int:
    if not 0 <= position < len(items):
        raise IssueError(f"there is no item {position + 1} in this issue")
    return position


def move(items: Sequence[Item], position: int, delta: int) -> tuple[Item, ...]:
    """The items with the one at ``position`` (from 0) moved ``delta`` places (-1: up); a move
    past either end stops there.

    >>> [i.message_pk for i in move((Item(1), Item(2), Item(3)), 2, -1)]
    [1, 3, 2]
    >>> [i.message_pk for i in move((Item(1), Item(2)), 0, -1)]
    [1, 2]
    """
    out = list(items)
    item = out.pop(_index(items, position))
    out.insert(max(0, min(len(out), position + delta)), item)
    return tuple(out)


def remove(items: Sequence[Item], position: int) -> tuple[Item, ...]:
    """The items without the one at ``position`` (from 0).

    >>> remove((Item(1), Item(2)), 0)
    (Item(message_pk=2, note=''),)
    """
    _index(items, position)
    return tuple(i for n, i in enumerate(items) if n != position)


def set_note(items: Sequence[Item], position: int, note: str) -> tuple[Item, ...]:
    """The items with the editor's note on one of them replaced ("" for none).

    >>> set_note((Item(1),), 0, " Read this. ")
    (Item(message_pk=1, note='Read this.'),)
    """
    _index(items, position)
    note = check_text(note)
    return tuple(Item(i.message_pk, note) if n == position else i for n, i in enumerate(items))


# -- publication: what a version keeps, and what changed ---------------------------------

def snapshot(title: str, introduction: str, items: Sequence[Item]) -> str:
    """What a publication freezes, as JSON (kept with the version; readers see this).

    >>> snapshot("T", "", [Item(5, "n")])
    '{"title": "T", "introduction": "", "items": [{"message_pk": 5, "note": "n"}]}'
    """
    return json.dumps({"title": title, "introduction": introduction,
                       "items": [{"message_pk": i.message_pk, "note": i.note} for i in items]})


@dataclass(frozen=True)
class Frozen:
    """A version as readers see it: its title, introduction and items."""

    title: str
    introduction: str
    items: tuple[Item, ...]


def thaw(text: str) -> Frozen:
    """A snapshot read back (what :func:`snapshot` wrote).

    >>> thaw(snapshot("T", "i", [Item(5, "n")])).items
    (Item(message_pk=5, note='n'),)
    """
    doc: dict[str, Any] = json.loads(text)
    return Frozen(str(doc.get("title", "")), str(doc.get("introduction", "")),
                  tuple(Item(int(i["message_pk"]), str(i.get("note", "")))
                        for i in doc.get("items", [])))


def changes(old: Frozen, new: Frozen) -> list[str]:
    """What changed from one version to the next, in words for the editors ("post 2" is the
    post's place in the new version, or in the old one when it was taken out).

    >>> a = Frozen("T", "i", (Item(1), Item(2, "x")))
    >>> changes(a, Frozen("T2", "i", (Item(2, "y"), Item(1), Item(3))))
    ['title changed', 'post 3 added', 'note on post 1 changed', 'order changed']
    >>> changes(a, Frozen("T", "i", (Item(1),)))
    ['post 2 removed']
    >>> changes(a, a)
    []
    """
    out: list[str] = []
    if old.title != new.title:
        out.append("title changed")
    if old.introduction != new.introduction:
        out.append("introduction changed")
    before = {i.message_pk: (n, i) for n, i in enumerate(old.items)}
    after = {i.message_pk: (n, i) for n, i in enumerate(new.items)}
    out += [f"post {n + 1} removed" for pk, (n, _) in before.items() if pk not in after]
    out += [f"post {n + 1} added" for pk, (n, _) in after.items() if pk not in before]
    out += [f"note on post {n + 1} changed" for pk, (n, i) in after.items()
            if pk in before and before[pk][1].note != i.note]
    kept_old = [i.message_pk for i in old.items if i.message_pk in after]
    kept_new = [i.message_pk for i in new.items if i.message_pk in before]
    if kept_old != kept_new:
        out.append("order changed")
    return out


# -- finding a post ----------------------------------------------------------------------

_PERMALINK = re.compile(r"/l/([^/]+)/[mt]/(.+?)/?$")


def parse_reference(text: str) -> tuple[str | None, str]:
    """What an editor typed to name a post: ``(list address or None, Message-ID)``.  A
    Message-ID with or without its angle brackets, or an archive permalink (``/l/LIST/m/ID/``,
    on any host, percent-encoded or not).

    >>> parse_reference(" <a.1@example.org> ")
    (None, 'a.1@example.org')
    >>> parse_reference("https://lists.example.org/l/dev@example.org/m/a%2F1@example.org/")
    ('dev@example.org', 'a/1@example.org')
    >>> parse_reference("/l/dev@example.org/t/x@y/")
    ('dev@example.org', 'x@y')
    >>> parse_reference("no id here")
    Traceback (most recent call last):
    ...
    moot.core.issues.IssueError: give a post's Message-ID (like <id@host>) or its permalink
    """
    text = text.strip()
    if "://" in text or text.startswith("/l/"):
        path = urlsplit(text).path if "://" in text else text.split("?")[0].split("#")[0]
        found = _PERMALINK.search(path)
        if found:
            return unquote(found.group(1)), unquote(found.group(2))
        raise IssueError("that address is not a permalink of a post in this archive "
                         "(/l/LIST/m/MESSAGE-ID/)")
    text = text.removeprefix("<").removesuffix(">").strip()
    if not text or any(c.isspace() for c in text) or "@" not in text:
        raise IssueError("give a post's Message-ID (like <id@host>) or its permalink")
    return None, text


# -- the issue as text -------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """One item as a reader gets it: ``body`` is None for a post they may not read."""

    subject: str
    author: str
    date: str
    permalink: str
    note: str
    body: str | None


def editors_note(note: str) -> str:
    """An editor's note, bracketed so that it is never taken for the author's words.

    >>> print(editors_note("Short and\\nsweet."))
    [Editor's note: Short and
    sweet.]
    """
    return f"[Editor's note: {note}]"


def edited_line(version: int, date: str, change_note: str) -> str:
    """The line an issue edited after publication starts with.

    >>> edited_line(2, "2026-03-04", "Fixed a link.")
    'Edited after publication: version 2, 2026-03-04. Fixed a link.'
    >>> edited_line(1, "2026-03-01", "")
    ''
    """
    if version < 2:
        return ""
    return f"Edited after publication: version {version}, {date}." + (
        f" {change_note}" if change_note else "")


def render_text(*, list_name: str, number: int, title: str, introduction: str,
                items: Sequence[Shown], url: str, edited: str = "") -> str:
    """The whole issue as plain text for mail: heading, introduction, then each post with its
    note, author, date, text and permalink (a post the readers may not see: a line saying so).

    >>> text = render_text(list_name="Dev", number=3, title="News", introduction="Hi.",
    ...     items=[Shown("S", "Ada", "2026-03-02", "https://x/l/a/m/1/", "Good.", "Text.")],
    ...     url="https://x/l/a/issues/3/")
    >>> print(text.split("-- \\n")[0])
    Dev, issue 3: News
    ==================
    <BLANKLINE>
    Hi.
    <BLANKLINE>
    1. S
    ----
    [Editor's note: Good.]
    <BLANKLINE>
    Ada, 2026-03-02:
    <BLANKLINE>
    Text.
    <BLANKLINE>
    Permalink: https://x/l/a/m/1/
    <BLANKLINE>
    <BLANKLINE>
    >>> text.split("-- \\n")[1]
    'This issue on the web: https://x/l/a/issues/3/\\n'
    """
    head = f"{list_name}, issue {number}: {title}"
    out = [head, "=" * len(head), ""]
    if edited:
        out += [edited, ""]
    if introduction:
        out += [introduction, ""]
    for n, it in enumerate(items, 1):
        sub = f"{n}. {it.subject or '(no subject)'}" if it.body is not None else f"{n}. {PRIVATE}"
        out += [sub, "-" * len(sub)]
        if it.note:
            out += [editors_note(it.note), ""]
        if it.body is None:
            out += [f"(Only the members of that list may read it: {it.permalink})", ""]
            continue
        out += [f"{it.author}, {it.date}:", "", it.body.rstrip("\n"), "",
                f"Permalink: {it.permalink}", ""]
    out += ["-- ", f"This issue on the web: {url}", ""]
    return "\n".join(out)
