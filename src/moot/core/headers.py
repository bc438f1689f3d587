"""Reading a few header fields straight from raw bytes.

Why: turning every header of a message into a Python dict costs more than parsing the whole
message in Rust (alsa-devel posts carry dozens of Received and DKIM lines).  The archive needs
seven fields; one regular-expression scan of the header block finds them several times faster
than building the dict.  Values come back unfolded and undecoded (RFC 5322 section 2.2.3).
"""

from __future__ import annotations

import re

WANTED = (b"message-id", b"in-reply-to", b"references", b"date", b"content-type", b"from",
          b"content-transfer-encoding")


def header_end(raw: bytes) -> int:
    """Where the header section ends: the first empty line (or the end of the bytes).

    >>> header_end(b"A: 1\\r\\nB: 2\\r\\n\\r\\nbody")
    10
    """
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\n\r\n", 0, len(raw) if end < 0 else end)
    if crlf >= 0:
        end = crlf
    if end < 0:
        return len(raw)
    return end - 1 if raw[end - 1 : end] == b"\r" else end


def header_block(raw: bytes) -> bytes:
    """The header section: everything before the first empty line.

    >>> header_block(b"A: 1\\r\\nB: 2\\r\\n\\r\\nbody")
    b'A: 1\\r\\nB: 2'
    """
    return raw[: header_end(raw)]


def _field_pattern(names: tuple[bytes, ...], *, first: bool = False) -> re.Pattern[bytes]:
    # Case-insensitive by character classes: ``re.IGNORECASE`` is three times slower here.
    def cls(name: bytes) -> bytes:
        return b"".join(b"[%s%s]" % (bytes([c]).lower(), bytes([c]).upper()) if chr(c).isalpha()
                        else re.escape(bytes([c])) for c in name)
    return re.compile((b"" if first else b"\\n") + b"(" + b"|".join(cls(n) for n in names)
                      + b")[ \\t]*:")


_WANTED_RE = _field_pattern(WANTED)
_WANTED_FIRST_RE = _field_pattern(WANTED, first=True)


def pick_headers(raw: bytes, names: tuple[bytes, ...] = WANTED) -> dict[str, str]:
    """The first occurrence of each named field, unfolded, as text.

    >>> pick_headers(b"Subject: x\\nMessage-Id:\\n <a@b>\\nDATE : Mon\\n\\nMessage-ID: <no>")
    {'message-id': '<a@b>', 'date': 'Mon'}
    """
    end_of_head = header_end(raw)
    if names is WANTED:
        pattern, first = _WANTED_RE, _WANTED_FIRST_RE
    else:
        pattern, first = _field_pattern(names), _field_pattern(names, first=True)
    matches = list(pattern.finditer(raw, 0, end_of_head))
    m0 = first.match(raw, 0, end_of_head)
    if m0:
        matches.insert(0, m0)
    out: dict[str, str] = {}
    for m in matches:
        name = m.group(1).lower().decode()
        if name in out:
            continue
        end = m.end()
        while True:  # the value runs on over continuation lines
            end = raw.find(b"\n", end, end_of_head)
            if end < 0 or end + 1 >= end_of_head or raw[end + 1] not in b" \t":
                break
            end += 1
        value = raw[m.end() : end if end >= 0 else end_of_head]
        out[name] = " ".join(value.decode("utf-8", "replace").split())
    return out
