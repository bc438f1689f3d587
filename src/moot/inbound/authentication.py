"""Checking who sent a post: every DKIM signature and the ARC chain verified with dkimpy, the
receiving MTA's Authentication-Results read, and the verdict left to
:func:`moot.core.identity.assess`.

Why here: verification needs the raw bytes as they arrived and DNS (the signers' public keys
are TXT records at ``SELECTOR._domainkey.DOMAIN``, RFC 6376 section 3.6.2), so it is an
adapter's job; what the results mean is the core's.  :meth:`Verifier.check` is synchronous:
the posting pipeline runs it in a worker thread.  DNS answers are cached for a few minutes
(``ttl``), since a busy list sees the same few signers all day; a failed look-up is kept for
less (``failure_ttl``) and makes a signature "could not be checked", never "failed".

What it won't do: no SPF (it does not know the connecting address; the trusted MTA's
``Authentication-Results`` carry SPF), no DMARC policy, no PGP or S/MIME.  ed25519 keys need
pynacl (without it such a key reads as unreadable); keys shorter than 1024 bits are refused
(RFC 8301).  A signature with ``l=`` (a signed prefix of the body) passes as dkimpy passes
it, although text may have been added after that prefix.  It trusts the MTA to remove
``Authentication-Results`` fields bearing its own authserv-id from incoming mail (RFC 8601
section 5); a copy it failed to remove would be believed.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import dkim
import dkim.util
import dns.rdatatype
import dns.resolver

from moot.core.headers import header_end
from moot.core.identity import DkimResult, Identity, assess, parse_authentication_results
from moot.dnstxt import configured, texts

log = logging.getLogger("moot.inbound.authentication")

# A DNS name -> the texts of its TXT records (each record's strings joined); [] when the name
# has none.  Raises when the question could not be answered.
TxtLookup = Callable[[str], list[str]]
MIN_KEY_BITS = 1024
_DNS_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}"
                       r"[a-z0-9_])?)+")
_MISMATCH = "it does not match the signed header fields (changed after signing?)"
# dkimpy's messages (ValidationError, KeyFormatError...) in words for readers.
_REASONS = (
    ("body hash mismatch", "the body was changed after signing"),
    ("public key too small", f"its key is shorter than {MIN_KEY_BITS} bits"),
    ("x= value is past", "the signature has expired"),
    ("t= value is in the future", "the signature is dated in the future"),
    ("i= domain is not a subdomain", "its i= is not within its d= domain"),
    ("unknown signature algorithm", "it uses an unknown algorithm"),
    ("missing", "it lacks a required tag"),
    ("not valid base64", "its b= or bh= is not base64"),
    ("invalid c= value", "its c= names an unknown canonicalization"),
)


def dnspython_txt(nameservers: list[str] | None = None, port: int = 53,
                  timeout: float = 3.0) -> TxtLookup:
    """A :data:`TxtLookup` with dnspython's resolver: the system's (read at the first
    look-up, not now) or the given name servers.  ``timeout`` bounds a look-up as a whole."""
    resolver: dns.resolver.Resolver | None = None

    def lookup(name: str) -> list[str]:
        nonlocal resolver
        if resolver is None:
            resolver = configured(dns.resolver.Resolver, nameservers, port, timeout)
        try:
            answer = resolver.resolve(name.rstrip(".") + ".", dns.rdatatype.TXT, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return texts(answer)

    return lookup


class _DkimpyLog:
    """dkimpy logs each bad signature at ERROR; for a list server that is routine, so its
    messages become DEBUG lines of ours."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return log.isEnabledFor(logging.DEBUG)

    def debug(self, msg: object, *args: Any) -> None:
        log.debug("dkimpy: %s", msg)

    info = warning = error = debug


