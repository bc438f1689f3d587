"""Whether a post comes from the person its From field names, in words a reader can follow.

Why: anyone can write any address into From.  What proves it is a DKIM signature (RFC 6376)
by the From address's own domain, or the receiving mail server's word that SPF (RFC 7208) or
DMARC (RFC 7489) passed for it.  "Its own domain" is DMARC's alignment (RFC 7489 section
3.1): the same organizational domain (relaxed) or the very same name (strict).  Three kinds
of evidence come in: our own check of every DKIM signature (:class:`DkimResult`, from
:mod:`moot.inbound.authentication`); the ``Authentication-Results`` fields (RFC 8601) the
receiving MTA added, counted only when they bear its authserv-id, because anyone can write
such a field into a message; and the status of the ARC chain (RFC 8617).  :func:`assess`
weighs them into an :class:`Identity` shown under each archived post.  :func:`lookalike`
catches a different problem: a name or address made to look like a member's.

What it won't do: no PGP or S/MIME; no SPF check of its own (it has no connecting address,
so SPF comes only from the trusted MTA's results); no DMARC policy (``p=`` is for receivers
deciding on delivery).  ARC never makes a post verified, because no sealer is trusted; an
intact chain only softens "failed" to "unverified", since a forwarder that changed the post
vouches for it (a forger can't gain from that: an unsigned post is "unverified" anyway).  The
look-alike table is a small part of Unicode's confusables (UTS #39): the Cyrillic and Greek
letters that pass for Latin ones, dotless i, and 0 and 1 for o and l.  No I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from moot.core.dmarc import lookup_names

VERDICTS = ("verified", "unverified", "failed")
_KEYWORD = re.compile(r"[a-z0-9][a-z0-9_-]*")
_WORD = re.compile(r'[^\s;()"]+')


# -- Authentication-Results (RFC 8601) ---------------------------------------------------------


@dataclass(frozen=True)
class AuthResult:
    """One ``method=result`` of an Authentication-Results field, with its properties
    (``smtp.mailfrom``, ``header.d``, ``header.from``...; names in lower case)."""

    authserv_id: str
    method: str
    result: str
    reason: str = ""
    properties: dict[str, str] = field(default_factory=dict, hash=False)


def _tokens(value: str) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs: ``word`` and ``quoted``, ``;`` and ``=``.  Comments are
    dropped (nested, with quoted pairs); an unclosed comment or quote runs to the end.

    >>> _tokens('a.example (x (y) ;) 1;spf = pass smtp.mailfrom="a b"')
    [('word', 'a.example'), ('word', '1'), (';', ';'), ('word', 'spf'), ('=', '='), \
('word', 'pass'), ('word', 'smtp.mailfrom'), ('=', '='), ('quoted', 'a b')]
    """
    found: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == "(":
            depth, i = 1, i + 1
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                i += 2 if value[i] == "\\" else 1
        elif c == '"':
            text, i = [], i + 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                text.append(value[i])
                i += 1
            found.append(("quoted", "".join(text)))
            i += 1
        elif c in ";=":
            found.append((c, c))
            i += 1
        elif c.isspace() or c == ")":
            i += 1
        else:
            m = _WORD.match(value, i)
            word = m.group() if m else c
            key, equals, rest = word.partition("=")
            # A word holds "key=value" when written without spaces; the value keeps any
            # further "=" (base64 padding in header.b).
            found.extend([("word", key)] if key else [])
            found.extend([("=", "=")] + ([("word", rest)] if rest else []) if equals else [])
            i += len(word)
    return found


def _results(authserv_id: str, tokens: list[tuple[str, str]]) -> list[AuthResult]:
    """The results after the authserv-id.  A ``method=result`` starts a new one even without
    the ``;`` before it; anything that is not ``key=value`` is skipped."""
    results: list[AuthResult] = []
    current: AuthResult | None = None
    i = 0
    while i < len(tokens):
        kind, key = tokens[i]
        if kind not in ("word", "quoted") or i + 1 >= len(tokens) or tokens[i + 1][0] != "=":
            i += 1
            continue
        value = ""
        if i + 2 < len(tokens) and tokens[i + 2][0] in ("word", "quoted"):
            value = tokens[i + 2][1]
            i += 1
        i += 2
        key = key.lower()
        if "." in key:
            if current is not None:
                current.properties.setdefault(key, value)
        elif key == "reason":
            if current is not None and not current.reason:
                current = AuthResult(authserv_id, current.method, current.result, value,
                                     current.properties)
                results[-1] = current
        else:
            method, result = key.partition("/")[0].strip(), value.lower()
            current = None
            if _KEYWORD.fullmatch(method) and _KEYWORD.fullmatch(result):
                current = AuthResult(authserv_id, method, result)
                results.append(current)
    return results


