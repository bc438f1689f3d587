"""The input every system gets: the first N messages of an mbox, and one set of queries.

The queries are made from the messages themselves with a fixed seed, so every system is asked
the same strings and each query matches at least one message of the input: single words of
middling frequency, two words that occur in one message (AND), a two- or three-word phrase
from one line of a body, and a sender's name (``from:`` where the system has such a field).
Only plain ASCII words of letters are used, so that no system's tokenizer splits them
differently from another's.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import gzip
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

WORD = re.compile(rb"[A-Za-z]{4,14}")
LINE_WORDS = re.compile(r"^[a-z]{3,14}(?: [a-z]{3,14}){1,2}$")


@dataclass(frozen=True)
class Query:
    kind: str  # word | two words | phrase | from
    words: tuple[str, ...]

    def text(self, system: str) -> str | None:
        """The query in ``system``'s syntax; None where it has no way to ask it."""
        if self.kind == "phrase":
            return '"' + " ".join(self.words) + '"'
        if self.kind == "from":
            if system == "moot":
                return f"from:{self.words[0]}"
            if system == "public-inbox":
                return f"f:{self.words[0]}"
            return None  # HyperKitty's search box has no sender operator
        return " ".join(self.words)


def split_mbox(source: Path, target: Path, limit: int | None) -> int:
    """Copy the first ``limit`` messages (all if None) of an mbox, gzip or not, to ``target``;
    returns how many.  A message starts at a ``From `` line that opens the file or follows an
    empty line (in mboxrd, a body's own ``From `` lines are quoted ``>From ``)."""
    opener = gzip.open if source.suffix == ".gz" else open
    count = 0
    blank = True
    with opener(source, "rb") as src, target.open("wb") as out:
        for line in src:
            if blank and line.startswith(b"From "):
                if limit is not None and count >= limit:
                    break
                count += 1
            blank = line in (b"\n", b"\r\n")
            out.write(line)
    return count


def messages(mbox: Path) -> list[bytes]:
    out: list[bytes] = []
    current: list[bytes] = []
    blank = True
    with mbox.open("rb") as src:
        for line in src:
            if blank and line.startswith(b"From "):
                if current:
                    out.append(b"".join(current))
                current = []
            else:
                current.append(line)
            blank = line in (b"\n", b"\r\n")
    if current:
        out.append(b"".join(current))
    return out


def plain_text(raw: bytes) -> tuple[str, str]:
    """(sender's display name, the text/plain parts) of one message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    name = email.utils.parseaddr(str(msg.get("From", "")))[0]
    parts = []
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                try:
                    parts.append(payload.decode(part.get_content_charset() or "latin-1",
                                                errors="replace"))
                except LookupError:  # a charset Python does not know
                    parts.append(payload.decode("latin-1"))
    return name, "\n".join(parts)


def make_queries(mbox: Path, seed: int = 7, *, words: int = 12, pairs: int = 12,
                 phrases: int = 10, senders: int = 6) -> list[Query]:
    docs = [plain_text(raw) for raw in messages(mbox)]
    n = len(docs)
    df: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for name, body in docs:
        df.update({w.decode().lower() for w in WORD.findall(body.encode("ascii", "ignore"))})
        first = name.split()[0] if name.split() else ""
        if re.fullmatch(r"[A-Za-z]{4,14}", first):
            names[first.lower()] += 1
    rng = random.Random(seed)
    lo, hi = max(3, n // 2000), max(4, n // 20)
    middling = sorted(w for w, c in df.items() if lo <= c <= hi)
    out = [Query("word", (w,)) for w in rng.sample(middling, min(words, len(middling)))]
    usable = set(w for w, c in df.items() if 3 <= c <= max(4, n // 10))
    tries = 0
    while sum(q.kind == "two words" for q in out) < pairs and tries < 10_000:
        tries += 1
        body = docs[rng.randrange(n)][1]
        own = sorted({w.decode().lower() for w in WORD.findall(body.encode("ascii", "ignore"))}
                     & usable)
        if len(own) >= 2:
            out.append(Query("two words", tuple(rng.sample(own, 2))))
    tries = 0
    while sum(q.kind == "phrase" for q in out) < phrases and tries < 10_000:
        tries += 1
        body = docs[rng.randrange(n)][1]
        lines = [ln.strip() for ln in body.splitlines()
                 if LINE_WORDS.match(ln.strip()) and not ln.startswith(">")]
        if lines:
            out.append(Query("phrase", tuple(rng.choice(lines).split())))
    common = sorted(w for w, c in names.items() if c >= 5)
    out += [Query("from", (w,)) for w in rng.sample(common, min(senders, len(common)))]
    return out
