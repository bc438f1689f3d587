"""Reads the delivery failure reports that come back to a list's ``LIST-bounces@`` address.

Why: when a member's mailbox is gone, every post to them comes back, and the list has to notice
and stop sending.  Most reports are RFC 3464 delivery status notifications: a
``multipart/report`` (RFC 6522) whose ``message/delivery-status`` part holds one group of
fields per recipient (``message/global-delivery-status`` for UTF-8 addresses, RFC 6533).
Postfix, qmail, Exim and Sendmail without DSN, Exchange 2007-2010 and Yahoo write prose
instead; each of those gets one small function that knows its own opening words.

How: the email package parses (compat32 reads broken MIME without raising); the walk never
enters the returned original (``message/rfc822``, ``text/rfc822-headers``, ``message/global*``)
and cuts a plain-text notice where its copy of the original begins.  A delivery-status part
wins; else the first prose format that recognises its text.  ``status`` is the RFC 3463
enhanced code, from the report or the text, else the class of an SMTP reply code (RFC 5321
4.2.1) as ``X.0.0``.  In prose, a warning gives ``delayed`` and a notice that says it has given
up gives ``failed``, whatever the codes; otherwise a 4xx reply means ``delayed``, and 5xx or no
code ``failed``.

What it won't do: decide what a bounce costs a member (scores live with the membership code);
trust any address in the returned original (anyone can write anything there; the VERP address,
read by :func:`verp_recipient`, is the better witness); guess at shapes it does not know
(auto-replies, challenges, spam and plain mail give ``[]``); read HTML-only notices; decode
xtext (RFC 3461) in Original-Recipient.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class Failure:
    """One recipient that a report says was not reached."""

    recipient: str  # the failed address, lower case, no angle brackets; "" if the report names none
    action: str  # "failed" (permanent) or "delayed" (temporary, still being tried)
    status: str  # enhanced status code such as "5.1.1", or "" when unknown
    diagnostic: str  # why, on one line of at most 300 characters

    @property
    def permanent(self) -> bool:
        return self.action == "failed"


def parse_bounce(raw: bytes) -> list[Failure]:
    """The recipients that a delivery failure report says failed, one entry each; a permanent
    failure wins over a delay for the same address.  Never raises: it returns ``[]`` for
    anything that is not such a report (including DSNs whose actions are only "delivered",
    "relayed" or "expanded").

    >>> parse_bounce(b"From: alice@example.com\\nSubject: hello\\n\\nHi all\\n")
    []
    """
    try:
        failures = _read(email.message_from_bytes(raw, policy=email.policy.compat32))
    except Exception:  # the email package on hostile input (deep nesting, odd charsets)
        return []
    kept: dict[str, Failure] = {}
    for failure in failures:
        earlier = kept.get(failure.recipient)
        if earlier is None or (failure.permanent and not earlier.permanent):
            kept[failure.recipient] = failure
    return list(kept.values())


def verp_recipient(token: str) -> str | None:
    """The member address that a VERP token names.  The sender writes the envelope sender
    ``LIST-bounces+bob=mail.example.net@example.org`` for ``bob@mail.example.net``; the token
    is the part after ``+``.  The last ``=`` splits it, because a local part may contain ``=``.
    Returns None for anything malformed; the domain must be a host name with a dot in it.

    >>> verp_recipient("bob=mail.example.net")
    'bob@mail.example.net'
    >>> verp_recipient("Bob.Smith+lists=Example.NET")
    'bob.smith+lists@example.net'
    >>> verp_recipient("a=b=example.net")
    'a=b@example.net'
    >>> [verp_recipient(t) for t in ("bob", "=example.net", "bob=", "bob smith=example.net")]
    [None, None, None, None]
    >>> [verp_recipient(t) for t in ("bob=localhost", "bob=example..net", "bob=ex_ample.net")]
    [None, None, None]
    """
    local, equals, domain = token.lower().rpartition("=")
    if not equals or not _VERP_LOCAL.fullmatch(local) or not _VERP_DOMAIN.fullmatch(domain):
        return None
    return f"{local}@{domain}"


_VERP_LOCAL = re.compile(r"[a-z0-9.!#$%&'*/=?^_`{|}~+-]+")
_VERP_DOMAIN = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")


# --- the walk: what the reporting system wrote, never the original it returns ---

_RETURNED_TYPES = frozenset({
    "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
    "message/global-headers", "message/partial", "message/external-body"})
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
# Where a plain-text notice starts to quote the original (qmail, Yahoo; Exim; Sendmail,
# Postfix; Exchange, mail programs).
_RETURNED_TEXT = re.compile(
    r"^[ \t]*-*[ \t]*(?:Below this line is a copy of the message"
    r"|Enclosed are the original headers"
    r"|This is a copy of the (?:message|body of the message|headers)"
    r"|(?:Original|Returned|Unsent|Undelivered) (?:message|mail)(?: headers?)?"
    r"(?: follows)?:?[ \t]*-*[ \t]*$)", re.I | re.M)
_DSN_IN_TEXT = re.compile(r"^(?:Final|Original)-Recipient[ \t]*:", re.I | re.M)


def _read(msg: Message) -> list[Failure]:
    dsn_texts: list[str] = []
    plain_texts: list[str] = []
    stack = [msg]
    while stack:  # iterative: the nesting is the sender's to choose
        part = stack.pop()
        ctype = part.get_content_type()
        payload = part.get_payload()
        if ctype in _RETURNED_TYPES:
            continue
        if ctype in _DSN_TYPES:
            dsn_texts.append(_dsn_text(part))
        elif isinstance(payload, list):
            stack.extend(reversed(payload))
        elif ctype == "text/plain" or ctype.startswith("multipart/"):  # boundary lost: text
            text = _decode(part)
            cut = _RETURNED_TEXT.search(text)
            plain_texts.append(text[:cut.start()] if cut else text)
    # A delivery-status part, or the same fields in a part labelled as text by a confused MTA.
    for texts in (dsn_texts, [t for t in plain_texts if _DSN_IN_TEXT.search(t)]):
        groups = [g for text in texts for g in _field_groups(text)
                  if g.keys() & {"final-recipient", "original-recipient", "action"}]
        if groups:
            return [f for f in map(_dsn_failure, groups) if f]
    for text in plain_texts:
        for reader in _PROSE:
            if found := reader(text):
                return found
    return []


def _decode(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    try:
        text = data.decode(part.get_content_charset() or "utf-8", "replace")
    except (LookupError, ValueError):  # an unknown charset name, or a codec that is not text
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _dsn_text(part: Message) -> str:
    """A delivery-status part as text.  The email package has split it into messages (one per
    group, or for other ``message/*`` types one whose body is the rest): join them back,
    reading non-ASCII bytes as UTF-8 (RFC 6533)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _decode(part)
    chunks: list[bytes] = []
    for block in payload:
        for name, value in block.raw_items():  # non-ASCII bytes are kept as surrogates
            chunks.append(f"{name}: {value}\n".encode("utf-8", "surrogateescape"))
        rest = block.get_payload(decode=True)
        chunks += [b"\n", rest if isinstance(rest, bytes) else b"", b"\n"]
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


# --- RFC 3464 delivery status notifications ---

_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
_UTF8_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")  # RFC 6533 section 3: \x{HEX}


def _field_groups(text: str) -> list[dict[str, str]]:
    """RFC 3464 section 2.1: groups of header-like fields, separated by blank lines; a field
    continues on lines that start with white space.  The first copy of a repeated field wins."""
    groups: list[dict[str, str]] = [{}]
    name = ""
    for line in text.split("\n"):
        if not line.strip():
            groups.append({})
            name = ""
        elif line[0] in " \t":
            if name:
                groups[-1][name] += " " + line.strip()
        elif (m := _FIELD.fullmatch(line.rstrip())) and m[1].lower() not in groups[-1]:
            name = m[1].lower()
            groups[-1][name] = m[2]
        else:
            name = ""
    return [g for g in groups if g]


def _dsn_failure(group: dict[str, str]) -> Failure | None:
    recipient = (_dsn_address(group.get("final-recipient", ""))
                 or _dsn_address(group.get("original-recipient", "")))
    status_field = group.get("status", "").strip()
    # "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..."; without one, a comment on Status may say why.
    diagnostic = re.sub(r"^\s*[A-Za-z][\w-]*\s*;", "", group.get("diagnostic-code", ""))
    if not diagnostic.strip():
        diagnostic = re.sub(r"^\d\.\d+\.\d+", "", status_field).strip(" ()")
    diagnostic = _flat(diagnostic)
    status = _status_in(status_field) or _status_in(diagnostic)
    action = (group.get("action", "").split() or [""])[0].lower()
    if action.startswith("fail") or (not action and status[:1] == "5"):
        return Failure(recipient, "failed", status, diagnostic[:300].rstrip())
    if action.startswith("delay") or (not action and status[:1] == "4"):
        return Failure(recipient, "delayed", status, diagnostic[:300].rstrip())
    return None  # delivered, relayed, expanded: the report says it went through


def _dsn_address(value: str) -> str:
    kind, semicolon, address = value.partition(";")
    if not semicolon:
        kind, address = "", kind
    if kind.strip().lower() == "utf-8":
        address = _UTF8_ESCAPE.sub(_unescape_char, address)
    return _bare((address.split() or [""])[0])


def _unescape_char(m: re.Match[str]) -> str:
    code = int(m[1], 16)
    return chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"


# --- status codes in text ---

_ENHANCED = re.compile(r"(?<![\w.])[245]\.\d{1,3}\.\d{1,3}(?!\w|\.\d)")  # not inside an IP
_REPLY = re.compile(r"(?<![\w.:\[])([245])\d\d(?=[ :-]|$)", re.M)


def _status_in(text: str) -> str:
    """The enhanced status code in ``text``, else the class of its SMTP reply code as X.0.0.

    >>> _status_in("host 192.0.2.5 said: 550 5.1.1 <bob@example.net>: unknown")
    '5.1.1'
    >>> _status_in("421 mx.example.net busy"), _status_in("connect to 10.4.5.6: timed out")
    ('4.0.0', '')
    """
    if m := _ENHANCED.search(text):
        return m[0]
    return f"{m[1]}.0.0" if (m := _REPLY.search(text)) else ""


def _flat(text: str) -> str:
    """One line: control characters and runs of white space become one space."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", text).split())


def _bare(address: str) -> str:
    return address.strip().strip("<>").rstrip(".,;:").strip().lower()


def _failures(entries: list[tuple[str, str]], final: bool | None) -> list[Failure]:
    """Prose (address, reason) pairs as failures.  ``final``: True where the notice says it gave
    up, False in a warning, None where it does not say (then a 4xx reply code means delayed).
    Entries without an ``@`` (a pipe, a file, a bare local name) are not members: dropped."""
    found = []
    for address, reason in entries:
        diagnostic = _flat(reason)
        status = _status_in(diagnostic)
        reply = _REPLY.search(diagnostic)
        gave_up = final if final is not None else (reply[1] if reply else status[:1]) != "4"
        if "@" in (recipient := _bare(address)):
            found.append(Failure(recipient, "failed" if gave_up else "delayed", status,
                                 diagnostic[:300].rstrip()))
    return found


def _indented_entries(text: str) -> list[tuple[str, str]]:
    """Entries as Exim and Sendmail list them: an address line, then the reason on lines
    indented deeper.  The list ends at a blank line or a line indented less."""
    entries: list[tuple[str, list[str]]] = []
    base = -1
    for line in text.split("\n"):
        if not line.strip():
            if entries:
                break
            continue
        indent = len(line) - len(line.lstrip())
        base = indent if base < 0 else base
        if indent < base:
            break
        if indent == base:
            entries.append((line.split()[0], []))
        else:
            entries[-1][1].append(line.strip())
    return [(address, " ".join(reason)) for address, reason in entries]


def _angle_entries(text: str) -> list[tuple[str, str]]:
    """Paragraphs that start "<address>:", the reason following the colon, on the same line and
    the lines below (Postfix indents them, qmail does not)."""
    entries = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        lines = paragraph.strip("\n").split("\n")
        if m := re.match(r"<([^<>\s]+)>(?: \(expanded from <[^<>]*>\))?:(.*)", lines[0]):
            entries.append((m[1], " ".join([m[2], *lines[1:]])))
    return entries


# --- one function per prose format: each knows its own opening words ---


def _postfix(text: str) -> list[Failure]:
    """Postfix: "This is the mail system at host ..." (older: "the Postfix program"), then
    "<address>: host ... said: 550 ...".  It bounces only when it has given up; a notice that
    says "THIS IS A WARNING ONLY" means that delivery is still being tried."""
    if not (m := re.search(r"^This is the (?:mail system|Postfix program) at host", text, re.M)):
        return []
    return _failures(_angle_entries(text[m.end():]), "THIS IS A WARNING ONLY" not in text)


def _qmail(text: str) -> list[Failure]:
    """qmail-send, and Yahoo, whose mailer grew out of it: "<address>:" paragraphs.  qmail
    writes only when it has given up ("This is a permanent error; I've given up", "I'm not
    going to try again; this message has been in the queue too long"), so every entry is
    final; Yahoo's "Sorry, we were unable to deliver" does not say, so its codes decide."""
    if m := re.search(r"^Hi\. This is the qmail-send program at", text, re.M):
        return _failures(_angle_entries(text[m.end():]), True)
    if m := re.search(r"^Sorry, we were unable to deliver your message to the following", text,
                      re.M):
        return _failures(_angle_entries(text[m.end():]), None)
    return []


def _exim(text: str) -> list[Failure]:
    """Exim without DSN: "This is a permanent error. The following address(es) failed:", or
    the warning "The address(es) to which the message has not yet been delivered is/are:",
    then indented addresses, each with its reason indented deeper."""
    if not re.search(r"^This message was created automatically by mail delivery software", text,
                     re.M):
        return []
    m = re.search(r"(The following address\(es\) failed:)|^The address(?:es)? to which the "
                  r"message has not yet been delivered", text, re.M)
    if not m:
        return []
    return _failures(_indented_entries(text[text.find("\n", m.end()) + 1:]), bool(m[1]))


def _sendmail(text: str) -> list[Failure]:
    """Sendmail 8 without DSN: "----- The following addresses had permanent fatal errors -----"
    ("transient non-fatal errors" in a warning), then each address, with "(reason: ...)" and
    "(expanded from: ...)" indented below it."""
    m = re.search(r"^[ \t]*-+ ?The following addresses had (permanent fatal|transient non-fatal)"
                  r" errors ?-+[ \t]*$", text, re.M)
    if not m:
        return []
    entries = [(address, re.sub(r"\(reason: (.*)\)", r"\1",
                                re.sub(r"\(expanded from:[^)]*\)", "", reason).strip()))
               for address, reason in _indented_entries(text[m.end() + 1:])]
    return _failures(entries, m[1].startswith("permanent"))


_EXCHANGE_ADDRESS = re.compile(
    r"(?:[^()<>]*\()?<?([^\s<>()@]+@[^\s<>()@]+?)>?\)?(?:<mailto:[^<>]*>)?")


def _exchange(text: str) -> list[Failure]:
    """Exchange 2007-2010 notices that come without a delivery-status part: "Delivery has
    failed to these recipients or groups:" ("is delayed" in a warning), then the addresses
    again under "Diagnostic information for administrators:", each on its own line with the
    reason on the next ("#550 5.1.1 ... ##", "Remote Server returned '550 ...'").  Without
    that section, the list at the top ("Bob (bob@example.net)", maybe a sentence) will do."""
    m = re.search(r"^Delivery (has failed|is delayed) to these recipients or groups:", text, re.M)
    if not m:
        return []
    admin = re.search(r"^Diagnostic information for administrators:", text, re.M)
    lines = text[admin.end() if admin else m.end():].split("\n") + [""]
    entries = [(a[1], reason) for line, reason in zip(lines, lines[1:], strict=False)
               if (a := _EXCHANGE_ADDRESS.fullmatch(line.strip()))]
    return _failures(entries, m[1] == "has failed")


_PROSE: tuple[Callable[[str], list[Failure]], ...] = (
    _postfix, _qmail, _exim, _sendmail, _exchange)