def parse_authentication_results(values: list[str],
                                 trusted: Collection[str]) -> list[AuthResult]:
    """The results in these Authentication-Results values whose authserv-id is ``trusted``
    (compared without case); every other field is ignored, as RFC 8601 section 7.1 says.
    Never raises: what can't be read is skipped.

    >>> [(r.method, r.result, r.properties) for r in parse_authentication_results(
    ...     ["mx.example.net; spf=pass smtp.mailfrom=example.org (ok) dkim=fail",
    ...      "evil.example; dmarc=pass"], ["MX.example.net"])]
    [('spf', 'pass', {'smtp.mailfrom': 'example.org'}), ('dkim', 'fail', {})]
    """
    names = {name.strip().rstrip(".").lower() for name in trusted}
    found: list[AuthResult] = []
    for value in values:
        tokens = _tokens(value)
        if not tokens or tokens[0][0] not in ("word", "quoted"):
            continue
        authserv_id = tokens[0][1].rstrip(".").lower()
        if not authserv_id or authserv_id not in names:
            continue
        rest = tokens[1:]
        if rest and rest[0][0] == "word" and rest[0][1].isdigit():  # the version
            rest = rest[1:]
        found.extend(_results(authserv_id, rest))
    return found


# -- alignment (RFC 7489 section 3.1) ----------------------------------------------------------


def _domain(text: str) -> str:
    """The domain of an address, ``@domain`` or domain: lower case, A-labels; '' if none."""
    names = lookup_names(text.strip().strip("<>").rpartition("@")[2])
    return names[0].removeprefix("_dmarc.") if names else ""


def org_domain(domain: str) -> str:
    """The organizational domain, by the rule of :func:`moot.core.dmarc.lookup_names` (no
    Public Suffix List); '' for something that is not a domain name.

    >>> org_domain("Mail.Example.CO.UK."), org_domain("example.org"), org_domain("a b")
    ('example.co.uk', 'example.org', '')
    """
    names = lookup_names(domain)
    return names[-1].removeprefix("_dmarc.") if names else ""


def aligned(from_domain: str, other_domain: str, strict: bool = False) -> bool:
    """Whether ``other_domain`` (a DKIM ``d=``, an SPF MAIL FROM domain) speaks for the From
    address's domain: the same name (strict) or the same organizational domain (relaxed).

    >>> aligned("example.org", "mail.EXAMPLE.org"), aligned("example.org", "mail.example.org", True)
    (True, False)
    >>> aligned("example.org", "example.net"), aligned("", "")
    (False, False)
    """
    mine, theirs = _domain(from_domain), _domain(other_domain)
    if not mine or not theirs:
        return False
    return mine == theirs if strict else org_domain(mine) == org_domain(theirs)


# -- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DkimResult:
    """Our check of one DKIM-Signature.  ``temporary``: the key could not be fetched just now
    (a DNS failure), which proves nothing either way."""

    domain: str
    selector: str
    ok: bool
    reason: str = ""
    temporary: bool = False


@dataclass(frozen=True)
class Identity:
    """The verdict on a post's From: ``verified``, ``unverified`` or ``failed``; ``how``
    says why in a sentence; ``dkim_domains`` are the domains whose signatures verified."""

    verdict: str
    how: str
    dkim_domains: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "how": self.how, "dkim_domains": list(self.dkim_domains)}

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> Identity:
        """Back from :meth:`as_json`; an unknown verdict reads as ``unverified``.

        >>> Identity.from_json(Identity("verified", "x", ("a.example",)).as_json())
        Identity(verdict='verified', how='x', dkim_domains=('a.example',))
        """
        verdict = str(doc.get("verdict", ""))
        domains = doc.get("dkim_domains")
        return cls(verdict if verdict in VERDICTS else "unverified", str(doc.get("how", "")),
                   tuple(str(d) for d in domains) if isinstance(domains, list) else ())


