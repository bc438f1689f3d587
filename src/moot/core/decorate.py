"""The copy of a post that a list hands to its members: list headers, subject tag, footer.

Why: the archive keeps each post's bytes as they were received, but the copy sent to the
members says which list it came through and how to leave it.  :func:`decorate` builds that
copy once per post; :func:`personalize` adds the two headers that differ per recipient and is
cheap enough to run for each of them.  What is added:

* RFC 2919 ``List-Id`` and the RFC 2369 ``List-Help``, ``List-Subscribe``, ``List-Post``,
  ``List-Owner`` and ``List-Archive`` fields, RFC 5064 ``Archived-At`` and ``X-Loop``.  Copies
  of these that the post already carries (from another list, or forged) are removed first, so
  a reader never sees two ``List-Id`` fields;
* the subject prefix (``[dev] ``), without piling up on replies; non-ASCII subjects are written
  as RFC 2047 encoded words;
* ``Reply-To: list`` when the list is set up that way;
* the footer, added to the text only: appended to a plain-text body in its own charset and
  transfer encoding, or as a new ``text/plain`` part of a ``multipart/mixed`` (RFC 2046),
  wrapping the post when it is anything else;
* by :func:`personalize`: ``List-Unsubscribe`` and RFC 8058 ``List-Unsubscribe-Post``.

Everything happens on bytes: header fields we do not touch go out byte for byte as received
(8-bit junk and odd folding included), in the message's own line-ending style, and the body is
only changed where a footer goes.

What it won't do: it never alters a signed or encrypted post (RFC 1847 ``multipart/signed`` and
``multipart/encrypted``, S/MIME ``application/pkcs7-mime``): those go out without a footer.  It
does not sign anything (RFC 8058 one-click unsubscription also wants a DKIM signature covering
both headers; that is the sending side's job), does not check the post's content, and does no
I/O: no clock, no randomness (a new MIME boundary is derived from a hash of the post), no
database.  It never raises on a malformed post; when it cannot place a footer safely, the copy
goes out without one.  It raises :class:`ValueError` only when a line break would reach a
header from a setting or an argument (the settings are validated; this is a second guard).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.parser
import email.policy
import email.utils
import hashlib
import itertools
import re
from typing import NamedTuple
from urllib.parse import quote

from moot.core.mailinglist import ListConfig

# Fields the list sets itself: any copy in the incoming post is dropped (X-Loop only when it
# names this list).
OUR_FIELDS = frozenset({
    "list-id", "list-post", "list-help", "list-subscribe", "list-unsubscribe",
    "list-unsubscribe-post", "list-archive", "list-owner", "archived-at",
})
# Top-level types that must reach the members exactly as sent (RFC 1847, RFC 8551).
UNTOUCHABLE_TYPES = frozenset({
    "multipart/signed", "multipart/encrypted", "application/pkcs7-mime",
    "application/x-pkcs7-mime",
})
MSGID_SAFE = "@!$&'()*+,;=:~._-"
LINE_LIMIT = 78  # RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters
_WORD_LIMIT = 75  # RFC 2047 section 2: an encoded word is at most 75 characters
_NO_SUBJECT = "(no subject)"

# A header line as Python's feedparser tells one: a field, a continuation, or an mbox "From ".
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[ \t]")
_LINE_END = re.compile(rb"\r\n|\r|\n")
# One reply marker: "Re:", "RE :", "Aw:", "SV:", "Svar:", "Antw:", "Odp:", "VS:", "Re[2]:".
_REPLY = re.compile(r"(?:re|aw|sv|svar|antw|odp|vs)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE)
# RFC 2047 section 5 (3): the characters a "Q" encoded word may carry as themselves anywhere,
# phrases included.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


class _Field(NamedTuple):
    """One header field: its lower-case name and its bytes, continuation lines included."""

    name: str
    raw: bytes


class _Parts(NamedTuple):
    eol: bytes
    fields: list[_Field]
    separator: bytes  # the empty line between header and body; b"" when the post has none
    body: bytes


# -- public API ------------------------------------------------------------------------------


def prefixed_subject(subject: str, prefix: str) -> str:
    """The subject with the list's prefix in front, once, and at most one ``Re: ``.

    Earlier copies of the prefix (compared case-insensitively, surrounding whitespace
    ignored) and reply markers at the front are taken off; when there was a reply marker the
    result says ``Re: `` once.  The prefix is written exactly as configured.

    >>> prefixed_subject("Re: [dev] Re: [dev] hello", "[dev] ")
    '[dev] Re: hello'
    >>> prefixed_subject("[dev] hello", "[dev] ")
    '[dev] hello'
    >>> prefixed_subject("RE: Aw: [DEV] x", "[dev] ")
    '[dev] Re: x'
    >>> prefixed_subject("Re[2]: SV: plans", "dev:")
    'dev:Re: plans'
    >>> prefixed_subject("Reply needed", "")
    'Reply needed'
    """
    tag = prefix.strip()
    if not tag:
        return subject
    rest, reply = _strip_markers(subject, tag)
    if reply:
        # A prefix that itself looks like a reply marker could swallow the "Re: " next time;
        # then the subject goes without it, so that a second pass changes nothing.
        with_re = prefix + "Re: " + rest
        if _strip_markers(with_re, tag) == (rest, True):
            return with_re
    return prefix + rest


def _strip_markers(subject: str, tag: str) -> tuple[str, bool]:
    """The subject without leading copies of ``tag`` and reply markers; whether any was one.

    >>> _strip_markers(" re: [DEV] Aw:[dev]x ", "[dev]")
    ('x ', True)
    """
    folded_tag = tag.lower()
    rest, reply = subject, False
    while True:
        rest = rest.lstrip()
        if rest[: len(tag)].lower() == folded_tag:
            rest = rest[len(tag):]
            continue
        marker = _REPLY.match(rest)
        if not marker:
            return rest, reply
        rest, reply = rest[marker.end():], True


MEMBER_FIELDS = ("{unsubscribe_url}", "{address}")  # a footer may name the member's own


def has_member_fields(footer: str) -> bool:
    """Whether a footer names things of each member's own (then each gets a copy of their own
    footer when the list personalizes).

    >>> has_member_fields("Leave: {unsubscribe_url}"), has_member_fields("Be kind.")
    (True, False)
    """
    return any(f in footer for f in MEMBER_FIELDS)


def footer_for(footer: str, *, unsubscribe_url: str, address: str) -> str:
    """The footer with its member fields filled in.

    >>> footer_for("Sent to {address}; leave: {unsubscribe_url}",
    ...            unsubscribe_url="https://l.example/u/t", address="bob@example.net")
    'Sent to bob@example.net; leave: https://l.example/u/t'
    """
    _no_line_break(unsubscribe_url, "unsubscribe_url")
    _no_line_break(address, "address")
    return footer.replace("{unsubscribe_url}", unsubscribe_url).replace("{address}", address)


def add_footer(decorated: bytes, footer: str) -> bytes:
    """A decorated copy with ``footer`` placed as :func:`decorate` places the list's (for a
    footer of each member's own, added as the copy goes out)."""
    footer = _normalized_footer(footer)
    if not footer:
        return decorated
    parts = _split(decorated)
    try:
        placed = _place_footer(list(parts.fields), parts.body, parts.eol, footer, decorated)
    except Exception:  # noqa: BLE001 - a post we cannot read goes out without footer
        placed = None
    if placed is None:
        return decorated
    fields, body = placed
    return (b"".join(_terminated(f.raw, parts.eol) for f in fields)
            + (parts.separator or parts.eol) + body)


