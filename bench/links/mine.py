"""Mine candidate link cases (quote, reference, republication) from the real archives.

Reads /work/shared/data (alsa-devel mbox and r-devel pipermail files), parses every message
with moot's own parser and writes CANDIDATES, one JSON object a line, to a scratch file
outside the project.  A candidate is a guess with the evidence to judge it (subjects, dates,
short snippets of both sides); it is not a label.  The labels in labels.jsonl were decided by
reading candidates, never copied from the ``guess`` field written here.

What it won't do: write anything into the project, or decide labels.

    python bench/links/mine.py --out /tmp/candidates.jsonl
    python bench/links/mine.py --check bench/links/labels.jsonl  # IDs exist, ids unique
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from moot.core.parse import parse_many  # noqa: E402
from moot.importer.sources import Reader  # noqa: E402

DATA = REPO.parent / "shared" / "data"
MONTHS = ("January February March April May June July August September October November "
          "December").split()
# Where pipermail numbers stand relative to a message's position (0-based, months in
# calendar order, every copy counted) in the r-devel text files: measured by matching
# subjects of linked messages against the words around 1,000 links (see README.md).
PIPERMAIL_SHIFT_EARLY = 4  # months up to 2006-August; few links, weak evidence
PIPERMAIL_SHIFT_LATE = 3593  # 2006-September to 2017; the text files lose messages later

_QUOTE = re.compile(r"^((?:[ \t]?>)+)[ \t]?(.*)$")
_WORD = re.compile(r"[a-z0-9]+")
_LORE = re.compile(
    r"https?://(?:lore\.kernel\.org|lkml\.kernel\.org|patch\.msgid\.link|msgid\.link)"
    r"/(?:r/|[\w.+-]+/)?(?:r/)?([^/\s<>\"']+@[^/\s<>\"']+?)(?:/[^\s<>\"']*)?(?=[\s<>\"')]|$)")
_PIPERMAIL = re.compile(
    r"https?://(?:stat\.ethz\.ch|www\.stat\.ethz\.ch|[\w.]*r-project\.org)[\w/]*/pipermail/"
    r"([\w-]+)/(\d{4}-[A-Za-z]+)/(\d+)\.html")
_MSGID_TEXT = re.compile(r"<([^<>\s@]{3,}@[^<>\s@]{3,})>")
_OTHER_URL = re.compile(r"https?://(?:git\.kernel\.org|bugzilla\.kernel\.org|bugs\.r-project"
                        r"\.org|github\.com|patchwork\.kernel\.org)[^\s<>\"')]*")
_OUTLOOK = re.compile(r"^-{3,}\s*Original Message\s*-{3,}", re.I | re.M)
_ATTRIBUTION = re.compile(r"wrote:\s*$|writes:\s*$|schrieb:\s*$|a écrit\s*:\s*$", re.I)
_R_CONSOLE = re.compile(r"^[\w.$\[\]\"']+\s*(<-|=[^=])|^[\w.]+\(.*\)\s*$|^(library|require|"
                        r"source|options|sessionInfo|print|cat|set\.seed)\(")
_SUBJECT_TAGS = re.compile(r"^\s*((re|fwd?|aw)\s*:\s*|\[[^\]]*\]\s*)+", re.I)
_FOOTERS = ("r-devel@r-project.org mailing list", "alsa-devel mailing list",
            "https://stat.ethz.ch/mailman/listinfo", "mailman.alsa-project.org")


@dataclass
class Msg:
    """What mining needs of one archived message."""

    n: int  # position in the archive's file order
    archive: str
    mid: str
    subject: str
    sender: str
    date: str
    parents: list[str]
    body: str
    month: str = ""


def load(data: Path) -> list[Msg]:
    """Every message of both archives, alsa-devel first, r-devel months in calendar order."""
    out: list[Msg] = []
    alsa = data / "alsa-devel-25k.mbox.gz"
    if alsa.exists():
        raws = [it.raw for it in Reader(alsa, "mboxrd")]
        for p in parse_many(raws):
            out.append(Msg(len(out), "alsa-devel", p.message_id, p.subject, p.from_addr,
                           p.date_raw, p.parent_candidates, p.body_text))
    folder = data / "r-devel-pipermail"
    files = sorted(folder.glob("*.txt.gz"),
                   key=lambda f: (int(f.name[:4]), MONTHS.index(f.name[5:].split(".")[0])))
    for f in files:
        raws = [it.raw for it in Reader(f, "pipermail")]
        for p in parse_many(raws, pipermail=True):
            out.append(Msg(len(out), "r-devel", p.message_id, p.subject, p.from_addr,
                           p.date_raw, p.parent_candidates, p.body_text, f.name[:-7]))
    return out


def norm(text: str) -> str:
    """Lower-case words joined by single spaces: what survives rewrapping and re-quoting.

    >>> norm("Hello,  World!\\n> again")
    'hello world again'
    """
    return " ".join(_WORD.findall(text.lower()))


def split_depth(body: str) -> Iterator[tuple[int, str]]:
    """Each line of a body with its quote depth (the number of ``>`` markers).

    >>> list(split_depth("a\\n> b\\n>> c"))
    [(0, 'a'), (1, 'b'), (2, 'c')]
    """
    for line in body.splitlines():
        m = _QUOTE.match(line)
        if m:
            yield m.group(1).count(">"), m.group(2)
        else:
            yield 0, line


def own_text(body: str) -> str:
    """The lines a message's author wrote (depth 0), without list footers, normalized."""
    lines = []
    for depth, line in split_depth(body):
        if depth == 0:
            if any(f in line for f in _FOOTERS):
                break
            lines.append(line)
    return norm("\n".join(lines))


