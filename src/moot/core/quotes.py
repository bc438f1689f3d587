"""Finds the passages a message quotes from earlier mail, and who it says wrote them.

Why: to link each archived post to what it quotes ("quoted by N later messages"), the archive
must first know which lines of a body are quoted, at what depth, and which line names their
author.  Two shapes are read: ``>``-marked passages (``kind="marked"``; ``> > x`` and ``>> x``
are depth 2), and the top-posted copy of an earlier message under "-----Original Message-----",
"Begin forwarded message:", a "Forwarded message" rule or Outlook's bare "From: ... Sent: ..."
header block (``kind="original"``, depth 0; it runs to the end, a ``-- `` signature line or a
list footer).  The line(s) just before a passage that say who wrote it become an
:class:`Attribution`; :func:`unquoted_text` gives the rest, the message's own words, and
:func:`normalize_words` makes re-wrapped or re-quoted text compare equal.

What it won't do: match a quote to its source message (that needs storage); read HTML; see
quotes written without markers (moot.core.unmarked does, from :func:`unquoted_text`); look
for ``>`` passages inside an original-message block in :func:`find_quotes` (they are that
message's own quotes: :func:`all_quotes` returns them too, for linking); guess a
date whose day and month could be swapped (``02/03/2026`` gives None).  ``>`` lines of an R,
Python or shell console are still returned; :func:`is_code_prompt` tells them apart.  No I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Attribution:
    """Who wrote a quoted passage, as the quoting message says."""

    raw: str  # the attribution line(s) as written
    name: str  # "" when none
    address: str  # lower case; "" when none ("x at y" pipermail addresses turned back into x@y)
    date_text: str  # the date as written ("" when none)
    date: datetime | None  # parsed when it can be (naive UTC), None otherwise


@dataclass(frozen=True)
class Quote:
    """One quoted passage of a body, at one depth."""

    text: str  # the passage with quote markers removed, lines joined by "\n"
    start_line: int  # index of its first line in body.splitlines()
    end_line: int  # exclusive
    depth: int  # 1 for "> x", 2 for "> > x" / ">> x"...; 0 for an "Original Message" block
    kind: str  # "marked" | "original"
    attribution: Attribution | None  # the line(s) just before it that say who wrote it
    raw: str = ""  # the lines start_line..end_line exactly as written
    after: str = ""  # the line right after the passage as written ("" at the end)
    attribution_line: int = -1  # index of the attribution's first line; -1 when none
    text_line: int = -1  # an original block's first line after its header; -1 for "marked"


# -- quote markers ---------------------------------------------------------------------------

_MARKERS = re.compile(r"^[ \t]{0,2}((?:>[ \t]*)*>)[ \t]?")
_MBOX_FROM = re.compile(r"^>From ")  # an mbox "From " escape, not a quote


def _depth(line: str) -> tuple[int, str]:
    """How many ``>`` markers open a line (spaces between them don't matter), and the line
    without them (one space after the last marker goes with it).

    >>> _depth("> > two")
    (2, 'two')
    >>> _depth(">      >>  indented")
    (3, ' indented')
    >>> _depth("plain > text")
    (0, 'plain > text')
    """
    if ">" not in line[:3] or _MBOX_FROM.match(line):  # (the first marker is at most third)
        return 0, line
    m = _MARKERS.match(line)
    if not m:
        return 0, line
    return m.group(1).count(">"), line[m.end():]


def _strip_markers(line: str, count: int) -> str:
    """The line with its first ``count`` markers (and the spaces after them) removed; the
    deeper markers stay.

    >>> _strip_markers("> > deep", 1)
    '> deep'
    """
    if count <= 0:
        return line
    m = re.match(r"^[ \t]{0,2}" + r"[ \t]*".join([">"] * count) + r"[ \t]?", line)
    if not m or _MBOX_FROM.match(line):
        return line
    return line[m.end():]


# -- footers and signatures ------------------------------------------------------------------

_UNDERSCORES = re.compile(r"^_{20,}\s*$")
_LIST_INFO = re.compile(r"mailing list|listinfo|mailman|unsubscribe|list info|posting guide",
                        re.I)
_SIGNATURE = re.compile(r"^-- ?$")


def _is_footer_start(lines: list[str], i: int) -> bool:
    """A row of underscores followed within three lines by a mailing-list info line (markers
    removed, so quoted footers count too)."""
    if "____" not in lines[i]:  # (most lines: a quick no)
        return False
    if not _UNDERSCORES.match(_depth(lines[i])[1].strip() or "-"):
        return False
    follow = [_depth(x)[1] for x in lines[i + 1:i + 4]]
    return any(_LIST_INFO.search(x) for x in follow)


# -- attributions ----------------------------------------------------------------------------

_ADDR = r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+"
_PIPER_ADDR = re.compile(r"([\w.+'=-]+) at ([\w-]+(?:\.[\w-]+)+)")
_ANGLE = re.compile(r"<\s*(" + _ADDR + r")\s*>|\[mailto:(" + _ADDR + r")\]|\((" + _ADDR + r")\)")
_BARE = re.compile(r"^\s*\"?(" + _ADDR + r")\"?\s*$")
# "a ?crit": pipermail's text archives write every non-ASCII letter as "?"
_VERB = r"(?:wrote|writes|said|says|a [ée?]crit|escribió|scripsit)"
_TIME = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*[+-]\d{4})?"
    r"(?:\s*\(?(?:[A-Z]{2,5}|UTC|GMT)\)?)?")

_ON = re.compile(r"^\s*(?:On|Le|El|Il|Op|Den|Em)\s+(.+?)\s*,?\s+" + _VERB + r"\s*:?\s*$", re.I)
_GERMAN = re.compile(r"^\s*Am\s+(.+?)\s+schrieb\s+(.+?)\s*:\s*$", re.I)
_WHO_WROTE = re.compile(r"^\s*(.{1,120}?)\s+(?:on\s+(.+?)\s+)?" + _VERB + r"\s*:\s*$", re.I)
_MUTT = re.compile(r"^\s*\*\s+(.+?)\s*\[([^\]]+)\]\s*:\s*$")
_QUOTING = re.compile(r"^\s*Quoting\s+(.+?)\s*:\s*$", re.I)
_ARTICLE = re.compile(r"^\s*In (?:article|message)\s+<[^>]*>\s*,\s*(.+?)\s+(?:says|writes|wrote)"
                      r"\s*(?:\.\.\.|:)\s*$", re.I)
_STARTERS = re.compile(r"^\s*(?:On|Le|Am|El|Il|Op|Den|Em)\s", re.I)


def _who(text: str) -> tuple[str, str]:
    """``(name, address)`` from "Ada Quill <ada@x>", "ada@x", "ada at x" or "Ada Quill".

    >>> _who('"Quill, Ada" <Ada@Example.org>')
    ('Quill, Ada', 'ada@example.org')
    >>> _who("ada at example.org (Ada Quill)")
    ('Ada Quill', 'ada@example.org')
    """
    text = _PIPER_ADDR.sub(r"\1@\2", text.strip())
    m = _ANGLE.search(text)
    if m:
        address = next(g for g in m.groups() if g)
        name = (text[:m.start()] + " " + text[m.end():]).strip()
        return name.strip(" \"'(),").strip(), address.lower()
    m = _BARE.match(text)
    if m:
        return "", m.group(1).lower()
    m = re.match(r"^\s*(" + _ADDR + r")\s*\(([^)]*)\)\s*$", text)
    if m:
        return m.group(2).strip(), m.group(1).lower()
    return text.strip(" \"'"), ""


def _plausible_name(name: str, address: str) -> bool:
    """A name of at most six words with no sentence punctuation: prose that ends in "wrote:"
    ("As the manual wrote:") is not taken for an attribution."""
    if address:
        return True
    words = name.split()
    return 0 < len(words) <= 6 and not re.search(r"[,.!?;:]\s", name + " ")


def _split_date_who(text: str) -> tuple[str, str]:
    """Split "DATE, WHO" or "DATE at TIME WHO" (Gmail) into its two halves."""
    times = list(_TIME.finditer(text))
    if times:
        t = times[-1]
        return text[:t.end()].strip(" ,"), text[t.end():].strip(" ,")
    if "," in text:
        cut = text.rfind(",")
        head, tail = text[:cut], text[cut + 1:]
        if re.search(r"\d", tail) and not re.search(r"[@<]| at ", tail):  # "On Mar 2, 2026 wrote"
            return text.strip(), ""
        return head.strip(), tail.strip()
    return text.strip(), ""


def _attribution_from(raw: str) -> Attribution | None:
    """An Attribution when ``raw`` (one line, or two joined by a space) is one."""
    line = raw.replace("\n", " ")
    date_text, who = "", ""
    if m := _GERMAN.match(line):
        date_text, who = m.group(1), m.group(2)
    elif m := _ON.match(line):
        date_text, who = _split_date_who(m.group(1))
    elif m := _MUTT.match(line):
        who, date_text = m.group(1), m.group(2)
    elif m := _QUOTING.match(line):
        who = m.group(1)
    elif m := _ARTICLE.match(line):
        who = m.group(1)
    elif m := _WHO_WROTE.match(line):
        who, date_text = m.group(1), m.group(2) or ""
        if _STARTERS.match(who) and not date_text:
            return None  # "On ..." without a name: _ON would have caught a real one
    else:
        return None
    name, address = _who(who)
    if not _plausible_name(name, address) and not date_text:
        return None
    if not name and not address and not date_text:
        return None
    return Attribution(raw=raw, name=name, address=address, date_text=date_text.strip(),
                       date=parse_date(date_text))


def _attribution_before(lines: list[str], start: int, depth: int,
                        floor: int) -> tuple[Attribution | None, int]:
    """The attribution written just before line ``start`` at quote depth ``depth - 1`` (one
    blank line may come between), and the index of its first line (``start`` when none).
    Lines before ``floor`` are not looked at."""
    i = start - 1
    if i >= floor and not _strip_markers(lines[i], depth - 1).strip() \
            and _depth(lines[i])[0] == depth - 1:
        i -= 1
    if i < floor or _depth(lines[i])[0] != depth - 1:
        return None, start
    last = _strip_markers(lines[i], depth - 1).rstrip()
    if not last.strip():
        return None, start
    if i - 1 >= floor and _depth(lines[i - 1])[0] == depth - 1:
        prev = _strip_markers(lines[i - 1], depth - 1).rstrip()
        if prev.strip() and not prev.endswith(":") and (
                _STARTERS.match(prev) or re.match(r"^\s*on\s", last, re.I)
                or last.lstrip().startswith("<")):
            found = _attribution_from(prev + "\n" + last)
            if found:
                return found, i - 1
    found = _attribution_from(last)
    return (found, i) if found else (None, start)


# -- dates -----------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "janv": 1, "janvier": 1, "januar": 1, "jän": 1,
    "feb": 2, "february": 2, "févr": 2, "fevr": 2, "février": 2, "februar": 2,
    "mar": 3, "march": 3, "mars": 3, "märz": 3, "mrz": 3,
    "apr": 4, "april": 4, "avr": 4, "avril": 4,
    "may": 5, "mai": 5,
    "jun": 6, "june": 6, "juin": 6, "juni": 6,
    "jul": 7, "july": 7, "juil": 7, "juillet": 7, "juli": 7,
    "aug": 8, "august": 8, "août": 8, "aout": 8,
    "sep": 9, "sept": 9, "september": 9, "septembre": 9,
    "oct": 10, "october": 10, "octobre": 10, "okt": 10, "oktober": 10,
    "nov": 11, "november": 11, "novembre": 11,
    "dec": 12, "december": 12, "déc": 12, "décembre": 12, "dez": 12, "dezember": 12,
}
_CLOCK = re.compile(r"(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*([AaPp])?\.?[Mm]?\.?")


def parse_date(text: str) -> datetime | None:
    """The date an attribution gives, as naive UTC when it names its zone and as written when
    it does not; None when it can't be read or could be read two ways.

    >>> parse_date("Tue, 3 Mar 2026 09:14:00 +0100")
    datetime.datetime(2026, 3, 3, 8, 14)
    >>> parse_date("Mon, Mar 2, 2026 at 9:14 PM")
    datetime.datetime(2026, 3, 2, 21, 14)
    >>> parse_date("31/12/2011 14:49")
    datetime.datetime(2011, 12, 31, 14, 49)
    >>> parse_date("02/03/2026 09:14") is None
    True
    """
    text = text.strip()
    if not text:
        return None
    try:
        found = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        found = None
    if found is not None:
        if found.tzinfo is not None:
            found = found.astimezone(UTC).replace(tzinfo=None)
        return found if 1970 <= found.year <= 2100 else None
    try:
        return _parse_loose(text)
    except (ValueError, OverflowError):
        return None


def _parse_loose(text: str) -> datetime | None:
    lowered = text.lower()
    hour = minute = second = 0
    if clock := _CLOCK.search(lowered):
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if clock[4]:
            if hour > 12:
                return None
            hour = hour % 12 + (12 if clock[4].lower() == "p" else 0)
        lowered = lowered[:clock.start()] + " " + lowered[clock.end():]
    year = month = day = None
    if m := re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lowered):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := re.search(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b", lowered):  # German d.m.y
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := re.search(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", lowered):
        a, b, year = int(m[1]), int(m[2]), int(m[3])
        if a > 12 >= b:
            day, month = a, b
        elif b > 12 >= a:
            month, day = a, b
        elif a == b:
            day = month = a
        else:
            return None  # 02/03: day first in Europe, month first in the US
    else:
        words = re.findall(r"[^\W\d_]+\.?|\d+", lowered)
        for w in words:
            key = w.rstrip(".")
            if month is None and key in _MONTHS:
                month = _MONTHS[key]
            elif w.isdigit() and len(w) == 4:
                year = int(w)
            elif w.isdigit() and len(w) <= 2 and day is None:
                day = int(w)
    if None in (year, month, day):
        return None
    assert year is not None and month is not None and day is not None
    return datetime(year, month, day, hour, minute, second)


# -- original-message blocks -----------------------------------------------------------------

_ORIGINAL = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Forwarded Message|Forwarded message|Message d'origine"
    r"|Ursprüngliche Nachricht|Mensaje original)\s*-{2,}"
    r"|Begin forwarded message:|Start of forwarded message)\s*$", re.I)
_HEADER = re.compile(r"^\s*\*?(From|Sent|Date|To|Cc|Subject|Reply-To|De|Envoyé|À|Objet|Von|"
                     r"Gesendet|An|Betreff|Datum)\s*:\*?\s*(.*)$", re.I)
_HEADER_NAMES = {"de": "from", "von": "from", "envoyé": "sent", "gesendet": "sent",
                 "datum": "date", "objet": "subject", "betreff": "subject", "à": "to",
                 "an": "to"}


def _headers_at(lines: list[str], i: int) -> tuple[dict[str, str], int]:
    """The ``Name: value`` lines from ``i`` (folded continuation lines joined), and the index
    after them.  A mailer that wraps the quoted header block at 80 columns leaves a long line
    and then an unindented remainder: that continues the header too when another header or the
    blank line that ends the block follows within three lines."""
    found: dict[str, str] = {}
    last = ""
    while i < len(lines):
        m = _HEADER.match(lines[i])
        if m:
            key = m.group(1).lower()
            last = _HEADER_NAMES.get(key, key)
            found.setdefault(last, m.group(2).strip())
        elif last and lines[i].strip() and (lines[i][:1] in (" ", "\t") or _wrapped(lines, i)):
            found[last] += " " + lines[i].strip()
        else:
            break
        i += 1
    return found, i


def _wrapped(lines: list[str], i: int) -> bool:
    """Line ``i`` is the rest of a header line wrapped at about 80 columns (or before an
    address: "[mailto:...] On Behalf Of ...")."""
    if i == 0 or (len(lines[i - 1].rstrip()) < 60 and lines[i][:1] not in ("[", "<")):
        return False
    for k in range(i + 1, min(i + 4, len(lines))):
        if not lines[k].strip() or _HEADER.match(lines[k]):
            return True
    return False


def _outlook_block(lines: list[str], i: int) -> bool:
    """A bare Outlook reply header: "From:" then "Sent:" (or "Date:" after a row of
    underscores) and "To:" or "Subject:", at the start of a paragraph.  Git's format-patch
    "From:/Date:/Subject:" lines have neither Sent: nor the underscore rule."""
    if not re.match(r"^\s*\*?(From|De|Von)\s*:", lines[i], re.I) or _depth(lines[i])[0]:
        return False
    prev = lines[i - 1].strip() if i else ""
    ruled = bool(re.fullmatch(r"_{10,}", prev))
    if prev and not ruled:
        return False
    headers, _ = _headers_at(lines, i)
    if "to" not in headers and "subject" not in headers:
        return False
    return "sent" in headers or (ruled and "date" in headers)


def _original_attribution(raw_lines: list[str], headers: dict[str, str]) -> Attribution | None:
    if not headers:
        return None
    name, address = _who(headers.get("from", ""))
    date_text = headers.get("sent") or headers.get("date", "")
    return Attribution(raw="\n".join(raw_lines), name=name, address=address,
                       date_text=date_text, date=parse_date(date_text))


# -- finding the passages --------------------------------------------------------------------


def _ends(lines: list[str]) -> list[bool]:
    """True for each line of a list footer: from an unquoted row of underscores to the end of
    the message, or for a quoted footer, to the end of its paragraph at its quote level."""
    out = [False] * len(lines)
    for i in range(len(lines)):
        if out[i] or not _is_footer_start(lines, i):
            continue
        level = _depth(lines[i])[0]
        j = i
        while j < len(lines) and (not level or (
                _depth(lines[j])[0] == level and _depth(lines[j])[1].strip())):
            out[j] = True
            j += 1
    return out


def _marked(lines: list[str], lo: int, hi: int, footer: list[bool]) -> list[Quote]:
    """The ``>`` passages of ``lines[lo:hi]``."""
    quotes: list[Quote] = []
    i = lo
    while i < hi:
        if not _depth(lines[i])[0] or footer[i]:
            i += 1
            continue
        j = i
        while j < hi and _depth(lines[j])[0] and not footer[j]:
            j += 1
        quotes.extend(_block(lines, i, j, lo))
        i = j
    return quotes


def _block(lines: list[str], start: int, end: int, floor: int) -> list[Quote]:
    """The Quotes of one run of ``>`` lines: one per depth and unbroken stretch."""
    depths = [_depth(x) for x in lines[start:end]]
    marks = [d for d, _ in depths]
    blank = [not rest.strip() for _, rest in depths]
    solid = [k for k in range(len(depths)) if not blank[k]]
    if not solid:
        return []
    eff = list(marks)
    for k in range(len(depths)):  # blank quoted lines join the levels around them
        if blank[k]:
            before = [marks[s] for s in solid if s < k][-1:]
            after = [marks[s] for s in solid if s > k][:1]
            eff[k] = min(before + after) if before and after else 0
    found: list[Quote] = []
    for depth in range(1, max(eff) + 1):
        k = 0
        while k < len(eff):
            if eff[k] < depth:
                k += 1
                continue
            m = k
            while m < len(eff) and eff[m] >= depth:
                m += 1
            text_lines = [_strip_markers(lines[start + x], depth) for x in range(k, m)
                          if eff[x] == depth]
            text = "\n".join(text_lines).strip("\n")
            if text.strip():
                first, last = start + k, start + m
                attribution, at = _attribution_before(lines, first, depth, floor)
                found.append(Quote(
                    text=text, start_line=first, end_line=last, depth=depth, kind="marked",
                    attribution=attribution, raw="\n".join(lines[first:last]),
                    after=lines[last] if last < len(lines) else "",
                    attribution_line=at if attribution else -1))
            k = m
    return found


def _originals(lines: list[str], footer: list[bool], lo: int = 0) -> tuple[Quote | None, int]:
    """The first original-message block from line ``lo`` and the line it starts at
    (``len(lines)`` if none)."""
    for i in range(lo, len(lines)):
        line = lines[i]
        if footer[i] or _depth(line)[0]:
            continue
        if _ORIGINAL.match(line):
            k = i + 1
            while k < len(lines) and not lines[k].strip() and k < i + 3:
                k += 1
            headers, body = _headers_at(lines, k)
            if not headers:
                body = i + 1
            head_raw = lines[i:body]
        elif _outlook_block(lines, i):
            headers, body = _headers_at(lines, i)
            head_raw = lines[i:body]
        else:
            continue
        end = body
        while end < len(lines) and not footer[end] and not _SIGNATURE.match(lines[end]):
            end += 1
        text = "\n".join(lines[body:end]).strip("\n")
        quote = Quote(text=text, start_line=i, end_line=end, depth=0, kind="original",
                      attribution=_original_attribution(head_raw, headers),
                      raw="\n".join(lines[i:end]), after=lines[end] if end < len(lines) else "",
                      attribution_line=i if headers else -1, text_line=body)
        return quote, i
    return None, len(lines)


def find_quotes(body: str) -> list[Quote]:
    """Every quoted passage of ``body`` in document order (by first line, outer before
    inner).  Never raises.

    >>> [(q.depth, q.text) for q in find_quotes("Ada wrote:\\n> hi\\n> > deep\\n\\nyes")]
    [(1, 'hi'), (2, 'deep')]
    """
    return list(_find_quotes(body))


# The linker reads one body several times (its quotes, its own words for references and for
# republications): the passages of the last bodies are kept.  Quotes are frozen, so sharing
# them is safe; each caller gets its own list.
@functools.lru_cache(maxsize=256)
def _find_quotes(body: str) -> tuple[Quote, ...]:
    lines = body.splitlines()
    footer = _ends(lines)
    original, cut = _originals(lines, footer)
    quotes = _marked(lines, 0, cut, footer)
    if original is not None:
        quotes.append(original)
    quotes.sort(key=lambda q: (q.start_line, q.depth if q.depth else 0))
    return tuple(quotes)


def all_quotes(body: str) -> list[Quote]:
    r""":func:`find_quotes`, and also the passages inside each top-posted original: its own
    ``>`` quotes and the older original it carries in turn (Outlook threads stack them),
    and the older mail a ``>`` passage carries under an "Original Message" line of its own.
    Inside the n-th original, a ``>`` passage's depth is its markers plus n; an inner original
    has depth n and a split-off one its passage's depth.

    >>> body = ("Yes.\n\n-----Original Message-----\nFrom: Bo\nSent: Monday\n\n"
    ...         "Agreed.\n\nOn Sunday, Ada wrote:\n> The hall is booked.\n")
    >>> [(q.kind, q.depth, q.text.split("\n")[-1]) for q in all_quotes(body)]
    [('original', 0, '> The hall is booked.'), ('marked', 2, 'The hall is booked.')]
    """
    lines = body.splitlines()
    footer = _ends(lines)
    found: list[Quote] = []
    lo, level = 0, 0
    while True:
        original, cut = _originals(lines, footer, lo)
        for q in _marked(lines, lo, cut, footer):
            if level:
                q = replace(q, depth=q.depth + level)
            found.extend(_split_original(q))
        if original is None or original.text_line <= lo:
            break
        found.append(replace(original, depth=level))
        lo, level = original.text_line, level + 1
    found.sort(key=lambda q: (q.start_line, q.depth))
    return found


def _split_original(quote: Quote) -> list[Quote]:
    """A ``>`` passage as one passage, or two when it carries an "Original Message" block (or
    a bare Outlook header) of older mail: the words before it, and that mail."""
    lines = quote.text.split("\n")
    for i in range(len(lines)):
        if _ORIGINAL.match(lines[i]):
            k = i + 1
            while k < len(lines) and not lines[k].strip() and k < i + 3:
                k += 1
            headers, body = _headers_at(lines, k)
        elif _outlook_block(lines, i):
            headers, body = _headers_at(lines, i)
        else:
            continue
        head, tail = "\n".join(lines[:i]).strip("\n"), "\n".join(lines[body:]).strip("\n")
        at = min(quote.start_line + i, quote.end_line - 1)
        out = [replace(quote, text=head, end_line=at)] if head.strip() else []
        if tail.strip():
            out.append(replace(quote, text=tail, start_line=at, kind="original",
                               attribution=_original_attribution(lines[i:body], headers),
                               attribution_line=at if out else quote.attribution_line,
                               text_line=at))
        return out
    return [quote]


def rejoin_wrapped(text: str, width: int = 76) -> str:
    r"""``text`` with the remainders of long quoted lines that a mailer wrapped after quoting
    them (an unmarked line that starts in lower case or with a space and punctuation, right
    under a ``>`` line of ``width`` characters or more) marked as that line's quote again, so
    that they are not taken for the message's own words.

    >>> rejoin_wrapped("> > we tried the build with the older compiler and it failed in the"
    ...                " same pla\nce\nYes.")
    '> > we tried the build with the older compiler and it failed in the same pla\n> > ce\nYes.'
    """
    lines = text.split("\n")
    out = list(lines)
    for i in range(1, len(lines)):
        line, prev = lines[i], lines[i - 1]
        depth, _ = _depth(out[i - 1])
        if (depth and not _depth(line)[0] and len(prev) >= width
                and re.match(r"^ ?[a-z0-9(),.;:)\]]", line)):
            out[i] = "> " * depth + line.lstrip()
    return "\n".join(out)


def unquoted_text(body: str, quotes: list[Quote] | None = None) -> str:
    """The message's own words: ``body`` without its quoted passages, their attribution lines,
    its signature (``-- `` and after) and any mailing-list footer.  ``quotes``, when given, are
    the passages :func:`find_quotes` or :func:`all_quotes` found in ``body`` already.

    >>> unquoted_text("Ada wrote:\\n> hi\\n\\nHello.\\n-- \\nBob")
    'Hello.'
    """
    if quotes is None:
        return _own_words(body)
    return _unquoted(body, quotes)


@functools.lru_cache(maxsize=256)
def _own_words(body: str) -> str:
    return _unquoted(body, _find_quotes(body))


def _unquoted(body: str, quotes: Sequence[Quote]) -> str:
    lines = body.splitlines()
    footer = _ends(lines)
    drop = [footer[i] for i in range(len(lines))]
    for q in quotes:
        for k in range(q.start_line, q.end_line):
            drop[k] = True
        if q.depth == 1 and q.attribution_line >= 0:
            for k in range(q.attribution_line, q.start_line):
                drop[k] = True
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and not drop[i]:
            break
        if not drop[i]:
            kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_LINE_MARKS = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")


def normalize_words(text: str) -> list[str]:
    """Lower-case words with quote markers, punctuation and spacing gone, so a passage
    compares equal however it was re-wrapped or re-quoted.

    >>> normalize_words("> Don't panic,\\n>   it's  ONLY mail!")
    ['dont', 'panic', 'its', 'only', 'mail']
    """
    text = _LINE_MARKS.sub(" ", text)
    return [w.replace("'", "").replace("’", "") for w in _WORD.findall(text.lower())]


# -- console transcripts ---------------------------------------------------------------------

_R_ASSIGN = re.compile(r"^[\w.$@]+(?:\[[^\]]*\]|\([^)]*\))*(?:\$[\w.]+)*\s*<<?-\s*\S")
_R_KNOWN = re.compile(
    r"^(?:library|require|requireNamespace|source|install\.packages|options|setwd|sessionInfo|"
    r"traceback|debug|debugonce|print|cat|str|summary|plot|example|data|set\.seed|system\.time|"
    r"invisible|suppressWarnings|tryCatch|rm|ls|head|tail|class|typeof|identical|all\.equal|"
    r"stopifnot|Sys\.\w+|\.Call|\.C|\.External|getOption|environment|attributes|dput|"
    r"unlist|lapply|sapply|vapply|seq_len|length|names|is\.\w+|as\.\w+|methods|getMethod|"
    r"showMethods|R\.version\.string|version)\s*\(", re.I)
_CALL_LINE = re.compile(r"^[\w.]+(?:::[\w.]+)?(?:\$[\w.]+)*\(.*\)\s*;?\s*(?:#.*)?$")
_HELP = re.compile(r"^\?\??[\w.]+\s*$")
_PY = re.compile(r"^(?:import \w|from [\w.]+ import |def \w+\(|class \w+[:(]|print\(|"
                 r"for \w+ in .+:$|if .+:$|\w+ = \S)")
_SHELL = re.compile(r"^(?:\$ \S|R CMD \w|Rscript\b|sudo \S|\./configure\b|make\b|gcc\b|git \w|"
                    r"cd \S|ls\b)")
_OUTPUT = re.compile(r"^(?:\s*\[\d+\](?:\s|$)|(?:NULL|TRUE|FALSE|NA|numeric\(0\)|"
                     r"character\(0\)|logical\(0\)|integer\(0\))\s*$|Error(?: in|:)|"
                     r"Warning messages?:?|In addition:|\s*(?:int|num|chr|logi|Factor) \[|"
                     r"Traceback \(most recent|\s*\d+: )")
_CONTINUATION = re.compile(r"^\+(?:\s|$)|^\.\.\.(?:\s|$)")


def _line_kind(line: str) -> str:
    """``strong`` (unmistakably a console command or its output), ``code`` (could be),
    ``neutral`` (a lone word) or ``prose``."""
    s = line.strip()
    if (_R_ASSIGN.match(s) or _R_KNOWN.match(s) or _OUTPUT.match(line) or _HELP.match(s)
            or re.match(r"^(?:R CMD \w|Rscript |\$ \S)", s)):
        return "strong"
    if _CALL_LINE.match(s) or _PY.match(s) or _SHELL.match(s):
        return "code"
    if re.fullmatch(r"[\w.$]{1,20}", s):
        return "neutral"
    return "prose"


def is_code_prompt(quote: Quote) -> bool:
    """True when a ``>`` passage is a console transcript (R's ``> x <- 1``, ``> [1] 2``,
    Python's ``>>> print(1)``, a shell prompt) rather than quoted mail.

    It looks at each line: mostly commands or output, with at least one that could not be
    prose, or output or a ``+`` continuation line right after the passage.  A passage that an
    attribution line introduces is mail.

    >>> q = find_quotes("Try this:\\n\\n> x <- c(1, 2)\\n> sum(x)\\n[1] 3\\n")[0]
    >>> is_code_prompt(q)
    True
    >>> is_code_prompt(find_quotes("Ada wrote:\\n> I think x <- 1 is fine.\\n")[0])
    False
    """
    if quote.kind != "marked" or quote.attribution is not None:
        return False
    kinds = [_line_kind(x) for x in quote.text.splitlines() if x.strip()]
    counted = [k for k in kinds if k != "neutral"]
    after = _depth(quote.after)[1] if _depth(quote.after)[0] < quote.depth else ""
    after_says = bool(after.strip()) and bool(_OUTPUT.match(after) or _CONTINUATION.match(after))
    python = quote.depth == 3 and quote.raw.lstrip().startswith(">>>") and any(
        k != "prose" for k in kinds)
    if _CONTINUATION.match(after) and quote.depth == 1:
        return True  # R's "+ " or Python's "... " continues a command typed at the prompt
    if not counted:
        return after_says and bool(kinds)
    share = sum(k != "prose" for k in counted) / len(counted)
    strong = "strong" in counted or after_says or python
    return share >= 0.6 and strong
