"""Finds where a message's own words point at other messages: Message-IDs, archive URLs, and
references in prose ("in my post of Jan. 5", "his message of 22 Dec 1996 ("Re: Lima")").

Why: to follow an argument across a list, each archived post links to what it refers to, and
the post referred to shows "referred to by".  This module only finds and reads the references;
resolving them against the archive (by Message-ID, by HyperKitty hash, by author, date and
subject) belongs to the caller, which has the store.

How: three scans over the text, each a regular expression plus small checks.  Message-IDs are
taken in angle brackets only where the words before them say so ("In <...>", "Message-ID:",
"In article <...>"), because a bare ``<x@y>`` is almost always an address; ``mid:`` and
``news:`` URLs name one directly.  A URL counts when its shape names one message in an archive
this module knows: public-inbox (lore.kernel.org and any host whose path holds a Message-ID),
moot's own ``/l/LIST/m/ID/`` and ``/l/LIST/t/ID/``, pipermail ``YYYY-Month/NNNNNN.html``,
HyperKitty ``list/LIST/message/HASH/``, MARC ``?l=LIST&m=N``, Gmane ``GROUP/N``, mail-archive.com
``LIST/msgN.html`` and its ``search?l=mid&q=ID``, and patchwork pages named by Message-ID.
Everything else (list footers, ``listinfo`` pages, archive roots, month indexes, attachments)
is not a reference.  Prose references hang on a noun (post, posting, message, mail, e-mail,
letter, article, note, thread) or on a verb of writing followed by a date ("as Jane Doe wrote
on 3 March"); around it sit an owner ("my", "his", "Smith's", "by Jane Doe", "he made"), a date
("of 22 Dec 1996", "on December 22", "(12/22/96)") or a relative one ("yesterday", "from last
week", "just some minutes ago", "my previous/last/earlier post"), a subject in quotes (or "of
this subject"), a topic ("on S3 method despatch", "concerning the bug in simulate.lm()") and a
time ("stamped 4:43 PM", "@ 14.28").  A prose reference is reported only with a date, a subject
or a named author, or with "my"/"your"/... and a relative date, a time, "this subject" or a
topic with "previous": "my message" alone is not one, nor "my previous message" (most likely
the one answered), nor a date or a quoted phrase without such a noun.

What it won't do: decide which lines are the author's own (the caller strips quoted lines and
signatures first); follow URLs split across lines or written without a scheme; read numeric
dates other than month/day/year (day/month when the first number is over 12), ISO,
year/month/day and day.month.year; turn relative dates into days (that needs the citing
message's date and zone: the caller's work); take "we"/"our" as an author.  No I/O.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

KINDS = ("message-id", "url", "prose")


@dataclass(frozen=True)
class Reference:
    """One place in a body that points at another message.  ``text`` is ``body[start:end]``."""

    kind: str  # "message-id" | "url" | "prose"
    text: str  # as written in the body
    start: int
    end: int
    message_id: str | None = None  # named directly, without angle brackets
    list_hint: str | None = None  # the list the URL or the words name ("alsa-devel")
    archive: str | None = None  # "moot" | "pipermail" | "hyperkitty" | "public-inbox" | ...
    pipermail: tuple[int, int, int] | None = None  # (year, month, number)
    hyperkitty_id: str | None = None  # HyperKitty's hash of the Message-ID
    date: tuple[int | None, int, int] | None = None  # prose: (year or None, month, day)
    subject: str | None = None  # prose: the subject quoted
    author: str | None = None  # prose: a name
    pronoun: str | None = None  # prose: "he" | "she" | "they" | "I" | "you"
    archive_id: str | None = None  # the archive's own number where it has no Message-ID:
    #                                MARC's m=, Gmane's article number, mail-archive's "msgN"
    relative: tuple[str, int] | None = None  # prose: ("days", 1) for "yesterday", ("weeks", 1)
    #     for "last week", ("minutes", 0) for "some minutes ago", ("weekday", 0..6) for "last
    #     Monday", ("previous", 0) for "my previous/last/earlier post": the latest before
    topic: str | None = None  # prose: what it was about ("my post on S3 method despatch")
    time: tuple[int, int] | None = None  # prose: (hour, minute) as written ("stamped 4:43 PM")
    same_subject: bool = False  # prose: "my email of this subject"


def hyperkitty_id(message_id: str) -> str:
    """The id HyperKitty gives a message in its URLs: the SHA-1 of the Message-ID (without
    angle brackets, UTF-8), in RFC 4648 base32, upper case; 20 bytes need no padding.

    >>> hyperkitty_id("20190501.abc@example.org")
    '3P565KTC4BPUHR36MSJZD6NCOFLMC7KA'
    >>> hyperkitty_id("<20190501.abc@example.org>") == hyperkitty_id("20190501.abc@example.org")
    True
    """
    bare = message_id.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    digest = hashlib.sha1(bare.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest).decode("ascii")


def find_references(body: str, *, own_hosts: Collection[str] | None = None) -> list[Reference]:
    """Every reference in ``body``, in document order, at most one per start offset.
    ``own_hosts`` names the hosts serving moot's archive; when None, any host whose path has
    moot's shape counts.  Never raises.

    >>> [(r.kind, r.message_id) for r in find_references("In <abc@example.org>, you wrote:")]
    [('message-id', 'abc@example.org')]
    >>> r, = find_references("see my post of Jan. 5 on this")
    >>> r.kind, r.text, r.date, r.pronoun
    ('prose', 'my post of Jan. 5', (None, 1, 5), 'I')
    >>> find_references("the meeting on December 22, the 'foo' function; I said 'no'")
    []
    """
    own = None if own_hosts is None else {h.lower().rstrip(".") for h in own_hosts}
    found = _message_ids(body) + _urls(body, own) + _prose(body)
    found.sort(key=lambda r: (r.start, -(r.end - r.start)))
    kept: list[Reference] = []
    for ref in found:
        # A URL or Message-ID inside a prose reference stays; two prose references (or two
        # of anything at one offset) do not overlap: the earlier and longer one wins.
        if kept and any(ref.start < k.end and (ref.start == k.start or ref.kind == k.kind)
                        for k in kept[-3:]):
            continue
        kept.append(ref)
    return kept


def find_message_ids(body: str) -> list[Reference]:
    """Only the Message-IDs of :func:`find_references` (no URLs, no prose): cheap enough to run
    over a whole body, quotes and attribution lines included.

    >>> [r.message_id for r in find_message_ids("you wrote in message\\n<a.1@example.org>:")]
    ['a.1@example.org']
    """
    return sorted(_message_ids(body), key=lambda r: r.start)


# -- Message-IDs written in the text ----------------------------------------------------------

_ID = r"[^\s<>\"()\[\],;@]+@[^\s<>\"()\[\],;@]+"
_BRACKETED = re.compile(r"<(" + _ID + r")>")
# Words that, just before "<id>", say it is a Message-ID and not an address.
_ID_CONTEXT = re.compile(
    r"(?:\bin(?:\s+article)?|\bmessage-?id\s*:?|\bmsg-?id\s*:?|\breferences\s*:|"
    r"\bin-reply-to\s*:|\bmid\s*:|\bmessage|\bpost(?:ing)?|\barticle|\bsee(?:\s+also)?|"
    r"\bthread)\s*$", re.IGNORECASE)
_LABELLED = re.compile(r"\b(?:message-?id|msg-?id)\s*[:=]?[ \t]*(" + _ID + r")", re.IGNORECASE)
_MID_URL = re.compile(r"\b(mid|news):(?://)?<?([^\s<>\"]+@[^\s<>\"]+?)>?(?=[\s<>\"]|[.,;:!?)]"
                      r"*(?:\s|$))", re.IGNORECASE)
_TRAILING = ".,;:!?'"


def _clean_id(value: str) -> str | None:
    value = value.strip().strip("<>").rstrip(_TRAILING)
    local, at, domain = value.partition("@")
    if (not (local and at and domain) or "@" in domain or "://" in value
            or any(c.isspace() for c in value)):
        return None
    return value


def _message_ids(body: str) -> list[Reference]:
    found: list[Reference] = []
    last_end = -10
    for m in _BRACKETED.finditer(body):
        line_start = body.rfind("\n", 0, m.start()) + 1
        before = body[max(line_start, m.start() - 60):m.start()]
        if not before.strip(" \t#>|") and line_start > 0:
            # "you wrote in message\n<id>:": the words before are at the end of the line above.
            above = body.rfind("\n", 0, line_start - 1) + 1
            before = body[max(above, line_start - 61):line_start - 1].lstrip(" \t#>|")
        chained = last_end >= 0 and not body[last_end:m.start()].strip(" \t,")
        if not (_ID_CONTEXT.search(before) or chained):
            continue
        mid = _clean_id(m.group(1))
        if mid:
            found.append(Reference("message-id", m.group(), m.start(), m.end(), message_id=mid))
            last_end = m.end()
    taken = {r.start for r in found}
    for m in _LABELLED.finditer(body):
        mid = _clean_id(m.group(1))
        end = m.start(1) + len(m.group(1).rstrip(_TRAILING))
        if mid and m.start(1) - 1 not in taken and end > m.start(1):
            found.append(Reference("message-id", body[m.start(1):end], m.start(1), end,
                                   message_id=mid))
    for m in _MID_URL.finditer(body):
        raw = unquote(m.group(2))
        local, _, domain = raw.partition("@")
        if m.group(1).lower() == "mid":  # RFC 2392: mid:message-id/content-id
            domain = domain.split("/", 1)[0]
        mid = _clean_id(f"{local}@{domain}")
        if mid:
            found.append(Reference("message-id", m.group(), m.start(), m.end(), message_id=mid))
    return found


# -- URLs --------------------------------------------------------------------------------------

_URL = re.compile(r"\bhttps?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)
_INNER = re.compile(r"(?<![A-Za-z0-9])https?://", re.IGNORECASE)
_MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_PIPERMAIL_MONTH = re.compile(r"(\d{4})-([A-Za-z]+)")
_PIPERMAIL_WEEK = re.compile(r"Week-of-Mon-(\d{4})(\d\d)\d\d")
_PIPERMAIL_NUMBER = re.compile(r"(\d+)\.html?")
_HYPERKITTY_HASH = re.compile(r"[A-Z2-7]{32}")
_PUBLIC_INBOX_NOT_LIST = {"r", "all", "", "lore"}


def _trim_url(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it; a closing bracket stays
    when the URL opened one."""
    while url:
        last = url[-1]
        if last in ".,;:!?'*":
            url = url[:-1]
        elif last in ")]" and url.count("(" if last == ")" else "[") < url.count(last):
            url = url[:-1]
        elif last == ">":
            url = url[:-1]
        else:
            break
    return url


