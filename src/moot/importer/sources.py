"""Reading archives as a stream of raw messages: mbox (mboxrd/mboxo, gzip too), maildir,
pipermail monthly text files, and single message files.

Why not the stdlib ``mailbox`` module: it indexes a whole mbox before the first message (memory
grows with the file), cannot read a gzip stream, and leaves ``>From `` escapes in place.  The
splitter here reads 4 MiB at a time, so memory stays bounded by the largest single message.

A line ``From ...`` starts a new message only when it follows a blank line (or opens the file)
and the next line is a header: bodies of badly written mboxo files keep unescaped ``From `` lines,
and a sentence that starts with "From" is followed by more prose, not by ``Name: value``.
"""

from __future__ import annotations

import gzip
import os
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from moot.core.parse import not_mail_reason

FORMATS = ("auto", "mbox", "mboxo", "mboxrd", "maildir", "pipermail", "message")

_CANDIDATE = re.compile(rb"\nFrom [^\n]*\n(?=[A-Za-z][A-Za-z0-9_.\-]*[ \t]*:)")
_MBOXRD_ESCAPE = re.compile(rb"(?m)^>(>*From )")
_PIPERMAIL_NAME = re.compile(r"^\d{4}-[A-Za-z]+\.txt(\.gz)?$")
_PIPERMAIL_FROM = re.compile(rb"^From \S+ at \S+ ")
_ENVELOPE_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(\w{3}) +(\d{1,2}) +(\d{1,2}):(\d{2}):(\d{2})"
    r"(?: +[A-Z]{3,4})? +(\d{4})")
_ENVELOPE_LINE = re.compile(
    rb"From \S.* (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} [ \d]?\d \d\d:\d\d:\d\d \d{4}\s*$")
_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_READ = 1 << 22


@dataclass
class RawItem:
    """One message-sized piece of an archive, before anything is decided about it."""

    raw: bytes
    source: str
    mbox_from: str | None = None
    whole_file: bool = False  # the item is a whole file (format "message")

    @property
    def envelope_date(self) -> datetime | None:
        """The mbox envelope's date (read only when a message has no usable Date)."""
        return envelope_date(self.mbox_from) if self.mbox_from else None


class UnknownFormat(ValueError):
    pass


def detect_format(path: Path) -> str:
    """Guess an archive's format from its name and first bytes."""
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return "maildir"
        raise UnknownFormat(f"{path}: a folder that is not a maildir (no cur/ or new/ inside)")
    with _open(path) as f:
        head = f.read(4096).lstrip(b"\r\n")
    if _PIPERMAIL_NAME.match(path.name) or _PIPERMAIL_FROM.match(head):
        return "pipermail"
    if head.startswith(b"From "):
        return "mbox"
    return "message"


