"""The search query language, parsed into a small tree that every search engine translates.

The language (docs/urls.md, and the project contract): words, all of which must match;
``"a phrase"``; ``prefix*``; ``-excluded`` (also ``-"a phrase"`` and ``-from:x``); ``OR`` between
two terms; fields ``from:`` (name or address, partial), ``subject:``, ``list:``; date filters
``after:YYYY-MM-DD`` and ``before:YYYY-MM-DD``.

Why a tree of our own: no engine's query syntax ever sees the user's text, so a query cannot
inject SQL or FTS syntax, and every engine answers the same query the same way.  Words come out
case-folded and without accents, as every engine indexes them.

What it won't do: tokenise CJK text (engines do that), or rank anything.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from moot.core.errors import MootError

TEXT_FIELDS = ("from", "subject")
FILTER_FIELDS = ("list", "after", "before")
FIELDS = TEXT_FIELDS + FILTER_FIELDS
MAX_TERMS = 32


class QueryError(MootError):
    """A query that cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class Term:
    """A word; ``prefix`` for ``word*``; ``field`` None means anywhere (subject, from, body)."""

    text: str
    field: str | None = None
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    field: str | None = None


Node = Term | Phrase


@dataclass(frozen=True)
class Clause:
    """One or more alternatives (joined by OR); ``negated`` for a ``-`` exclusion."""

    alternatives: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True)
class Query:
    """All ``clauses`` must hold; the filters narrow the messages considered."""

    clauses: tuple[Clause, ...] = ()
    lists: tuple[str, ...] = ()
    after: date | None = None
    before: date | None = None
    text: str = field(default="", compare=False)

    @property
    def positive(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if not c.negated)

    @property
    def negative(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.negated)


def fold(text: str) -> str:
    """Case-fold and drop accents, as the index does.

    >>> fold("Café ÉCOLE Straße")
    'cafe ecole strasse'

    Like the index's ASCII folding, only letters that become plain ASCII lose their marks:
    Russian й and ё, Greek ά stay letters of their own (dropping their marks made "драйвер"
    unfindable, as the index keeps it whole).

    >>> fold("Драйвер Ёлка")
    'драйвер ёлка'
    """
    return text.lower() if text.isascii() else text.translate(FOLD_TABLE)


def fold_char(ch: str) -> str:
    """One character, case-folded without its marks when that leaves ASCII (é -> e, ß -> ss),
    else only lower-cased (й, ё, ά and final ς stay as the index keeps them)."""
    folded = "".join(x for x in unicodedata.normalize("NFKD", ch.casefold())
                     if not unicodedata.combining(x)).casefold()  # ℠ -> SM -> sm
    return folded if folded and folded.isascii() else ch.lower()


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table that works out :func:`fold_char` once per character."""

    def __missing__(self, code: int) -> str:
        self[code] = folded = fold_char(chr(code))
        return folded


FOLD_TABLE = _FoldTable()

_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?("([^"]*)("?)|[^\s"]+)?')


def words(text: str) -> list[str]:
    """The searchable words of a piece of text, folded.

    >>> words("Re: [PATCH v2] ASoC: don't crash")
    ['re', 'patch', 'v2', 'asoc', 'don', 't', 'crash']
    """
    return _WORD.findall(fold(text))


def parse_query(text: str) -> Query:
    """Parse a search query.

    >>> q = parse_query('sound "dai link" from:kuninori -alsa* codec OR dai after:2019-05-01')
    >>> [[type(n).__name__ for n in c.alternatives] for c in q.clauses]
    [['Term'], ['Phrase'], ['Term'], ['Term'], ['Term', 'Term']]
    >>> q.clauses[3].negated, q.clauses[3].alternatives[0].prefix, q.after
    (True, True, datetime.date(2019, 5, 1))
    >>> parse_query('"unbalanced')
    Traceback (most recent call last):
    ...
    moot.core.query.QueryError: a quote is not closed: add the closing " or remove the opening one
    """
    if len(text) > 1000:
        raise QueryError("the query is too long: keep it under 1,000 characters")
    clauses: list[Clause] = []
    lists: list[str] = []
    after = before = None
    pending_or = False
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        assert m is not None  # the pattern matches the empty string
        pos = max(m.end(), pos + 1)
        minus, name, body, quoted, closing = m.groups()
        if body is None:
            if minus:
                raise QueryError("a lone '-' excludes nothing: write -word to leave a word out")
            continue
        if body == "OR" and not minus and not name:
            if not clauses or pending_or:
                raise QueryError("OR needs a term on each side, e.g. alsa OR asoc")
            pending_or = True
            continue
        if quoted is not None and not closing:
            raise QueryError("a quote is not closed: add the closing \" or remove the opening one")
        fname = name.lower() if name else None
        if fname is not None and fname not in FIELDS:
            if body.startswith("//"):  # a URL such as https://example.org: just words
                fname, body = None, f"{name}:{body}"
            else:
                raise QueryError(f"unknown field '{name}:'; use one of "
                                 + ", ".join(f + ":" for f in FIELDS))
        if fname in FILTER_FIELDS:
            if minus or pending_or:
                raise QueryError(f"{fname}: is a filter: it cannot be excluded or OR-ed")
            value = (quoted if quoted is not None else body).strip()
            if not value:
                raise QueryError(f"{fname}: needs a value, e.g. {_example(fname)}")
            if fname == "list":
                lists.append(value.lower())
            elif fname == "after":
                after = _date(fname, value)
            else:
                before = _date(fname, value)
            continue
        node = _node(body, quoted, fname)
        if node is None:
            if pending_or:
                raise QueryError("OR needs a term on each side, e.g. alsa OR asoc")
            continue  # punctuation only: nothing to look for
        if pending_or:
            last = clauses.pop()
            if last.negated or minus:
                raise QueryError("an exclusion cannot be part of an OR: write -a -b instead")
            clauses.append(Clause(last.alternatives + (node,)))
            pending_or = False
        else:
            clauses.append(Clause((node,), negated=bool(minus)))
        if len(clauses) > MAX_TERMS:
            raise QueryError(f"too many terms: use at most {MAX_TERMS}")
    if pending_or:
        raise QueryError("OR needs a term on each side, e.g. alsa OR asoc")
    query = Query(tuple(clauses), tuple(lists), after, before, text)
    if not clauses and not (lists or after or before):
        raise QueryError("there is nothing to search for: write a word, a \"phrase\" or a "
                         "field such as from:name")
    if query.negative and not query.positive and not (lists or after or before):
        raise QueryError("a search cannot consist only of exclusions: add a word to look for")
    if after and before and after > before:
        raise QueryError("after: is later than before:, so nothing can match")
    return query


def _node(body: str, quoted: str | None, fname: str | None) -> Node | None:
    if quoted is not None:
        found = words(quoted)
        if not found:
            return None
        return Phrase(tuple(found), fname) if len(found) > 1 else Term(found[0], fname)
    prefix = body.endswith("*")
    found = words(body.rstrip("*"))
    if not found:
        return None
    if len(found) > 1:  # "don't", "v2.1", "a@b.org": the parts in a row
        return Phrase(tuple(found), fname)
    return Term(found[0], fname, prefix)


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}:{value} is not a date: write {_example(name)}") from None


def _example(name: str) -> str:
    return {"list": "list:dev@example.org", "after": "after:2019-05-01",
            "before": "before:2019-12-31"}.get(name, f"{name}:word")
