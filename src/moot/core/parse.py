"""Turn raw message bytes into a :class:`ParsedMessage`, whatever state the bytes are in.

Why this module exists: parsing decides how fast an archive imports.  Python's ``email``
package reads about 6,000 messages a second with ``compat32`` and far fewer with
``policy.default``; fast-mail-parser (a Rust parser) reads over 20,000 and parses a batch on
both cores.  So we parse with fast-mail-parser and fall back to the tolerant stdlib parser
for what it refuses, and to a bare header scan when even that fails.  A message is never
refused here: whatever could not be understood is written into ``problems`` and the raw bytes
remain the truth.

What it won't do: decide whether bytes are mail at all (see :func:`not_mail_reason`), or store
anything.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import quopri
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import fast_mail_parser as fmp

from moot.core.headers import pick_headers
from moot.core.htmlmail import html_to_text
from moot.core.message import (
    Attachment,
    ParsedMessage,
    clean_text,
    generated_message_id,
    normalize_message_id,
    parse_references,
)

_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9_.\-]*[ \t]*:")
_PIPERMAIL_AT = re.compile(r"\b([\w.+\-=/%!]+) at ([\w\-]+(?:\.[\w\-]+)+)\b")
_SEPARATOR = re.compile(rb"\r?\n\r?\n")


def not_mail_reason(raw: bytes) -> str | None:
    """Why these bytes are not an email message, or None when they look like one.

    A message starts with a header line (``Name: value``), possibly after an mbox
    ``From `` line or blank lines.

    >>> not_mail_reason(b"Subject: hi\\n\\nbody") is None
    True
    >>> not_mail_reason(b'{"json": true}')
    'not an email message: the first line is not a header (Name: value)'
    >>> not_mail_reason(b"")
    'not an email message: the file is empty'
    """
    head = raw[:4096]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    head = head.lstrip(b"\r\n\t ")
    if not head:
        return "not an email message: the file is empty"
    if head.startswith(b"From "):
        nl = head.find(b"\n")
        head = head[nl + 1 :] if nl >= 0 else b""
    if _HEADER_LINE.match(head):
        return None
    if b"\x00" in raw[:512]:
        return "not an email message: binary data"
    return "not an email message: the first line is not a header (Name: value)"
    return None


def decode_header_value(value: str | None) -> str:
    """Decode RFC 2047 encoded-words, tolerating every way they are written wrong.

    >>> decode_header_value("=?utf-8?q?J=C3=B6rg?= Bauer")
    'Jörg Bauer'
    """
    if not value:
        return ""
    try:
        parts = email.header.decode_header(value)
    except Exception:  # noqa: BLE001 - any malformed header
        return clean_text(value)
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        out.append(_decode_bytes(chunk, charset))
    text = "".join(out) if len(parts) > 1 else out[0] if out else ""
    return clean_text(" ".join(text.split()) if "\n" in text else text)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    for cs in (charset, "utf-8", "cp1252"):
        if not cs:
            continue
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def decode_body_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode a body whose charset is missing or lies: declared, then UTF-8, then cp1252.

    >>> decode_body_bytes("café".encode("latin-1"))
    'café'
    """
    return clean_text(_decode_bytes(data, charset))


def parse_date(value: str | None) -> datetime | None:
    """A Date header as a naive UTC datetime, or None when it cannot be read.

    >>> parse_date("Tue, 1 Apr 1997 10:00:00 +0200")
    datetime.datetime(1997, 4, 1, 8, 0)
    >>> parse_date("yesterday") is None
    True
    """
    if not value:
        return None
    try:
        tup = email.utils.parsedate_tz(value)
    except Exception:  # noqa: BLE001
        tup = None
    if not tup:
        return None
    try:
        year = tup[0]
        if year < 100:
            year += 2000 if year < 50 else 1900
        dt = datetime(year, tup[1], tup[2], tup[3], tup[4], min(tup[5], 59))
        ts = dt.replace(tzinfo=UTC).timestamp() - (tup[9] or 0)
        out = datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None
    if not 1970 <= out.year <= 2200:
        return None
    return out