def quote_blocks(body: str) -> list[tuple[int, list[str]]]:
    """Runs of consecutive quoted lines of the same depth, as (depth, raw lines).

    >>> quote_blocks("hi\\n> one\\n> two\\nme\\n>> deep")
    [(1, ['one', 'two']), (2, ['deep'])]
    """
    out: list[tuple[int, list[str]]] = []
    for depth, line in split_depth(body):
        if depth == 0:
            out.append((0, []))
            continue
        if out and out[-1][0] == depth:
            out[-1][1].append(line)
        else:
            out.append((depth, [line]))
    return [(d, ls) for d, ls in out if d and any(x.strip() for x in ls)]


def snippet(text: str, words: int = 60) -> str:
    """The first ``words`` words of a text, for reading a candidate in the terminal."""
    return " ".join(text.split()[:words])


class Archive:
    """Both archives with the lookups mining needs."""

    def __init__(self, msgs: list[Msg]) -> None:
        self.msgs = msgs
        self.by_id: dict[tuple[str, str], Msg] = {}
        for m in msgs:
            self.by_id.setdefault((m.archive, m.mid), m)  # the first copy is the original
        self.own = [own_text(m.body) for m in msgs]
        # First message (per archive) whose own text holds each long normalized line.
        self.line_origin: dict[tuple[str, str], int] = {}
        for m in msgs:
            for depth, line in split_depth(m.body):
                t = norm(line)
                if depth == 0 and len(t) >= 30:
                    self.line_origin.setdefault((m.archive, t), m.n)

    def parent(self, m: Msg) -> Msg | None:
        for pid in m.parents:
            p = self.by_id.get((m.archive, pid))
            if p is not None and p.n != m.n:
                return p
        return None

    def ancestors(self, m: Msg, limit: int = 15) -> list[Msg]:
        out, seen, cur = [], {m.n}, m
        while len(out) < limit:
            p = self.parent(cur)
            if p is None or p.n in seen:
                break
            out.append(p)
            seen.add(p.n)
            cur = p
        return out


