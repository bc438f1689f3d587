"""A large synthetic archive for scale tests, made from the real archives' text (issue 9).

Subjects and bodies come from the real mail in ../shared/data (alsa-devel and r-devel); all the
rest is made up here: new Message-IDs, threads of realistic sizes (In-Reply-To and References
chains, replies that quote their parent's first lines the way mail clients do), dates spread
over twenty years, senders drawn from a pool of invented names.  The output is one gzip mboxrd
file, written as it is generated (memory holds the text pool and one thread, whatever N is).

The same seed gives the same archive, and ``--start`` cuts the same stream: ``--count 100000``
and ``--start 100000 --count 900000`` (both with ``--total 1000000``) are the two halves of one
million-message archive, so a benchmark can stop at 100,000 messages and go on.

    python bench/generate.py OUT.mbox.gz [--count N] [--start K] [--total T] [--seed S]

Generated archives are test data: never commit them.  Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from common import REPO

LIST = "scale@bench.moot.example"
FIRST_DAY = datetime(2006, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365 * 20)
MAX_BODY = 24_000  # bytes of a pooled body (a few patches run to megabytes)

_FIRST = ("Ada Basil Cora Devi Emil Fern Gus Hana Ivo Jun Kai Lena Milo Nora Omar Pia Quin Rosa "
          "Sven Tara Udo Vera Wim Xia Yuri Zoe Abel Bea Cyd Dora Eli Faye Gil Hugo Iris Jens "
          "Kira Lars Maya Nils Olga Pavel Rhea Sami Teo Una Vik Wren").split()
_LAST = ("Quill Fenn Lind Rao Bauer Costa Dahl Eng Frey Grau Holm Ito Jung Kern Lutz Moss Nagy "
         "Orr Pike Ruiz Sato Toth Ueda Voss Wahl Yang Zorn Abt Brun Cruz Dorn Egli Falk Gray "
         "Haas Ilic Jost Kato Lamb Marx Noll Ott Pohl Reis Sims Tian Ueno Vogt Wulf").split()
_HOSTS = ("example.org example.com example.net mail.example lab.example uni.example "
          "dev.example corp.example").split()

_SUBJECT = re.compile(rb"^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.M | re.I)
_CTYPE = re.compile(rb"^Content-Type:[ \t]*([^;\r\n]*)(?:.*charset=\"?([\w.:-]+))?", re.M | re.I)
_CTE = re.compile(rb"^Content-Transfer-Encoding:[ \t]*(\S+)", re.M | re.I)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?)\s*(\[\d+\])?\s*:\s*|\[[^\]]{1,20}\]\s*)+", re.I)
_FROM_LINE = re.compile(rb"(?m)^(>*From )")


@dataclass(frozen=True)
class Text:
    subject: str
    body: bytes  # UTF-8


def _clean_subject(raw: bytes) -> str | None:
    subject = raw.replace(b"\n", b" ").replace(b"\r", b"")
    if b"=?" in subject or not subject.isascii():
        return None  # encoded words: not worth decoding for a subject pool
    text = _REPLY_PREFIX.sub("", subject.decode("ascii")).strip()
    return re.sub(r"\s+", " ", text)[:150] or None


def _to_utf8(body: bytes, charset: str) -> bytes:
    if charset in ("utf-8", "us-ascii", "ascii", ""):
        try:
            body.decode("utf-8")
            return body
        except UnicodeDecodeError:
            pass
    try:
        return body.decode(charset or "latin-1", "replace").encode("utf-8")
    except LookupError:
        return body.decode("latin-1").encode("utf-8")


def _cut(body: bytes) -> bytes:
    body = body.replace(b"\r\n", b"\n").strip(b"\n")
    if len(body) > MAX_BODY:
        body = body[:body.rfind(b"\n", 0, MAX_BODY) + 1 or MAX_BODY]
    return body + b"\n"


def _messages(blob: bytes, separator: re.Pattern[bytes]) -> list[bytes]:
    starts = [m.start() for m in separator.finditer(blob)]
    ends = [*starts[1:], len(blob)] if starts else []
    return [blob[a:b] for a, b in zip(starts, ends, strict=True)]


def load_pool(shared: Path) -> list[Text]:
    """Subjects and plain-text bodies of the real archives, in a fixed order."""
    pool: list[Text] = []
    mbox = gzip.decompress((shared / "alsa-devel-25k.mbox.gz").read_bytes())
    for item in _messages(mbox, re.compile(rb"(?m)^From mboxrd@z ")):
        head, _, body = item.partition(b"\n\n")
        ctype, cte = _CTYPE.search(head), _CTE.search(head)
        if ctype and not ctype.group(1).lower().startswith(b"text/plain"):
            continue
        if cte and cte.group(1).lower() not in (b"7bit", b"8bit"):
            continue
        subject = _SUBJECT.search(head)
        text = _clean_subject(subject.group(1)) if subject else None
        if text is None or not body.strip():
            continue
        charset = (ctype.group(2) or b"").decode("ascii", "replace").lower() if ctype else ""
        body = _MBOXRD_UNESCAPE.sub(rb"\1", body)
        pool.append(Text(text, _cut(_to_utf8(body, charset))))
    for path in sorted((shared / "r-devel-pipermail").glob("*.txt.gz")):
        blob = gzip.decompress(path.read_bytes())
        for item in _messages(blob, re.compile(rb"(?m)^From \S+ at \S+ ")):
            head, _, body = item.partition(b"\n\n")
            subject = _SUBJECT.search(head)
            text = _clean_subject(subject.group(1)) if subject else None
            if text is None or not body.strip() or b"was scrubbed..." in body[:200]:
                continue
            pool.append(Text(text, _cut(_to_utf8(body, "latin-1"))))
    return pool


_MBOXRD_UNESCAPE = re.compile(rb"(?m)^>(>*From )")


def thread_size(rng: random.Random) -> int:
    """Messages in one thread: 40% alone, most threads short, one in 200 of 40 to 150 (about
    a tenth of the messages are in those)."""
    roll = rng.random()
    if roll < 0.40:
        return 1
    if roll < 0.995:
        return 2 + min(int(rng.expovariate(1 / 3)), 40)
    return rng.randint(40, 150)


def senders(rng: random.Random, n: int = 5000) -> list[tuple[str, str]]:
    people = []
    for i in range(n):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        host = rng.choice(_HOSTS)
        people.append((f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@{host}"))
    return people


def quote(parent: Text, who: str, when: datetime, rng: random.Random) -> bytes:
    """The attribution line and the first lines of the parent, quoted."""
    lines = parent.body.split(b"\n")[: rng.randint(2, 12)]
    quoted = b"".join(b">" + (b" " + line if line else b"") + b"\n" for line in lines)
    said = f"On {when:%a, %d %b %Y at %H:%M}, {who} wrote:\n".encode()
    return said + quoted + b"\n"


def entry(n: int, seed: int, subject: str, who: tuple[str, str], when: datetime,
          parents: list[int], body: bytes) -> bytes:
    mid = f"<s{seed}.{n}@bench.moot.example>"
    head = [f"From {who[1]} {when:%a %b %e %H:%M:%S %Y}",
            f"From: {who[0]} <{who[1]}>", f"To: {LIST}", f"Subject: {subject}",
            f"Date: {format_datetime(when)}", f"Message-ID: {mid}"]
    if parents:
        refs = " ".join(f"<s{seed}.{p}@bench.moot.example>" for p in parents[-10:])
        head += [f"In-Reply-To: <s{seed}.{parents[-1]}@bench.moot.example>",
                 f"References: {refs}"]
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit", "", ""]
    return "\n".join(head).encode() + _FROM_LINE.sub(rb">\1", body) + b"\n"


def generate(out: Path, *, count: int, start: int, total: int, seed: int,
             shared: Path) -> int:
    """Write messages ``start`` to ``start + count`` of the seed's archive of ``total``."""
    pool = load_pool(shared)
    rng = random.Random(seed)
    people = senders(rng)
    end = start + count
    n = written = 0
    with gzip.open(out, "wb", compresslevel=1) as f:
        while n < end:
            size = thread_size(rng)
            first = FIRST_DAY + SPAN * (n / total) + timedelta(hours=rng.random() * 48)
            root = rng.choice(pool)
            subject = root.subject
            # (message number, date, sender, parent chain, text) of the thread so far
            thread: list[tuple[int, datetime, tuple[str, str], list[int], Text]] = []
            for k in range(size):
                if n >= end:
                    break
                who = rng.choice(people)
                if k == 0:
                    when, chain, text, body = first, [], root, root.body
                else:
                    pick = -1 if rng.random() < 0.6 else rng.randrange(len(thread))
                    p_n, p_when, p_who, p_chain, p_text = thread[pick]
                    when = max(p_when, thread[-1][1]) + timedelta(
                        minutes=1 + min(rng.expovariate(1 / 360), 60 * 24 * 14))
                    chain = [*p_chain, p_n]
                    text = rng.choice(pool)
                    body = text.body
                    if rng.random() < 0.7:
                        body = quote(p_text, p_who[0], p_when, rng) + body
                    subject_k = ("Re: " + subject)
                if n >= start:
                    f.write(entry(n, seed, subject if k == 0 else subject_k, who, when,
                                  chain, body))
                    written += 1
                thread.append((n, when, who, chain, text))
                n += 1
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the .mbox.gz to write")
    ap.add_argument("--count", type=int, default=100_000, help="messages to write")
    ap.add_argument("--start", type=int, default=0, help="skip this many first")
    ap.add_argument("--total", type=int, default=0,
                    help="size of the whole archive the dates are spread for "
                         "(default: start + count)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args()
    if not (args.shared_data / "alsa-devel-25k.mbox.gz").is_file():
        sys.exit(f"the shared real-mail corpus is not at {args.shared_data}")
    started = time.perf_counter()
    total = args.total or args.start + args.count
    n = generate(args.out, count=args.count, start=args.start, total=total, seed=args.seed,
                 shared=args.shared_data)
    took = time.perf_counter() - started
    print(f"{n:,} messages to {args.out} ({args.out.stat().st_size / 1e6:,.0f} MB) in "
          f"{took:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
