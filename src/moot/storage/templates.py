"""A list's own wording of the mail it sends by itself: which texts there are, checking an
owner's text, keeping it, and showing what it would look like.

Why: owners want their list to greet people in their own words (a code of conduct in the
welcome, another language), without touching code.  A list's text replaces the body of one
notice; the headers, tokens and links are still made by :mod:`moot.core.notices`, and reach
the text only through named fields (``{unsubscribe_url}``), filled by
:func:`moot.core.notices.fill`, which evaluates nothing.

Where each text lives: the notices' in ``list_templates`` (no row: the built-in text); the
footer is the list's ``footer`` setting itself (``mailing_lists.footer``), so delivery keeps
reading it where it always has and the settings API and page see the same value.

What it won't do: templates for the subject line, HTML mail, per-member languages, or the
moderators' and bounce notices (their text carries the links that decide things).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from moot.core import notices
from moot.core.commands import parse_line
from moot.core.decorate import footer_for
from moot.core.errors import MootError
from moot.core.mailinglist import ListConfig
from moot.storage import audit
from moot.storage import lists as list_store
from moot.storage import schema as s

MAX_CHARS = 20_000
FOOTER = "footer"
# Control characters a text may not hold (tabs and line ends are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


class TemplateError(MootError):
    """A text that cannot be used, with what to change."""


@dataclass(frozen=True)
class Kind:
    """One text a list may word itself."""

    name: str
    purpose: str
    builtin: str  # the text to start from (the footer's: none)
    fields: dict[str, str]  # name -> what it stands for
    required: tuple[str, ...] = ()  # fields the text must use to be of any use


_FOOTER_FIELDS = {
    "unsubscribe_url": "each member's own link to leave (with personalize=member; else the "
                       "list's join-or-leave page)",
    "address": "the member's address (with personalize=member; else 'you')",
}

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("welcome", "Sent to a new member when they join.", (
        "Welcome to the list {list_name} <{list_address}>.\n\n"
        "{description}\n\n"
        "To post, write to {list_address}. {posting}\n\n"
        "To leave the list, open this link:\n"
        "  {unsubscribe_url}\n"
        "or send any message to {leave_address}.\n\n"
        "Past posts are in the archive:\n"
        "  {archive_url}\n\n"
        "For other commands, send 'help' to {request_address}.\n"),
        notices.TEMPLATE_FIELDS["welcome"]),
    Kind("goodbye", "Sent to a member when they leave or are taken off the list.", (
        "{email} has left the list {list_name} <{list_address}>\n"
        "and will get no more posts from it.\n\n"
        "To join again, send any message to {join_address}.\n"),
        notices.TEMPLATE_FIELDS["goodbye"]),
    Kind("footer", "Added to the end of every post's text as members get it (never to "
         "signed or encrypted posts). Empty: no footer.", "", _FOOTER_FIELDS),
    Kind("confirm_subscribe", "Sent to an address that asked to join: it confirms by the "
         "link, or by replying.", (
             "Someone, probably you, asked to subscribe {email}\n"
             "to the list {list_name} <{list_address}>.\n\n"
             "To confirm, do one of these:\n\n"
             "  - reply to this message, keeping its subject as it is;\n"
             "  - or open this link: {confirm_url}\n\n"
             "The request expires on {expires}.\n\n"
             "If you did not ask for this, ignore this message: nothing happens\n"
             "unless you confirm.\n"),
         notices.TEMPLATE_FIELDS["confirm_subscribe"], ("confirm_url",)),
    Kind("confirm_unsubscribe", "Sent to a member who asked to leave without their own "
         "link: they confirm by the link, or by replying.", (
             "Someone, probably you, asked to unsubscribe {email}\n"
             "from the list {list_name} <{list_address}>.\n\n"
             "To confirm, do one of these:\n\n"
             "  - reply to this message, keeping its subject as it is;\n"
             "  - or open this link: {confirm_url}\n\n"
             "The request expires on {expires}.\n\n"
             "If you did not ask for this, ignore this message: nothing happens\n"
             "unless you confirm.\n"),
         notices.TEMPLATE_FIELDS["confirm_unsubscribe"], ("confirm_url",)),
    Kind("held_for_moderation", "Sent to the author of a post that waits for a moderator.", (
        'Your message "{subject}"\n'
        "to the list {list_name} <{list_address}> waits for a moderator.\n\n"
        "Why:\n{reasons}\n\n"
        "You need not do anything, and please do not send it again: a moderator\n"
        "will either send it to the list or turn it down.\n\n"
        "{withdraw}\n\n"
        "To ask about it, write to {owner_address}.\n"),
        notices.TEMPLATE_FIELDS["held_for_moderation"]),
    Kind("rejected", "Sent to the author of a post a moderator turned down.", (
        'Your message "{subject}"\n'
        "to the list {list_name} <{list_address}> was not sent to the list.\n\n"
        "Why: {reason}\n\n"
        "If you think this is a mistake, write to {owner_address}.\n"),
        notices.TEMPLATE_FIELDS["rejected"]),
)}


def kind(name: str) -> Kind:
    """The text called ``name``; :class:`TemplateError` naming the known ones otherwise."""
    found = KINDS.get(name)
    if found is None:
        raise TemplateError(f"there is no template called {name!r}; the templates are "
                            f"{', '.join(KINDS)}")
    return found


def check(name: str, body: str) -> str:
    """The text as it would be kept (line ends made ``\\n``), or :class:`TemplateError`
    saying what to change.

    >>> check("goodbye", "Bye {email}.\\r\\nCome back: {join_address}\\r\\n")
    'Bye {email}.\\nCome back: {join_address}\\n'
    >>> check("goodbye", "Bye {email.__class__}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    moot.storage.templates.TemplateError: unknown field {email.__class__}: the fields of ...
    """
    k = kind(name)
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_CHARS:
        raise TemplateError(f"the text is {len(text):,} characters long; at most "
                            f"{MAX_CHARS:,} are allowed")
    if _CONTROL.search(text):
        raise TemplateError("the text holds a control character; type it again as plain text")
    if not text.strip() and name != FOOTER:
        raise TemplateError("an empty text would send an empty message; restore the built-in "
                            "text instead")
    allowed = ", ".join("{" + f + "}" for f in k.fields)
    # The footer is filled by plain replacement (moot.core.decorate): braces are not doubled
    # there, so every {word} in it must be one of its fields.
    used = (re.findall(r"\{([^{}\n]*)\}", text) if name == FOOTER
            else notices.fields_in(text))
    for field in used:
        if field not in k.fields:
            raise TemplateError(f"unknown field {{{field}}}: the fields of {name} are "
                                f"{allowed}" + ("" if name == FOOTER else
                                                "; to write braces themselves, double them"))
    for field in k.required:
        if field not in used:
            raise TemplateError(f"the text must use {{{field}}}: without it nobody can act "
                                "on the message")
    if name != FOOTER:
        for line in text.split("\n"):
            if parse_line(line) is not None:
                raise TemplateError(f"the line {line.strip()!r} is a mail command by itself; a "
                                    "reply quoting it could run it, so reword it")
    return text


# -- kept texts --------------------------------------------------------------------------------

def text(conn: Connection, list_id: int, name: str) -> str | None:
    """The list's own text for a notice, or None for the built-in one."""
    t = s.list_templates.c
    found = conn.execute(select(t.body).where(t.list_id == list_id, t.name == name)).scalar()
    return None if found is None else str(found)


def _footer_change(conn: Connection, list_id: int) -> tuple[datetime | None, str]:
    """When and by whom the footer setting last changed, from the audit log."""
    a = s.audit_log.c
    row = conn.execute(select(a.at, a.actor).where(
        a.list_id == list_id, a.action == "settings",
        or_(a.detail.like("footer=%"), a.detail.like("%; footer=%")))
        .order_by(a.id.desc()).limit(1)).first()
    return (row.at, row.actor) if row else (None, "")


def current(conn: Connection, config: ListConfig, name: str) -> dict[str, Any]:
    """One text as its edit page and the API show it: ``name``, ``purpose``, ``body`` (the
    list's own, or the built-in one to start from), ``customised``, ``updated_at``,
    ``updated_by``, ``fields`` and ``required``."""
    k = kind(name)
    if name == FOOTER:
        own: str | None = config.footer or None
        at, by = _footer_change(conn, config.id) if own is not None else (None, "")
    else:
        t = s.list_templates.c
        row = conn.execute(select(t.body, t.updated_at, t.updated_by).where(
            t.list_id == config.id, t.name == name)).first()
        own, at, by = (row.body, row.updated_at, row.updated_by) if row else (None, None, "")
    return {"name": name, "purpose": k.purpose,
            "body": own if own is not None else k.builtin, "customised": own is not None,
            "updated_at": at, "updated_by": by, "fields": dict(k.fields),
            "required": list(k.required)}


def overview(conn: Connection, config: ListConfig) -> list[dict[str, Any]]:
    """Every text of the list, in :data:`KINDS` order (as :func:`current` gives each)."""
    return [current(conn, config, name) for name in KINDS]


def save(conn: Connection, config: ListConfig, name: str, body: str, *, by: str,
         now: datetime) -> str:
    """Check and keep the list's own text (the footer: its ``footer`` setting), with a line
    in the audit log; returns the text as kept.  :class:`TemplateError` if it is unusable."""
    body = check(name, body)
    if name == FOOTER:
        list_store.update_settings(conn, config.address, {"footer": body}, by=by)
        return body
    t = s.list_templates.c
    values = {"body": body, "updated_at": now, "updated_by": by[:320]}
    done = conn.execute(update(s.list_templates).where(t.list_id == config.id, t.name == name)
                        .values(**values))
    if done.rowcount == 0:
        conn.execute(insert(s.list_templates), {"list_id": config.id, "name": name, **values})
    audit.record(conn, config.id, by, "template:save", name, f"{len(body)} characters", now)
    return body


def reset(conn: Connection, config: ListConfig, name: str, *, by: str, now: datetime) -> bool:
    """Go back to the built-in text (the footer: none); False if it was in use already."""
    kind(name)
    if name == FOOTER:
        if not config.footer:
            return False
        list_store.update_settings(conn, config.address, {"footer": ""}, by=by)
        return True
    t = s.list_templates.c
    gone = conn.execute(delete(s.list_templates).where(
        t.list_id == config.id, t.name == name)).rowcount > 0
    if gone:
        audit.record(conn, config.id, by, "template:reset", name, "", now)
    return gone


# -- previews ----------------------------------------------------------------------------------

SAMPLE_EMAIL = "someone@example.org"


def preview(config: ListConfig, name: str, body: str, *, base_url: str,
            now: datetime) -> str:
    """The text as someone would read it, with sample values in the fields, made by the very
    code that makes the real message.  :class:`TemplateError` if the text is unusable."""
    body = check(name, body)
    base = base_url.rstrip("/")
    if name == FOOTER:
        return footer_for(body, unsubscribe_url=f"{base}/l/{config.address}/unsubscribe/SAMPLE",
                          address=SAMPLE_EMAIL)
    when = now.replace(tzinfo=UTC)
    common: dict[str, Any] = {"message_id": f"preview@{config.domain}", "date": when,
                              "text": body}
    confirm = {"token": "SAMPLE", "confirm_address": config.sub_address("confirm+SAMPLE"),
               "confirm_url": f"{base}/confirm/SAMPLE", "expires": when + timedelta(days=3)}
    sample = "A sample subject"
    builders: dict[str, Any] = {
        "welcome": lambda: notices.welcome(
            config, SAMPLE_EMAIL, unsubscribe_url=f"{base}/l/{config.address}/unsubscribe/SAMPLE",
            archive_url=f"{base}/l/{config.address}/" if config.archive_policy != "none"
            else None, **common),
        "goodbye": lambda: notices.goodbye(config, SAMPLE_EMAIL, **common),
        "confirm_subscribe": lambda: notices.confirm_subscribe(
            config, SAMPLE_EMAIL, **confirm, **common),
        "confirm_unsubscribe": lambda: notices.confirm_unsubscribe(
            config, SAMPLE_EMAIL, **confirm, **common),
        "held_for_moderation": lambda: notices.held_for_moderation(
            config, SAMPLE_EMAIL, subject=sample,
            reasons=["The sender is not a member of the list."],
            withdraw_address=config.sub_address("confirm+SAMPLE"), **common),
        "rejected": lambda: notices.rejected(config, SAMPLE_EMAIL, subject=sample,
                                             reason="Off topic for this list.", **common),
    }
    try:
        data = builders[name]()
    except ValueError as exc:  # the list's own settings cannot go in a message
        raise TemplateError(f"this list's settings cannot be put in a message: {exc}") from None
    msg = message_from_bytes(data, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")