def _shown(text: str) -> str:
    """A domain, server name or reason from the message as readers may see it: no control
    characters, not too long."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return text if len(text) <= 80 else text[:79] + "…"


def _about(result: AuthResult, name: str, author: str) -> str | None:
    """The domain in property ``name`` when it aligns with the author's ('' when the
    property is missing), None when it names another domain."""
    value = result.properties.get(name)
    if value is None:
        return ""
    return _domain(value) if aligned(author, value) else None


def _verified(author: str, passed: tuple[str, ...], signed: bool,
              auth_results: Sequence[AuthResult]) -> str | None:
    """Why the post is verified, if it is: our own aligned DKIM pass first, then the
    trusted server's aligned DMARC, DKIM or SPF pass."""
    for domain in passed:
        if aligned(author, domain):
            return f"DKIM signature by {domain}, matching the From address"
    for r in auth_results:
        by = f"(checked by {_shown(r.authserv_id)})"
        if r.result != "pass":
            continue
        if r.method == "dmarc" and _about(r, "header.from", author) is not None:
            return f"DMARC passed for {author} {by}"
        if r.method == "dkim" and (domain := _about(r, "header.d", author)
                                   or _about(r, "header.i", author)):
            return f"DKIM signature by {domain}, matching the From address {by}"
        if r.method == "spf" and (domain := _about(r, "smtp.mailfrom", author)):
            return ("" if signed else "no signature; ") + f"SPF passed for {domain} {by}"
    return None


def _failure(author: str, dkim: Sequence[DkimResult],
             auth_results: Sequence[AuthResult]) -> str | None:
    """Why the post fails, if it does: a signature by the author's domain that does not
    verify (not for want of DNS), or the trusted server's DMARC fail."""
    for d in dkim:
        if not d.ok and not d.temporary and aligned(author, d.domain):
            return (f"the DKIM signature by {_domain(d.domain)} does not verify: "
                    f"{_shown(d.reason) or 'it does not match the message'}")
    for r in auth_results:
        if r.method == "dmarc" and r.result == "fail" \
                and _about(r, "header.from", author) is not None:
            return f"DMARC failed for {author} (checked by {_shown(r.authserv_id)})"
    return None


def _unverified(author: str, passed: tuple[str, ...], dkim: Sequence[DkimResult],
                auth_results: Sequence[AuthResult], arc: str) -> str:
    """What there is short of proof, most telling first."""
    for d in dkim:
        if d.temporary and aligned(author, d.domain):
            return (f"the DKIM signature by {_domain(d.domain)} could not be checked: "
                    f"{_shown(d.reason) or 'no answer from DNS'}")
    if passed:
        return f"signed by {', '.join(passed)}, not by the From address's domain"
    for r in auth_results:
        domain = _domain(r.properties.get("smtp.mailfrom", ""))
        if r.method == "spf" and r.result == "pass" and domain:
            return f"SPF passed for {domain}, not for the From address's domain"
    if dkim:
        return (f"signed by {_shown(dkim[0].domain) or 'an unnamed domain'}, not by the From "
                "address's domain, and the signature does not verify: "
                f"{_shown(dkim[0].reason) or 'it does not match the message'}")
    if arc == "pass":
        return "no signature by the From address's domain; forwarded with an intact ARC chain"
    return "no DKIM signature, and no other proof of the sender"


def assess(from_addr: str, dkim: Sequence[DkimResult], auth_results: Sequence[AuthResult],
           arc: str) -> Identity:
    """The verdict on ``from_addr`` (an address) from our DKIM checks, the trusted server's
    results (already filtered by :func:`parse_authentication_results`) and the ARC status
    (``pass``, ``fail`` or ``none``).  Verified beats failed: one good aligned signature is
    enough, as in DMARC, whatever else broke on the way.

    >>> assess("ada@example.org", [DkimResult("example.org", "s1", True)], [], "none").how
    'DKIM signature by example.org, matching the From address'
    >>> assess("ada@example.org", [DkimResult("lists.example.net", "s1", True)], [], "none")
    Identity(verdict='unverified', how="signed by lists.example.net, not by the From \
address's domain", dkim_domains=('lists.example.net',))
    """
    passed = tuple(dict.fromkeys(d for d in (_domain(r.domain) for r in dkim if r.ok) if d))
    author = _domain(from_addr) if "@" in from_addr else ""
    if not author:
        return Identity("unverified", "the From field has no address that could be checked",
                        passed)
    how = _verified(author, passed, bool(dkim), auth_results)
    if how is not None:
        return Identity("verified", how, passed)
    how = _failure(author, dkim, auth_results)
    if how is not None and arc == "pass":
        return Identity("unverified", how + "; but it was forwarded with an intact ARC chain, "
                        "so a forwarder may have changed it", passed)
    if how is not None:
        return Identity("failed", how, passed)
    return Identity("unverified", _unverified(author, passed, dkim, auth_results, arc), passed)


