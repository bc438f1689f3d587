"""The DMARC policy of an author's domain, asked of DNS and kept for a while.

Why: whether a post needs munging or wrapping (:mod:`moot.core.dmarc`) depends on the policy
the author's domain publishes in DNS (RFC 7489 section 6.6.3).  A busy list sees the same few
domains all day, so answers are cached: found policies and "no record" alike for ``ttl``
seconds, a failure to ask for ``negative_ttl``.  A failure or a timeout counts as "no
policy": the post goes out unchanged rather than waiting for DNS, and the failure is logged
once per domain until an answer comes back.

What it won't do: it does not honour the records' own DNS TTLs (one fixed time for all), does
not coalesce two concurrent asks for the same uncached domain, and checks no DNSSEC.  The
reading of records and the choice of names are the core's; this module only asks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import dns.asyncresolver
import dns.rdatatype
import dns.resolver

from moot.core.dmarc import lookup_names, policy_from_answer
from moot.dnstxt import configured, texts

if TYPE_CHECKING:
    from moot.config import Settings

log = logging.getLogger("moot.delivery.dmarc")

# A DNS name -> the texts of its TXT records, each record's strings joined; [] when the name
# does not exist or has no TXT records.  Raises when the question could not be answered.
TxtLookup = Callable[[str], Awaitable[list[str]]]


def dnspython_lookup(nameservers: list[str] | None = None, port: int = 53,
                     timeout: float = 3.0) -> TxtLookup:
    """A :data:`TxtLookup` with dnspython's resolver: the system's (``/etc/resolv.conf``, read
    at the first look-up, not now) or the given name servers on ``port``.  ``timeout`` bounds
    each look-up as a whole, every server and retry included."""
    resolver: dns.asyncresolver.Resolver | None = None

    async def lookup(name: str) -> list[str]:
        nonlocal resolver
        if resolver is None:
            resolver = configured(dns.asyncresolver.Resolver, nameservers, port, timeout)
        try:
            answer = await resolver.resolve(name.rstrip(".") + ".", dns.rdatatype.TXT,
                                            search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return texts(answer)

    return lookup


class DmarcPolicies:
    """``await policies.policy("example.net")`` -> ``'reject'``, ``'quarantine'``, ``'none'``
    or None (no record, or DNS could not say)."""

    def __init__(self, lookup: TxtLookup | None = None, *, ttl: float = 3600,
                 negative_ttl: float = 600, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self._lookup = lookup if lookup is not None else dnspython_lookup()
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, str | None]] = {}  # domain -> (expiry, policy)
        self._failing: set[str] = set()  # domains whose last look-up failed (logged already)

    async def policy(self, domain: str) -> str | None:
        key = domain.strip().rstrip(".").lower()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found, ttl = await self._ask(key), self._ttl
            self._failing.discard(key)
        except Exception as exc:  # noqa: BLE001 - any failure to ask: send the post unchanged
            found, ttl = None, self._negative_ttl
            if key not in self._failing:
                self._failing.add(key)
                log.warning("DMARC look-up for %s failed (%s: %s); its posts go out unchanged "
                            "for now", key, type(exc).__name__, exc)
        self._remember(key, found, self._clock() + ttl)
        return found

    async def _ask(self, domain: str) -> str | None:
        """The author's domain first, then its organizational domain, whose ``sp=`` then
        applies (RFC 7489 section 6.6.3)."""
        for number, name in enumerate(lookup_names(domain)):
            found = policy_from_answer(await self._lookup(name), subdomain=number > 0)
            if found is not None:
                return found
        return None

    def _remember(self, key: str, found: str | None, expiry: float) -> None:
        if len(self._cache) >= self._max_entries and key not in self._cache:
            now = self._clock()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self._max_entries:  # still full: the oldest entry goes
                del self._cache[next(iter(self._cache))]
        self._cache.pop(key, None)  # re-inserted at the end, newest
        self._cache[key] = (expiry, found)


def policies_for(settings: Settings) -> DmarcPolicies | None:
    """The look-ups the ``dns`` setting asks for: the system's resolver, none at all ("off":
    no mitigation), or the given name servers."""
    if settings.nameservers == []:
        return None
    servers = settings.name_servers()
    if servers is None:
        return DmarcPolicies()
    return DmarcPolicies(dnspython_lookup(servers[0], port=servers[1]))
