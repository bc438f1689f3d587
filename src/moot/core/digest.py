"""One digest: a list's posts gathered into a single message for members who asked for that.

Why: some members would rather get one message a day than every post as it goes out.  A digest
is list traffic (``Precedence: list``, the RFC 2369/2919 ``List-*`` fields, ``X-Loop``), sent
from ``LIST-request@`` with replies going to the list, and it comes in two shapes:

- ``mime`` (RFC 2046 section 5.1.5): ``multipart/mixed`` holding a masthead, the table of
  contents, a ``multipart/digest`` with each post as a ``message/rfc822`` part, and a closing
  line.  The posts keep their own bytes (only line ends become CRLF, and header fields a reader
  has no use for, such as ``Received`` or ``DKIM-Signature``, are dropped), so 8-bit bodies,
  signatures and attachments arrive as the author sent them;
- ``plain`` (RFC 1153): one UTF-8 text that any mail reader shows, with each post's text
  decoded, HTML turned into text and attachments named but left out.

Posts come from the wild: a post whose header is broken, or that is not mail at all, still gets
its place, as "(no subject)" by "(unknown)" with whatever text the email package finds in it.
Nothing from a post reaches our header fields, and the table of contents shows it only after
:func:`~moot.core.notices.one_line`.  Only the caller's own arguments raise :class:`ValueError`.

What it won't do: decide when a digest is due or how big it may grow, number volumes and
issues, store anything, or send; the caller passes all of that in and gets bytes back.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import NamedTuple

from moot.core.decorate import _new_boundary
from moot.core.htmlmail import html_to_text
from moot.core.mailinglist import DIGEST_FORMATS, ListConfig
from moot.core.notices import _address, _line, _list_id_phrase, _message_id, _when, one_line
from moot.core.parse import decode_body_bytes, decode_header_value

# The fields a digest reader needs (RFC 1153 keeps fewer; threading needs the ids), plus
# every Content-* field, which the body needs.
_KEPT = frozenset({b"date", b"from", b"to", b"cc", b"subject", b"message-id", b"in-reply-to",
                   b"references", b"reply-to", b"mime-version"})
# What the email package's parser takes for a header line (any name, no space before ':').
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]*:")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_SEPARATOR = "-" * 30  # between posts (RFC 1153)
_LOOKS_LIKE_SEPARATOR = re.compile(r"(?m)^(-{30}[ \t]*)$")
# Control characters other than tab and line feed, which a text body should not carry.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Post(NamedTuple):
    raw: bytes  # the post as it goes in the digest: CRLF, only the kept header fields
    subject: str  # decoded and made one line; "" when missing
    author: str  # the display name, else the address; "" when missing
    sender: str  # the whole From value, decoded
    date: str
    message_id: str


def digest_subject(config: ListConfig, volume: int, issue: int) -> str:
    """The digest's subject, which its table of contents and closing line repeat.

    >>> digest_subject(ListConfig("dev@example.org", display_name="Dev"), 3, 12)
    'Dev Digest, Vol 3, Issue 12'
    """
    for name, number in (("volume", volume), ("issue", issue)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{name} must be a whole number from 1 up: {number!r}")
    return _line("config.display_name", f"{config.name} Digest, Vol {volume}, Issue {issue}")


def build_digest(config: ListConfig, posts: Sequence[bytes], *, volume: int, issue: int,
                 date: datetime, message_id: str, fmt: str = "mime",
                 archive_url: str = "", options_url: str = "") -> bytes:
    """The digest message (complete RFC 5322 bytes, CRLF) holding ``posts`` in order.

    ``posts`` are the copies members got (already decorated); ``archive_url`` and
    ``options_url`` are shown in the masthead when given, and ``options_url`` is offered in
    ``List-Unsubscribe`` next to the ``LIST-leave@`` address.
    """
    subject = digest_subject(config, volume, issue)
    _address("config.address", config.address)
    mid = _message_id("message_id", message_id)
    when = _when("date", date)
    for name, url in (("archive_url", archive_url), ("options_url", options_url)):
        if re.search(r"[\s<>]", _line(name, url)):
            raise ValueError(f"{name} may not hold spaces or angle brackets: {url!r}")
    if fmt not in DIGEST_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(DIGEST_FORMATS)}: {fmt!r}")
    if not posts:
        raise ValueError("a digest needs at least one post")

    items = [_read(bytes(raw)) for raw in posts]
    masthead = _masthead(config, subject, archive_url, options_url)
    topics = "Today's Topics:\n\n" + "".join(
        f"{n:>4}. {_topic(p.subject, config.prefix)} ({p.author or 'unknown'})\n"
        for n, p in enumerate(items, 1))

    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name=config.name, addr_spec=config.request_address)
    msg["To"] = Address(addr_spec=config.address)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{mid}>"
    msg["Reply-To"] = Address(addr_spec=config.address)
    msg["Precedence"] = "list"
    msg["X-Loop"] = config.address
    msg["List-Id"] = f"{_list_id_phrase(config.name)} <{config.list_id}>"
    msg["List-Post"] = f"<mailto:{config.address}>"
    msg["List-Help"] = f"<mailto:{config.request_address}?subject=help>"
    msg["List-Unsubscribe"] = ", ".join(
        [f"<mailto:{config.sub_address('leave')}>"] + ([f"<{options_url}>"] if options_url else []))
    if archive_url:
        msg["List-Archive"] = f"<{archive_url}>"
    ending = f"End of {subject}\n"
    if fmt == "plain":
        body = [masthead, topics, "-" * 70 + "\n"]
        for n, post in enumerate(items, 1):
            body += [_plain_post(n, post), _SEPARATOR + "\n"]
        body.append(ending + "*" * (len(ending) - 1) + "\n")
        msg.set_content("\n".join(body), charset="utf-8")
        return msg.as_bytes()

    # Boundaries are made from the content, so the same digest comes out the same; they
    # never occur in the posts, or in our own text, which may quote the posts' headers.
    avoid = b"".join(p.raw for p in items) + (masthead + topics).encode("utf-8", "replace")
    outer = _new_boundary(avoid)
    inner = _new_boundary(avoid + outer)
    # Each post goes in as a placeholder that is swapped for its bytes at the end: the email
    # package would re-fold and re-encode a parsed post, and writes only ASCII text as is.
    seal = _new_boundary(avoid + outer + inner)
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = f'multipart/mixed; boundary="{outer.decode()}"'
    digest = MIMEPart(policy=SMTP)
    digest["Content-Type"] = f'multipart/digest; boundary="{inner.decode()}"'
    digest["Content-Description"] = "Posts"
    for n, post in enumerate(items):
        part = MIMEPart(policy=SMTP)
        part["Content-Type"] = "message/rfc822"
        if not post.raw.isascii():
            part["Content-Transfer-Encoding"] = "8bit"
        part.set_payload(f"{seal.decode()}.{n}.")
        digest.attach(part)
    for text, description in ((masthead, "About this digest"), (topics, "Today's Topics")):
        part = MIMEPart(policy=SMTP)
        part.set_content(text, charset="utf-8")
        part["Content-Description"] = description
        msg.attach(part)
    msg.attach(digest)
    end = MIMEPart(policy=SMTP)
    end.set_content(ending, charset="utf-8")
    msg.attach(end)
    # RFC 2045 section 6.4: a multipart says 8bit when something inside it is.
    if not all(p.raw.isascii() for p in items):
        digest["Content-Transfer-Encoding"] = "8bit"
    if any(p.get("Content-Transfer-Encoding") == "8bit" for p in msg.iter_parts()):
        msg["Content-Transfer-Encoding"] = "8bit"
    out = msg.as_bytes()
    for n, post in enumerate(items):
        out = out.replace(b"%s.%d." % (seal, n), post.raw, 1)
    return out


def _masthead(config: ListConfig, subject: str, archive_url: str, options_url: str) -> str:
    # No line may read as a mail command (moot.core.commands), as in notices.
    lines = [
        f"To post to {config.name}, write to",
        f"    {config.address}",
        "",
        "To get each post as it is sent instead of digests, or to leave the list,",
        'send a message with the word "help" to',
        f"    {config.request_address}",
    ]
    if options_url:
        lines += ["or change your delivery options on this page:", f"    {options_url}"]
    lines += ["To leave at once, write any message to", f"    {config.sub_address('leave')}"]
    if archive_url:
        lines += ["", "Past posts are in the archive:", f"    {archive_url}"]
    lines += [
        "",
        "If you answer a post from this digest, please give your reply the subject",
        "of that post rather than",
        f'    "Re: {subject}"',
        "and quote only what you answer: your reply then joins the right thread.",
    ]
    return "\n".join(lines) + "\n"


def _topic(subject: str, prefix: str) -> str:
    """A subject as the table of contents shows it: without the list's prefix.

    >>> _topic("[DEV] Re: hello", "[dev] "), _topic("  ", "[dev] ")
    ('Re: hello', '(no subject)')
    """
    tag, text = prefix.strip(), subject.strip()
    if tag and text[: len(tag)].lower() == tag.lower():
        text = text[len(tag):].strip()
    return text or "(no subject)"


def _read(raw: bytes) -> _Post:
    """The post with CRLF line ends and only the kept header fields, and what it says it is.

    The header ends where the email package's parser ends it: at the first empty line, or
    at the first line that is neither a field nor a continuation (that line starts the body).

    >>> _read(b"Received: x\\nSubject: [dev]\\n hi\\nbody\\n")
    _Post(raw=b'Subject: [dev]\\r\\n hi\\r\\n\\r\\nbody\\r\\n', subject='[dev] hi', author='', \
sender='', date='', message_id='')
    """
    lines = _LINE_END.sub(b"\r\n", raw).splitlines(keepends=True)
    fields: list[list[bytes]] = []  # [lower-case name, field bytes]
    at = 0
    for at, line in enumerate(lines):
        if line == b"\r\n":
            at += 1
            break
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1] += line
            continue
        if not _FIELD.match(line):
            break
        fields.append([line.split(b":", 1)[0].lower(), line])
    else:
        at = len(lines)
    kept = [f for f in fields if f[0] in _KEPT or f[0].startswith(b"content-")]
    head = b"".join(f[1] if f[1].endswith(b"\r\n") else f[1] + b"\r\n" for f in kept)

    def unfolded(name: bytes) -> str:
        field = next((f[1] for f in kept if f[0] == name), b"")
        text = b" ".join(field.partition(b":")[2].split())
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            return text.decode("latin-1")

    try:
        name, addr = parseaddr(unfolded(b"from"))
    except Exception:  # noqa: BLE001 - the email package raises many kinds on bad input
        name, addr = "", ""
    return _Post(
        raw=head + b"\r\n" + b"".join(lines[at:]),
        subject=one_line(decode_header_value(unfolded(b"subject"))),
        author=one_line(decode_header_value(name) or addr, 80),
        sender=one_line(decode_header_value(unfolded(b"from"))),
        date=one_line(unfolded(b"date")),
        message_id=one_line(unfolded(b"message-id")),
    )


def _plain_post(n: int, post: _Post) -> str:
    """One post in the RFC 1153 layout: a few header lines, a blank line, the text."""
    lines = [f"Message: {n}"]
    if post.date:
        lines.append(f"Date: {post.date}")
    lines += [f"From: {post.sender or '(unknown)'}", f"Subject: {post.subject or '(no subject)'}"]
    if post.message_id:
        lines.append(f"Message-ID: {post.message_id}")
    try:
        text = "\n".join(_texts(email.message_from_bytes(post.raw, policy=email.policy.default)))
    except Exception:  # noqa: BLE001 - then the body as bytes is the best there is
        text = decode_body_bytes(post.raw.partition(b"\r\n\r\n")[2])
    text = _BODY_CONTROL.sub("\ufffd", re.sub(r"\r\n?", "\n", text)).strip("\n")
    # A line of 30 dashes would end the post early for a program that splits the digest.
    text = _LOOKS_LIKE_SEPARATOR.sub(r" \1", text)
    return "\n".join(lines) + "\n\n" + (text + "\n" if text else "")


def _texts(msg: object) -> list[str]:
    """The readable pieces of a post, in order: text parts decoded, HTML made text, the
    preferred part of a ``multipart/alternative``, and a note for everything else.  A stack,
    not recursion, walks the parts: nesting depth is up to the sender."""
    out: list[str] = []
    stack: list[MIMEPart] = [msg] if isinstance(msg, MIMEPart) else []
    while stack:
        part = stack.pop()
        ctype = part.get_content_type()
        kids = list(part.iter_parts()) if part.get_content_maintype() == "multipart" else []
        if ctype == "multipart/alternative" and kids:
            types = [k.get_content_type() for k in kids]
            best = next((t for t in ("text/plain", "text/html") if t in types), None)
            stack.append(kids[types.index(best)] if best else kids[-1])
        elif kids:
            stack.extend(reversed(kids))
        elif part.get_content_maintype() == "multipart" or (
                ctype in ("text/plain", "text/html") and not part.is_attachment()):
            text = _decoded(part)  # a multipart without parts: its text, as the parser saw it
            out.append(html_to_text(text) if ctype == "text/html" else text)
        else:
            out.append(_note(part))
    return out


def _decoded(part: MIMEPart) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except Exception:  # noqa: BLE001 - unknown charset, a multipart with no parts, ...
        pass
    data = part.get_payload(decode=True)
    return decode_body_bytes(data if isinstance(data, bytes) else b"", part.get_content_charset())


def _note(part: MIMEPart) -> str:
    """What stands in for a part the plain digest leaves out."""
    fallback = "forwarded message" if part.get_content_type() == "message/rfc822" else "unnamed"
    name = one_line(part.get_filename() or "", 80) or fallback
    data = part.get_payload(decode=True)
    size = f", {-(-len(data) // 1024)} KB" if isinstance(data, bytes) else ""
    return f"[attachment: {name}, {one_line(part.get_content_type(), 80)}{size}, not included]"