def _open(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115


def envelope_date(from_line: str) -> datetime | None:
    """The date in an mbox ``From `` line, as naive UTC (the line carries no zone).

    >>> envelope_date("From jdoe at example.org  Tue Apr  1 10:00:00 1997")
    datetime.datetime(1997, 4, 1, 10, 0)
    >>> envelope_date("From -") is None
    True
    >>> envelope_date("From mboxrd@z Thu Jan  1 00:00:00 1970") is None
    True
    """
    m = _ENVELOPE_DATE.search(from_line)
    if not m or m.group(1) not in _MONTHS:
        return None
    try:
        when = datetime(int(m.group(6)), _MONTHS[m.group(1)], int(m.group(2)),
                        int(m.group(3)), int(m.group(4)), min(int(m.group(5)), 59))
    except ValueError:
        return None
    # public-inbox writes the Unix epoch into every envelope: a placeholder, not a date.
    return None if when == datetime(1970, 1, 1) else when


class Reader:
    """Iterates one path's messages; ``bytes_read`` tells how far into the file it is."""

    def __init__(self, path: Path, fmt: str = "auto") -> None:
        if fmt not in FORMATS:
            raise UnknownFormat(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
        self.path = path
        self.format = detect_format(path) if fmt == "auto" else fmt
        self.bytes_read = 0
        self.size = _size(path)

    def __iter__(self) -> Iterator[RawItem]:
        if self.format == "maildir":
            yield from self._maildir()
        elif self.format == "message":
            with _open(self.path) as f:  # a .gz message is read as detect_format saw it
                raw = f.read()
            self.bytes_read = self.size
            yield RawItem(raw, str(self.path), whole_file=True)
        else:
            yield from self._mbox(unescape=self.format != "pipermail",
                                  rd=self.format != "mboxo")

    def _maildir(self) -> Iterator[RawItem]:
        for sub in ("cur", "new"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for name in sorted(os.listdir(folder)):
                p = folder / name
                if p.is_file():
                    raw = p.read_bytes()
                    self.bytes_read += len(raw)
                    yield RawItem(raw, str(p))

    def _mbox(self, *, unescape: bool, rd: bool) -> Iterator[RawItem]:
        stream: _Gunzip | BinaryIO = (_Gunzip(self.path) if self.path.suffix == ".gz"
                                      else open(self.path, "rb"))  # noqa: SIM115
        try:
            n = 0
            for chunk in split_mbox(stream, pipermail=self.format == "pipermail"):
                self.bytes_read = stream.tell()
                n += 1
                yield _mbox_item(chunk, f"{self.path}#{n}", unescape=unescape, rd=rd)
            self.bytes_read = self.size
        finally:
            stream.close()


class _Gunzip:
    """Read a .gz file, decompressing ahead in a thread while the caller splits.

    The gzip module inflates in 8 KiB steps, taking the GIL at each; here one zlib call
    inflates a whole MiB outside it.  zlib checks each member's CRC itself, and a file of
    several gzip members (``cat a.gz b.gz``) reads as one stream.  ``tell()`` is the
    position in the compressed file, for progress bars.
    """

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")  # noqa: SIM115
        self._q: queue.Queue[tuple[bytes, int] | BaseException] = queue.Queue(maxsize=4)
        self._pos = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="moot-gunzip")
        self._thread.start()

    def _run(self) -> None:
        try:
            d = zlib.decompressobj(wbits=31)
            while not self._stop.is_set():
                data = self._f.read(1 << 20)
                if not data:
                    break
                while data:
                    out = d.decompress(data)
                    if out:
                        self._q.put((out, self._f.tell()))
                    data = b""
                    if d.eof:  # another member may follow
                        data = d.unused_data
                        d = zlib.decompressobj(wbits=31)
            if not d.eof and not self._stop.is_set():
                tail = d.flush()
                if tail:
                    self._q.put((tail, self._f.tell()))
            self._q.put((b"", self._f.tell()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
            self._q.put(exc)

    def read(self, _size: int = -1) -> bytes:
        item = self._q.get()
        if isinstance(item, BaseException):
            raise item
        chunk, self._pos = item
        if not chunk:
            self._q.put(item)  # stay at end of file
        return chunk

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.1)
            except queue.Empty:
                pass
        self._f.close()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for sub in ("cur", "new") if (path / sub).is_dir()
                   for p in (path / sub).iterdir() if p.is_file())
    return path.stat().st_size


def split_mbox(f: BinaryIO, *, pipermail: bool = False) -> Iterator[bytes]:
    """Yield each message of an mbox stream with its ``From `` line, memory bounded.

    >>> import io
    >>> data = b"From a  Mon Jan  1 00:00:00 2001\\nSubject: 1\\n\\nFrom here on\\n\\n"
    >>> data += b"From b  Mon Jan  1 00:00:00 2001\\nSubject: 2\\n\\nx\\n"
    >>> [m.split(b"\\n")[1] for m in split_mbox(io.BytesIO(data))]
    [b'Subject: 1', b'Subject: 2']
    """
    buf = b""
    search = 1
    first = True
    while True:
        chunk = f.read(_READ)
        if first:  # blank lines before the first envelope belong to no message
            chunk, first = chunk.lstrip(b"\r\n"), False
        eof = not chunk
        buf = buf + chunk if buf else chunk
        limit = len(buf) if eof else len(buf) - 2048  # room to look at the next line
        start = 0
        # Candidates: a "From " line followed by a header line (found by one C-level scan).
        for m in _CANDIDATE.finditer(buf, search):
            i = m.start()
            if i >= limit:
                break
            if pipermail:
                if not _ENVELOPE_LINE.match(buf, i + 1, m.end() - 1):
                    continue  # pipermail leaves body "From " lines unescaped: need a date
            elif not (buf[i - 1 : i] == b"\n" or buf[i - 2 : i] == b"\n\r"):
                continue
            yield buf[start : i + 1]
            start = i + 1
        if eof:
            if buf[start:].strip():
                yield buf[start:]
            return
        buf = buf[start:]
        # Every candidate before ``limit`` has been judged; resume there.
        search = max(1, limit - start)


def _mbox_item(chunk: bytes, source: str, *, unescape: bool, rd: bool) -> RawItem:
    mbox_from = None
    start, end = 0, len(chunk)
    if chunk.startswith(b"From "):
        eol = chunk.find(b"\n")
        start = end if eol < 0 else eol + 1
        mbox_from = chunk[: start].rstrip(b"\r\n").decode("latin-1")
    # The writer's blank line that separates messages is not part of the message.
    if chunk.endswith(b"\r\n\r\n"):
        end -= 2
    elif chunk.endswith(b"\n\n"):
        end -= 1
    raw = chunk[start:max(start, end)]  # one copy
    if unescape and b">From " in raw:
        raw = _MBOXRD_ESCAPE.sub(rb"\1", raw) if rd else raw.replace(b"\n>From ", b"\nFrom ")
    return RawItem(raw, source, mbox_from)


def refuse_reason(item: RawItem) -> str | None:
    """Why an item cannot be archived as a message (it is kept as a reject instead)."""
    return not_mail_reason(item.raw)