def _fields(raw: bytes) -> list[tuple[str, str]]:
    """``(lower-case name, unfolded value)`` for each header field; lines that are not a
    field (or its continuation) are skipped."""
    found: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n", raw[:header_end(raw)]):
        text = line.decode("utf-8", "replace")
        if text[:1] in (" ", "\t") and found:
            found[-1] = (found[-1][0], found[-1][1] + text)
        elif (m := re.match(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:", text)) is not None:
            found.append((m.group(1).lower(), text[m.end():]))
    return [(name, value.strip()) for name, value in found]


def _tags(value: str) -> tuple[str, str]:
    """A signature's ``d=`` and ``s=`` for the record, however broken the rest is."""
    try:
        tags = dkim.util.parse_tag_value(value.encode("utf-8", "surrogateescape"))
        return (tags.get(b"d", b"").decode("utf-8", "replace").strip().lower(),
                tags.get(b"s", b"").decode("utf-8", "replace").strip())
    except Exception:  # noqa: BLE001 - junk: read the two tags by hand
        d = re.search(r"(?:^|;)\s*d\s*=\s*([^;\s]*)", value)
        s = re.search(r"(?:^|;)\s*s\s*=\s*([^;\s]*)", value)
        return (d.group(1).lower() if d else "", s.group(1) if s else "")


def _explain(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    if isinstance(exc, dkim.MessageFormatError):
        return "the DKIM-Signature field is not a valid tag list"
    return "the signature could not be read"


class Verifier:
    """``Verifier(txt_lookup, trusted_authserv=["mx.example.org"]).check(raw)`` -> an
    :class:`~moot.core.identity.Identity`.  ``trusted_authserv``: the authserv-ids of our own
    MTA; Authentication-Results from anyone else are ignored."""

    def __init__(self, txt_lookup: TxtLookup | None = None,
                 trusted_authserv: Collection[str] = (), *, ttl: float = 300,
                 failure_ttl: float = 30, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self._txt = txt_lookup if txt_lookup is not None else dnspython_txt()
        self._trusted = tuple(trusted_authserv)
        self._ttl, self._failure_ttl = ttl, failure_ttl
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, list[str] | None]] = {}  # None: the look-up failed
        self._lock = threading.Lock()

    def check(self, raw: bytes) -> Identity:
        """The verdict on the post's From.  Never raises for what is in the message."""
        fields = _fields(raw)
        author = next((value for name, value in fields if name == "from"), "")
        addresses = [a for _, a in email.utils.getaddresses([author]) if "@" in a]
        auth = parse_authentication_results(
            [value for name, value in fields if name == "authentication-results"], self._trusted)
        arc = self.arc(raw) if any(name == "arc-seal" for name, _ in fields) else "none"
        return assess(addresses[0] if addresses else "", self._dkim(raw, fields), auth, arc)

    def signatures(self, raw: bytes) -> list[DkimResult]:
        """Our check of each DKIM-Signature, top first."""
        return self._dkim(raw, _fields(raw))

    def arc(self, raw: bytes) -> str:
        """``pass``, ``fail`` or ``none`` for the ARC chain (RFC 8617 section 5.2)."""
        try:
            cv, _, why = dkim.ARC(raw, logger=_DkimpyLog(), minkey=MIN_KEY_BITS).verify(
                dnsfunc=self._dnsfunc({}))
        except Exception as exc:  # noqa: BLE001 - junk ARC fields: a broken chain
            log.debug("ARC chain unreadable: %s", exc)
            return "fail"
        log.debug("ARC: %s (%s)", cv, why)
        return {dkim.CV_Pass: "pass", dkim.CV_None: "none"}.get(cv, "fail")

    # -- the checks ----------------------------------------------------------------------------

    def _dkim(self, raw: bytes, fields: list[tuple[str, str]]) -> list[DkimResult]:
        signatures = [value for name, value in fields if name == "dkim-signature"]
        if not signatures:
            return []  # (dkimpy would parse the whole message to find none)
        try:
            checker = dkim.DKIM(raw, logger=_DkimpyLog(), minkey=MIN_KEY_BITS)
        except Exception:  # noqa: BLE001 - dkimpy refuses a header line it can't read
            checker = None
        results = []
        for index, value in enumerate(signatures):
            domain, selector = _tags(value)
            if checker is None:
                results.append(DkimResult(domain, selector, False,
                                          "the message's header could not be read"))
                continue
            notes: dict[str, Any] = {}
            try:
                ok = bool(checker.verify(idx=index, dnsfunc=self._dnsfunc(notes)))
                reason = "" if ok else notes.get("reason", _MISMATCH)
            except Exception as exc:  # noqa: BLE001 - any junk in the field
                ok, reason = False, _explain(exc)
            results.append(DkimResult(domain, selector, ok, reason,
                                      temporary=not ok and notes.get("temporary", False)))
        return results

    def _dnsfunc(self, notes: dict[str, Any]) -> Callable[..., bytes | None]:
        """dkimpy's ``dnsfunc``: the key record for a name, or None; why none goes to
        ``notes`` (dkimpy only says False)."""

        def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
            text = name.decode("ascii", "replace").rstrip(".").lower()
            if not _DNS_NAME.fullmatch(text) or len(text) > 253:
                notes["reason"] = "its d= or s= is not a valid DNS name"
                return None
            records = self._records(text)
            if records is None:
                notes.update(reason=f"no answer from DNS for {text}", temporary=True)
                return None
            keys = [r for r in records if "p=" in r]
            if not keys:
                notes["reason"] = f"no key is published at {text}"
                return None
            if re.search(r"(?:^|;)\s*p\s*=\s*(?:;|$)", keys[0]):
                notes["reason"] = f"the key at {text} has been revoked"
                return None
            try:
                dkim.evaluate_pk(name, keys[0].encode("utf-8"))
            except Exception:  # noqa: BLE001 - the record is junk
                notes["reason"] = f"the key published at {text} could not be read"
                return None
            notes["reason"] = _MISMATCH
            return keys[0].encode("utf-8")

        return dnsfunc

    # -- the DNS cache -------------------------------------------------------------------------

    def _records(self, name: str) -> list[str] | None:
        """The TXT records at ``name``, cached; None when DNS could not say."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found: list[str] | None = list(self._txt(name) or [])
            expiry = now + self._ttl
        except Exception as exc:  # noqa: BLE001 - any failure: "could not be checked"
            log.info("DKIM key look-up for %s failed: %s: %s", name, type(exc).__name__, exc)
            found, expiry = None, now + self._failure_ttl
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                while len(self._cache) >= self._max_entries:
                    del self._cache[next(iter(self._cache))]
            self._cache[name] = (expiry, found)
        return found
