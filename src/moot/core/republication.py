"""Is this letter the same letter as an earlier one, published again?

Why: a letter reaches an archive more than once -- re-sent an hour later, cross-posted to
another list, copied to the list by a bug tracker, a patch carried unchanged into a new series,
or reprinted with an editor's (or a maintainer's "Applied") note in front.  A reader should see
"also published in ..." on each copy and which one came first.  This module compares two
letters by their word shingles and decides; finding the pairs to compare among a whole archive
(MinHash) is moot.republication's job.

What counts: nearly all the earlier letter's own words (quotes, signatures, footers left out:
:func:`moot.core.quotes.unquoted_text`) appear again, in order, in the later one.  Re-wrapping,
re-quoting and punctuation don't matter (:func:`moot.core.quotes.normalize_words`).

What does not count, though the words overlap as much:
- a reply that carries its parent's words without quote markers and then answers below them
  (that is a quote; a note *in front* of a reprint is an editor's note, an answer *after* it
  is a reply);
- the same stock reply sent to different people (the two copies quote different messages);
- a template filled in again (monthly summaries, sibling patches): the words differ by more
  than a re-send's few edits;
- very short letters ("Thanks, applied."), which are the same by chance.

No I/O.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from moot.core.quotes import find_quotes, normalize_words, unquoted_text

SHINGLE = 5  # words in a shingle
MIN_WORDS = 20  # shorter letters match by chance
SAME = 0.95  # share of the earlier letter's shingles found again, unrelated messages
WITH_NOTE = 0.85  # ... for a reply that reprints its parent after a note
TAIL = 0.15  # words after the reprint, as a share of it, that make a reply of it instead
QUOTED_SAME = 0.5  # share of what two copies quote that must be the same for one letter


@dataclass(frozen=True)
class Letter:
    """What is compared of one message: its own words (with any letter it forwards), their
    shingles (as stable 32-bit numbers, so that sketches made by one process match those of
    another), the shingles of what it quotes in reply, and the words of ``>`` passages that
    no attribution line introduces (a letter passed on inside quote marks)."""

    words: tuple[str, ...]
    shingles: frozenset[int]
    quoted: frozenset[int]
    passed_on: tuple[str, ...] = ()


def shingle_hashes(words: Sequence[str], k: int = SHINGLE) -> list[int]:
    """The runs of ``k`` words of a text as stable numbers, in order (repeats kept).

    >>> shingle_hashes("a b c".split(), 2) == [zlib.crc32(b"a b"), zlib.crc32(b"b c")]
    True
    >>> shingle_hashes([], 5)
    []
    """
    if len(words) < k:
        return [zlib.crc32(" ".join(words).encode())] if words else []
    return [zlib.crc32(" ".join(words[i:i + k]).encode()) for i in range(len(words) - k + 1)]


_FORWARDED = re.compile(r"forward|weitergeleitet|transféré|doorgestuurd|reenviado", re.I)


_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|fw|tr|wg|rv)\s*:", re.I)


def letter(body: str, subject: str = "") -> Letter:
    """The comparable form of a message body: its own words, then those of a letter it
    forwards ("Begin forwarded message:", "---------- Forwarded message ----------", or any
    original-message block under a "Fwd:" subject); what it quotes in reply is kept apart.

    >>> x = letter("Ada wrote:\\n> the hall is booked\\n\\nThen we meet there.\\n-- \\nBob")
    >>> x.words
    ('then', 'we', 'meet', 'there')
    >>> len(x.quoted)
    1
    >>> letter("FYI.\\n\\nBegin forwarded message:\\n\\nFrom: Ada\\nSubject: Hall\\n\\n"
    ...        "The hall is booked.").words
    ('fyi', 'the', 'hall', 'is', 'booked')
    """
    own = normalize_words(unquoted_text(body))
    forwarding = bool(_FORWARD_SUBJECT.match(subject))
    quoted: list[str] = []
    passed_on: list[str] = []
    for q in find_quotes(body):
        words = normalize_words(q.text)
        head = q.raw.split("\n", 1)[0]
        if q.kind == "original" and (_FORWARDED.search(head) or forwarding):
            own += words
        else:
            quoted += words
            if q.kind == "marked" and q.depth == 1 and q.attribution is None:
                passed_on += words
    return Letter(tuple(own), frozenset(shingle_hashes(own)), frozenset(shingle_hashes(quoted)),
                  tuple(passed_on))


@dataclass(frozen=True)
class Verdict:
    """Why a later letter is (or is not) a copy of an earlier one."""

    same: bool
    reason: str
    contained: float  # share of the earlier letter's shingles found in the later
    note_words: int  # words the later letter adds in front of the copy
    tail_words: int  # ... and after it


def _span(later: Sequence[str], earlier: frozenset[int], k: int = SHINGLE) -> tuple[int, int]:
    """Where in ``later`` (word positions) the shingles of the earlier letter begin and end."""
    hits = [i for i, h in enumerate(shingle_hashes(later, k)) if h in earlier]
    if not hits:
        return 0, 0
    return hits[0], min(len(later), hits[-1] + k)


_SAYS = frozenset({"wrote", "writes", "write", "said", "says", "schreef", "schrieb", "écrit",
                   "escribió", "scrisse", "napsal", "skrev", "kirjoitti", "napisał"})


def compare(later: Letter, earlier: Letter, *, answers: bool, same_author: bool = False
            ) -> Verdict:
    """Whether ``later`` publishes ``earlier`` again.  ``answers``: the later message is a
    reply in the earlier one's thread (its headers name it), which is how a reprint with an
    "Applied, thanks" note in front looks, and also how an unmarked quote looks.
    ``same_author``: both come from one sender on one list, which is how a follow-up that
    carries the writer's own earlier letter under an update looks.

    >>> a = letter(" ".join(f"w{i}" for i in range(60)))
    >>> compare(a, a, answers=False).same
    True
    >>> noted = letter("Editor's note: this letter came to us in May, we print it whole. "
    ...                + " ".join(f"w{i}" for i in range(60)))
    >>> compare(noted, a, answers=True).reason
    'reprinted after a note'
    >>> compare(noted, a, answers=False, same_author=True).reason
    'a follow-up carrying the earlier letter'
    >>> answered = letter(" ".join(f"w{i}" for i in range(60)) + " and here is my answer to"
    ...                   " that, which goes on for a good while longer than a few words do")
    >>> compare(answered, a, answers=True).reason
    'a reply carrying its parent below the answer'
    >>> cited = letter("Yes, that works for me, thanks. On 3 May, Ada wrote: "
    ...                + " ".join(f"w{i}" for i in range(60)))
    >>> compare(cited, a, answers=True).reason
    'quoted after an attribution'
    """
    if len(earlier.words) < MIN_WORDS:
        return Verdict(False, "too short to tell", 0.0, 0, 0)
    if not answers and len(later.passed_on) >= MIN_WORDS:
        inside = set(shingle_hashes(later.passed_on))
        share = len(earlier.shingles & inside) / len(earlier.shingles)
        if share >= SAME and not (later.quoted - inside):
            return Verdict(True, "passed on in quote marks", round(share, 3),
                           len(later.words), 0)
    if len(later.words) < MIN_WORDS:
        return Verdict(False, "too short to tell", 0.0, 0, 0)
    common = len(earlier.shingles & later.shingles)
    contained = common / len(earlier.shingles)
    start, end = _span(later.words, earlier.shingles)
    note, tail = start, len(later.words) - end
    copy = max(1, end - start)

    def verdict(same: bool, reason: str) -> Verdict:
        return Verdict(same, reason, round(contained, 3), note, tail)

    if contained < WITH_NOTE:
        return verdict(False, "different words")
    if later.quoted and earlier.quoted and len(later.quoted & earlier.quoted) < (
            QUOTED_SAME * min(len(later.quoted), len(earlier.quoted))):
        return verdict(False, "the same words answering different messages")
    if _SAYS & set(later.words[max(0, start - 15):start + 1]):
        return verdict(False, "quoted after an attribution")
    if tail > TAIL * copy and tail > 10:
        return verdict(False, "a reply carrying its parent below the answer" if answers
                       else "the earlier letter inside a longer one")
    if answers:
        if note > 10:
            return verdict(True, "reprinted after a note")
        return verdict(contained >= SAME, "re-sent in its own thread" if contained >= SAME
                       else "different words")
    if contained < SAME:
        return verdict(False, "different words")
    if same_author and max(note, tail) > 10:
        return verdict(False, "a follow-up carrying the earlier letter")
    return verdict(True, "reprinted after a note" if note > 10 else "the same letter again")