def case(kind: str, src: Msg, tgt: Msg | None, guess: str, passage: str, **extra: object
         ) -> dict[str, object]:
    """One candidate with the evidence a reader needs to judge it."""
    out: dict[str, object] = {
        "kind": kind, "archive": src.archive, "source": src.mid,
        "target": tgt.mid if tgt else None, "guess": guess, "passage": passage,
        "src_subject": src.subject, "src_date": src.date, "src_from": src.sender,
    }
    if tgt is not None:
        out.update(tgt_subject=tgt.subject, tgt_date=tgt.date, tgt_from=tgt.sender)
    out.update(extra)
    return out


def mine_quotes(a: Archive, rng: random.Random) -> Iterator[dict[str, object]]:
    """Quoted blocks: their first author (walking up the thread), the parent when it is not
    the author, and blocks no archived message ever said (console output, off-list mail)."""
    for m in a.msgs:
        blocks = quote_blocks(m.body)
        if not blocks:
            continue
        anc = a.ancestors(m)
        done: set[tuple[str | None, str]] = set()
        for depth, lines in blocks:
            # Attribution lines ("On DATE, NAME wrote:") are short and shared by whole threads.
            frags = [norm(x) for x in lines if not _ATTRIBUTION.search(x)]
            frags = [f for f in frags if len(f) >= 25]
            if not frags:
                continue
            passage = " ".join(frags[0].split()[:10])
            hits = []
            for level, p in enumerate(anc):
                found = sum(f in a.own[p.n] for f in frags)
                if found * 2 >= len(frags):
                    hits.append((level, p))
            console = sum(bool(_R_CONSOLE.match(x.strip())) for x in lines) * 2 >= len(lines)
            if hits:
                level, origin = min(hits, key=lambda h: h[1].n)  # earliest writer
                key = (origin.mid, "true")
                if key not in done:
                    done.add(key)
                    yield case("quote", m, origin, "true", passage, depth=depth, level=level,
                               nested=level > 0, console=console,
                               src_text=snippet("\n".join(lines)),
                               tgt_text=snippet(a.msgs[origin.n].body, 80))
                if level > 0 and anc and (anc[0].mid, "parent") not in done:
                    done.add((anc[0].mid, "parent"))
                    yield case("quote", m, anc[0], "false-parent", passage, depth=depth,
                               level=0, origin=origin.mid, src_text=snippet("\n".join(lines)),
                               tgt_text=snippet(anc[0].body, 80))
                continue
            # Not from the thread: does any earlier message hold these lines?
            origins = [a.line_origin.get((m.archive, f)) for f in frags if len(f) >= 30]
            known = [o for o in origins if o is not None and o < m.n]
            if known:
                o = a.msgs[collections.Counter(known).most_common(1)[0][0]]
                if (o.mid, "elsewhere") not in done:
                    done.add((o.mid, "elsewhere"))
                    yield case("quote", m, o, "true-elsewhere", passage, depth=depth,
                               console=console, src_text=snippet("\n".join(lines)),
                               tgt_text=snippet(o.body, 80))
            elif (None, "orphan") not in done and rng.random() < 0.15:
                done.add((None, "orphan"))
                yield case("quote", m, None, "false-orphan", passage, depth=depth,
                           console=console, has_parent=bool(anc),
                           src_text=snippet("\n".join(lines)),
                           parent_text=snippet(anc[0].body, 50) if anc else "")
        if _OUTLOOK.search(m.body) and anc:
            tail = norm(m.body[_OUTLOOK.search(m.body).end():])  # type: ignore[union-attr]
            for level, p in enumerate(anc[:3]):
                sig = " ".join(a.own[p.n].split()[:12])
                if len(sig) > 40 and sig in tail:
                    yield case("quote", m, p, "true-outlook", sig[:80], level=level,
                               tgt_text=snippet(p.body, 50))
                    break


