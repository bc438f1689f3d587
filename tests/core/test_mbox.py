"""mboxrd writing: what we export reads back as the exact bytes that were archived."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.mbox import from_line, mboxrd_entry
from moot.importer.sources import Reader, _mbox_item, envelope_date, split_mbox
from tests.helpers import make_message, write_mbox

TRICKY_BODIES = [
    "From here on, nothing is a header.\n",
    "Line one\n\nFrom the start of a paragraph\nSubject: looks like a header\n",
    ">From an already quoted line\n>>From twice quoted\n>>>From thrice\n",
    "\nFrom ada@example.org Mon Mar  2 09:14:00 2026\nX-Fake: header\n\nmore\n",
    "From\nFrom:\n>From\n From indented\n",
    "ends with blank lines\n\n\n",
]


def _messages() -> list[bytes]:
    out = [make_message(f"m{i}@example.org", subject=f"Message {i}", body=body)
           for i, body in enumerate(TRICKY_BODIES)]
    out.append(make_message("crlf@example.org", body="From crlf land\r\n>From here\r\n")
               .replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    out.append(b"From: a@example.org\nSubject: no other headers\n\n>From\n")
    return out


def test_mboxrd_entry_escapes_from_lines() -> None:
    raw = b"Subject: x\n\nFrom me\n>From you\n>>From them\nFrom: not escaped? yes\n"
    entry = mboxrd_entry(None, "a@example.org", datetime(2026, 3, 2, 9, 14), raw)
    assert entry.startswith(b"From a@example.org Mon Mar 02 09:14:00 2026\n")
    body = entry.split(b"\n", 1)[1]
    assert b"\n>From me\n>>From you\n>>>From them\n" in body
    assert b"\nFrom me" not in body
    assert entry.endswith(b"\n\n")


def test_mboxrd_entry_uses_the_original_envelope_when_known() -> None:
    envelope = "From jdoe@example.org  Fri Oct 19 16:15:42 2001"
    entry = mboxrd_entry(envelope, "ignored@example.org", datetime(2026, 1, 1), b"S: x\n\ny\n")
    assert entry.startswith(envelope.encode() + b"\n")
    assert b"ignored" not in entry


def test_from_line_without_sender_uses_mailer_daemon() -> None:
    assert from_line("", datetime(2026, 3, 2)).startswith(b"From MAILER-DAEMON Mon Mar 02 ")


def test_written_mbox_reads_back_as_the_exact_bytes(tmp_path: Path) -> None:
    originals = _messages()
    path = write_mbox(tmp_path / "out.mbox", originals)
    items = list(Reader(path))
    assert [i.raw for i in items] == originals
    assert all(i.mbox_from == "From sender@example.org Mon Mar 02 00:00:00 2026" for i in items)
    assert all(i.envelope_date == datetime(2026, 3, 2) for i in items)


def test_split_mbox_keeps_envelopes_and_escapes(tmp_path: Path) -> None:
    originals = _messages()
    data = write_mbox(tmp_path / "out.mbox", originals).read_bytes()
    chunks = list(split_mbox(io.BytesIO(data)))
    assert len(chunks) == len(originals)
    assert b"".join(chunks) == data  # nothing lost or repeated between chunks
    assert all(c.startswith(b"From sender@example.org ") for c in chunks)


def test_round_trip_across_read_buffer_boundaries(tmp_path: Path) -> None:
    # Enough messages that "\nFrom " lines fall on the 4 MiB read boundaries.
    paragraph = "From x\n>From y\n" + "z" * 996 + "\n"
    originals = [make_message(f"big{i}@example.org", body=paragraph * n)
                 for i, n in enumerate(list(range(1, 20)) * 60)]
    path = write_mbox(tmp_path / "big.mbox", originals)
    assert path.stat().st_size > 8 << 20
    assert [i.raw for i in Reader(path)] == originals


class ShortReads(io.RawIOBase):
    """A stream that hands out at most a few bytes per read, as pipes and sockets may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._pos, self._sizes, self._n = data, 0, sizes, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        step = self._sizes[self._n % len(self._sizes)]
        self._n += 1
        out = self._data[self._pos : self._pos + min(step, size if size >= 0 else step)]
        self._pos += len(out)
        return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=6))
def test_split_mbox_with_short_reads(sizes: list[int]) -> None:
    originals = [make_message(f"s{i}@example.org", body=("From x\n\n>From y\n" + "z" * 300) * n)
                 for i, n in enumerate([1, 7, 2, 30, 1, 1, 12, 3])]
    data = b"".join(mboxrd_entry(None, "s@example.org", datetime(2026, 3, 2), r)
                    for r in originals)
    chunks = list(split_mbox(ShortReads(data, sizes)))  # type: ignore[arg-type]
    assert b"".join(chunks) == data
    assert len(chunks) == len(originals)


def test_envelope_date() -> None:
    assert envelope_date("From a@b Mon Mar  2 09:14:00 2026") == datetime(2026, 3, 2, 9, 14)
    assert envelope_date("From a@b Mon Mar 02 09:14:00 EST 2026") == datetime(2026, 3, 2, 9, 14)
    assert envelope_date("From a@b Mon Foo 02 09:14:00 2026") is None
    assert envelope_date("From a@b Mon Feb 31 09:14:00 2026") is None


_line = st.sampled_from([
    "From ", "From x", ">From ", ">>From y", "From: z", "", "text", " From", "From", ">",
    "X-Header: v", "From a@b Mon Mar  2 09:14:00 2026",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_line, max_size=8), min_size=1, max_size=5), st.booleans())
def test_any_bodies_round_trip(bodies: list[list[str]], crlf: bool) -> None:
    originals = []
    for n, body_lines in enumerate(bodies):
        raw = make_message(f"h{n}@example.org", body="\n".join(body_lines) + "\n")
        originals.append(raw.replace(b"\n", b"\r\n") if crlf else raw)
    data = b"".join(mboxrd_entry(None, "s@example.org", datetime(2026, 3, 2), r)
                    for r in originals)
    chunks = list(split_mbox(io.BytesIO(data)))
    assert len(chunks) == len(originals)
    assert [_mbox_item(c, "x", unescape=True, rd=True).raw for c in chunks] == originals
