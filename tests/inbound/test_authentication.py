"""Real DKIM and ARC through Verifier: keys made with openssl, signatures made with dkimpy (and
our Signer for ARC), public keys served from a fixed table instead of DNS."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable

import dkim
import pytest

from moot.delivery.signing import Signer
from moot.inbound.authentication import Verifier

POST = (b"From: Ada Quill <ada@example.org>\r\n"
        b"To: dev@lists.example.net\r\n"
        b"Subject: Tabs or spaces\r\n"
        b"Date: Mon, 2 Mar 2026 09:14:02 +0000\r\n"
        b"Message-ID: <tabs-1@example.org>\r\n"
        b"\r\n"
        b"Spaces, obviously.\r\n")


Keys = dict[str, tuple[bytes, str]]  # domain -> (private key PEM, TXT record)
Zone = dict[str, list[str]]  # DNS name -> TXT records


def rsa_key() -> tuple[bytes, str]:
    """A fresh private key (PEM) and its DKIM TXT record."""
    pem = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return {"example.org": rsa_key(), "lists.example.net": rsa_key()}


@pytest.fixture
def zone(keys: Keys) -> Zone:
    return {f"s1._domainkey.{domain}": [record] for domain, (_, record) in keys.items()}


def lookup(zone: Zone, asked: list[str] | None = None
           ) -> Callable[[str], list[str]]:
    def txt(name: str) -> list[str]:
        if asked is not None:
            asked.append(name)
        return zone.get(name, [])
    return txt


def signed(message: bytes, domain: str, keys: Keys) -> bytes:
    return dkim.sign(message, b"s1", domain.encode(), keys[domain][0],
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]
                     ) + message


def test_signature_by_the_from_domain_verifies(keys: Keys, zone: Zone) -> None:
    identity = Verifier(lookup(zone)).check(signed(POST, "example.org", keys))
    assert identity.verdict == "verified"
    assert "example.org" in identity.how
    assert identity.dkim_domains == ("example.org",)


def test_changed_body_fails(keys: Keys, zone: Zone) -> None:
    message = signed(POST, "example.org", keys).replace(b"obviously", b"never")
    identity = Verifier(lookup(zone)).check(message)
    assert identity.verdict == "failed"
    assert "body" in identity.how
    assert identity.dkim_domains == ()


def test_changed_header_fails(keys: Keys, zone: Zone) -> None:
    message = signed(POST, "example.org", keys).replace(b"Tabs or spaces", b"[dev] Tabs")
    identity = Verifier(lookup(zone)).check(message)
    assert identity.verdict == "failed"
    assert "header" in identity.how


def test_signature_by_another_domain_is_unverified(keys: Keys, zone: Zone) -> None:
    identity = Verifier(lookup(zone)).check(signed(POST, "lists.example.net", keys))
    assert identity.verdict == "unverified"
    assert identity.how == "signed by lists.example.net, not by the From address's domain"
    assert identity.dkim_domains == ("lists.example.net",)


def test_every_signature_is_checked(keys: Keys, zone: Zone) -> None:
    message = signed(signed(POST, "example.org", keys), "lists.example.net", keys)
    identity = Verifier(lookup(zone)).check(message)
    assert identity.verdict == "verified"
    assert set(identity.dkim_domains) == {"example.org", "lists.example.net"}


@pytest.mark.parametrize("field, reason", [
    (b"DKIM-Signature: total junk ;;; ===", "not a valid tag list"),
    (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=!!!",
     "not base64"),
    (b"DKIM-Signature: v=1; a=rsa-md5; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA",
     "unknown algorithm"),
    (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; h=from; bh=AAAA; b=AAAA",
     "lacks a required tag"),
    (b"DKIM-Signature: v=1; a=rsa-sha256; d=exa mple.org; s=s1; h=from; bh=AAAA; b=AAAA",
     "not a valid DNS name"),
    (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=gone; h=from; bh=AAAA; b=AAAA",
     "no key is published at gone._domainkey.example.org"),
    (b"DKIM-Signature: \xff\xfe\x00", "not a valid tag list"),
])
def test_junk_signature_fields_get_a_reason(zone: Zone, field: bytes, reason: str) -> None:
    identity = Verifier(lookup(zone)).check(field + b"\r\n" + POST)
    assert identity.verdict in ("failed", "unverified")
    assert reason in identity.how


def test_unreadable_header_section() -> None:
    message = b"DKIM-Signature: v=1; d=example.org; s=s1\r\nthis is no header\r\n" + POST
    identity = Verifier(lookup({})).check(message)
    assert identity.verdict == "failed"
    assert "header could not be read" in identity.how


def test_revoked_and_unreadable_keys(keys: Keys, zone: Zone) -> None:
    message = signed(POST, "example.org", keys)
    revoked = Verifier(lookup({"s1._domainkey.example.org": ["v=DKIM1; k=rsa; p="]}))
    assert "revoked" in revoked.check(message).how
    junk = Verifier(lookup({"s1._domainkey.example.org": ["v=DKIM1; k=rsa; p=AAAAjunk"]}))
    assert "could not be read" in junk.check(message).how


def test_dns_failure_is_not_a_failure_and_is_cached_briefly(keys: Keys) -> None:
    calls = []
    now = [0.0]

    def broken(name: str) -> list[str]:
        calls.append(name)
        raise OSError("timed out")

    verifier = Verifier(broken, clock=lambda: now[0], failure_ttl=30)
    message = signed(POST, "example.org", keys)
    identity = verifier.check(message)
    assert identity.verdict == "unverified"
    assert "could not be checked" in identity.how
    verifier.check(message)
    assert len(calls) == 1
    now[0] = 31
    verifier.check(message)
    assert len(calls) == 2


def test_answers_are_cached(keys: Keys, zone: Zone) -> None:
    asked: list[str] = []
    now = [0.0]
    verifier = Verifier(lookup(zone, asked), clock=lambda: now[0], ttl=300)
    message = signed(POST, "example.org", keys)
    for _ in range(3):
        assert verifier.check(message).verdict == "verified"
    assert asked == ["s1._domainkey.example.org"]
    now[0] = 301
    verifier.check(message)
    assert len(asked) == 2


def test_no_signature_and_no_results() -> None:
    identity = Verifier(lookup({}), ["mx.example.net"]).check(POST)
    assert identity.verdict == "unverified"
    assert identity.how == "no DKIM signature, and no other proof of the sender"


def test_trusted_results_count_and_forged_ones_do_not() -> None:
    forged = b"Authentication-Results: evil.example; dmarc=pass header.from=example.org\r\n"
    verifier = Verifier(lookup({}), ["mx.example.net"])
    assert verifier.check(forged + POST).verdict == "unverified"
    trusted = (b"Authentication-Results: mx.example.net;\r\n"
               b"\tspf=pass smtp.mailfrom=ada@example.org\r\n")
    identity = verifier.check(trusted + POST)
    assert identity.verdict == "verified"
    assert identity.how == ("no signature; SPF passed for example.org (checked by "
                            "mx.example.net)")


def test_arc_sealed_message_passes(keys: Keys, zone: Zone) -> None:
    sealer = Signer("lists.example.net", "s1", keys["lists.example.net"][0],
                    "lists.example.net")
    sealed = sealer.arc_seal(POST, "spf=pass smtp.mailfrom=example.org; arc=none")
    verifier = Verifier(lookup(zone))
    assert verifier.arc(sealed) == "pass"
    # A forwarder changed the post after sealing: the chain breaks.
    assert verifier.arc(sealed.replace(b"obviously", b"never")) == "fail"
    assert verifier.arc(POST) == "none"


def test_arc_pass_softens_a_broken_author_signature(keys: Keys, zone: Zone) -> None:
    changed = signed(POST, "example.org", keys).replace(b"obviously", b"never")
    sealer = Signer("lists.example.net", "s1", keys["lists.example.net"][0],
                    "lists.example.net")
    sealed = sealer.arc_seal(changed, "dkim=fail header.d=example.org; arc=none")
    identity = Verifier(lookup(zone)).check(sealed)
    assert identity.verdict == "unverified"
    assert "ARC" in identity.how