# -- look-alikes -------------------------------------------------------------------------------

# Letters that pass for Latin ones, in both cases (mapped before and after casefolding).
_CONFUSABLES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "ү": "y", "х": "x", "ѕ": "s",
    "і": "i", "ј": "j", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "к": "k", "Ӏ": "l", "ӏ": "l",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "α": "a", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    # Latin letters without a decomposition, digits and signs; capital I passes for l, so
    # i and l are one letter here, in either case
    "ı": "l", "ȷ": "j", "ł": "l", "đ": "d", "ø": "o", "I": "l", "i": "l", "0": "o", "1": "l",
    "|": "l",
})


def _skeleton(text: str) -> str:
    """What a text looks like: NFKC, confusables, casefolded, accents and invisible
    characters gone, ``rn`` read as ``m`` and ``vv`` as ``w``.  The table is applied before
    casefolding (capital Cyrillic and Greek letters) and after (letters that lose an accent).

    >>> _skeleton("Jоsé") == _skeleton("JOSE") == _skeleton("j0se\\u200b")
    True
    """
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    return text.translate(_CONFUSABLES).replace("rn", "m").replace("vv", "w")


def _name_key(name: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", _skeleton(name)).split())


def _unicode_domain(domain: str) -> str:
    labels = []
    for label in domain.strip().rstrip(".").lower().split("."):
        try:
            labels.append(label[4:].encode("ascii").decode("punycode")
                          if label.startswith("xn--") else label)
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


def _plain(address: str) -> str:
    """An address as the same mailbox: case ignored, the domain in Unicode."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return local.casefold() + "@" + _unicode_domain(domain).casefold()


def _address_key(address: str) -> str:
    local, _, domain = _plain(address).rpartition("@")
    return _skeleton(local) + "@" + _skeleton(domain)


def lookalike(name: str, address: str, members: Iterable[tuple[str, str]]) -> str | None:
    """The address of the member a post's From imitates, or None: a display name that looks
    like a member's (or like a member's address) on another address, or an address that
    looks like a member's without being one.  Empty names never match; a sender whose own
    address is a member's is not judged by its address.

    >>> roster = [("Bob Smith", "bob@example.org")]
    >>> lookalike("Воb Smith", "bob@evil.example", roster)
    'bob@example.org'
    >>> lookalike("", "bob@examp1e.org", roster), lookalike("Bob Smith", "BOB@Example.ORG", roster)
    ('bob@example.org', None)
    """
    roster = [(n, a) for n, a in members if "@" in a]
    me = _plain(address)
    key = _name_key(name)
    if key:
        named = [a for n, a in roster if _name_key(n) == key]
        if named and me not in {_plain(a) for a in named}:
            return named[0]
    if "@" in name:  # a name such as "bob@example.org" <mallory@evil.example>
        shown = _address_key(name.strip().strip("'\""))
        for _, member in roster:
            if _address_key(member) == shown and _plain(member) != me:
                return member
    if any(_plain(a) == me for _, a in roster):
        return None
    mine = _address_key(address)
    return next((a for _, a in roster if _address_key(a) == mine), None)


class Roster:
    """:func:`lookalike` for one list's members, prepared once: a big list's names and
    addresses are normalised when the roster is made, not for every post.

    >>> Roster([("Bob Smith", "bob@example.org")]).lookalike("Воb Smith", "bob@evil.example")
    'bob@example.org'
    """

    def __init__(self, members: Iterable[tuple[str, str]]) -> None:
        self._names: dict[str, list[str]] = {}
        self._addresses: dict[str, str] = {}
        self._plain: set[str] = set()
        for name, address in members:
            if "@" not in address:
                continue
            self._plain.add(_plain(address))
            key = _name_key(name)
            if key:
                self._names.setdefault(key, []).append(address)
            self._addresses.setdefault(_address_key(address), address)

    def lookalike(self, name: str, address: str) -> str | None:
        me = _plain(address)
        key = _name_key(name)
        named = self._names.get(key, []) if key else []
        if named and me not in {_plain(a) for a in named}:
            return named[0]
        if "@" in name:
            shown = self._addresses.get(_address_key(name.strip().strip("'\"")))
            if shown is not None and _plain(shown) != me:
                return shown
        if me in self._plain:
            return None
        return self._addresses.get(_address_key(address))
