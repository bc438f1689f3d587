"""Reading archives: mbox (plain, gzip, mboxrd, mboxo), maildir, pipermail, single files."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

from moot.core.mbox import mboxrd_entry
from moot.importer.sources import Reader, UnknownFormat, detect_format, refuse_reason
from tests.helpers import make_message, write_mbox

ENVELOPE = b"From ada@example.org Mon Mar  2 09:14:00 2026\n"


def ids(path: Path, fmt: str = "auto") -> list[bytes]:
    """The Message-ID line of each message the reader yields."""
    out = []
    for item in Reader(path, fmt):
        line = next((x for x in item.raw.split(b"\n") if x.startswith(b"Message-ID:")), b"")
        out.append(line.removeprefix(b"Message-ID: ").strip(b"<>\r"))
    return out


# -- mbox ------------------------------------------------------------------------------------


def test_plain_mbox(tmp_path: Path) -> None:
    msgs = [make_message(f"m{i}@example.org", body=f"body {i}\n") for i in range(5)]
    path = write_mbox(tmp_path / "list.mbox", msgs)
    reader = Reader(path)
    assert reader.format == "mbox"
    items = list(reader)
    assert [i.raw for i in items] == msgs
    assert [i.source for i in items] == [f"{path}#{n}" for n in range(1, 6)]
    assert reader.bytes_read == reader.size == path.stat().st_size


def test_gzip_mbox(tmp_path: Path) -> None:
    msgs = [make_message(f"g{i}@example.org", body=f"From line {i}\n") for i in range(3)]
    plain = write_mbox(tmp_path / "plain.mbox", msgs)
    path = tmp_path / "list.mbox.gz"
    with gzip.open(path, "wb") as f:
        f.write(plain.read_bytes())
    reader = Reader(path)
    assert reader.format == "mbox"
    assert [i.raw for i in reader] == msgs
    assert reader.bytes_read == path.stat().st_size  # progress counts compressed bytes


def test_gzip_single_message(tmp_path: Path) -> None:
    raw = make_message("gz-one@example.org")
    path = tmp_path / "one.eml.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw)
    reader = Reader(path)
    assert reader.format == "message"
    assert [i.raw for i in reader] == [raw]


def test_mboxrd_unescapes_one_level(tmp_path: Path) -> None:
    path = tmp_path / "rd.mbox"
    path.write_bytes(ENVELOPE + b"Message-ID: <rd@x>\nSubject: s\n\n>From a\n>>From b\nFrom: c\n\n")
    [item] = Reader(path)
    assert item.raw == b"Message-ID: <rd@x>\nSubject: s\n\nFrom a\n>From b\nFrom: c\n"
    assert item.mbox_from == ENVELOPE.decode().rstrip("\n")
    assert item.envelope_date == datetime(2026, 3, 2, 9, 14)


def test_mboxo_unescapes_only_single_quotes(tmp_path: Path) -> None:
    path = tmp_path / "o.mbox"
    path.write_bytes(ENVELOPE + b"Message-ID: <o@x>\nSubject: s\n\n>From a\n>>From b\n\n")
    [item] = Reader(path, "mboxo")
    assert item.raw == b"Message-ID: <o@x>\nSubject: s\n\nFrom a\n>>From b\n"


def test_unescaped_from_in_prose_does_not_split(tmp_path: Path) -> None:
    path = tmp_path / "o.mbox"
    path.write_bytes(
        ENVELOPE + b"Message-ID: <one@x>\nSubject: s\n\nFirst paragraph.\n\n"
        b"From here on, we write prose.\nAnd more prose.\n\n"
        + ENVELOPE + b"Message-ID: <two@x>\nSubject: t\n\nsecond\n"
    )
    items = list(Reader(path, "mboxo"))
    assert len(items) == 2
    assert b"From here on, we write prose.\nAnd more prose.\n" in items[0].raw
    assert items[1].raw.startswith(b"Message-ID: <two@x>")


def test_from_line_without_blank_line_before_does_not_split(tmp_path: Path) -> None:
    path = tmp_path / "o.mbox"
    path.write_bytes(ENVELOPE + b"Message-ID: <one@x>\nSubject: s\n\ntext\n"
                     + ENVELOPE + b"X-Looks: like a header\n\nstill the first message\n")
    [item] = Reader(path, "mbox")
    assert item.raw.endswith(b"still the first message\n")


def test_crlf_mbox(tmp_path: Path) -> None:
    msgs = [make_message(f"c{i}@x").replace(b"\n", b"\r\n") for i in range(3)]
    path = tmp_path / "crlf.mbox"
    path.write_bytes(b"".join(ENVELOPE.replace(b"\n", b"\r\n") + m + b"\r\n" for m in msgs))
    items = list(Reader(path))
    assert [i.raw for i in items] == msgs
    assert items[0].mbox_from == ENVELOPE.decode().rstrip("\n")


# -- maildir ---------------------------------------------------------------------------------


def test_maildir_reads_cur_and_new(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "cur" / "1700000002.M1.host:2,S").write_bytes(make_message("cur2@x"))
    (md / "cur" / "1700000001.M1.host:2,S").write_bytes(make_message("cur1@x"))
    (md / "new" / "1700000003.M1.host").write_bytes(make_message("new1@x"))
    (md / "tmp" / "half-delivered").write_bytes(make_message("tmp@x"))
    assert detect_format(md) == "maildir"
    reader = Reader(md)
    assert ids(md) == [b"cur1@x", b"cur2@x", b"new1@x"]
    items = list(reader)
    assert items[0].source == str(md / "cur" / "1700000001.M1.host:2,S")
    assert items[0].raw == make_message("cur1@x")
    assert reader.bytes_read == reader.size


def test_maildir_with_only_new(tmp_path: Path) -> None:
    (tmp_path / "md" / "new").mkdir(parents=True)
    (tmp_path / "md" / "new" / "a").write_bytes(make_message("only@x"))
    assert ids(tmp_path / "md") == [b"only@x"]


def test_folder_that_is_not_a_maildir(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "a.eml").write_bytes(make_message())
    with pytest.raises(UnknownFormat, match="not a maildir") as err:
        Reader(folder)
    assert str(folder) in str(err.value)


def test_unknown_format_name_is_refused(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "x.mbox", [make_message()])
    with pytest.raises(UnknownFormat, match="mboxrd"):
        Reader(path, "mailbox")


# -- pipermail -------------------------------------------------------------------------------

PIPERMAIL = b"""From jdoe at example.org  Fri Oct 19 16:15:42 2001
From: jdoe at example.org (John Doe)
Date: Fri, 19 Oct 2001 16:15:42 -0400
Subject: [list] Plan
Message-ID: <p1@example.org>

