"""Quotes without markers: the runs of words a message repeats from a message it answers.

Why: some writers copy the sentence they answer into their own text without ``>`` markers
(pasted back, or under a "you wrote" of their own making), and the archive should link that
passage to where it was written just as it links a marked quote.  A run of words shared with an
ancestor counts when it is long enough not to happen by chance (:data:`MIN_RUN` words: a
stock phrase of six or eight words is common, twelve in a row are not).

What it won't do: look outside the thread (only the ancestors a caller passes in are
compared); call a whole-message copy a quote (a message whose own words are almost all an
ancestor's is the same letter again, a republication: :func:`mostly_copied`); read word order
beyond shingles of :data:`SHINGLE` words.  No I/O: texts come in as word lists and shingle
sets (see :func:`moot.core.quotes.normalize_words`).
"""

from __future__ import annotations

from collections.abc import Container, Sequence

SHINGLE = 4  # words in a shingle, as the linker's
MIN_RUN = 12  # words in a row two texts must share to count as a quote
COPIED = 0.8  # the share of a message's shingles an ancestor holding as many is a copy of it


def shared_runs(words: Sequence[str], held: Container[tuple[str, ...]], *,
                k: int = SHINGLE, min_words: int = MIN_RUN) -> list[tuple[int, int]]:
    """The spans ``(start, end)`` of ``words`` (end exclusive) at least ``min_words`` long
    whose every ``k``-word shingle is in ``held`` (the shingles of the other text), in order.

    >>> theirs = "we could meet in the large hall on friday if the projector works".split()
    >>> held = {tuple(theirs[i:i + 4]) for i in range(len(theirs) - 3)}
    >>> mine = "agreed so we could meet in the large hall on friday if the projector works".split()
    >>> shared_runs(mine, held)
    [(2, 15)]
    >>> shared_runs(mine, held, min_words=14)
    []
    """
    runs: list[tuple[int, int]] = []
    start = -1
    for i in range(len(words) - k + 1):
        if tuple(words[i:i + k]) in held:
            if start < 0:
                start = i
            continue
        if start >= 0 and (i - 1 + k) - start >= min_words:
            runs.append((start, i - 1 + k))
        start = -1
    end = len(words) - k + 1
    if start >= 0 and (end - 1 + k) - start >= min_words:
        runs.append((start, end - 1 + k))
    return runs


def mostly_copied(mine: set[tuple[str, ...]], theirs: Container[tuple[str, ...]],
                  share: float = COPIED) -> bool:
    """True when at least ``share`` of ``mine`` (a message's own shingles) is in ``theirs``:
    the message is that one again, not a reply quoting part of it.

    >>> mostly_copied({("a",), ("b",), ("c",), ("d",), ("e",)}, {("a",), ("b",), ("c",), ("d",)})
    True
    >>> mostly_copied({("a",), ("b",)}, {("a",)})
    False
    """
    return bool(mine) and sum(1 for s in mine if s in theirs) >= share * len(mine)