def _urls(body: str, own: set[str] | None) -> list[Reference]:
    found: list[Reference] = []
    for m in _URL.finditer(body):
        # A link wrapped by a mail filter ("https://urldefense.com/v3/__https://...__;!!x")
        # holds the real one: the first URL that reads as a reference wins.
        inner = [m.start()] + [m.start() + i.start() for i in _INNER.finditer(m.group(), 1)]
        for start in inner:
            url = _trim_url(body[start:m.end()].split("__", 1)[0] if start > m.start()
                            else m.group())
            try:
                fields = _read_url(url, own)
            except ValueError:  # a malformed host or port
                fields = None
            if fields is not None:
                found.append(Reference("url", url, start, start + len(url), **fields))
                break
    return found


def _read_url(url: str, own: set[str] | None) -> dict[str, object] | None:
    """What a URL says about the message it names, or None when it names no message of an
    archive known here."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    segments = [s for s in parts.path.split("/")]
    segs = [s for s in segments if s]
    query = parse_qs(parts.query)
    if not host:
        return None
    # moot: /l/LIST/m/ID/ or /l/LIST/t/ID/ (and /raw, /mbox below them), or /t/ID/
    if own is None or host in own:
        if len(segs) >= 4 and segs[0] == "l" and segs[2] in ("m", "t"):
            mid = _clean_id(unquote(segs[3]))
            if mid:
                return {"archive": "moot", "message_id": mid, "list_hint": unquote(segs[1])}
        if len(segs) >= 2 and segs[0] == "t":
            mid = _clean_id(unquote(segs[1]))
            if mid:
                return {"archive": "moot", "message_id": mid}
    if host.endswith("mail-archive.com"):
        if segs[-1:] == ["search"] and query.get("l") == ["mid"] and query.get("q"):
            mid = _clean_id(query["q"][0])
            return {"archive": "mail-archive", "message_id": mid} if mid else None
        if len(segs) >= 2 and re.fullmatch(r"msg\d+\.html?", segs[-1]):
            return {"archive": "mail-archive", "list_hint": unquote(segs[-2]),
                    "archive_id": segs[-1].split(".")[0]}
        return None
    if host.startswith("marc.") or host == "marc.info":
        if query.get("m") and query["m"][0].isdigit():
            return {"archive": "marc", "list_hint": query.get("l", [None])[0],
                    "archive_id": query["m"][0]}
        return None
    if host == "gmane.org" or host.endswith((".gmane.org", ".gmane.io")) or host == "gmane.io":
        groups = [i for i, s in enumerate(segs) if s.startswith("gmane.")]
        if groups and groups[0] + 1 < len(segs) and segs[groups[0] + 1].isdigit():
            i = groups[0]
            number = segs[i + 1]  # thread.gmane.org/GROUP/N/focus=M shows message M
            for seg in segs[i + 2:]:
                if seg.startswith("focus=") and seg[6:].isdigit():
                    number = seg[6:]
            return {"archive": "gmane", "list_hint": segs[i], "archive_id": number}
        return None
    if "pipermail" in segs:
        i = segs.index("pipermail")
        if len(segs) == i + 4 and (n := _PIPERMAIL_NUMBER.fullmatch(segs[i + 3])):
            period = segs[i + 2]
            numbers: tuple[int, int, int] | None = None
            if (p := _PIPERMAIL_MONTH.fullmatch(period)) and p.group(2).lower() in _MONTH_NAMES:
                numbers = (int(p.group(1)), _MONTH_NAMES[p.group(2).lower()], int(n.group(1)))
            elif (w := _PIPERMAIL_WEEK.fullmatch(period)) and 1 <= int(w.group(2)) <= 12:
                numbers = (int(w.group(1)), int(w.group(2)), int(n.group(1)))
            elif not re.fullmatch(r"\d{4}(?:q\d|-q\d)?|\d{6}|\d{8}", period, re.IGNORECASE):
                return None
            return {"archive": "pipermail", "list_hint": segs[i + 1], "pipermail": numbers}
        return None
    for i in range(len(segs) - 3):
        if segs[i] == "list" and segs[i + 2] in ("message", "thread"):
            if _HYPERKITTY_HASH.fullmatch(segs[i + 3]):
                return {"archive": "hyperkitty", "list_hint": unquote(segs[i + 1]),
                        "hyperkitty_id": segs[i + 3]}
    if {"hyperkitty", "mailman", "mailman3", "archives", "list", "lists"} & set(segs[:2]):
        return None
    for i, seg in enumerate(segs):
        mid = _clean_id(unquote(seg))
        if mid is None or mid.startswith(("@", "~")):
            continue
        # On a host not named as an inbox, only public-inbox's own permalink shapes count:
        # "ID/" and what follows it ("ID/T/#u", "ID/raw"); "dir/list@example.org" is a file.
        inbox_host = "lore." in host or "inbox" in host
        if not inbox_host and i == len(segs) - 1 and not parts.path.endswith("/"):
            continue
        hint = segs[i - 1] if i else None
        if host.startswith("patchwork."):
            project = segs[1] if len(segs) > 1 and segs[0] == "project" else None
            return {"message_id": mid, "list_hint": project}
        if hint in _PUBLIC_INBOX_NOT_LIST:
            hint = None
        return {"archive": "public-inbox", "message_id": mid, "list_hint": hint}
    return None


# -- prose -------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_MON = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
        r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_WEEKDAY = (r"(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Tues|Wed|"
            r"Thu|Thur|Thurs|Fri|Sat|Sun)\.?,?\s+)")
_ORD = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    _WEEKDAY + r"?(?:"
    r"(?P<mon1>" + _MON + r")\s+(?P<day1>\d{1,2})" + _ORD + r"(?!\d)(?:,?\s+(?P<year1>\d{4}))?"
    r"|(?P<day2>\d{1,2})" + _ORD + r"(?:\s+of)?\s+(?P<mon2>" + _MON + r")"
    r"(?:,?\s+(?P<year2>\d{4}|'?\d\d(?![\d:])))?"
    r"|(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y3>\d{4}|\d\d)"
    r"|(?P<y4>\d{4})-(?P<m4>\d\d)-(?P<d4>\d\d)"
    r"|(?P<y6>\d{4})/(?P<m6>\d\d?)/(?P<d6>\d\d?)"
    r"|(?P<d5>\d{1,2})\.(?P<m5>\d{1,2})\.(?P<y5>\d{4})"
    r")(?![\w/-])")
_RELATIVE = re.compile(
    r"(?:yesterday|the\s+day\s+before\s+yesterday|earlier\s+today|this\s+morning|today|"
    r"(?:last|this\s+past|earlier\s+this)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|week|month|weekend|year|night)|"
    r"(?:just\s+)?(?:(?:some|a\s+few|few|several|\d+|two|three|ten)\s+)?minutes\s+ago|"
    r"(?:an|one|\d+|two|three|a\s+few|a\s+couple\s+of|several)\s+hours?\s+ago|"
    r"(?:a|one|\d+|two|three|four|a\s+(?:few|couple\s+of)|several)\s+"
    r"(?:days?|weeks?|months?)\s+ago)\b",
    re.IGNORECASE)
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "ten": 10}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _read_relative(text: str) -> tuple[str, int]:
    """What a :data:`_RELATIVE` phrase means, as (unit, how many back); a vague count ("a
    few days ago") is 0 in the next larger unit, read by the caller as "within one".

    >>> [_read_relative(t) for t in ("yesterday", "last week", "just some minutes ago",
    ...                              "3 days ago", "a few days ago", "last Tuesday")]
    [('days', 1), ('weeks', 1), ('minutes', 0), ('days', 3), ('weeks', 0), ('weekday', 1)]
    """
    words = text.lower().split()
    last = words[-1]
    if "yesterday" in words:
        return ("days", 2 if words[0] == "the" else 1)
    if last in ("today", "morning"):
        return ("days", 0)
    if words[0] in ("last", "this", "earlier"):
        if last in _WEEKDAYS:
            return ("weekday", _WEEKDAYS.index(last))
        return {"week": ("weeks", 1), "weekend": ("weeks", 0), "month": ("months", 1),
                "year": ("months", 12), "night": ("days", 1)}.get(last, ("days", 0))
    if "minutes" in words:
        return ("minutes", 0)
    unit = words[-2].rstrip("s") + "s"
    count = words[-3] if len(words) >= 3 else "a"
    n = int(count) if count.isdigit() else _COUNTS.get(count)
    if n is None:  # a few, several, a couple of
        return {"hours": ("days", 0), "days": ("weeks", 0), "weeks": ("months", 1)}.get(
            unit, ("months", 6))
    return (unit, n)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text.lstrip("'"))
    if len(text.lstrip("'")) == 2:
        value += 2000 if value < 70 else 1900
    return value


def _valid(year: int | None, month: int, day: int) -> tuple[int | None, int, int] | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if day > calendar.monthrange(year if year and 1 <= year <= 9999 else 2000, month)[1]:
        return None
    return (year, month, day)


def _read_date(m: re.Match[str]) -> tuple[int | None, int, int] | None:
    """The (year, month, day) of a :data:`_DATE` match, or None when it is no real day.

    >>> _read_date(_DATE.match("12/22/96")), _read_date(_DATE.match("22 Dec 1996"))
    ((1996, 12, 22), (1996, 12, 22))
    """
    g = m.groupdict()
    if g["mon1"]:
        return _valid(_year(g["year1"]), _MONTHS[g["mon1"].rstrip(".").lower()], int(g["day1"]))
    if g["mon2"]:
        return _valid(_year(g["year2"]), _MONTHS[g["mon2"].rstrip(".").lower()], int(g["day2"]))
    if g["a"]:
        a, b = int(g["a"]), int(g["b"])
        month, day = (b, a) if a > 12 else (a, b)
        return _valid(_year(g["y3"]), month, day)
    if g["y4"]:
        return _valid(int(g["y4"]), int(g["m4"]), int(g["d4"]))
    if g["y6"]:
        return _valid(int(g["y6"]), int(g["m6"]), int(g["d6"]))
    return _valid(int(g["y5"]), int(g["m5"]), int(g["d5"]))


_NOUN = re.compile(r"\b(posting|post|message|e-?mail|mail|letter|article|note|thread|msg)\b",
                   re.IGNORECASE)
_VERB = re.compile(r"\b(wrote|posted|said|mentioned|noted|pointed\s+out|suggested|reported|"
                   r"announced|explained|asked|argued|claimed)\b")
_UP = "A-ZÀ-ÖØ-Þ"
_NAME = (r"(?:[" + _UP + r"][^\W\d_]*(?:[-'’][" + _UP + r"][^\W\d_]*)?\.?"
         r"(?:[ \t]+(?:(?:van|von|de|der|den|da|di|du|le|la|del)[ \t]+)?"
         r"[" + _UP + r"][^\W\d_]*(?:-[" + _UP + r"][^\W\d_]*)?\.?){0,3})")
_NOT_NAMES = {
    "a", "an", "and", "as", "also", "but", "see", "so", "then", "the", "this", "that", "these",
    "in", "on", "my", "his", "her", "their", "your", "our", "its", "i", "he", "she", "they",
    "you", "we", "it", "yes", "no", "well", "indeed", "actually", "since", "because", "when",
    "while", "note", "like", "just", "today", "yesterday", "tomorrow", "last", "r", "re", "cran",
    "linux", "windows", "email", "mail", "message", "post", "thread", "list", "if", "what",
    "where", "which", "who", "after", "before", "earlier", "later", "here", "there", "please",
    "following", "thanks", "hi", "hello", "dear", "p.s", "ps", "btw", "fyi", "oh", "ok", "now",
    "again",
    "from", "to", "by", "for", "with", "about", "per", "via", "cc", "mon", "tue", "tues", "wed",
    "thu", "thur", "thurs", "fri", "sat", "sun", *_MONTHS,
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}
_PRONOUNS = {"my": "I", "his": "he", "her": "she", "their": "they", "your": "you",
             "i": "I", "he": "he", "she": "she", "they": "they", "you": "you"}
_OWNER = re.compile(
    r"(?:(?P<pos>\b(?i:my|his|her|their|your|the|a|an|this|that|an?other)\b)|"
    r"(?<![\w.])(?P<name>" + _NAME + r")['’]s?)"
    r"(?P<adj>(?:\s+(?!(?:my|his|her|their|your|the|an?|in|of|on|to|from|at|for|by|with)\b)"
    r"[a-z][a-z-]*){0,3}?)\s+$")
_STOP_ADJ = {"error", "warning", "errors", "warnings", "commit", "log", "status", "diagnostic",
             "exception", "debug", "info", "help", "usage", "following", "above", "below",
             "same", "check", "compiler", "build", "test", "r", "system"}
_QUOTED = (r"(?:\"(?P<q1>[^\"\n]{1,200}(?:\n[^\"\n]{1,200})?)\"|"
           r"“(?P<q2>[^”\n]{1,200}(?:\n[^”\n]{1,200})?)”|"
           r"‘(?P<q3>[^’\n]{1,200})’|"
           r"`(?P<q4>[^'`\n]{1,200})'|"
           r"''(?P<q6>[^\"'\n]{1,200}(?:\n[^\"'\n]{1,200})?)(?:''|\")|"
           r"'(?P<q5>[^'\n]{1,200})'(?!\w))")
_T_QUOTE = re.compile(r"\s*,?\s*(?:(?:entitled|titled|called|named|with\s+(?:the\s+)?subject"
                      r"(?:\s+line)?|subject|re)\s*:?\s*)?" + _QUOTED, re.IGNORECASE)
_T_PAREN_QUOTE = re.compile(r"\s*\(\s*" + _QUOTED + r"\s*\)")
_T_PRONOUN = re.compile(r"\s*,?\s+(?:which\s+|that\s+)?(?P<p>he|she|they|I|you)\s+"
                        r"(?:made|sent|wrote|posted|mailed)(?:\s+to\s+(?:the\s+)?list)?")
_T_DATE_WORD = re.compile(r"\s*,?\s+(?:(?:that|which)\s+(?:was\s+|I\s+|you\s+|he\s+|she\s+)?)?"
                          r"(?:(?:sent|posted|written|dated|made)\s+)?"
                          r"(?:of|on|from|dated|in|at)\s+")
_T_RELATIVE_BARE = re.compile(r"\s*,?\s+(?=\w)")
# "(R-devel thread 'Subject', 2014-04-30)": a subject, perhaps with a day, in brackets.
_T_PAREN_THREAD = re.compile(r"\s*\(\s*(?:[\w-]+\s+)?(?:thread|subject|message|post)\s*:?\s*"
                             + _QUOTED + r"\s*,?\s*")
_T_TIME = re.compile(r"\s*,?\s*(?:@|at|stamped|time-?stamped|timed)\s*(?P<h>\d{1,2})[:.]"
                     r"(?P<m>\d\d)(?!\d)(?:\s*(?P<ampm>[AaPp])\.?[Mm]\b\.?)?")
_T_SAME_SUBJECT = re.compile(r"\s+(?:of|on|with|under|in)\s+(?:this|the\s+same|the\s+above)"
                             r"\s+(?:subject|topic|thread)(?:\s+line)?\b", re.IGNORECASE)
_T_TOPIC = re.compile(r"\s+(?:on|about|concerning|regarding)\s+(?P<t>[^\n,;!?\"()]{1,80}?"
                      r"(?:\(\))?(?:\n[^\n,;!?\"()]{1,60}?(?:\(\))?)?)"
                      r"(?=[,;!?\"()]|\.(?:\s|$)|\n\s*\n|\s*$)")
_PREVIOUS_ADJ = {"previous", "last", "earlier", "prior", "recent", "former"}
_TOPIC_STOP = {"a", "an", "the", "this", "that", "these", "those", "it", "my", "your", "his",
               "her", "their", "our", "of", "to", "in", "on", "for", "and", "or", "with", "i",
               "we", "you", "he", "she", "they", "list", "same", "subject", "thread", "issue",
               "topic", "question", "matter", "problem", "up"}
_T_DATE_BARE = re.compile(r"\s*,?\s+(?:sent|posted|written|dated)\s+")
_T_AUTHOR = re.compile(r"\s+(?:by|from)\s+(?P<n>" + _NAME + r")")
_T_LIST = re.compile(r"\s+(?:on|to)\s+(?:the\s+)?(?P<l>[\w.+-]+@[\w.-]+\w|[\w.+-]+(?=\s+"
                     r"(?:mailing\s+)?list\b)|[A-Za-z]+-(?:devel|help|dev|users|announce)\b)"
                     r"(?:\s+(?:mailing\s+)?list\b)?")


def _subject(m: re.Match[str]) -> str:
    text = next(v for k, v in m.groupdict().items() if k.startswith("q") and v is not None)
    return " ".join(text.split())


def _name(text: str, possessive: bool = False) -> str | None:
    """A person's name from capitalised words, without the sentence's first word when that is
    no name ("As Jane Doe" gives "Jane Doe"); None when nothing is left.  Before "'s" a month's
    short name is a first name ("Jan's message"): months own no messages."""
    words = text.split()
    while words and words[0].lower().rstrip(".,") in _NOT_NAMES and not (
            possessive and len(words) == 1 and words[0].lower() in _MONTHS
            and len(words[0]) > 2 and not words[0].endswith(".")):
        words = words[1:]
    if not words or len(words[0].rstrip(".")) < 2 or any(w.isupper() for w in words):
        return None  # "DSP", "NSW": an acronym is no person
    return " ".join(words)


def topic_words(topic: str) -> list[str]:
    """The words of a topic that say something: without articles, pronouns, prepositions and
    single letters (the "C" of "C++").

    >>> topic_words("interfacing a C++ class"), topic_words("the same issue")
    (['interfacing', 'class'], [])
    """
    words = re.findall(r"[^\W_]+", topic.lower())
    return [w for w in words if len(w) > 1 and w not in _TOPIC_STOP]


@dataclass
class _Found:
    start: int
    end: int
    date: tuple[int | None, int, int] | None = None
    relative: tuple[str, int] | None = None
    subject: str | None = None
    author: str | None = None
    pronoun: str | None = None
    list_hint: str | None = None
    topic: str | None = None
    time: tuple[int, int] | None = None
    same_subject: bool = False


def _tails(body: str, pos: int, found: _Found, bare_quote: bool) -> None:
    """Reads what follows an anchor (owner, date, subject, list), each at most once, and moves
    ``found.end`` past what it read."""
    limit = min(len(body), pos + 400)
    for _ in range(6):
        moved = False
        if found.date is None and found.relative in (None, ("previous", 0)):
            for intro in (_T_DATE_WORD, _T_DATE_BARE, _T_RELATIVE_BARE):
                w = intro.match(body, pos, limit)
                if not w:
                    continue
                if (intro is not _T_RELATIVE_BARE and (d := _DATE.match(body, w.end(), limit))
                        and (day := _read_date(d))):
                    found.date, pos, moved = day, d.end(), True
                    break
                if r := _RELATIVE.match(body, w.end(), limit):
                    found.relative, pos, moved = _read_relative(r.group()), r.end(), True
                    break
            if not moved and (p := re.compile(r"\s*\(").match(body, pos, limit)):
                d = _DATE.match(body, p.end(), limit)
                if d and (day := _read_date(d)) and body.startswith(")", d.end()):
                    found.date, pos, moved = day, d.end() + 1, True
        if not moved and found.subject is None and (t := _T_PAREN_THREAD.match(body, pos, limit)):
            d = _DATE.match(body, t.end(), limit)
            day = _read_date(d) if d else None
            close = re.compile(r"\s*\)").match(body, d.end() if d and day else t.end(), limit)
            if close:
                found.subject, pos, moved = _subject(t), close.end(), True
                found.date = found.date or day
                bare_quote = False
        if not moved and found.time is None and (t := _T_TIME.match(body, pos, limit)):
            hour, minute = int(t.group("h")), int(t.group("m"))
            ampm = (t.group("ampm") or "").lower()
            hour = hour % 12 + 12 if ampm == "p" else hour % 12 if ampm == "a" else hour
            if hour < 24 and minute < 60:
                found.time, pos, moved = (hour, minute), t.end(), True
        if not moved and not found.same_subject and found.subject is None and (
                t := _T_SAME_SUBJECT.match(body, pos, limit)):
            found.same_subject, pos, moved = True, t.end(), True
        if not moved and found.subject is None:
            q = None
            if found.date is not None or found.relative or found.pronoun or found.author:
                q = _T_PAREN_QUOTE.match(body, pos, limit)
            if q is None and bare_quote:
                q = _T_QUOTE.match(body, pos, limit)
            if q:
                found.subject, pos, moved = _subject(q), q.end(), True
                bare_quote = False
        if not moved and found.pronoun is None and found.author is None:
            if p := _T_PRONOUN.match(body, pos, limit):
                found.pronoun, pos, moved = _PRONOUNS[p.group("p").lower()], p.end(), True
            elif (a := _T_AUTHOR.match(body, pos, limit)) and (name := _name(a.group("n"))):
                found.author, pos, moved = name, a.end(), True
        if not moved and found.list_hint is None and (li := _T_LIST.match(body, pos, limit)):
            found.list_hint, pos, moved = li.group("l"), li.end(), True
        if not moved and found.topic is None and (t := _T_TOPIC.match(body, pos, limit)):
            topic = " ".join(t.group("t").split())
            if topic_words(topic) and not _DATE.match(topic) and not _RELATIVE.match(topic):
                found.topic, pos, moved = topic, t.end(), True
        if not moved:
            break
        found.end = pos


def _owner(body: str, at: int, found: _Found) -> bool:
    """Reads the owner before a noun at ``at``; False when the words before it say the noun is
    not a message (an error message, a commit message)."""
    line_start = body.rfind("\n", 0, at) + 1
    window_start = max(line_start, at - 80)
    m = _OWNER.search(body, window_start, at)
    if not m or m.end() != at:
        return True
    adjectives = m.group("adj").lower().split()
    if set(adjectives) & _STOP_ADJ:
        return False
    if set(adjectives) & _PREVIOUS_ADJ:
        found.relative = ("previous", 0)
    if m.group("pos"):
        word = m.group("pos").lower()
        if word in _PRONOUNS:
            found.pronoun = _PRONOUNS[word]
        found.start = m.start("pos")
        return True
    name = _name(m.group("name"), possessive=True)
    if name:
        found.author = name
        found.start = m.end("name") - len(name)
    return True


def _prose(body: str) -> list[Reference]:
    refs: list[Reference] = []
    for m in _NOUN.finditer(body):
        found = _Found(m.start(), m.end())
        if body.startswith("(", m.end()) or not _owner(body, m.start(), found):
            continue  # message("text") is R code, not a message
        owned = found.author is not None or found.pronoun is not None
        before = body[max(0, found.start - 12):found.start].lower()
        thread = m.group(1).lower() == "thread"
        has_article = body[found.start:m.start()].lower().startswith(("the", "a", "an", "this"))
        _tails(body, m.end(), found, bare_quote=owned or thread or has_article and bool(
            re.search(r"\b(?:in|see|from|to|continues|continuing)\s*$", before)))
        dated = found.relative not in (None, ("previous", 0)) or found.time is not None
        if found.date is None and found.subject is None and found.author is None and not (
                found.pronoun and (dated or found.same_subject or found.topic and found.relative)):
            continue  # "my message" alone, "my previous message" alone: the one answered
        refs.append(_reference(body, found))
    for m in _VERB.finditer(body):
        line_start = body.rfind("\n", 0, m.start()) + 1
        window = body[max(line_start, m.start() - 60):m.start()]
        found = _Found(m.start(), m.end())
        who = (re.search(r"(?<![\w.])(?P<p>I|he|she|they|you)\s+$", window)
               or re.search(r"(?<![\w.])(?P<p>)(?P<n>" + _NAME + r")\s+$", window))
        if not who:
            continue
        if who.group("p"):
            found.pronoun = _PRONOUNS[who.group("p").lower()]
            found.start = m.start() - len(window) + who.start()
        else:
            name = _name(who.group("n"))
            if name is None:
                continue
            found.author = name
            found.start = m.start() - len(window) + who.end("n") - len(name)
        pos = m.end()
        noun = re.compile(r"\s+(?:in|on)\s+(?:(?:my|his|her|their|your|the|a)\s+)?"
                          r"(?:[a-z-]+\s+){0,2}?(?:posting|post|message|e-?mail|mail|letter|"
                          r"article|note)\b", re.IGNORECASE).match(body, pos)
        if noun and found.pronoun and re.search(r"\b(?:my|his|her|their|your)\s", noun.group(),
                                                re.IGNORECASE):
            continue  # "I explained in my post of Jan. 5": the noun's own reading has it
        if noun:
            pos = found.end = noun.end()
        _tails(body, pos, found, bare_quote=bool(noun))
        if found.date is None and (found.relative is None or found.relative[0] == "previous"):
            continue  # "I said 'no'": a verb of writing needs a day to be a reference
        refs.append(_reference(body, found))
    return refs


def _reference(body: str, found: _Found) -> Reference:
    return Reference("prose", body[found.start:found.end], found.start, found.end,
                     list_hint=found.list_hint, date=found.date, subject=found.subject,
                     author=found.author, pronoun=found.pronoun, relative=found.relative,
                     topic=found.topic, time=found.time, same_subject=found.same_subject)
