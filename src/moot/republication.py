"""Finding republished letters among a whole archive: MinHash sketches kept in the database.

Every message's own words (moot.core.republication.letter) get a MinHash signature (datasketch,
64 permutations) and 32 LSH band keys, two signature values each, in the tables ``sketches``
and ``sketch_bands``.  Two letters whose shingles are alike share a band with a probability
that rises steeply with their Jaccard similarity (one in three alike: 97%; one in ten: 27%;
nothing in common: never), so the earlier messages that may be the same letter as a new one
are found by one indexed look-up of its 32 keys, narrowed by the containment the signatures
estimate, and decided by moot.core.republication.compare on the real words.

Sketching is an incremental step of its own (site mark "sketched-through"), run by the linker
before it links: a message can only be found as the original of a later one once it is
sketched, and the linker works from the oldest message to the newest.  A deleted post is not
offered as an original; its sketch goes with its row.

Across lists: a letter cross-posted to two lists on this server is found on both; the pages
show each copy only to readers of its list.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from moot.core.republication import MIN_WORDS, WITH_NOTE, Letter, letter, shingle_hashes
from moot.storage import schema as s
from moot.storage import site

log = logging.getLogger("moot.republication")

PERMUTATIONS = 64
BAND_ROWS = 2
BANDS = PERMUTATIONS // BAND_ROWS
MIN_SHARED_BANDS = 2  # one shared band happens to letters sharing a signature line
MAX_CANDIDATES = 8  # compared on their words, most alike first
CROWDED = 100  # messages in one band beyond which it is boilerplate
_MARK = "sketched-through"
_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class Sketch:
    """A letter's signature, its band keys and its size in shingles."""

    signature: np.ndarray
    keys: tuple[int, ...]
    shingles: int


def sketch_of(body: str, subject: str = "") -> Sketch | None:
    """The sketch of a message body, or None for a letter too short to be told apart.

    >>> sketch_of("Thanks, applied.") is None
    True
    >>> x = sketch_of(" ".join(f"word{i}" for i in range(40)))
    >>> len(x.keys), x.shingles
    (32, 36)
    >>> x.keys == sketch_of(" ".join(f"word{i}" for i in range(40))).keys
    True
    """
    return sketch_from(letter(body, subject))


def sketch_from(x: Letter) -> Sketch | None:
    """The sketch of a letter already read (moot.core.republication.letter)."""
    if len(x.words) < MIN_WORDS and len(x.passed_on) < MIN_WORDS:
        return None
    # A letter passed on inside quote marks is sketched with the words around it, so that
    # the original is found from the copy.
    hashes = set(x.shingles) | set(shingle_hashes(x.passed_on))
    from datasketch import MinHash  # here: importing it pulls in scipy (1.5 s per process)

    m = MinHash(num_perm=PERMUTATIONS, hashfunc=int, permutations=_permutations(),
                scheme="affine32")
    m.update_batch(hashes)
    sig = m.hashvalues.astype(np.uint32)
    keys = tuple(((band * 0x9E3779B97F4A7C15) ^ (int(sig[band * 2]) << 32)
                  ^ int(sig[band * 2 + 1])) & _MASK for band in range(BANDS))
    return Sketch(sig, keys, len(hashes))


@functools.cache
def _permutations() -> Any:
    """The MinHash permutations every sketch shares (seed 1)."""
    from datasketch import MinHash

    return MinHash(num_perm=PERMUTATIONS, seed=1, hashfunc=int).permutations


def estimated_containment(a: Sketch, signature: np.ndarray, shingles: int) -> float:
    """The share of the other letter (``signature``, ``shingles``) estimated to be in ``a``,
    from the signatures' agreement (Jaccard) and the two sizes."""
    j = float(np.mean(a.signature == signature))
    if shingles <= 0:
        return 0.0
    return min(1.0, j * (a.shingles + shingles) / ((1 + j) * shingles))


