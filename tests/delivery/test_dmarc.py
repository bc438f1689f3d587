"""DMARC policies asked of a real DNS server on 127.0.0.1: what each domain publishes, the
organizational domain's record for a subdomain, several strings in one record, the cache and
its expiry, and a server that never answers."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest

from moot.delivery.dmarc import DmarcPolicies, dnspython_lookup

# name -> TXT records, each a list of strings.  A name not here does not exist (NXDOMAIN).
ZONE: dict[str, list[list[bytes]]] = {
    "_dmarc.example-reject.test": [[b"v=DMARC1; p=reject; rua=mailto:d@example-reject.test"]],
    "_dmarc.example-none.test": [[b"v=DMARC1; p=none"], [b"google-site-verification=x"]],
    "_dmarc.parent.test": [[b"v=DMARC1; p=reject; sp=quarantine"]],
    "_dmarc.split.test": [[b"v=DMARC1; p=qu", b"arantine; pct=100"]],
    "_dmarc.spf-only.test": [[b"v=spf1 -all"]],
    "_dmarc.empty.test": [],  # the name exists, with no TXT record
}


class DnsServer:
    """Answers TXT questions from :data:`ZONE` over UDP, counting them; ``silent`` drops
    every question instead."""

    def __init__(self, zone: dict[str, list[list[bytes]]], *, silent: bool = False) -> None:
        self.zone = zone
        self.silent = silent
        self.asked: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))  # the port assigned is read back, never guessed
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            self.asked.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            if name not in self.zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self.zone[name]:
                rrset = response.find_rrset(response.answer, question.name,
                                            dns.rdataclass.IN, dns.rdatatype.TXT, create=True)
                for strings in self.zone[name]:
                    rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT,
                                                      strings), ttl=300)
            self.sock.sendto(response.to_wire(), client)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policies_at(server: DnsServer, clock: Clock | None = None) -> DmarcPolicies:
    lookup = dnspython_lookup(["127.0.0.1"], port=server.port, timeout=0.5)
    return DmarcPolicies(lookup, clock=clock or Clock())


def test_each_domain_gets_what_it_publishes(server: DnsServer) -> None:
    async def go() -> list[str | None]:
        policies = policies_at(server)
        return [await policies.policy(d) for d in (
            "example-reject.test", "Example-None.TEST.", "lists.parent.test", "parent.test",
            "split.test", "absent.test", "spf-only.test", "empty.test", "not a domain")]

    assert asyncio.run(go()) == [
        "reject",  # p=reject
        "none",  # p=none; the other TXT record is no DMARC record and is passed over
        "quarantine",  # no record of its own: the organizational domain's sp=
        "reject",  # the organizational domain itself: p=
        "quarantine",  # "v=DMARC1; p=qu" "arantine; pct=100", joined
        None, None, None, None,
    ]
    assert server.asked[:4] == ["_dmarc.example-reject.test", "_dmarc.example-none.test",
                                "_dmarc.lists.parent.test", "_dmarc.parent.test"]
    assert "_dmarc.absent.test" in server.asked
    assert not any(" " in name for name in server.asked)


def test_the_cache_answers_until_it_expires(server: DnsServer) -> None:
    clock = Clock()

    async def go() -> None:
        policies = policies_at(server, clock)
        assert await policies.policy("example-reject.test") == "reject"
        assert await policies.policy("EXAMPLE-REJECT.test") == "reject"
        assert await policies.policy("absent.test") is None
        assert await policies.policy("absent.test") is None
        assert server.asked == ["_dmarc.example-reject.test", "_dmarc.absent.test"]
        clock.now += 3599
        assert await policies.policy("example-reject.test") == "reject"
        assert len(server.asked) == 2
        clock.now += 2
        assert await policies.policy("example-reject.test") == "reject"
        assert await policies.policy("absent.test") is None
        assert len(server.asked) == 4

    asyncio.run(go())


def test_a_subdomain_costs_two_questions_once(server: DnsServer) -> None:
    async def go() -> None:
        policies = policies_at(server)
        for _ in range(3):
            assert await policies.policy("a.b.parent.test") == "quarantine"
        assert server.asked == ["_dmarc.a.b.parent.test", "_dmarc.parent.test"]

    asyncio.run(go())


def test_a_server_that_never_answers_means_no_policy(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()

    async def go(server: DnsServer) -> None:
        policies = policies_at(server, clock)
        assert await policies.policy("example-reject.test") is None
        assert await policies.policy("example-reject.test") is None  # cached: not asked
        asked = len(server.asked)
        assert asked >= 1
        clock.now += 601  # negative_ttl
        assert await policies.policy("example-reject.test") is None
        assert len(server.asked) > asked

    with caplog.at_level(logging.WARNING, "moot.delivery.dmarc"), \
            DnsServer(ZONE, silent=True) as silent:
        asyncio.run(go(silent))
    warnings = [r for r in caplog.records if r.name == "moot.delivery.dmarc"]
    assert len(warnings) == 1  # two failures, one message
    assert "example-reject.test" in warnings[0].getMessage()


def test_a_fixed_table_and_a_failing_lookup(caplog: pytest.LogCaptureFixture) -> None:
    table = {
        "_dmarc.example.co.uk": ["v=DMARC1; p=quarantine"],
        "_dmarc.twice.example": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
        "_dmarc.flaky.example": ["v=DMARC1; p=reject"],
    }
    asked: list[str] = []
    down = {"flaky.example"}

    async def lookup(name: str) -> list[str]:
        asked.append(name)
        if name.removeprefix("_dmarc.") in down:
            raise OSError("network unreachable")
        return table.get(name, [])

    clock = Clock()

    async def go() -> None:
        policies = DmarcPolicies(lookup, ttl=10, negative_ttl=5, clock=clock)
        assert await policies.policy("mail.example.co.uk") == "quarantine"
        assert asked == ["_dmarc.mail.example.co.uk", "_dmarc.example.co.uk"]
        assert await policies.policy("twice.example") == "none"  # RFC 7489 6.6.3 (4)
        assert await policies.policy("flaky.example") is None
        clock.now += 4
        assert await policies.policy("flaky.example") is None
        assert asked.count("_dmarc.flaky.example") == 1
        clock.now += 2
        down.clear()
        assert await policies.policy("flaky.example") == "reject"
        down.add("flaky.example")
        clock.now += 11
        assert await policies.policy("flaky.example") is None

    with caplog.at_level(logging.WARNING, "moot.delivery.dmarc"):
        asyncio.run(go())
    # Logged when it failed, and again after it had recovered and failed once more.
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "DMARC look-up for flaky.example failed"] * 2


def test_the_cache_stays_bounded() -> None:
    asked: list[str] = []

    async def lookup(name: str) -> list[str]:
        asked.append(name)
        return ["v=DMARC1; p=reject"]

    async def go() -> None:
        policies = DmarcPolicies(lookup, clock=Clock(), max_entries=3)
        for n in range(10):
            assert await policies.policy(f"d{n}.example") == "reject"
        for n in (7, 8, 9):  # the newest three are kept
            assert await policies.policy(f"d{n}.example") == "reject"
        assert len(asked) == 10
        assert await policies.policy("d0.example") == "reject"  # forgotten: asked again
        assert asked[-1] == "_dmarc.d0.example"

    asyncio.run(go())
