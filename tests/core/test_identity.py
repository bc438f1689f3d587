"""Authentication-Results read (trusted and forged, tidy and junk), alignment, the verdicts
assess gives with the sentence readers see, and look-alike names and addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.identity import (
    AuthResult,
    DkimResult,
    Identity,
    Roster,
    aligned,
    assess,
    lookalike,
    org_domain,
    parse_authentication_results,
)

MX = ["mx.example.net"]


# -- Authentication-Results --------------------------------------------------------------------


def test_results_and_properties_of_a_trusted_field() -> None:
    value = ("mx.example.net 1; spf=pass (sender SPF authorized) smtp.mailfrom=ada@example.org;"
             "\r\n\tdkim=pass (2048-bit key) header.d=example.org header.i=@example.org "
             'header.b="abc+/=="; dmarc=pass (p=reject) header.from=example.org; '
             'arc=none; dkim=fail reason="signature did not verify" header.d=other.example')
    results = parse_authentication_results([value], MX)
    assert [(r.method, r.result) for r in results] == [
        ("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass"), ("arc", "none"), ("dkim", "fail")]
    assert all(r.authserv_id == "mx.example.net" for r in results)
    assert results[0].properties == {"smtp.mailfrom": "ada@example.org"}
    assert results[1].properties == {"header.d": "example.org", "header.i": "@example.org",
                                     "header.b": "abc+/=="}
    assert results[2].properties["header.from"] == "example.org"
    assert results[4].reason == "signature did not verify"


def test_only_the_trusted_authserv_id_counts() -> None:
    values = ["evil.example; dmarc=pass header.from=example.org",
              "mx.example.net.evil.example; dkim=pass header.d=example.org",
              "MX.Example.NET.; spf=fail smtp.mailfrom=example.org"]
    results = parse_authentication_results(values, MX)
    assert [(r.authserv_id, r.method, r.result) for r in results] == [
        ("mx.example.net", "spf", "fail")]
    assert parse_authentication_results(values, []) == []


@pytest.mark.parametrize("value, expected", [
    ("mx.example.net; none", []),
    ("mx.example.net 1; none", []),
    ("mx.example.net spf=pass smtp.mailfrom=example.org dkim=pass header.d=example.org",
     [("spf", "pass"), ("dkim", "pass")]),  # no semicolons at all
    ("mx.example.net; spf = PASS smtp.mailfrom = example.org; dkim/1=pass",
     [("spf", "pass"), ("dkim", "pass")]),
    ('"mx.example.net"; dmarc=fail (p=reject (nested) "quoted)") header.from=example.org',
     [("dmarc", "fail")]),
    ("(a comment first) mx.example.net; spf=neutral (unclosed comment", [("spf", "neutral")]),
    ("mx.example.net; =pass; spf=; dkim; ==; ;;", []),
    ("mx.example.net; sp\x00f=pass; dkim=p@ss; dmarc=pass", [("dmarc", "pass")]),
    (";;; dmarc=pass", []),
    ("", []),
    ('"unclosed', []),
])
def test_junk_is_skipped(value: str, expected: list[tuple[str, str]]) -> None:
    got = parse_authentication_results([value], MX)
    assert [(r.method, r.result) for r in got] == expected


@given(st.lists(st.text(alphabet=st.sampled_from('mx.example.net ;=()"\\\r\n\tspfdkim@-'))
                | st.text(), max_size=3))
def test_never_raises(values: list[str]) -> None:
    for value in values:
        parse_authentication_results([value, "mx.example.net;" + value], MX)


# -- alignment ---------------------------------------------------------------------------------


def test_org_domain() -> None:
    assert org_domain("lists.Example.ORG") == "example.org"
    assert org_domain("a.b.example.co.uk") == "example.co.uk"
    assert org_domain("") == ""


@pytest.mark.parametrize("a, b, relaxed, strict", [
    ("example.org", "example.org", True, True),
    ("example.org", "mail.example.org", True, False),
    ("news.example.org", "bounce.example.org", True, False),
    ("Example.ORG.", "example.org", True, True),
    ("example.org", "example.net", False, False),
    ("example.co.uk", "other.co.uk", False, False),
    ("example.org", "", False, False),
    ("not a domain", "not a domain", False, False),
])
def test_alignment(a: str, b: str, relaxed: bool, strict: bool) -> None:
    assert aligned(a, b) is relaxed
    assert aligned(a, b, strict=True) is strict


# -- assess ------------------------------------------------------------------------------------


def ar(method: str, result: str, **props: str) -> AuthResult:
    return AuthResult("mx.example.net", method, result,
                      properties={k.replace("_", "."): v for k, v in props.items()})


def test_aligned_signature_verifies() -> None:
    found = assess("ada@mail.example.org", [DkimResult("lists.example.net", "s", True),
                                            DkimResult("example.org", "s1", True)], [], "none")
    assert found == Identity("verified", "DKIM signature by example.org, matching the From "
                             "address", ("lists.example.net", "example.org"))


def test_one_good_aligned_signature_beats_a_broken_one() -> None:
    found = assess("ada@example.org", [DkimResult("example.org", "old", False, "expired"),
                                       DkimResult("example.org", "new", True)], [], "none")
    assert found.verdict == "verified"


def test_signature_by_another_domain_is_unverified() -> None:
    found = assess("ada@example.org", [DkimResult("lists.example.net", "s", True)], [], "none")
    assert found.verdict == "unverified"
    assert found.how == "signed by lists.example.net, not by the From address's domain"
    assert found.dkim_domains == ("lists.example.net",)


def test_broken_aligned_signature_fails_with_the_reason() -> None:
    found = assess("ada@example.org", [DkimResult("example.org", "s1", False,
                                                  "the body was changed after signing")],
                   [], "none")
    assert found == Identity("failed", "the DKIM signature by example.org does not verify: "
                             "the body was changed after signing", ())


def test_intact_arc_chain_softens_a_failure() -> None:
    found = assess("ada@example.org", [DkimResult("example.org", "s1", False, "body")], [],
                   "pass")
    assert found.verdict == "unverified"
    assert "ARC" in found.how


def test_dns_failure_proves_nothing() -> None:
    found = assess("ada@example.org", [DkimResult("example.org", "s1", False, "no answer",
                                                  temporary=True)], [], "none")
    assert found.verdict == "unverified"
    assert found.how == "the DKIM signature by example.org could not be checked: no answer"


def test_trusted_results_can_verify() -> None:
    spf = assess("ada@example.org", [], [ar("spf", "pass", smtp_mailfrom="ada@example.org")],
                 "none")
    assert spf == Identity("verified", "no signature; SPF passed for example.org (checked by "
                           "mx.example.net)")
    dmarc = assess("ada@example.org", [], [ar("dmarc", "pass", header_from="example.org")],
                   "none")
    assert dmarc.verdict == "verified" and "DMARC passed for example.org" in dmarc.how
    dkim = assess("ada@example.org", [], [ar("dkim", "pass", header_d="example.org")], "none")
    assert dkim.verdict == "verified"


def test_unaligned_or_failing_trusted_results_do_not_verify() -> None:
    found = assess("ada@example.org", [], [ar("spf", "pass", smtp_mailfrom="bounce@esp.example"),
                                           ar("dmarc", "pass", header_from="other.example")],
                   "none")
    assert found.verdict == "unverified"
    assert found.how == "SPF passed for esp.example, not for the From address's domain"
    assert assess("ada@example.org", [], [ar("spf", "fail", smtp_mailfrom="example.org")],
                  "none").verdict == "unverified"


def test_trusted_dmarc_fail_fails() -> None:
    found = assess("ada@example.org", [], [ar("dmarc", "fail", header_from="example.org")],
                   "none")
    assert found == Identity("failed", "DMARC failed for example.org (checked by "
                             "mx.example.net)")


def test_nothing_at_all() -> None:
    assert assess("ada@example.org", [], [], "none") == Identity(
        "unverified", "no DKIM signature, and no other proof of the sender")
    assert assess("undisclosed", [], [], "none").verdict == "unverified"


def test_junk_from_the_message_is_tidied_for_readers() -> None:
    found = assess("ada@example.org", [DkimResult("evil\x07.example" + "x" * 200, "s", False,
                                                  "bad\r\nreason")], [], "none")
    assert "\x07" not in found.how and "\n" not in found.how
    assert len(found.how) < 300


def test_as_json_round_trip() -> None:
    identity = Identity("verified", "DKIM signature by example.org, matching the From address",
                        ("example.org",))
    assert identity.as_json() == {"verdict": "verified", "how": identity.how,
                                  "dkim_domains": ["example.org"]}
    assert Identity.from_json(identity.as_json()) == identity
    assert Identity.from_json({"verdict": "bogus"}).verdict == "unverified"


# -- look-alikes -------------------------------------------------------------------------------

MEMBERS = [("Bob Smith", "bob@example.org"), ("José Álvarez", "jose@example.es"),
           ("", "anon@example.com"), ("Alice", "alice@example.net")]


@pytest.mark.parametrize("name, address, imitated", [
    ("Bоb Smith", "bob.smith@evil.example", "bob@example.org"),  # Cyrillic о
    ("Bob Smitһ", "bob.smith@evil.example", "bob@example.org"),  # Cyrillic һ
    ("ΒΟΒ SMΙΤΗ", "x@evil.example", "bob@example.org"),  # Greek capitals
    ("BOB SMITH", "x@evil.example", "bob@example.org"),  # mixed case
    ("bob   smith.", "x@evil.example", "bob@example.org"),
    ("B0b Sm1th", "x@evil.example", "bob@example.org"),  # digits
    ("Jose Alvarez", "jose@evil.example", "jose@example.es"),  # accents
    ("Ｊｏｓé Álvarez", "jose@evil.example", "jose@example.es"),  # full width
    ("Al\u200bice", "a@evil.example", "alice@example.net"),  # zero-width space
    ("AIice", "a@evil.example", "alice@example.net"),  # capital I for l
    ("", "bob@examp1e.org", "bob@example.org"),
    ("Robert", "b0b@example.org", "bob@example.org"),
    ("", "bob@exаmple.org", "bob@example.org"),  # Cyrillic а in the domain
    ("", "bob@xn--exmple-4nf.org", "bob@example.org"),  # the same, as an A-label
    ("", "alice@exarnple.net", "alice@example.net"),  # rn for m
    ("bob@example.org", "mallory@evil.example", "bob@example.org"),  # address as the name
])
def test_impersonations(name: str, address: str, imitated: str) -> None:
    assert lookalike(name, address, MEMBERS) == imitated
    assert Roster(MEMBERS).lookalike(name, address) == imitated


@pytest.mark.parametrize("name, address", [
    ("Bob Smith", "bob@example.org"),
    ("BOB SMITH", "BOB@Example.ORG"),  # the member, in capitals
    ("José Álvarez", "jose@example.es"),
    ("Carol Jones", "carol@example.org"),  # an unrelated name
    ("", "carol@example.org"),
    ("", "anon@example.com"),
    ("Bob Smyth", "smyth@example.org"),
    ("", "bob@example.com"),  # the same local part at a different domain
    ("Alice", "alice@example.net"),
])
def test_no_impersonation(name: str, address: str) -> None:
    assert lookalike(name, address, MEMBERS) is None
    assert Roster(MEMBERS).lookalike(name, address) is None


def test_empty_names_never_match() -> None:
    assert lookalike("", "x@evil.example", [("", "bob@example.org")]) is None
    assert lookalike("   ", "x@evil.example", [("  ", "bob@example.org")]) is None


def test_two_members_with_one_name() -> None:
    members = [("Bob Smith", "bob@example.org"), ("Bob Smith", "bob@work.example")]
    assert lookalike("Bob Smith", "bob@work.example", members) is None
    assert lookalike("Bob Smith", "bob@home.example", members) == "bob@example.org"
    assert Roster(members).lookalike("Bob Smith", "bob@work.example") is None
    assert Roster(members).lookalike("Bob Smith", "bob@home.example") == "bob@example.org"