Body text.

From here on is prose, not a message.
>From a quoted line stays as written.
_______________________________________________
list mailing list
list@example.org
From asmith at example.org  Sat Oct  6 09:00:00 2001
From: asmith at example.org (Anne Smith)
Date: Sat, 6 Oct 2001 09:00:00 -0400
Subject: Re: [list] Plan
Message-ID: <p2@example.org>

Reply.

From bob at example.org  Sun Oct 21 10:00:00 2001
From: bob at example.org (Bob)
Subject: third
Message-ID: <p3@example.org>

Third.
"""


def test_pipermail_monthly_file(tmp_path: Path) -> None:
    path = tmp_path / "2001-October.txt"
    path.write_bytes(PIPERMAIL)
    reader = Reader(path)
    assert reader.format == "pipermail"
    items = list(reader)
    assert ids(path) == [b"p1@example.org", b"p2@example.org", b"p3@example.org"]
    # The envelope straight after the footer still starts a message; the footer stays with
    # the message it closes.
    assert items[0].raw.endswith(b"list mailing list\nlist@example.org\n")
    assert b"From here on is prose" in items[0].raw
    assert b">From a quoted line stays as written." in items[0].raw  # pipermail: no escaping
    assert [i.mbox_from for i in items] == [
        "From jdoe at example.org  Fri Oct 19 16:15:42 2001",
        "From asmith at example.org  Sat Oct  6 09:00:00 2001",
        "From bob at example.org  Sun Oct 21 10:00:00 2001",
    ]
    assert [i.envelope_date for i in items] == [
        datetime(2001, 10, 19, 16, 15, 42), datetime(2001, 10, 6, 9), datetime(2001, 10, 21, 10)]


def test_pipermail_detected_by_content_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "archive.txt"
    path.write_bytes(PIPERMAIL)
    assert detect_format(path) == "pipermail"
    gz = tmp_path / "2001-October.txt.gz"
    with gzip.open(gz, "wb") as f:
        f.write(PIPERMAIL)
    assert detect_format(gz) == "pipermail"
    assert ids(gz) == [b"p1@example.org", b"p2@example.org", b"p3@example.org"]


def test_footer_then_envelope_is_not_split_outside_pipermail(tmp_path: Path) -> None:
    # The same bytes read as mbox: no blank line before the second envelope, no split.
    path = tmp_path / "list.mbox"
    path.write_bytes(PIPERMAIL.replace(b" at example.org  ", b"@example.org  "))
    assert detect_format(path) == "mbox"
    assert ids(path) == [b"p1@example.org", b"p3@example.org"]


# -- single files and detection --------------------------------------------------------------


def test_single_message_file(tmp_path: Path) -> None:
    raw = make_message("single@x", body="From the desk of Ada\n")
    path = tmp_path / "one.eml"
    path.write_bytes(raw)
    reader = Reader(path)
    assert reader.format == "message"
    [item] = reader
    assert item.raw == raw and item.mbox_from is None and item.source == str(path)
    assert refuse_reason(item) is None


@pytest.mark.parametrize(("name", "content", "fmt"), [
    ("a.mbox", ENVELOPE + b"Subject: x\n\ny\n", "mbox"),
    ("noext", ENVELOPE + b"Subject: x\n\ny\n", "mbox"),
    ("2020-January.txt", b"From: x\n\ny\n", "pipermail"),
    ("x.txt", b"From jdoe at example.org  Fri Oct 19 16:15:42 2001\nFrom: x\n\n", "pipermail"),
    ("msg.eml", b"Subject: x\n\ny\n", "message"),
    ("data.json", b'{"a": 1}', "message"),
])
def test_detect_format(tmp_path: Path, name: str, content: bytes, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == fmt


def test_non_mail_file_is_refused_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b'{"a": 1}\n')
    [item] = Reader(path)
    reason = refuse_reason(item)
    assert reason is not None and "not an email message" in reason


# -- memory ----------------------------------------------------------------------------------


def test_reading_a_large_mbox_keeps_memory_bounded(tmp_path: Path) -> None:
    body = ("All work and no play makes Ada a dull girl.\n" * 120)  # ~5.4 kB
    path = tmp_path / "big.mbox"
    count = 0
    with open(path, "wb") as f:
        block = []
        for i in range(11_000):
            block.append(mboxrd_entry(None, "a@example.org", datetime(2026, 3, 2),
                                      make_message(f"big{i}@example.org", body=body)))
            if len(block) == 1000:
                f.write(b"".join(block))
                block = []
        f.write(b"".join(block))
    size = path.stat().st_size
    assert size > 60_000_000

    started = time.perf_counter()
    tracemalloc.start()
    try:
        reader = Reader(path)
        for item in reader:
            count += 1
            assert item.raw.endswith(body.encode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 11_000
    assert reader.bytes_read == size
    assert peak < 30_000_000, f"peak {peak / 1e6:.1f} MB while reading {size / 1e6:.0f} MB"
    assert time.perf_counter() - started < 10
