"""The messages a list sends by itself: confirmations, welcomes, command replies, holds.

Why: these go to people who did not write them, often in answer to mail anyone can send, so
they must be safe and must not start mail loops.  Each builder returns the bytes of a complete
RFC 5322 message (CRLF line ends), made with :class:`email.message.EmailMessage` under
:data:`email.policy.SMTP`; every value that ends up in the message is refused with
:class:`ValueError` if it holds a line break or another control character, so no caller can
smuggle a header in.  (The one exception: a command's outcome may span lines; it only goes in
the body.  Text the caller did not write should go through :func:`one_line` first.)

Every notice says it was sent automatically (RFC 3834 ``Auto-Submitted``: ``auto-replied``
when it answers someone's message, ``auto-generated`` otherwise; plus the older
``Precedence: bulk`` that vacation programs still look for), names its list (RFC 2919
``List-Id``, RFC 2369 ``List-Help``) and carries ``X-Loop`` so our own mail coming back can be
recognised.  Notices come from ``LIST-request@`` (the address that understands commands;
replies to them are read as commands) or, for moderators, from ``LIST-owner@``.

No line of any notice's body is itself an email command, and commands quoted back in a
reply start with ``>``, so a reply that quotes a notice runs nothing by accident.

What it won't do: send, choose message ids or clocks, make tokens or URLs (they are passed
in), translate, render HTML, or write to internationalised addresses (RFC 6531: refused, as
the relay would need SMTPUTF8).  Texts are short, plain and say what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from moot.core.commands import help_text
from moot.core.mailinglist import ListConfig
from moot.core.member import Member

# Line breaks (including the ones str.splitlines knows) and other control characters.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+$")
_MSG_ID = re.compile(r"^[^\s<>]+@[^\s<>]+$")
# Characters that may not stand bare in a header phrase (RFC 5322 section 3.2.3 specials).
_SPECIALS = re.compile(r"[()<>\[\]:;@\\,.\"]+")


def _line(name: str, value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{name} contains a line break or a control character: {value!r}")
    return value


def _address(name: str, value: str) -> str:
    _line(name, value)
    if not _ADDR_SPEC.match(value):
        raise ValueError(f"{name} is not an address like someone@example.org: {value!r}")
    if not value.isascii():
        # SMTPUTF8 addresses (RFC 6531) would need an SMTPUTF8 relay all the way; not yet.
        raise ValueError(f"{name}: addresses with non-ASCII characters are not supported yet")
    return value


def _message_id(name: str, value: str) -> str:
    _line(name, value)
    bare = value.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    if not _MSG_ID.match(bare):
        raise ValueError(f"{name} is not a message id like abc@example.org: {value!r}")
    return bare


def _parent_id(value: str | None) -> str | None:
    """The id a notice answers, without brackets; None when there is none worth citing.

    Ids from the wild are often malformed; a malformed one only loses the threading headers,
    it never stops the reply.  Line breaks and control characters are still refused.
    """
    if not value:
        return None
    bare = _line("in_reply_to", value).strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    if not bare or re.search(r"[\s<>]", bare):
        return None
    return bare


def one_line(text: str, limit: int = 200) -> str:
    """Untrusted text (a decoded subject, a display name) made fit for a notice: line breaks
    and other control characters become spaces, runs of white space one space, and the text
    is cut to ``limit`` characters.  The builders refuse such characters rather than guess;
    a caller passing text it did not write runs it through this first.

    >>> one_line("Re: =?evil?= \\r\\nBcc: eve@example.com\\t x")
    'Re: =?evil?= Bcc: eve@example.com x'
    >>> one_line("a" * 10, limit=5)
    'aaaa…'
    """
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def _when(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not {value!r}")
    return value.astimezone(UTC)


def _list_id_phrase(name: str) -> str:
    if name.isascii():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # Non-ASCII words become encoded words; the ASCII ones around them must be atoms.
    return " ".join(_SPECIALS.sub(" ", name).split())


def _quoted(text: str) -> str:
    return f'"{text}"'


# -- a list's own wording ----------------------------------------------------------------------
#
# A list's owners may word a notice themselves (moot.storage.templates keeps and checks their
# text).  Their text replaces the body only: headers, tokens and links are still made here, and
# reach the text through named fields.  Each notice below fills exactly the fields named here.

TEMPLATE_FIELDS: dict[str, dict[str, str]] = {
    "welcome": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the new member's address", "description": "the list's description",
        "posting": "who may post, in a sentence",
        "unsubscribe_url": "the member's own link to leave",
        "leave_address": "the address that takes the member off the list",
        "archive_url": "the archive's address (empty when the list keeps none)",
        "request_address": "the address that takes commands",
        "owner_address": "the address of the list's owners"},
    "goodbye": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the address that left", "join_address": "the address to join again",
        "owner_address": "the address of the list's owners"},
    "confirm_subscribe": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the address asking to join", "confirm_url": "the link that confirms",
        "confirm_address": "the address a reply goes to (it confirms too)",
        "expires": "when the request expires (UTC)",
        "owner_address": "the address of the list's owners"},
    "confirm_unsubscribe": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the address asking to leave", "confirm_url": "the link that confirms",
        "confirm_address": "the address a reply goes to (it confirms too)",
        "expires": "when the request expires (UTC)",
        "owner_address": "the address of the list's owners"},
    "held_for_moderation": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the author's address", "subject": "the post's subject",
        "reasons": "why it is held, one reason a line",
        "withdraw": "how to take the post back (empty when that is not possible)",
        "owner_address": "the address of the list's owners"},
    "rejected": {
        "list_name": "the list's name", "list_address": "the list's posting address",
        "email": "the author's address", "subject": "the post's subject",
        "reason": "why it was turned down",
        "owner_address": "the address of the list's owners"},
}

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")


def fields_in(template: str) -> list[str]:
    """The field names a text uses, in order (``{{`` and ``}}`` are literal braces).

    >>> fields_in("Hi {email}, {{not a field}} {email.__class__} {}")
    ['email', 'email.__class__', '']
    """
    return [m.group(1) for m in _FIELD.finditer(template) if m.group(1) is not None]


def fill(template: str, fields: Mapping[str, str]) -> str:
    """A list's own text with its fields filled in.

    ``{name}`` becomes the value of field ``name``; ``{{`` and ``}}`` are literal braces;
    anything else in braces stays as typed.  Nothing is evaluated: a name is looked up as a
    whole string, so attribute access, indexing and format specs are not syntax here
    (unlike :meth:`str.format`, which would hand ``{email.__class__}`` a Python object).

    >>> fill("Hi {email}! {email.__class__} {email!r} {{email}} {nope}", {"email": "a@b.c"})
    'Hi a@b.c! {email.__class__} {email!r} {email} {nope}'
    """
    def one(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return fields.get(m.group(1), m.group(0))

    return _FIELD.sub(one, template)


def _own(name: str, text: str, fields: Mapping[str, str]) -> str:
    """The body from a list's own text: filled in, line ends normalised, the blank lines an
    empty field leaves folded into one, one line end at the end."""
    assert set(fields) == set(TEMPLATE_FIELDS[name]), name  # the documented fields, exactly
    body = fill(text.replace("\r\n", "\n").replace("\r", "\n"), fields)
    body = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", body)
    return body.strip("\n") + "\n"


def _notice(
    config: ListConfig,
    to: str,
    *,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    replied: bool,
    in_reply_to: str | None = None,
    reply_to: str | None = None,
    from_owner: bool = False,
) -> bytes:
    """The common frame of every notice; ``body`` is our own text, already checked."""
    for name in ("display_name", "address"):
        _line(f"config.{name}", getattr(config, name))
    _address("config.address", config.address)
    _address("to", to)
    _line("subject", subject)
    mid = _message_id("message_id", message_id)
    when = _when("date", date)
    parent = _parent_id(in_reply_to)
    if _CONTROL.search(body.replace("\n", " ")):
        raise ValueError("the text holds a control character")

    msg = EmailMessage(policy=SMTP)
    sender = config.owner_address if from_owner else config.request_address
    msg["From"] = Address(display_name=config.name, addr_spec=sender)
    msg["To"] = Address(addr_spec=to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{mid}>"
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
        msg["References"] = f"<{parent}>"
    if reply_to:
        msg["Reply-To"] = Address(addr_spec=_address("reply_to", reply_to))
    msg["Auto-Submitted"] = "auto-replied" if replied or parent else "auto-generated"
    msg["Precedence"] = "bulk"
    msg["X-Loop"] = config.address
    msg["List-Id"] = f"{_list_id_phrase(config.name)} <{config.list_id}>"
    msg["List-Help"] = f"<mailto:{config.request_address}?subject=help>"
    msg.set_content(body, charset="utf-8", cte=None if body.isascii() else "quoted-printable")
    return msg.as_bytes()


def _list_named(config: ListConfig) -> str:
    return f"{config.name} <{config.address}>"


def _expiry(expires: datetime) -> str:
    return _when("expires", expires).strftime("%Y-%m-%d %H:%M UTC")


def _confirm(
    config: ListConfig,
    to: str,
    *,
    action: str,
    token: str,
    confirm_address: str,
    confirm_url: str,
    expires: datetime,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    text: str | None = None,
) -> bytes:
    _line("token", token)
    if not token or token.split() != [token]:
        raise ValueError(f"token must be one word: {token!r}")
    _address("confirm_address", confirm_address)
    _line("confirm_url", confirm_url)
    body = (
        f"Someone, probably you, asked to {action} {to}\n"
        f"{'to' if action == 'subscribe' else 'from'} the list {_list_named(config)}.\n"
        "\n"
        "To confirm, do one of these:\n"
        "\n"
        "  - reply to this message, keeping its subject as it is;\n"
        f"  - or open this link: {confirm_url}\n"
        "\n"
        f"The request expires on {_expiry(expires)}.\n"
        "\n"
        "If you did not ask for this, ignore this message: nothing happens\n"
        "unless you confirm.\n"
    )
    if text is not None:
        body = _own(f"confirm_{action}", text, {
            "list_name": config.name, "list_address": config.address, "email": to,
            "confirm_url": confirm_url, "confirm_address": confirm_address,
            "expires": _expiry(expires), "owner_address": config.owner_address})
    return _notice(
        config, to, subject=f"confirm {token}", body=body, message_id=message_id, date=date,
        replied=False, in_reply_to=in_reply_to, reply_to=confirm_address,
    )


def confirm_subscribe(
    config: ListConfig,
    to: str,
    *,
    token: str,
    confirm_address: str,
    confirm_url: str,
    expires: datetime,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    text: str | None = None,
) -> bytes:
    """Asks ``to`` to confirm joining the list.

    The subject is ``confirm TOKEN`` and ``Reply-To`` is ``confirm_address``
    (``LIST-confirm+TOKEN@``), so a plain reply confirms whichever address it reaches.
    ``text``: the list's own wording of the body (see :data:`TEMPLATE_FIELDS`).
    """
    return _confirm(
        config, to, action="subscribe", token=token, confirm_address=confirm_address,
        confirm_url=confirm_url, expires=expires, message_id=message_id, date=date,
        in_reply_to=in_reply_to, text=text,
    )


def confirm_unsubscribe(
    config: ListConfig,
    to: str,
    *,
    token: str,
    confirm_address: str,
    confirm_url: str,
    expires: datetime,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    text: str | None = None,
) -> bytes:
    """Asks ``to`` to confirm leaving the list (same shape as :func:`confirm_subscribe`)."""
    return _confirm(
        config, to, action="unsubscribe", token=token, confirm_address=confirm_address,
        confirm_url=confirm_url, expires=expires, message_id=message_id, date=date,
        in_reply_to=in_reply_to, text=text,
    )


_POSTING = {
    "open": "Anyone may post.",
    "members": "Members may post.",
    "moderated": "Every post is read by a moderator before it goes out.",
    "announce": "Only the list's owners and moderators post; others' posts are turned down.",
}


def welcome(
    config: ListConfig,
    to: str,
    *,
    unsubscribe_url: str,
    message_id: str,
    date: datetime,
    archive_url: str | None = None,
    in_reply_to: str | None = None,
    text: str | None = None,
) -> bytes:
    """Tells a new member how to post, how to leave and where the archive is (``text``: the
    list's own wording)."""
    _line("unsubscribe_url", unsubscribe_url)
    lines = [f"Welcome to the list {_list_named(config)}.", ""]
    if config.description.strip():
        lines += [config.description.strip(), ""]
    lines += [
        f"To post, write to {config.address}. {_POSTING.get(config.posting_policy, '')}",
        "",
        "To leave the list, open this link:",
        f"  {unsubscribe_url}",
        f"or send any message to {config.sub_address('leave')}.",
    ]
    if archive_url:
        _line("archive_url", archive_url)
        who = " (for members only)" if config.archive_policy == "private" else ""
        lines += ["", f"Past posts are in the archive{who}:", f"  {archive_url}"]
    lines += ["", f"For other commands, send 'help' to {config.request_address}."]
    body = "\n".join(lines) + "\n"
    if text is not None:
        body = _own("welcome", text, {
            "list_name": config.name, "list_address": config.address, "email": to,
            "description": config.description.strip(),
            "posting": _POSTING.get(config.posting_policy, ""),
            "unsubscribe_url": unsubscribe_url, "leave_address": config.sub_address("leave"),
            "archive_url": archive_url or "", "request_address": config.request_address,
            "owner_address": config.owner_address})
    return _notice(
        config, to, subject=f"Welcome to {config.name}", body=body,
        message_id=message_id, date=date, replied=False, in_reply_to=in_reply_to,
    )


def goodbye(
    config: ListConfig,
    to: str,
    *,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    text: str | None = None,
) -> bytes:
    """Tells someone they have left the list and how to come back (``text``: the list's own
    wording)."""
    body = (
        f"{to} has left the list {_list_named(config)}\n"
        "and will get no more posts from it.\n"
        "\n"
        f"To join again, send any message to {config.sub_address('join')}.\n"
    )
    if text is not None:
        body = _own("goodbye", text, {
            "list_name": config.name, "list_address": config.address, "email": to,
            "join_address": config.sub_address("join"), "owner_address": config.owner_address})
    return _notice(
        config, to, subject=f"You have left {config.name}", body=body,
        message_id=message_id, date=date, replied=False, in_reply_to=in_reply_to,
    )


def command_results(
    config: ListConfig,
    to: str,
    *,
    results: Sequence[tuple[str, str]],
    unknown: Sequence[str] = (),
    ignored: int = 0,
    in_reply_to: str | None = None,
    message_id: str,
    date: datetime,
) -> bytes:
    """The reply to a message to ``LIST-request@``: each command with what came of it.

    ``results`` pairs each command line with its outcome ("You are now subscribed.").  An
    outcome may span lines (a list of members, the help text): it goes in the body only, never
    in a header, and line ends are normalised; other control characters are refused.  Commands
    are quoted with ``>`` so that replying to this runs none of them again.
    """
    lines = [f"The results of your email commands to {config.request_address}:", ""]
    for command, outcome in results:
        text = outcome.replace("\r\n", "\n").strip("\n")
        if "\r" in text or _CONTROL.search(text.replace("\n", " ")):
            raise ValueError(f"outcome contains a control character: {outcome!r}")
        lines += [f"> {_line('command', command)}", text, ""]
    if unknown:
        lines += ["These lines were not understood:", ""]
        lines += [f"> {_line('unknown line', text)}" for text in unknown]
        lines.append("")
    if ignored < 0:
        raise ValueError("ignored must be 0 or more")
    if ignored:
        lines += [f"{ignored} more line{'s were' if ignored != 1 else ' was'} not read.", ""]
    if not results and not unknown:
        lines += ["No commands were found in your message.", ""]
    lines.append(f"For the list of commands, send 'help' to {config.request_address}.")
    return _notice(
        config, to, subject="The results of your email commands", body="\n".join(lines) + "\n",
        message_id=message_id, date=date, replied=True, in_reply_to=in_reply_to,
    )


def help_reply(
    config: ListConfig,
    to: str,
    *,
    in_reply_to: str | None = None,
    message_id: str,
    date: datetime,
) -> bytes:
    """The reply to ``help``: :func:`moot.core.commands.help_text`."""
    return _notice(
        config, to, subject=f"Help for {config.name}", body=help_text(config),
        message_id=message_id, date=date, replied=True, in_reply_to=in_reply_to,
    )


def who_reply(
    config: ListConfig,
    to: str,
    *,
    members: Sequence[Member],
    in_reply_to: str | None = None,
    message_id: str,
    date: datetime,
) -> bytes:
    """The reply to ``who``: the members, by address.  Whether ``to`` may see them is the
    caller's decision."""
    ordered = sorted(members, key=lambda m: m.email)
    lines = [f"The list {_list_named(config)} has {len(ordered)} "
             f"member{'' if len(ordered) == 1 else 's'}:", ""]
    for member in ordered:
        notes = [member.role] if member.role != "member" else []
        if member.delivery == "digest":
            notes.append("digest")
        if member.nomail:
            notes.append("no mail")
        line = "  " + _line("member email", member.email)
        if member.name:
            line += f" ({_line('member name', member.name)})"
        if notes:
            line += f" [{', '.join(notes)}]"
        lines.append(line)
    return _notice(
        config, to, subject=f"Members of {config.name}", body="\n".join(lines) + "\n",
        message_id=message_id, date=date, replied=True, in_reply_to=in_reply_to,
    )


def _reasons(reasons: Sequence[str]) -> list[str]:
    if not reasons:
        return []
    return ["Why:"] + [f"  - {_line('reason', r)}" for r in reasons] + [""]


def held_for_moderation(
    config: ListConfig,
    to: str,
    *,
    subject: str,
    reasons: Sequence[str],
    in_reply_to: str | None = None,
    message_id: str,
    date: datetime,
    withdraw_address: str | None = None,
    text: str | None = None,
) -> bytes:
    """Tells an author that their post waits for a moderator, and why.  With
    ``withdraw_address`` (a signed ``LIST-confirm+TOKEN@``), replies go there, and a reply
    saying "withdraw" takes the post back.  ``text``: the list's own wording."""
    lines = [
        f"Your message {_quoted(_line('subject', subject))}",
        f"to the list {_list_named(config)} waits for a moderator.",
        "",
        *_reasons(reasons),
        "You need not do anything, and please do not send it again: a moderator",
        "will either send it to the list or turn it down.",
        "",
    ]
    if withdraw_address:
        _address("withdraw_address", withdraw_address)
        lines += ["To withdraw it, reply to this message with the word withdraw.", ""]
    lines.append(f"To ask about it, write to {config.owner_address}.")
    body = "\n".join(lines) + "\n"
    if text is not None:
        body = _own("held_for_moderation", text, {
            "list_name": config.name, "list_address": config.address, "email": to,
            "subject": subject, "reasons": "\n".join(f"  - {r}" for r in reasons),
            "withdraw": "To withdraw it, reply to this message with the word withdraw."
            if withdraw_address else "", "owner_address": config.owner_address})
    return _notice(
        config, to, subject=f"Your message to {config.name} waits for a moderator",
        body=body, message_id=message_id, date=date, replied=True,
        in_reply_to=in_reply_to, reply_to=withdraw_address or None,
    )


def moderator_notice(
    config: ListConfig,
    to: str,
    *,
    hold_id: int,
    sender: str,
    subject: str,
    reasons: Sequence[str],
    moderate_url: str,
    message_id: str,
    date: datetime,
    approve_address: str = "",
    reject_address: str = "",
    discard_address: str = "",
) -> bytes:
    """Tells a moderator or owner that a post is held.  Sent from ``LIST-owner@``.

    The ``*_address`` arguments are signed ``LIST-confirm+TOKEN@`` addresses that carry out
    one decision each: replies go to ``approve_address`` (a reply approves), and the others
    are named in the text.  ``moderate_url`` is the signed page showing the post."""
    if isinstance(hold_id, bool) or not isinstance(hold_id, int) or hold_id < 0:
        raise ValueError(f"hold_id must be a whole number: {hold_id!r}")
    lines = [
        f"A post to {_list_named(config)} is held for moderation.",
        "",
        f"  From:    {_line('sender', sender)}",
        f"  Subject: {_line('subject', subject)}",
        f"  Held as: #{hold_id}",
        "",
        *_reasons(reasons),
    ]
    if approve_address:
        lines += ["To approve it, reply to this message (what you write does not matter).",
                  f"  (replies go to {_address('approve_address', approve_address)})"]
    if reject_address:
        lines += ["To turn it down (the author is told), send any message to:",
                  f"  {_address('reject_address', reject_address)}"]
    if discard_address:
        lines += ["To discard it (nobody is told), send any message to:",
                  f"  {_address('discard_address', discard_address)}"]
    if approve_address or reject_address or discard_address:
        lines.append("")
    if moderate_url:
        lines += ["See the post and approve it, turn it down or discard it here:",
                  f"  {_line('moderate_url', moderate_url)}"]
    else:  # no moderators' page: the command line
        lines += ["Approve it, turn it down or discard it on the server:",
                  f"  moot moderate {config.address} {hold_id} approve|reject|discard|defer"]
    return _notice(
        config, to, subject=f"{config.name}: post #{hold_id} waits for approval",
        body="\n".join(lines) + "\n", message_id=message_id, date=date, replied=False,
        from_owner=True, reply_to=approve_address or None,
    )


def held_summary(
    config: ListConfig,
    to: str,
    *,
    count: int,
    waiting: int,
    holds: Sequence[tuple[int, str, str, str]],
    message_id: str,
    date: datetime,
) -> bytes:
    """Tells a moderator or owner that ``count`` more posts were held than they were told of
    one by one (``waiting`` in all).  ``holds``: (number, sender, subject, signed page URL or
    "") of some of them, shown in that order.  Sent from ``LIST-owner@``."""
    for name, value in (("count", count), ("waiting", waiting)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number: {value!r}")
    posts = "post is" if count == 1 else "posts are"
    lines = [f"{count} more {posts} waiting for a moderator on {_list_named(config)}",
             f"({waiting} in all).", ""]
    for hold_id, sender, subject, url in holds:
        lines.append(f"  #{hold_id} from {_line('sender', sender)}: "
                     f"{_quoted(_line('subject', subject))}")
        if url:
            lines.append(f"    {_line('url', url)}")
    if len(holds) < count:
        lines.append(f"  ... and {count - len(holds)} more")
    lines += ["", "All of them, on the server:", f"  moot held {config.address}"]
    return _notice(
        config, to, subject=f"{config.name}: {count} more {posts} waiting for approval",
        body="\n".join(lines) + "\n", message_id=message_id, date=date, replied=False,
        from_owner=True,
    )


def rejected(
    config: ListConfig,
    to: str,
    *,
    subject: str,
    reason: str,
    in_reply_to: str | None = None,
    message_id: str,
    date: datetime,
    text: str | None = None,
) -> bytes:
    """Tells an author that their post was turned down, and why (``text``: the list's own
    wording)."""
    lines = [
        f"Your message {_quoted(_line('subject', subject))}",
        f"to the list {_list_named(config)} was not sent to the list.",
        "",
        f"Why: {_line('reason', reason)}",
        "",
        f"If you think this is a mistake, write to {config.owner_address}.",
    ]
    body = "\n".join(lines) + "\n"
    if text is not None:
        body = _own("rejected", text, {
            "list_name": config.name, "list_address": config.address, "email": to,
            "subject": subject, "reason": reason, "owner_address": config.owner_address})
    return _notice(
        config, to, subject=f"Your message to {config.name} was not sent",
        body=body, message_id=message_id, date=date, replied=True,
        in_reply_to=in_reply_to,
    )


def delivery_stopped(
    config: ListConfig,
    to: str,
    *,
    reason: str,
    token: str,
    confirm_address: str,
    confirm_url: str,
    notices_left: int | None,
    message_id: str,
    date: datetime,
) -> bytes:
    """Tells a member that mail to them kept bouncing, so the list stopped sending, and how to
    start it again.  (It is also the probe: if this one arrives, nothing bounces, and delivery
    starts again by itself after a few days.)  ``notices_left``: how many more before they are
    removed (None: never removed)."""
    _line("reason", reason)
    _line("token", token)
    if not token or token.split() != [token]:
        raise ValueError(f"token must be one word: {token!r}")
    _address("confirm_address", confirm_address)
    _line("confirm_url", confirm_url)
    lines = [
        f"Mail from the list {_list_named(config)} to {to}",
        "has been coming back undelivered, so the list has stopped sending it.",
        "",
        "The last reason given:",
        f"  {reason or '(none given)'}",
        "",
        "If you are reading this, mail gets through again. To have the list",
        "send you posts again, do one of these:",
        "",
        "  - reply to this message, keeping its subject as it is;",
        f"  - or open this link: {confirm_url}",
        "",
        "If this message does not bounce, delivery also starts again by itself",
        "in a few days.",
    ]
    if notices_left is not None:
        lines += ["", (f"After {notices_left} more notice{'s' if notices_left != 1 else ''} like "
                       "this one, a week apart," if notices_left else "This is the last notice;")
                  + " you will be removed from the list."]
    return _notice(
        config, to, subject=f"confirm {token}", body="\n".join(lines) + "\n",
        message_id=message_id, date=date, replied=False, reply_to=confirm_address,
    )


def expelled(
    config: ListConfig,
    to: str,
    *,
    reason: str,
    appeal_address: str,
    message_id: str,
    date: datetime,
) -> bytes:
    """Tells a member they were put out of the list, why, and where to appeal."""
    _line("reason", reason)
    _address("appeal_address", appeal_address)
    body = (
        f"{to} has been removed from the list {_list_named(config)}\n"
        "by its owners, and may no longer post to it or join it again.\n"
        "\n"
        "The reason given:\n"
        f"  {reason or '(none given)'}\n"
        "\n"
        f"If you think this is a mistake, write to {appeal_address}.\n"
    )
    return _notice(
        config, to, subject=f"You have been removed from {config.name}", body=body,
        message_id=message_id, date=date, replied=False, reply_to=appeal_address,
        from_owner=True,
    )


def account_mail(site: str, sender: str, to: str, *, subject: str, lines: Sequence[str],
                 message_id: str, date: datetime) -> bytes:
    """A message about someone's web account (confirm the address, reset the password): from
    the site, not from a list; our own text only."""
    _address("sender", sender)
    _address("to", to)
    _line("site", site)
    _line("subject", subject)
    body = "\n".join(lines) + "\n"
    if _CONTROL.search(body.replace("\n", " ")):
        raise ValueError("the text holds a control character")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name=site, addr_spec=sender)
    msg["To"] = Address(addr_spec=to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(_when("date", date))
    msg["Message-ID"] = f"<{_message_id('message_id', message_id)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    msg.set_content(body, charset="utf-8", cte=None if body.isascii() else "quoted-printable")
    return msg.as_bytes()