def store(conn: Connection, rows: list[Row[Any]]) -> None:
    """Sketch these messages (replacing any sketch they had)."""
    pks = [r.id for r in rows]
    conn.execute(delete(s.sketch_bands).where(s.sketch_bands.c.message_pk.in_(pks)))
    conn.execute(delete(s.sketches).where(s.sketches.c.message_pk.in_(pks)))
    sketches, bands = [], []
    for r in rows:
        if r.removed_kind == "deleted" or not r.body_text:
            continue
        x = sketch_of(r.body_text, r.subject or "")
        if x is None:
            continue
        sketches.append({"message_pk": r.id, "words": x.shingles,
                         "signature": x.signature.tobytes()})
        bands.extend({"key": k, "message_pk": r.id} for k in x.keys)
    if sketches:
        # Two servers on one database may sketch the same new messages at once: the one that
        # stores a sketch first stores its bands; the other leaves them (no doubled bands).
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stored = set(conn.execute(upsert(s.sketches).on_conflict_do_nothing()
                                  .returning(s.sketches.c.message_pk), sketches).scalars())
        bands = [b for b in bands if b["message_pk"] in stored]
        if bands:
            conn.execute(insert(s.sketch_bands), bands)


def candidates(conn: Connection, pk: int, x: Sketch) -> list[int]:
    """Messages other than ``pk`` that may hold the same letter as sketch ``x``: those sharing
    bands with it whose words ``x`` is estimated to contain, most alike first.  A band that
    hundreds of messages share is boilerplate (a maintainer's stock "Applied" note, a
    signature, a list footer) and tells nothing: it is not counted."""
    b = s.sketch_bands.c
    # Counted in the index first, so that a crowded band's members are never read.
    sizes = conn.execute(select(b.key, func.count()).where(b.key.in_(x.keys))
                         .group_by(b.key)).all()
    telling = [key for key, n in sizes if 1 < n <= CROWDED]  # (1: only this message)
    if not telling:
        return []
    shared = Counter(conn.execute(select(b.message_pk).where(
        b.key.in_(telling), b.message_pk != pk)).scalars())
    near = [p for p, n in shared.items() if n >= MIN_SHARED_BANDS]
    if not near:
        return []
    scored = []
    for r in conn.execute(select(s.sketches).where(s.sketches.c.message_pk.in_(near))):
        sig = np.frombuffer(r.signature, dtype=np.uint32)
        c = estimated_containment(x, sig, r.words)
        if c >= WITH_NOTE - 0.2:  # the estimate errs by about 0.1 with 64 permutations
            scored.append((shared[r.message_pk], c, r.message_pk))
    scored.sort(reverse=True)
    return [p for _, _, p in scored[:MAX_CANDIDATES]]


def _through(conn: Connection) -> int:
    return site.mark(conn, _MARK)


def _set_through(conn: Connection, message_pk: int) -> None:
    site.set_mark(conn, _MARK, message_pk)


def catch_up(engine: Engine, *, through: int | None = None, batch: int = 500,
             progress: Callable[[int, int], None] | None = None) -> int:
    """Sketch the messages archived since the last time (up to message ``through`` when
    given); returns how many were read."""
    m = s.messages.c
    cols = (m.id, m.subject, m.body_text, m.removed_kind)
    with engine.connect() as conn:
        last = _through(conn)
        top = through if through is not None else conn.execute(
            select(m.id).order_by(m.id.desc()).limit(1)).scalar() or 0
    if top <= last:
        return 0
    done = 0
    total = top - last
    while last < top:
        with engine.begin() as conn:
            rows = list(conn.execute(select(*cols).where(m.id > last, m.id <= top)
                                     .order_by(m.id).limit(batch)))
            if not rows:
                _set_through(conn, top)
                break
            store(conn, rows)
            last = rows[-1].id
            _set_through(conn, last)
        done += len(rows)
        if progress:
            progress(min(total, last - (top - total)), total)
    return done