def decorate(raw: bytes, config: ListConfig, *, base_url: str, message_id: str,
             archived: bool, member_footer: bool = False) -> bytes:
    """The copy of an accepted post that goes to the members (see the module docstring).

    ``message_id`` is the post's Message-ID without angle brackets; ``archived`` says whether
    the archive has it (then ``Archived-At`` points to it).  A footer with member fields
    (``{unsubscribe_url}``, ``{address}``) is left out when ``member_footer`` (each member's
    copy gets their own as it goes out: :func:`add_footer`), else filled in for anyone: the
    list's own leave page and "you".
    """
    for what, value in (("list address", config.address), ("list name", config.name),
                        ("subject prefix", config.prefix), ("base_url", base_url),
                        ("message_id", message_id)):
        _no_line_break(value, what)
    parts = _split(raw)
    eol = parts.eol
    address = config.address
    fields = [f for f in parts.fields if not _is_ours(f, address)]
    if config.reply_to == "list":
        fields = [f for f in fields if f.name != "reply-to"]

    new = _list_fields(config, base_url.rstrip("/"), message_id, archived, eol)
    if config.reply_to == "list":
        new.append(_plain("reply-to", "Reply-To", address, eol))
    if config.prefix.strip():
        at = next((i for i, f in enumerate(fields) if f.name == "subject"), None)
        if at is None:
            text = prefixed_subject(_NO_SUBJECT, config.prefix)
            new.append(_field("subject", "Subject", _text_atoms(text), eol))
        else:
            subject = _decode_text(_value(fields[at].raw)) or _NO_SUBJECT
            text = prefixed_subject(subject, config.prefix)
            if text != subject:
                fields[at] = _field("subject", "Subject", _text_atoms(text), eol)

    fields, body = new + fields, parts.body
    footer = config.footer
    if has_member_fields(footer):
        footer = "" if member_footer else footer_for(
            footer, unsubscribe_url=f"{base_url.rstrip('/')}/l/{address}/subscribe",
            address="you")
    footer = _normalized_footer(footer)
    if footer:
        try:
            placed = _place_footer(fields, body, eol, footer, raw)
        except Exception:  # noqa: BLE001 - a post we cannot read goes out without footer
            placed = None
        if placed is not None:
            fields, body = placed
    return (b"".join(_terminated(f.raw, eol) for f in fields) + (parts.separator or eol)
            + body)