def unmunge_pipermail(value: str) -> str:
    """Undo pipermail's address munging (``jdoe at example.org``).

    >>> unmunge_pipermail("jdoe at example.org (John Doe)")
    'jdoe@example.org (John Doe)'
    """
    return _PIPERMAIL_AT.sub(r"\1@\2", value)


def _undo_transfer_encoding(payload: bytes, cte: str) -> bytes:
    """Decode a quoted-printable or base64 body that came without a Content-Type.

    >>> _undo_transfer_encoding(b"caf=C3=A9", "Quoted-Printable")
    b'caf\\xc3\\xa9'
    """
    cte = cte.strip().lower()
    try:
        if cte == "quoted-printable":
            return quopri.decodestring(payload)
        if cte == "base64":
            return base64.b64decode(payload, validate=False)
    except (ValueError, binascii.Error):
        pass
    return payload


def _split_address(value: str) -> tuple[str, str]:
    name, addr = email.utils.parseaddr(value)
    if not addr and "@" in value:
        addr = value.strip()
    return clean_text(name), clean_text(addr.lower())[:320]


def _body_offset(raw: bytes) -> int:
    m = _SEPARATOR.search(raw)
    return m.end() if m else len(raw)


def parse_message(raw: bytes, *, pipermail: bool = False) -> ParsedMessage:
    """Parse one message; never raises for any input."""
    return _finish(raw, _parse_fast(raw), pipermail)


def parse_many(raws: list[bytes], *, pipermail: bool = False) -> list[ParsedMessage]:
    """Parse a batch, on every core the machine has (the Rust parser releases the GIL)."""
    results = fmp.parse_many(raws, mode="lazy")
    return [_finish(raw, res, pipermail) for raw, res in zip(raws, results, strict=True)]


def _parse_fast(raw: bytes) -> object:
    try:
        return fmp.parse_email(raw, mode="lazy")
    except Exception as exc:  # noqa: BLE001 - the parser's errors are ours to record
        return exc


def _finish(raw: bytes, res: object, pipermail: bool) -> ParsedMessage:
    if isinstance(res, fmp.PyLazyMail):
        try:
            return _from_fast(raw, res, pipermail)
        except Exception as exc:  # noqa: BLE001
            return _from_stdlib(raw, pipermail, f"fast parser: {type(exc).__name__}: {exc}")
    return _from_stdlib(raw, pipermail, f"fast parser refused it: {res}")


def _from_fast(raw: bytes, m: fmp.PyLazyMail, pipermail: bool) -> ParsedMessage:
    h = pick_headers(raw)
    problems = [clean_text(str(w)) for w in m.warnings]
    addr = m.from_
    if addr is not None and addr.address and not pipermail:
        from_name, from_addr = clean_text(addr.display_name or ""), clean_text(addr.address.lower())
    else:
        from_value = decode_header_value(h.get("from", ""))
        if pipermail:
            from_value = unmunge_pipermail(from_value)
        from_name, from_addr = _split_address(from_value)
    if "content-type" not in h:
        # Not MIME: the body's charset is unknown (pipermail, old mail).  Decode it ourselves.
        payload = _undo_transfer_encoding(raw[_body_offset(raw) :],
                                          h.get("content-transfer-encoding", ""))
        body = decode_body_bytes(payload).replace("\r\n", "\n")
        has_html = False
    else:
        body = clean_text("\n".join(t.replace("\r\n", "\n") for t in m.text_plain))
        has_html = not body.strip() and bool(m.text_html)
        if has_html:
            body = html_to_text("\n".join(m.text_html))
    attachments = []
    for i, a in enumerate(m.attachments):
        try:
            size = len(a.content)
        except Exception:  # noqa: BLE001
            size = a.encoded_size
        attachments.append(
            Attachment(i, clean_text(a.filename or "")[:500], clean_text(a.mimetype or "")[:200],
                       size)
        )
    return _assemble(raw, h, from_name, from_addr, clean_text(m.subject or ""), body,
                     has_html, attachments, problems)