def pipermail_target(a: Archive, month: str, number: int, first: dict[str, int]) -> Msg | None:
    """The r-devel message a pipermail number most likely names (see PIPERMAIL_SHIFT_*).

    ``first`` maps each month to the position of its first message in ``a.msgs``.
    """
    if month not in first:
        return None
    late = (int(month[:4]), MONTHS.index(month[5:])) >= (2006, 8)
    k = min(first.values()) + number - (PIPERMAIL_SHIFT_LATE if late else PIPERMAIL_SHIFT_EARLY)
    if 0 <= k < len(a.msgs) and a.msgs[k].month == month:
        return a.msgs[k]
    return None


def mine_references(a: Archive, rng: random.Random) -> Iterator[dict[str, object]]:
    """Links in prose: lore/msgid URLs, pipermail URLs, Message-IDs in text, other URLs."""
    first: dict[str, int] = {}
    for m in a.msgs:
        if m.month:
            first.setdefault(m.month, m.n)
    for m in a.msgs:
        body = "\n".join(line for d, line in split_depth(m.body) if d == 0)
        for u in _LORE.finditer(body):
            mid = u.group(1).rstrip(".,;")
            t = a.by_id.get((m.archive, mid))
            ctx = body[max(0, u.start() - 120): u.end() + 40]
            yield case("reference", m, t, "true-lore" if t else "false-lore-absent", mid,
                       url=u.group(0), context=" ".join(ctx.split()),
                       tgt_text=snippet(t.body, 40) if t else "",
                       is_parent=bool(t and a.parent(m) is t))
        for u in _PIPERMAIL.finditer(body):
            ctx = " ".join(body[max(0, u.start() - 250): u.end() + 60].split())
            if u.group(1) != "r-devel" or m.archive != "r-devel":
                yield case("reference", m, None, "false-other-list", u.group(0), url=u.group(0),
                           context=ctx)
                continue
            t = pipermail_target(a, u.group(2), int(u.group(3)), first)
            yield case("reference", m, t, "true-pipermail" if t else "false-pipermail-unmapped",
                       u.group(0), url=u.group(0), context=ctx,
                       tgt_text=snippet(t.body, 40) if t else "")
            if t is not None and rng.random() < 0.4:  # a neighbour: looks right, is not
                w = a.msgs[t.n + rng.choice((-2, -1, 1, 2))]
                if w.month == t.month:
                    yield case("reference", m, w, "false-pipermail-neighbour", u.group(0),
                               url=u.group(0), context=ctx, tgt_text=snippet(w.body, 40))
        for u in _MSGID_TEXT.finditer(body):
            t = a.by_id.get((m.archive, u.group(1)))
            if t is not None and t is not m:
                ctx = " ".join(body[max(0, u.start() - 120): u.end() + 40].split())
                yield case("reference", m, t, "true-msgid", u.group(1), context=ctx,
                           tgt_text=snippet(t.body, 40))
        for u in _OTHER_URL.finditer(body):
            if rng.random() < 0.05:
                ctx = " ".join(body[max(0, u.start() - 120): u.end() + 40].split())
                yield case("reference", m, None, "false-other-url", u.group(0), context=ctx)


def shingles(text: str, k: int = 5) -> set[int]:
    """Hashes of the word k-grams of a normalized text."""
    w = text.split()
    return {hash(" ".join(w[i:i + k])) for i in range(max(0, len(w) - k + 1))}


def mine_republications(a: Archive) -> Iterator[dict[str, object]]:
    """Pairs of messages with different Message-IDs and near-identical own text; the earlier
    one is the target.  Jaccard of word 5-grams; candidate pairs from bottom-8 sketches."""
    sh: dict[int, set[int]] = {}
    buckets: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    seen_ids: set[tuple[str, str]] = set()
    for m in a.msgs:
        if (m.archive, m.mid) in seen_ids:
            continue  # a repeated copy under the same Message-ID is not a republication
        seen_ids.add((m.archive, m.mid))
        s = shingles(a.own[m.n])
        if len(s) < 25:
            continue
        sh[m.n] = s
        for h in sorted(s)[:8]:
            buckets[(m.archive, h)].append(m.n)
    pairs: collections.Counter[tuple[int, int]] = collections.Counter()
    for members in buckets.values():
        if 1 < len(members) <= 40:
            for i, x in enumerate(members):
                for y in members[i + 1:]:
                    pairs[(x, y)] += 1
    for (x, y), shared in pairs.items():
        if shared < 2:
            continue
        jac = len(sh[x] & sh[y]) / len(sh[x] | sh[y])
        if jac < 0.3:
            continue
        t, s = a.msgs[x], a.msgs[y]
        guess = "true" if jac >= 0.8 else "false-similar"
        yield case("republication", s, t, guess, "", jaccard=round(jac, 3),
                   same_sender=s.sender == t.sender, same_thread=bool(
                       set(s.parents) & ({t.mid} | set(t.parents))),
                   src_text=snippet(s.body, 50), tgt_text=snippet(t.body, 50))