def personalize(decorated: bytes, *, unsubscribe_url: str, unsubscribe_mailto: str) -> bytes:
    """A decorated copy with one recipient's ``List-Unsubscribe`` fields on top (RFC 8058).

    ``unsubscribe_mailto`` may be given with or without its ``mailto:``.

    >>> out = personalize(b"Subject: x\\r\\n\\r\\nhi", unsubscribe_url="https://l.example/u/t",
    ...                   unsubscribe_mailto="dev-leave@example.org")
    >>> for line in out.split(b"\\r\\n"):
    ...     print(line.decode())
    List-Unsubscribe: <https://l.example/u/t>, <mailto:dev-leave@example.org>
    List-Unsubscribe-Post: List-Unsubscribe=One-Click
    Subject: x
    <BLANKLINE>
    hi
    """
    _no_line_break(unsubscribe_url, "unsubscribe_url")
    _no_line_break(unsubscribe_mailto, "unsubscribe_mailto")
    if not unsubscribe_mailto.lower().startswith("mailto:"):
        unsubscribe_mailto = "mailto:" + unsubscribe_mailto
    newline = decorated.find(b"\n")
    eol = b"\r\n" if newline > 0 and decorated[newline - 1] == 0x0D else b"\n"
    first, second = f"List-Unsubscribe: <{unsubscribe_url}>,", f" <{unsubscribe_mailto}>"
    fold = eol if len(first) + len(second) > LINE_LIMIT else b""
    return (first.encode() + fold + second.encode() + eol
            + b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" + eol + decorated)


# -- the header block ------------------------------------------------------------------------


def _split(raw: bytes) -> _Parts:
    """Header fields, separator and body, the way Python's parser would cut them.

    Mbox ``From `` lines and continuation lines that follow no field are dropped: they belong
    to no field (readers skip them too), and new fields go on top.

    >>> p = _split(b"From x Mon\\r\\nA: 1\\r\\n b\\r\\nC: 2\\r\\n\\r\\nbody")
    >>> [f.raw for f in p.fields], p.separator, p.body
    ([b'A: 1\\r\\n b\\r\\n', b'C: 2\\r\\n'], b'\\r\\n', b'body')
    >>> _split(b"A: 1\\nno separator\\n")[1:]
    ([_Field(name='a', raw=b'A: 1\\n')], b'', b'no separator\\n')
    """
    newline = raw.find(b"\n")
    eol = b"\r\n" if newline > 0 and raw[newline - 1] == 0x0D else b"\n"
    fields: list[_Field] = []
    pos = 0
    continues = False  # whether a continuation line has a field to belong to
    while pos < len(raw):
        end_match = _LINE_END.search(raw, pos)
        end = end_match.end() if end_match else len(raw)
        line = raw[pos:end]
        if end_match and end_match.start() == pos:  # the empty line
            return _Parts(eol, fields, line, raw[end:])
        if not _HEADER_LINE.match(line):
            return _Parts(eol, fields, b"", raw[pos:])
        if line[:1] in (b" ", b"\t"):
            if continues:
                fields[-1] = _Field(fields[-1].name, fields[-1].raw + line)
        else:
            continues = not line.startswith(b"From ")
            if continues:
                name = line[: line.index(b":")].strip().lower().decode("ascii")
                fields.append(_Field(name, line))
        pos = end
    return _Parts(eol, fields, b"", b"")


def _value(field: bytes) -> bytes:
    """A field's value, unfolded (RFC 5322 section 2.2.3) and trimmed.

    >>> _value(b"Subject: a\\r\\n  b \\r\\n")
    b'a  b'
    """
    return _LINE_END.sub(b"", field.partition(b":")[2]).strip(b" \t")


def _terminated(field: bytes, eol: bytes) -> bytes:
    return field if field.endswith((b"\n", b"\r")) else field + eol


def _as_text(data: bytes) -> str:
    for charset in ("utf-8", "cp1252"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _is_ours(field: _Field, address: str) -> bool:
    if field.name in OUR_FIELDS:
        return True
    if field.name != "x-loop":
        return False
    value = _as_text(_value(field.raw))
    return address.lower() in (value.lower(), email.utils.parseaddr(value)[1].lower())


def _decode_text(value: bytes) -> str:
    """An unstructured field's text: RFC 2047 encoded words decoded, line breaks as spaces.

    >>> _decode_text(b"=?iso-8859-1?q?R=E9sum=E9?= du jour")
    'Résumé du jour'
    """
    text = _as_text(value)
    try:
        text = str(email.policy.default.header_factory("subject", text))
    except Exception:  # noqa: BLE001 - a broken encoded word stays as written
        pass
    return re.sub(r"\r\n|\r|\n", " ", text.encode("utf-8", "replace").decode("utf-8")).strip()


def _no_line_break(value: str, what: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain a line break: {value!r}")


# -- writing header fields -------------------------------------------------------------------


def _list_fields(config: ListConfig, base: str, message_id: str, archived: bool,
                 eol: bytes) -> list[_Field]:
    address = config.address
    name = config.name
    if name.isascii():
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        phrase: list[tuple[str, str, bool]] = [(" ", quoted, False)]
    else:
        phrase = [(" ", name, True)]
    web = f"{base}/l/{address}"
    out = [
        _field("list-id", "List-Id", phrase + [(" ", f"<{config.list_id}>", False)], eol),
        _plain("list-help", "List-Help", f"<mailto:{config.request_address}?subject=help>", eol),
        _plain("list-subscribe", "List-Subscribe",
               f"<{web}/subscribe>, <mailto:{config.sub_address('join')}>", eol),
        _plain("list-post", "List-Post",
               "NO" if config.posting_policy == "announce" else f"<mailto:{address}>", eol),
        _plain("list-owner", "List-Owner", f"<mailto:{config.owner_address}>", eol),
    ]
    if config.archive_policy != "none":
        out.append(_plain("list-archive", "List-Archive", f"<{web}/>", eol))
    if archived:
        out.append(_plain("archived-at", "Archived-At",
                          f"<{web}/m/{quote(message_id, safe=MSGID_SAFE)}/>", eol))
    out.append(_plain("x-loop", "X-Loop", address, eol))
    return out


def _plain(key: str, name: str, value: str, eol: bytes) -> _Field:
    return _field(key, name, [(" ", word, False) for word in value.split(" ")], eol)


def _text_atoms(text: str) -> list[tuple[str, str, bool]]:
    """An unstructured value as (whitespace before, text, needs encoding) atoms.

    Printable ASCII words stay as they are (so ``[dev]`` filters keep matching); runs of other
    words, with the spaces between them, become encoded words.  Trailing whitespace goes.

    >>> _text_atoms("[dev] Re: Résumé  été ok")
    [(' ', '[dev]', False), (' ', 'Re:', False), (' ', 'Résumé  été', True), (' ', 'ok', False)]
    """
    atoms: list[tuple[str, str, bool]] = []
    space = " "
    for token in re.findall(r"[ \t]+|[^ \t]+", text):
        if token[0] in " \t":
            space = token if atoms else " " + token
            continue
        # Encoded words can be folded: a word too long for a line of RFC 5322 gets encoded.
        plain = all("!" <= c <= "~" for c in token) and "=?" not in token and len(token) < 900
        if not plain and atoms and atoms[-1][2]:
            atoms[-1] = (atoms[-1][0], atoms[-1][1] + space + token, True)
        else:
            atoms.append((space, token, not plain))
        space = ""
    return atoms


def _q(char: str) -> str:
    """One character as RFC 2047 "Q" text (UTF-8).

    >>> _q("é"), _q(" "), _q("a"), _q("?")
    ('=C3=A9', '_', 'a', '=3F')
    """
    return "".join(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}"
                   for b in char.encode("utf-8", "replace"))


def _field(key: str, name: str, atoms: list[tuple[str, str, bool]], eol: bytes) -> _Field:
    """A header field from atoms, folded at whitespace within :data:`LINE_LIMIT` where it can.

    >>> _field("subject", "Subject", _text_atoms("Re: été"), b"\\n").raw
    b'Subject: Re: =?utf-8?q?=C3=A9t=C3=A9?=\\n'
    """
    head = name + ":"
    lines: list[str] = []
    line = head
    for space, text, encode in atoms:
        if not encode:
            if space and line != head and len(line) + len(space) + len(text) > LINE_LIMIT:
                lines.append(line)
                line = ""
            line += space + text
            continue
        pieces = [_q(c) for c in text]
        i = 0
        while i < len(pieces):
            room = LINE_LIMIT - len(line) - len(space)
            if space and line != head and room < 12 + len(pieces[i]):
                lines.append(line)
                line, room = "", LINE_LIMIT - len(space)
            room = min(room, _WORD_LIMIT) - 12  # 12: "=?utf-8?q?" and "?="
            word = pieces[i]
            i += 1
            while i < len(pieces) and len(word) + len(pieces[i]) <= room:
                word += pieces[i]
                i += 1
            line += f"{space}=?utf-8?q?{word}?="
            space = " "  # whitespace between encoded words is not part of the text
    lines.append(line)
    for one in lines:
        _no_line_break(one, name)
    return _Field(key, eol.join(one.encode("utf-8") for one in lines) + eol)


# -- the footer ------------------------------------------------------------------------------


def _normalized_footer(footer: str) -> str:
    """The footer with ``\\n`` line ends and exactly one at the end; "" when there is none.

    >>> _normalized_footer("Dev list\\r\\nhttps://l.example\\r\\n\\r\\n")
    'Dev list\\nhttps://l.example\\n'
    """
    text = footer.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return text + "\n" if text.strip() else ""


def _place_footer(fields: list[_Field], body: bytes, eol: bytes, footer: str,
                  raw: bytes) -> tuple[list[_Field], bytes] | None:
    """The fields and body with the footer added, or None when it cannot go in safely."""
    info = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        b"".join(_terminated(f.raw, eol) for f in fields
                 if f.name.startswith("content-")) + eol)
    ctype = info.get_content_type()
    if ctype in UNTOUCHABLE_TYPES:
        return None
    kept = [f for f in fields if f.name != "content-length"]  # no longer true afterwards
    if info.get_content_maintype() == "multipart":
        boundary = info.get_boundary()
        if not boundary:
            return None
        delimiter = boundary.encode("ascii", "surrogateescape")
        close = _close_delimiter(body, delimiter)
        if ctype == "multipart/mixed" and close is not None:
            inserted = _insert_part(body, delimiter, close, eol, footer)
            if inserted is not None:
                return _with_mime_version(kept, eol), inserted
        return _wrap(kept, body, eol, footer, raw, unclosed=close is None)
    disposition = str(info.get("content-disposition", "")).split(";")[0].strip().lower()
    if ctype == "text/plain" and disposition != "attachment":
        appended = _append_text(body, eol, footer,
                                info.get_content_charset("us-ascii"),
                                str(info.get("content-transfer-encoding", "")).strip().lower())
        if appended is not None:
            return kept, appended
    return _wrap(kept, body, eol, footer, raw)


def _ascii_compatible(charset: str) -> bool:
    try:
        codecs.lookup(charset)
        return "\n -~a".encode(charset) == b"\n -~a"
    except (LookupError, UnicodeError):
        return False


def _after(text: bytes, addition: bytes, eol: bytes) -> bytes:
    """``addition`` after ``text``, one empty line between them.

    >>> [_after(text, b"F\\n", b"\\n") for text in (b"hi", b"hi\\n", b"")]
    [b'hi\\n\\nF\\n', b'hi\\n\\nF\\n', b'F\\n']
    """
    if not text:
        return addition
    return text + (b"" if text.endswith((b"\n", b"\r")) else eol) + eol + addition


def _append_text(body: bytes, eol: bytes, footer: str, charset: str,
                 cte: str) -> bytes | None:
    """A single text/plain body with the footer appended in its own charset and encoding."""
    if not _ascii_compatible(charset):
        return None
    if cte in ("", "7bit", "8bit", "binary"):
        try:
            data = footer.replace("\n", eol.decode()).encode(charset)
        except UnicodeError:
            return None
        if cte in ("", "7bit") and not data.isascii():
            return None
        return _after(body, data, eol)
    if cte == "quoted-printable":
        decoded = binascii.a2b_qp(body)
        inner = eol
    elif cte == "base64":
        try:
            decoded = binascii.a2b_base64(body)
        except binascii.Error:
            return None
        inner = b"\r\n" if b"\r\n" in decoded else b"\n" if b"\n" in decoded else eol
    else:
        return None
    try:
        data = _after(decoded, footer.replace("\n", inner.decode()).encode(charset), inner)
    except UnicodeError:
        return None
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", eol)
    return _qp_encode(data, eol)


def _qp_encode(data: bytes, eol: bytes) -> bytes:
    """Quoted-printable (RFC 2045 section 6.7) with lines of at most 76 characters.

    >>> _qp_encode(b"caf\\xe9 = ok \\nnext\\n", b"\\r\\n")
    b'caf=E9 =3D ok=20\\r\\nnext\\r\\n'
    """
    out: list[bytes] = []
    lines = re.split(rb"\r\n|\n", data)
    for number, line in enumerate(lines):
        if number == len(lines) - 1 and not line:
            break  # the data ended with a line break
        encoded = [bytes([b]) if 33 <= b <= 126 and b != 61 or b in (9, 32) else b"=%02X" % b
                   for b in line]
        if encoded and encoded[-1] in (b" ", b"\t"):
            encoded[-1] = b"=%02X" % encoded[-1][0]
        current = b""
        for piece in encoded:
            if len(current) + len(piece) > 75:
                out.append(current + b"=" + eol)
                current = b""
            current += piece
        out.append(current + (eol if number < len(lines) - 1 else b""))
    return b"".join(out)


def _footer_part(footer: str, eol: bytes) -> bytes:
    """A MIME part (headers, body, line break) holding the footer as UTF-8 text."""
    if footer.isascii():
        cte, content = "7bit", footer.replace("\n", eol.decode()).encode("ascii")
    else:
        cte, content = "quoted-printable", _qp_encode(footer.encode("utf-8"), eol)
    return eol.join([b'Content-Type: text/plain; charset="utf-8"',
                     b"Content-Transfer-Encoding: " + cte.encode(),
                     b"Content-Disposition: inline", b"", content]) + eol


def _close_delimiter(body: bytes, boundary: bytes) -> int | None:
    """Where the close delimiter line of a multipart body starts (RFC 2046 section 5.1.1).

    >>> _close_delimiter(b"--b\\n\\nx\\n--b--\\nepilogue", b"b"), _close_delimiter(b"--b\\n", b"b")
    (7, None)
    """
    close = re.compile(rb"(?m)^--" + re.escape(boundary) + rb"--[ \t]*(?:\r\n|\r|\n|\Z)")
    found = close.search(body)
    return None if found is None else found.start()


def _insert_part(body: bytes, boundary: bytes, at: int, eol: bytes,
                 footer: str) -> bytes | None:
    """A multipart/mixed body with the footer part put in before its close delimiter."""
    part = _footer_part(footer, eol)
    if b"--" + boundary in part:
        return None
    return body[:at] + b"--" + boundary + eol + part + body[at:]


def _with_mime_version(fields: list[_Field], eol: bytes) -> list[_Field]:
    if any(f.name == "mime-version" for f in fields):
        return fields
    return fields + [_Field("mime-version", b"MIME-Version: 1.0" + eol)]


def _new_boundary(avoid: bytes) -> bytes:
    """A boundary that occurs nowhere in ``avoid``, the same one for the same bytes."""
    for n in itertools.count():
        candidate = b"moot-" + hashlib.sha256(b"%d:" % n + avoid).hexdigest()[:32].encode()
        if candidate not in avoid:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _wrap(fields: list[_Field], body: bytes, eol: bytes, footer: str, raw: bytes, *,
          unclosed: bool = False) -> tuple[list[_Field], bytes]:
    """The post as the first part of a new multipart/mixed, the footer as the second.

    The line break before a delimiter belongs to the delimiter, so one is added after the
    body; except after a multipart that lacks its close delimiter, whose last line break
    readers already take as the end of its last part.
    """
    def is_content(f: _Field) -> bool:
        return f.name.startswith("content-")

    moved = [f for f in fields if is_content(f)]
    kept = _with_mime_version([f for f in fields if not is_content(f)], eol)
    part = _footer_part(footer, eol)
    boundary = _new_boundary(raw + part)
    kept.append(_Field("content-type", b'Content-Type: multipart/mixed; boundary="'
                       + boundary + b'"' + eol))
    if not body.isascii():  # RFC 2045 section 6.4: a multipart is as 8-bit as its parts
        kept.append(_Field("content-transfer-encoding", b"Content-Transfer-Encoding: 8bit" + eol))
    delimiter = b"--" + boundary
    gap = b"" if unclosed and body.endswith((b"\n", b"\r")) else eol
    return kept, (delimiter + eol + b"".join(_terminated(f.raw, eol) for f in moved) + eol
                  + body + gap + delimiter + eol + part + delimiter + b"--" + eol)
