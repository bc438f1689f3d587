"""TXT look-ups with dnspython, shared by the DMARC policy look-ups (async, in the senders) and
the DKIM key look-ups (sync, in the checker process): how a resolver is set up from the
``dns`` setting, and how an answer becomes texts."""

from __future__ import annotations

from typing import Any, TypeVar

import dns.rdtypes.txtbase

R = TypeVar("R", bound=Any)


def configured(resolver_class: type[R], nameservers: list[str] | None, port: int,
               timeout: float) -> R:
    """A resolver: the system's (``/etc/resolv.conf``) or the given name servers on ``port``;
    ``timeout`` bounds each look-up as a whole, every server and retry included."""
    resolver = resolver_class(configure=nameservers is None)
    if nameservers is not None:
        resolver.nameservers = list(nameservers)
        resolver.port = port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def texts(answer: Any) -> list[str]:
    """Each TXT record of an answer as one text (a record may hold several strings, which
    RFC 7489 section 6.6.3 and RFC 6376 section 3.6.2.2 read as one)."""
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer
            if isinstance(rdata, dns.rdtypes.txtbase.TXTBase)]
