"""Signer's DKIM signature and ARC set checked with dkimpy against a key made with openssl; the
message after the new fields byte for byte as it was."""

from __future__ import annotations

from collections.abc import Callable

import dkim
import dkim.util
import pytest

from moot.delivery.signing import SEALED, Signer, covered
from tests.helpers import dkim_keypair

# A list's copy: list header fields, RFC 8058 one-click, a folded field, 8-bit text.
COPY = ("From: Ada Quill <ada@example.org>\r\n"
        "To: dev@example.org\r\n"
        "Subject: [dev] Tabs or spaces\r\n"
        "Date: Mon, 2 Mar 2026 09:14:02 +0000\r\n"
        "Message-ID: <tabs-1@example.org>\r\n"
        "Received: from mail.example.net\r\n"
        "\tby lists.example.org; Mon, 2 Mar 2026 09:14:03 +0000\r\n"
        "Authentication-Results: lists.example.org; dkim=pass header.d=example.org\r\n"
        "List-Id: Dev <dev.example.org>\r\n"
        "List-Post: <mailto:dev@example.org>\r\n"
        "List-Unsubscribe: <https://lists.example.org/u/abc>,\r\n"
        " <mailto:dev-leave@example.org>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Spaces, obviously. — Ada\r\n").encode()


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    return dkim_keypair()


@pytest.fixture
def signer(key: tuple[bytes, str]) -> Signer:
    return Signer("lists.example.org", "moot1", key[0], "lists.example.org")


def dns(key: tuple[bytes, str]) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc`` with our one key."""
    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        return key[1].encode() if name == b"moot1._domainkey.lists.example.org." else None
    return txt


def new_fields(out: bytes, original: bytes) -> bytes:
    assert out.endswith(original)
    return out[:len(out) - len(original)]


def test_signature_verifies_and_the_message_is_untouched(signer: Signer,
                                                         key: tuple[bytes, str]) -> None:
    out = signer.dkim_sign(COPY)
    head = new_fields(out, COPY)
    assert head.startswith(b"DKIM-Signature: ")
    assert head.count(b"DKIM-Signature") == 1 and head.endswith(b"\r\n")
    assert dkim.verify(out, dnsfunc=dns(key))
    tags = dkim.util.parse_tag_value(head.partition(b":")[2])
    assert tags[b"d"] == b"lists.example.org" and tags[b"s"] == b"moot1"
    assert tags[b"c"] == b"relaxed/relaxed" and tags[b"a"] == b"rsa-sha256"


def test_list_unsubscribe_and_friends_are_signed(signer: Signer) -> None:
    out = signer.dkim_sign(COPY)
    tags = dkim.util.parse_tag_value(new_fields(out, COPY).partition(b":")[2])
    signed = [name.strip().lower() for name in tags[b"h"].split(b":")]
    for name in (b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                 b"list-post", b"list-unsubscribe", b"list-unsubscribe-post",
                 b"content-type"):
        assert name in signed
    # Present once and sealed: named twice, so a second one can't be added.
    assert signed.count(b"list-unsubscribe") == 2
    assert b"received" not in signed and b"authentication-results" not in signed


def test_changes_after_signing_break_it(signer: Signer, key: tuple[bytes, str]) -> None:
    out = signer.dkim_sign(COPY)
    assert not dkim.verify(out.replace(b"One-Click", b"One-Clack"), dnsfunc=dns(key))
    added = out.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe: <https://evil.example>\r\n\r\n", 1)
    assert not dkim.verify(added, dnsfunc=dns(key))
    assert not dkim.verify(out.replace(b"obviously", b"never"), dnsfunc=dns(key))
    # ...but a field nobody signs may come and go.
    assert dkim.verify(b"Received: from relay\r\n" + out, dnsfunc=dns(key))


def test_bare_line_feeds_stay_bare(signer: Signer, key: tuple[bytes, str]) -> None:
    lf = COPY.replace(b"\r\n", b"\n")
    out = signer.dkim_sign(lf)
    assert b"\r" not in new_fields(out, lf)
    assert dkim.verify(out, dnsfunc=dns(key))


def test_covered_fields() -> None:
    names = covered(b"From: a@example.org\nTo: b@example.org\nTO: c@example.org\n\nhi")
    assert names.count(b"from") == 2 and names.count(b"to") == 3
    assert set(names) >= {name.encode() for name in SEALED}
    assert b"references" not in names  # not present, not sealed


def test_arc_set_verifies_and_the_message_is_untouched(signer: Signer,
                                                       key: tuple[bytes, str]) -> None:
    out = signer.arc_seal(COPY, "dkim=pass header.d=example.org; arc=none")
    head = new_fields(out, COPY)
    assert head.startswith(b"ARC-Seal: i=1; cv=none;")
    assert b"\r\nARC-Message-Signature: i=1;" in head
    assert b"\r\nARC-Authentication-Results: i=1; lists.example.org;" in head
    assert b"dkim=pass header.d=example.org" in head
    cv, results, why = dkim.arc_verify(out, dnsfunc=dns(key))
    assert (cv, why) == (dkim.CV_Pass, "success")


def test_arc_then_dkim(signer: Signer, key: tuple[bytes, str]) -> None:
    sealed = signer.arc_seal(COPY, "lists.example.org; arc=none")
    # Only the results we were given: not the copy's own Authentication-Results.
    assert b"dkim=pass" not in new_fields(sealed, COPY)
    out = signer.dkim_sign(sealed)
    assert dkim.verify(out, dnsfunc=dns(key))
    assert dkim.arc_verify(out, dnsfunc=dns(key))[0] == dkim.CV_Pass


def test_a_second_instance_needs_an_arc_result(signer: Signer, key: tuple[bytes, str]) -> None:
    once = signer.arc_seal(COPY, "arc=none")
    with pytest.raises(ValueError, match="arc=pass or arc=fail"):
        signer.arc_seal(once, "dkim=pass header.d=example.org")
    twice = signer.arc_seal(once, "arc=pass")
    assert dkim.arc_verify(twice, dnsfunc=dns(key))[0] == dkim.CV_Pass
    assert new_fields(twice, once).startswith(b"ARC-Seal: i=2; cv=pass;")


def test_bad_keys_are_refused_early() -> None:
    with pytest.raises(ValueError, match="private key"):
        Signer("example.org", "s1", b"-----BEGIN PRIVATE KEY-----\nAAAA\n", "example.org")


def test_unreadable_messages_are_refused(signer: Signer) -> None:
    with pytest.raises(ValueError, match="could not sign"):
        signer.dkim_sign(b"From: a@example.org\r\nnot a header line\r\n\r\nhi\r\n")
    with pytest.raises(ValueError, match="could not seal"):
        signer.arc_seal(COPY, "arc=pass")  # a chain that isn't there
