"""Real archives, imported whole: alsa-devel (25,000 messages of mboxrd with full headers; the
whole file imports in a few seconds, so no excerpt is made) and five months of r-devel pipermail:
1998-March..May, 2001-October (envelope lines follow a footer with no blank line) and
2012-January (a body line "From the Unix command line:" after a blank line, followed by
"jhm:doc johnm$ ls", once split the message in two).

Every count is checked against one computed here independently of the importer's splitter.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from moot.app import Moot
from moot.importer.run import ImportSummary, import_paths
from moot.reading import thread_rows
from moot.storage import schema as s
from moot.web.app import create_app
from moot.web.archive import msgid_url
from tests.conftest import SHARED_DATA

ALSA = "alsa-devel-25k.mbox.gz"
RDEVEL_MONTHS = ("1998-March", "1998-April", "1998-May", "2001-October", "2012-January")
_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# pipermail: "From jdoe at example.org  Tue Apr  1 10:00:00 1997" (or a bare/named sender),
# always followed by the "From:" header.
_PIPERMAIL_ENVELOPE = re.compile(
    rb"(?m)^From [^\n]* " + _DAY + rb" " + _MON + rb" [ \d]?\d \d\d:\d\d:\d\d \d{4}\r?\nFrom:")
# mboxrd: every "From " at the start of a line is an envelope (bodies are escaped).
_MBOXRD_ENVELOPE = re.compile(rb"(?m)^From ")
_MBOXRD_ESCAPE = re.compile(rb"(?m)^>(>*From )")
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]+)>")
_HAS_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?\S")


@dataclass
class Expected:
    """What an archive file holds, counted without the importer's code."""

    envelopes: int = 0
    distinct: set[bytes] = field(default_factory=set)  # sha256 of each message's bytes
    without_message_id: int = 0
    ids: defaultdict[bytes, set[bytes]] = field(default_factory=lambda: defaultdict(set))


def _expect(paths: list[Path], envelope: re.Pattern[bytes], mboxrd: bool) -> Expected:
    out = Expected()
    for path in paths:
        data = gzip.open(path).read()
        starts = [m.start() for m in envelope.finditer(data)]
        out.envelopes += len(starts)
        for a, b in zip(starts, [*starts[1:], len(data)], strict=True):
            chunk = data[a:b]
            raw = chunk[chunk.index(b"\n") + 1:]
            if raw.endswith(b"\n\n"):  # the separating blank line is not the message's
                raw = raw[:-1]
            if mboxrd:
                raw = _MBOXRD_ESCAPE.sub(rb"\1", raw)
            digest = hashlib.sha256(raw).digest()
            out.distinct.add(digest)
            head = raw.split(b"\n\n", 1)[0]
            if not _HAS_MESSAGE_ID.search(head):
                out.without_message_id += 1
            elif m := _MESSAGE_ID.search(head):
                out.ids[m.group(1)].add(digest)
    return out


@dataclass
class Imported:
    address: str
    list_id: int
    paths: list[Path]
    summary: ImportSummary
    expected: Expected


@pytest.fixture(scope="module")
def archives(corpus_moot: Moot) -> SimpleNamespace:
    root = SHARED_DATA
    out = {}
    for name, address, paths, envelope, mboxrd in (
        ("alsa", "alsa-devel@alsa-project.org", [root / ALSA], _MBOXRD_ENVELOPE, True),
        ("rdevel", "r-devel@r-project.org",
         [root / "r-devel-pipermail" / f"{m}.txt.gz" for m in RDEVEL_MONTHS],
         _PIPERMAIL_ENVELOPE, False),
    ):
        list_id = corpus_moot.store.create_list(address)
        summary = import_paths(corpus_moot.store, list_id, paths)
        out[name] = Imported(address, list_id, paths, summary, _expect(paths, envelope, mboxrd))
    return SimpleNamespace(moot=corpus_moot, client=TestClient(create_app(corpus_moot)), **out)


def _count(moot: Moot, *where: Any) -> int:
    with moot.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.messages)
                                .where(*where)).scalar_one())


@pytest.mark.parametrize("which", ["alsa", "rdevel"])
def test_counts_match_envelope_lines(archives: SimpleNamespace, shared_data: Path,
                                     which: str) -> None:
    a: Imported = getattr(archives, which)
    exp = a.expected
    assert exp.envelopes > 500
    assert a.summary.refused == [] and a.summary.rejected == 0
    assert a.summary.imported + a.summary.duplicates == exp.envelopes
    assert a.summary.imported == len(exp.distinct)
    assert _count(archives.moot, s.messages.c.list_id == a.list_id) == len(exp.distinct)
    if which == "alsa":
        assert exp.envelopes == 25_000 and a.summary.duplicates == 0
    else:
        assert a.summary.duplicates > 0  # r-devel 1997-2002 holds repeated copies


