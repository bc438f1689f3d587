"""Snippets: the part of a message around the words a search matched, with those words marked.

Matching is done on folded text (case and accents ignored, as the index does) but the snippet
is cut from the original text, so a reader sees the letter as written.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from moot.core.query import fold, fold_char


def fold_with_map(text: str) -> tuple[str, list[int] | None]:
    """The folded text, and for each of its characters the index of the original one (None
    when they correspond one for one, as they nearly always do).

    >>> fold_with_map("Ça")
    ('ca', None)
    >>> fold_with_map("ßa")
    ('ssa', [0, 0, 1])
    """
    folded = fold(text)
    if len(folded) == len(text):
        return folded, None
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for f in fold_char(ch):  # as the query's words are folded
            out.append(f)
            where.append(i)
    return "".join(out), where


SCAN = 100_000  # characters of a message searched for the snippet: enough for a letter


def make_snippet(text: str, words: Sequence[str],
                 width: int = 200) -> tuple[str, list[tuple[int, int]]]:
    """A window of about ``width`` characters around the first matched word, and the spans of
    the matched words inside it.  Only the first ``SCAN`` characters are looked at (a 1 MB
    pull request must not cost a page its speed).

    >>> make_snippet("Hello there. The Café is open on Sundays.", ["cafe"], width=20)
    ('…The Café is open on…', [(5, 9)])
    """
    text = " ".join(text[:SCAN].split())
    if not text:
        return "", []
    folded, where = fold_with_map(text)

    def orig(i: int) -> int:
        return where[i] if where is not None else i

    def back(i: int) -> int:  # first folded index at or after original index i
        return bisect_left(where, i) if where is not None else i

    wanted = {w for w in words if w}
    firsts = [p for w in wanted if (p := folded.find(w)) >= 0]
    first = orig(min(firsts)) if firsts else 0
    start = max(0, first - width // 3)
    if start:  # begin at a word
        space = text.find(" ", start, first)
        if space >= 0:
            start = space + 1
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > first else end
    hits: list[tuple[int, int]] = []
    lo, hi = back(start), back(end)
    for w in wanted:
        pos = folded.find(w, lo, hi)
        while pos >= 0:
            hits.append((orig(pos), orig(pos + len(w) - 1) + 1))
            pos = folded.find(w, pos + len(w), hi)
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    spans = [(a - start + len(prefix), b - start + len(prefix)) for a, b in hits
             if a >= start and b <= end]
    return prefix + text[start:end] + suffix, _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
