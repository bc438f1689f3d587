"""References found in real mail: the first 5,000 messages of alsa-devel, and the first
messages of every monthly r-devel archive (about 5,000 in all, so that 1997's prose and
2020's stat.ethz.ch links are both read).  Each URL is also found here by a pattern of its own,
independently of :mod:`moot.core.references`, and checked against what that module says."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from moot.core.references import Reference, find_references

_MBOXRD = re.compile(rb"(?m)^From ")
_PIPERMAIL = re.compile(
    r"(?m)^From [^\n]* (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w\w\w [ \d]?\d \d\d:\d\d:\d\d \d{4}\n"
    r"(?=From:)")
_LORE = re.compile(r"https?://lore\.kernel\.org/[^\s<>\"'()]*@[^\s<>\"'()]*")
_RDEVEL_MESSAGE = re.compile(r"https?://stat\.ethz\.ch/pipermail/r-devel/(\d{4})-([A-Z][a-z]+)/"
                             r"(\d+)\.html")
_FOOTER = re.compile(r"https?://(?:mailman\.alsa-project\.org/mailman/listinfo/alsa-devel|"
                     r"stat\.ethz\.ch/mailman/listinfo/r-devel|"
                     r"(?:mailman\.alsa-project\.org|stat\.ethz\.ch)/pipermail/[\w-]+/?)(?=[\s>]|$)")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _alsa(path: Path, count: int) -> Iterator[tuple[str, str]]:
    data = gzip.open(path).read(60_000_000)
    starts = [m.start() for m in _MBOXRD.finditer(data)][:count + 1]
    for a, b in zip(starts, starts[1:], strict=False):
        text = data[a:b].decode("utf-8", "replace")
        head, _, body = text.partition("\n\n")
        mid = re.search(r"(?im)^message-id:\s*<([^>]+)>", head)
        yield (mid.group(1) if mid else "?"), body


def _rdevel(folder: Path, per_month: int) -> Iterator[tuple[str, str]]:
    for path in sorted(folder.glob("*.txt.gz")):
        with gzip.open(path) as f:
            text = f.read(400_000).decode("latin-1")
        for part in _PIPERMAIL.split(text)[1:per_month + 1]:
            head, _, body = part.partition("\n\n")
            mid = re.search(r"(?im)^message-id:\s*<([^>]+)>", head)
            yield (mid.group(1) if mid else "?"), body


def _covering(refs: list[Reference], start: int, end: int) -> list[Reference]:
    return [r for r in refs if r.kind == "url" and r.start == start and r.end <= end]


def _check(messages: Iterator[tuple[str, str]], name: str) -> tuple[Counter[str], list[str]]:
    kinds: Counter[str] = Counter()
    prose: list[str] = []
    checked = Counter[str]()
    for mid, body in messages:
        refs = find_references(body)
        kinds.update(r.kind for r in refs)
        kinds["messages"] += 1
        for m in _LORE.finditer(body):
            found = _covering(refs, m.start(), m.end())
            assert found and found[0].message_id, (mid, m.group())
            checked["lore"] += 1
        for m in _RDEVEL_MESSAGE.finditer(body):
            found = _covering(refs, m.start(), m.end())
            numbers = (int(m.group(1)), _MONTHS.index(m.group(2)) + 1, int(m.group(3)))
            assert found and found[0].pipermail == numbers, (mid, m.group())
            checked["pipermail"] += 1
        for m in _FOOTER.finditer(body):
            assert not [r for r in refs if r.start < m.end() and m.start() < r.end], (
                mid, m.group())
            checked["footer"] += 1
        own = [r for r in refs if r.kind == "prose"
               and not body[body.rfind("\n", 0, r.start) + 1:r.start].lstrip().startswith(">")]
        prose += [f"{mid}: {r.text!r}" for r in own]
    print(f"\n{name}: {dict(kinds)}; checked {dict(checked)}")
    for line in prose[:15]:
        print("  ", line)
    return checked, prose


def test_alsa_devel(shared_data: Path) -> None:
    checked, _ = _check(_alsa(shared_data / "alsa-devel-25k.mbox.gz", 5000), "alsa-devel")
    assert checked["lore"] > 20 and checked["footer"] > 1000


def test_r_devel(shared_data: Path) -> None:
    checked, prose = _check(_rdevel(shared_data / "r-devel-pipermail", 15), "r-devel")
    assert checked["pipermail"] > 20 and checked["footer"] > 1000
    assert len(prose) > 10