def _from_stdlib(raw: bytes, pipermail: bool, reason: str) -> ParsedMessage:
    problems = [reason]
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        h = {k.lower(): str(v) for k, v in reversed(msg.items())}
        body_parts: list[str] = []
        attachments: list[Attachment] = []
        html_parts: list[str] = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename or part.get("Content-Disposition", "").lower().startswith("attachment"):
                attachments.append(Attachment(len(attachments), decode_header_value(filename),
                                              ctype, len(payload)))
            elif ctype == "text/plain":
                body_parts.append(decode_body_bytes(payload, part.get_content_charset()))
            elif ctype == "text/html":
                html_parts.append(decode_body_bytes(payload, part.get_content_charset()))
            else:
                attachments.append(Attachment(len(attachments), "", ctype, len(payload)))
        body = "\n".join(body_parts)
        has_html = not body.strip() and bool(html_parts)
        if has_html:
            body = html_to_text("\n".join(html_parts))
        problems.extend(type(d).__name__ for d in msg.defects)
    except Exception as exc:  # noqa: BLE001 - last resort: scan the header block by hand
        problems.append(f"stdlib parser failed: {type(exc).__name__}")
        h = _scan_headers(raw)
        body = decode_body_bytes(raw[_body_offset(raw) :])
        attachments, has_html = [], False
    from_value = h.get("from", "")
    if pipermail:
        from_value = unmunge_pipermail(from_value)
    from_name, from_addr = _split_address(decode_header_value(from_value))
    return _assemble(raw, h, from_name, from_addr, decode_header_value(h.get("subject")),
                     clean_text(body.replace("\r\n", "\n")), has_html, attachments, problems)


def _scan_headers(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    head = raw[: _body_offset(raw)].decode("latin-1")
    name = None
    for line in head.splitlines():
        if line[:1] in (" ", "\t") and name:
            out[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            name = key.lower()
            out.setdefault(name, value.strip())
    return out


def _assemble(
    raw: bytes,
    h: dict[str, str],
    from_name: str,
    from_addr: str,
    subject: str,
    body: str,
    has_html: bool,
    attachments: Iterable[Attachment],
    problems: list[str],
) -> ParsedMessage:
    message_id = normalize_message_id(h.get("message-id"))
    generated = message_id is None
    if message_id is None:
        message_id = generated_message_id(raw)
        problems.append("no Message-ID: one was derived from the content")
    date_raw = clean_text(" ".join(h.get("date", "").split()))[:200]
    date_utc = parse_date(date_raw)
    if date_utc is None:
        problems.append("no readable Date" if date_raw else "no Date")
    references = parse_references(h.get("references"))
    in_reply_to = normalize_message_id(h.get("in-reply-to"))
    references = [r for r in references if r != message_id]
    if in_reply_to == message_id:
        in_reply_to = None
    return ParsedMessage(
        message_id=message_id,
        message_id_generated=generated,
        from_name=from_name[:300],
        from_addr=from_addr,
        date_utc=date_utc,
        date_raw=date_raw,
        subject=subject[:1000],
        in_reply_to=in_reply_to,
        references=references,
        size=len(raw),
        body_text=body,
        has_html=has_html,
        attachments=list(attachments),
        problems=problems,
    )


def attachment_content(raw: bytes, position: int) -> tuple[str, str, bytes] | None:
    """The bytes of the attachment at ``position`` as numbered when the message was parsed
    (same parser, same order), with its filename and declared type."""
    res = _parse_fast(raw)
    if isinstance(res, fmp.PyLazyMail):
        atts = res.attachments
        if 0 <= position < len(atts):
            a = atts[position]
            return clean_text(a.filename or ""), a.mimetype or "", bytes(a.content)
        return None
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    n = 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        is_att = filename or part.get("Content-Disposition", "").lower().startswith("attachment")
        if is_att or ctype not in ("text/plain", "text/html"):
            if n == position:
                return decode_header_value(filename), ctype, part.get_payload(decode=True) or b""
            n += 1
    return None


def html_body(raw: bytes) -> str | None:
    """The HTML body of a message that has no plain-text one (unsanitised: sanitise it)."""
    res = _parse_fast(raw)
    if isinstance(res, fmp.PyLazyMail):
        return "\n".join(res.text_html) if res.text_html else None
    return None
