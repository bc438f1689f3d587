"""Which archived message a pipermail article number names, judged from the archive's own
evidence.

Why: a pipermail URL (``.../pipermail/LIST/2007-March/044978.html``) names a message by an
article number, not a Message-ID.  Mailman numbers a list's articles from 0 over its whole
history in the order of its mbox, and its monthly text files list them in the same order; so
counting the pieces of the month files in calendar order gives a *position* that differs from
the article number by a *shift*.  The shift is unknown (the public text files start later or
lose messages) and changes wherever a file lost or gained a message.  No constant will do.

How: each citation of a pipermail URL in the archive is *evidence*: the shifts under which its
number lands on a message the citing text fits (a message of its own thread, or one whose
subject words stand next to the URL).  One citation usually fits several messages (a thread
has many), but the true shift is shared by the citations around it while the wrong ones
scatter.  A number is resolved with shift ``d`` only when ``d`` wins the vote among the
nearest citations on both sides of it (so no change of shift can lie between them), or,
lacking one side, among at least two citations of its own month.  The caller then checks that
the message landed on lies in the URL's month and that the citation's own evidence does not
point elsewhere.

What it won't do: guess.  A number with no evidence around it, or conflicting evidence, gets
no shift; the caller reports it as ambiguous or unresolved.  No I/O.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NEAREST = 12  # citations looked at on each side of a number
REACH = 3000  # article numbers beyond which a citation says nothing about another
MIN_VOTES = 3  # independent citations a shift needs (two if all are of the number's month)


@dataclass(frozen=True)
class Evidence:
    """One citation of an article number, with the shifts (position - number) under which it
    lands on a message the citing text fits; empty when it fits none."""

    number: int
    period: str
    shifts: frozenset[int]
    source: int = 0  # the citing message: one message's links share their words, one vote


def starts(sizes: Mapping[str, int]) -> dict[str, int]:
    """The position of each month's first piece, months in calendar order (``YYYY-MM``).

    >>> starts({"2007-02": 5, "2007-01": 3})
    {'2007-01': 0, '2007-02': 3}
    """
    out: dict[str, int] = {}
    total = 0
    for period in sorted(sizes):
        out[period] = total
        total += sizes[period]
    return out


class Calibration:
    """The shifts the evidence supports, asked for one article number at a time.

    >>> ev = [Evidence(100, "2007-01", frozenset({5, 9}), 1), Evidence(120, "2007-01",
    ...       frozenset({5}), 2), Evidence(140, "2007-02", frozenset({5}), 3)]
    >>> Calibration(ev).shift(130, "2007-02")
    5
    >>> tied = Evidence(140, "2007-02", frozenset({5, 2}), 3)  # a tie above: no objection
    >>> Calibration(ev[:2] + [tied]).shift(130, "2007-02")
    5
    >>> other = Evidence(140, "2007-02", frozenset({2}), 3)  # the side above disagrees
    >>> Calibration(ev[:2] + [other]).shift(130, "2007-02") is None
    True
    >>> Calibration(ev[:1]).shift(130, "2007-02") is None
    True
    """

    def __init__(self, evidence: Iterable[Evidence]) -> None:
        self._evidence = sorted((e for e in evidence if e.shifts), key=lambda e: e.number)
        self._numbers = [e.number for e in self._evidence]

    def __len__(self) -> int:
        return len(self._evidence)

    def shift(self, number: int, period: str) -> int | None:
        """The shift that holds at ``number``, or None when the evidence does not settle it."""
        below, above = self._around(number)
        if below and above:
            # The shift both sides together fit best, provided neither side alone prefers
            # another (a tie on one side does not count against it).
            best = _winner(below + above)
            if best is None or _votes(below + above)[best] < MIN_VOTES:
                return None
            for side in (below, above):
                votes = _votes(side)
                if best is None or votes[best] == 0 or max(votes.values()) > votes[best]:
                    return None
            return best
        same = [e for e in below + above if e.period == period]
        if len(same) < 2:
            return None
        best = _winner(same)
        votes = min(len({e.number for e in same if best in e.shifts}),
                    len({e.source for e in same if best in e.shifts}))
        return best if votes >= 2 else None


    def bracketed(self, number: int) -> bool:
        """Whether citations on both sides of ``number`` settle its shift (rather than those
        of its month alone): then a change of shift cannot hide between them.

        >>> ev = [Evidence(100, "2007-01", frozenset({5})), Evidence(140, "2007-01",
        ...       frozenset({5}))]
        >>> Calibration(ev).bracketed(120), Calibration(ev).bracketed(150)
        (True, False)
        """
        below, above = self._around(number)
        return bool(below and above)

    def _around(self, number: int) -> tuple[list[Evidence], list[Evidence]]:
        at = bisect.bisect_left(self._numbers, number)
        below = [e for e in self._evidence[max(0, at - NEAREST):at]
                 if number - e.number <= REACH]
        above = [e for e in self._evidence[at:at + NEAREST] if e.number - number <= REACH]
        return below, above


def _votes(evidence: list[Evidence]) -> Counter[int]:
    numbers = Counter(d for (d, _) in {(d, e.number) for e in evidence for d in e.shifts})
    sources = Counter(d for (d, _) in {(d, e.source) for e in evidence for d in e.shifts})
    return Counter({d: min(n, sources[d]) for d, n in numbers.items()})


def _winner(evidence: list[Evidence]) -> int | None:
    """The shift most of these citations fit, when one clearly leads.  A shift counts the
    numbers and the citing messages that fit it, the fewer of the two: a number cited many
    times, or one message citing many numbers with the same words around them, is one piece
    of evidence.

    >>> _winner([Evidence(1, "p", frozenset({3, 4}), 1), Evidence(2, "p", frozenset({4}), 2)])
    4
    >>> same_message = Evidence(2, "p", frozenset({4}), 1)
    >>> _winner([Evidence(1, "p", frozenset({3, 4}), 1), same_message]) is None
    True
    >>> _winner([Evidence(1, "p", frozenset({3, 4}))]) is None
    True
    """
    votes = _votes(evidence)
    if not votes:
        return None
    (best, n), *rest = votes.most_common(2) + [(None, 0)]
    if rest[0][1] == n:
        return None  # a tie: nothing settled
    return best