@pytest.mark.parametrize("which", ["alsa", "rdevel"])
def test_reimport_is_all_duplicates(archives: SimpleNamespace, shared_data: Path,
                                    which: str) -> None:
    a: Imported = getattr(archives, which)
    before = _count(archives.moot, s.messages.c.list_id == a.list_id)
    again = import_paths(archives.moot.store, a.list_id, a.paths)
    assert again.imported == 0 and again.rejected == 0
    assert again.duplicates == a.expected.envelopes
    assert _count(archives.moot, s.messages.c.list_id == a.list_id) == before


def test_rdevel_addresses_unmunged(archives: SimpleNamespace, shared_data: Path) -> None:
    a: Imported = archives.rdevel
    with archives.moot.engine.connect() as conn:
        rows = list(conn.execute(select(s.messages.c.from_addr, s.messages.c.from_name)
                                 .where(s.messages.c.list_id == a.list_id)))
    assert rows
    bad = [r for r in rows if "@" not in r.from_addr or " at " in r.from_addr]
    assert not bad, bad[:10]
    munged = re.compile(r"\S+ at [\w\-]+\.[\w.\-]+")
    assert not [r for r in rows if munged.search(r.from_name)]


def _thread_sizes(moot: Moot, list_id: int) -> list[Any]:
    m = s.messages.c
    with moot.engine.connect() as conn:
        return list(conn.execute(
            select(m.thread_id, func.count().label("n"), s.threads.c.message_count,
                   s.threads.c.root_message_id)
            .join(s.threads, s.threads.c.id == m.thread_id)
            .where(m.list_id == list_id)
            .group_by(m.thread_id, s.threads.c.message_count, s.threads.c.root_message_id)))


def _check_thread(archives: SimpleNamespace, thread_id: int) -> list[Any]:
    """thread_rows holds every message of the thread exactly once (placeholders aside)."""
    with archives.moot.engine.connect() as conn:
        keys = set(conn.execute(select(s.messages.c.id)
                                .where(s.messages.c.thread_id == thread_id)).scalars())
    rows = thread_rows(archives.moot.archive, thread_id, with_body=False)
    shown = Counter(r.message.id for r in rows if r.message is not None)
    assert set(shown) == keys, f"missing {keys - set(shown)}, extra {set(shown) - keys}"
    assert max(shown.values()) == 1, [k for k, n in shown.items() if n > 1]
    return rows


@pytest.mark.parametrize("which", ["alsa", "rdevel"])
def test_largest_thread(archives: SimpleNamespace, shared_data: Path, which: str) -> None:
    a: Imported = getattr(archives, which)
    sizes = _thread_sizes(archives.moot, a.list_id)
    # The threads table's counts agree with the messages table, for every thread.
    assert [t for t in sizes if t.n != t.message_count] == []
    big = [t for t in sizes if t.n > 1]
    assert len(big) > 50
    largest = max(sizes, key=lambda t: t.n)
    rows = _check_thread(archives, largest.thread_id)
    client = archives.client
    resp = client.get(msgid_url(a.address, largest.root_message_id, "t"))
    assert resp.status_code == 200
    doc = client.get(f"/api/v1/lists/{a.address}/threads/{largest.root_message_id}").json()
    assert len(doc["messages"]) == len(rows)
    assert sum(not m["placeholder"] for m in doc["messages"]) == largest.n


def test_generated_message_ids(archives: SimpleNamespace, shared_data: Path) -> None:
    a: Imported = archives.alsa
    m = s.messages.c
    assert a.expected.without_message_id > 0
    with archives.moot.engine.connect() as conn:
        rows = list(conn.execute(select(m.message_id, m.thread_id).where(
            m.list_id == a.list_id, m.message_id_generated.is_(True))))
    assert len(rows) == a.expected.without_message_id
    assert all(r.message_id.endswith("@generated.invalid") for r in rows)
    assert len({r.message_id for r in rows}) == len(rows)
    for r in rows[:20]:
        assert archives.client.get(msgid_url(a.address, r.message_id)).status_code == 200


def test_duplicate_message_ids_all_kept(archives: SimpleNamespace, shared_data: Path) -> None:
    a: Imported = archives.alsa
    shared = {mid.decode("latin-1"): len(d) for mid, d in a.expected.ids.items() if len(d) > 1}
    assert shared, "alsa-devel no longer has two different messages with one Message-ID"
    threads = set()
    for mid, n in shared.items():
        found = archives.moot.archive.messages_by_id(a.list_id, mid)
        assert len(found) == n, mid
        threads.update(f.thread_id for f in found)
        raws = {archives.client.get(msgid_url(a.address, mid) + "raw",
                                    params={"n": k}).content for k in range(1, n + 1)}
        assert len(raws) == n
    assert archives.client.get(msgid_url(a.address, next(iter(shared)))).status_code == 200
    for thread_id in threads:
        _check_thread(archives, thread_id)