KINDS = {"quote": "q", "reference": "r", "republication": "p"}


def check_labels(cases: list[dict[str, object]], ids: set[tuple[str, str]]) -> list[str]:
    """What is wrong with the labelled cases: unknown Message-IDs (``ids`` holds every
    (archive, Message-ID) of the archives), duplicate ids or pairs, long passages, bad fields.

    >>> ok = {"id": "q-0001", "kind": "quote", "archive": "r-devel", "source": "a@b",
    ...       "target": None, "label": False, "why": "console", "passage": "x <- 1"}
    >>> check_labels([ok], {("r-devel", "a@b")})
    []
    >>> check_labels([ok, dict(ok, target="c@d")], {("r-devel", "a@b")})
    ['q-0001: duplicate id', 'q-0001: target c@d not in r-devel']
    """
    problems: list[str] = []
    seen_ids: set[object] = set()
    seen_pairs: set[tuple[object, ...]] = set()
    for c in cases:
        cid = c.get("id")
        if cid in seen_ids:
            problems.append(f"{cid}: duplicate id")
        seen_ids.add(cid)
        kind, archive = c.get("kind"), c.get("archive")
        if kind not in KINDS or not str(cid).startswith(KINDS.get(str(kind), "?") + "-"):
            problems.append(f"{cid}: kind {kind!r} does not fit the id")
        if not isinstance(c.get("label"), bool) or not c.get("why"):
            problems.append(f"{cid}: label must be true/false and why must be given")
        pair = (kind, c.get("source"), c.get("target"), c.get("passage"))
        if pair in seen_pairs:
            problems.append(f"{cid}: same kind, source, target and passage as another case")
        seen_pairs.add(pair)
        for role in ("source", "target"):
            mid = c.get(role)
            if (role == "source" or mid is not None) and (archive, mid) not in ids:
                problems.append(f"{cid}: {role} {mid} not in {archive}")
        if len(str(c.get("passage", "")).split()) > 12:
            problems.append(f"{cid}: passage longer than 12 words")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("/tmp/candidates.jsonl"))
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--check", type=Path, metavar="LABELS",
                    help="check a labels file against the archives instead of mining")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}: the archives are needed to mine candidates")
    if args.check:
        cases = [json.loads(x) for x in args.check.read_text().splitlines() if x.strip()]
        problems = check_labels(cases, {(m.archive, m.mid) for m in load(args.data)})
        print("\n".join(problems) or f"{len(cases)} cases: all Message-IDs found, ids unique")
        sys.exit(1 if problems else 0)
    t0 = time.time()
    archive = Archive(load(args.data))
    print(f"loaded {len(archive.msgs)} messages in {time.time() - t0:.0f}s", file=sys.stderr)
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    with args.out.open("w") as out:
        for gen in (mine_quotes(archive, rng), mine_references(archive, rng),
                    mine_republications(archive)):
            for c in gen:
                counts[f"{c['kind']}/{c['archive']}/{c['guess']}"] += 1
                out.write(json.dumps(c, ensure_ascii=False) + "\n")
    for k, v in sorted(counts.items()):
        print(f"{v:7d}  {k}", file=sys.stderr)
    print(f"done in {time.time() - t0:.0f}s -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
