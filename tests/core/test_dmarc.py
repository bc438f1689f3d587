"""DMARC records read, names to ask, and the munged or wrapped copy read back with the email
package: what changed, and that every other byte did not."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from moot.core.decorate import decorate
from moot.core.dmarc import (
    author_domain,
    lookup_names,
    mitigate,
    munge_from,
    needs_mitigation,
    policy_from_answer,
    record_policy,
    wrap,
)
from moot.core.mailinglist import ListConfig

DEV = ListConfig("dev@example.org", display_name="Dev")
DEV_REPLY_TO_LIST = ListConfig("dev@example.org", display_name="Dev", reply_to="list")

# A post as the list sends it: decorated, CRLF, a folded field, 8-bit junk, a DKIM signature.
POST = (
    b"Received: from mail.example.net (mail.example.net [192.0.2.7])\r\n"
    b"\tby lists.example.org; Mon, 2 Mar 2026 09:14:02 +0000\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=s1; h=from:to:subject;\r\n"
    b" bh=abc=; b=def=\r\n"
    b"From: Ada Quill <ada@example.net>\r\n"
    b"To: dev@example.org\r\n"
    b"Cc: bob@example.com\r\n"
    b"Subject: [dev] Plans for \xe9t\xe9\r\n"
    b"Date: Mon, 02 Mar 2026 09:14:00 +0000\r\n"
    b"Message-ID: <a1@example.net>\r\n"
    b"In-Reply-To: <a0@example.net>\r\n"
    b"References: <a0@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"List-Id: \"Dev\" <dev.example.org>\r\n"
    b"List-Post: <mailto:dev@example.org>\r\n"
    b"X-Loop: dev@example.org\r\n"
    b"\r\n"
    b"Caf\xc3\xa9 at nine.\r\n-- \r\nAda\r\n"
)


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def fields(raw: bytes) -> list[bytes]:
    """The header fields as bytes, continuation lines included."""
    head = raw[: re.search(rb"\r?\n\r?\n", raw).end()]  # type: ignore[union-attr]
    return [f for f in re.split(rb"(?<=\n)(?=[^ \t])", head) if f.strip()]


def named(raw: bytes, *names: str) -> list[bytes]:
    return [f for f in fields(raw) if f.split(b":")[0].strip().lower().decode() in names]


def others(raw: bytes, *names: str) -> list[bytes]:
    return [f for f in fields(raw) if f.split(b":")[0].strip().lower().decode() not in names]


def body(raw: bytes) -> bytes:
    return raw[re.search(rb"\r?\n\r?\n", raw).end():]  # type: ignore[union-attr]


def from_with_name(name: str, address: str = "ada@example.net") -> bytes:
    """A post whose From name is one base64 encoded word: anything at all can hide in it."""
    word = base64.b64encode(name.encode("utf-8")).decode()
    return (f"From: =?utf-8?b?{word}?= <{address}>\nTo: dev@example.org\nSubject: x\n\nhi\n"
            .encode())


# -- records and names ---------------------------------------------------------------------


@pytest.mark.parametrize(("txt", "subdomain", "expected"), [
    ("v=DMARC1; p=reject", False, "reject"),
    ("v=DMARC1;p=quarantine;", False, "quarantine"),
    ("  v = DMARC1 ;  p = none ; ", False, "none"),
    ("V=dmarc1; P=REJECT", False, "reject"),
    ("v=DMARC1; p=reject; sp=none", True, "none"),
    ("v=DMARC1; p=none; sp=quarantine", True, "quarantine"),
    ("v=DMARC1; p=none; sp=quarantine", False, "none"),
    ("v=DMARC1; p=reject", True, "reject"),  # no sp=: p= speaks for subdomains too
    ("v=DMARC1; p=reject; sp=maybe", False, "none"),  # invalid sp=: RFC 7489 6.6.3 (5)
    ("v=DMARC1; p=bogus; rua=mailto:a@example.com", False, "none"),
    ("v=DMARC1; rua=mailto:a@example.com", False, "none"),
    ("v=DMARC1; p=", False, "none"),
    ("v=DMARC1\t;\tp=reject\t", False, "reject"),
    ("v=DMARC1; p=reject; p=none", False, "reject"),  # the first of a repeated tag
    ("v=DMARC2; p=reject", False, None),
    ("p=reject; v=DMARC1", False, None),  # v= must come first (RFC 7489 6.3)
    ("v=spf1 include:_spf.example.com -all", False, None),
    ("", False, None),
    ("v=DMARC1 p=reject", False, None),
])
def test_record_policy(txt: str, subdomain: bool, expected: str | None) -> None:
    assert record_policy(txt, subdomain=subdomain) == expected


def test_policy_from_answer() -> None:
    assert policy_from_answer([]) is None
    assert policy_from_answer(["v=spf1 -all", "google-site-verification=x"]) is None
    assert policy_from_answer(["x", "v=DMARC1; p=quarantine"]) == "quarantine"
    assert policy_from_answer(["v=DMARC1; p=reject; sp=none"], subdomain=True) == "none"
    assert policy_from_answer(["v=DMARC1; p=reject", "v=DMARC1; p=reject"]) == "none"


@pytest.mark.parametrize(("domain", "expected"), [
    ("example.com", ["_dmarc.example.com"]),
    ("EXAMPLE.com.", ["_dmarc.example.com"]),
    ("a.b.example.com", ["_dmarc.a.b.example.com", "_dmarc.example.com"]),
    ("example.co.uk", ["_dmarc.example.co.uk"]),
    ("news.bbc.co.uk", ["_dmarc.news.bbc.co.uk", "_dmarc.bbc.co.uk"]),
    ("mail.uni.ac.jp", ["_dmarc.mail.uni.ac.jp", "_dmarc.uni.ac.jp"]),
    ("shop.com.au", ["_dmarc.shop.com.au"]),
    ("co.uk", ["_dmarc.co.uk"]),
    ("localhost", ["_dmarc.localhost"]),
    ("mail.exämple.de", ["_dmarc.mail.xn--exmple-cua.de", "_dmarc.xn--exmple-cua.de"]),
    ("", []), ("a..example", []), ("-x.example", []), ("a b.example", []),
    ("[192.0.2.1]", []), ("x\r\nexample.com", []), ("a" * 64 + ".example", []),
])
def test_lookup_names(domain: str, expected: list[str]) -> None:
    assert lookup_names(domain) == expected


def test_needs_mitigation() -> None:
    assert [needs_mitigation(p) for p in ("reject", "quarantine", "none", None, "bogus")] == [
        True, True, False, False, False]


@pytest.mark.parametrize(("raw", "expected"), [
    (POST, "example.net"),
    (b"From: ADA@Example.NET\n\nx", "example.net"),
    (b"From: \"Doe, Jane\" <jane@a.example>, bob@b.example\n\nx", "a.example"),
    (b"FROM:\n =?iso-8859-1?q?J=F6rg?= <j@b\xfccher.example>\n\nx", "bücher.example"),
    (b"Sender: s@x.example\nFrom: f@y.example\nFrom: g@z.example\n\nx", "y.example"),
    (b"To: a@b.example\n\nFrom: in@body.example\n", None),
    (b"From: nobody\n\nx", None),
    (b"From: <>\n\nx", None),
    (b"From: a@[192.0.2.1]\n\nx", None),
    (b"", None),
])
def test_author_domain(raw: bytes, expected: str | None) -> None:
    assert author_domain(raw) == expected


# -- munging ---------------------------------------------------------------------------------


def test_munge_rewrites_from_and_keeps_every_other_byte() -> None:
    out = munge_from(POST, DEV)
    msg = parse(out)
    assert msg["From"].addresses[0].display_name == "Ada Quill via Dev"
    assert str(msg["Reply-To"]) == "Ada Quill <ada@example.net>"
    assert named(out, "x-original-from") == [b"X-Original-From: Ada Quill <ada@example.net>\r\n"]
    assert others(out, "from", "x-original-from", "reply-to") == others(POST, "from")
    assert named(out, "from") == [b'From: "Ada Quill via Dev" <dev@example.org>\r\n']
    assert body(out) == body(POST)
    # In place of the old From, in the post's own line ends.
    assert [f.split(b":")[0] for f in fields(out)][2:6] == [
        b"From", b"X-Original-From", b"Reply-To", b"To"]
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_munge_with_reply_to_list_puts_the_author_in_cc() -> None:
    decorated = munge_from(POST.replace(b"X-Loop:", b"Reply-To: dev@example.org\r\nX-Loop:"),
                           DEV_REPLY_TO_LIST)
    msg = parse(decorated)
    assert str(msg["Reply-To"]) == "dev@example.org"
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["bob@example.com", "ada@example.net"]
    assert named(decorated, "cc") == [b'Cc: bob@example.com,\r\n "Ada Quill" <ada@example.net>\r\n']
    assert others(decorated, "from", "x-original-from", "cc") == others(
        POST.replace(b"X-Loop:", b"Reply-To: dev@example.org\r\nX-Loop:"), "from", "cc")

    no_cc = POST.replace(b"Cc: bob@example.com\r\n", b"")
    out = munge_from(no_cc, DEV_REPLY_TO_LIST)
    assert named(out, "cc") == [b'Cc: "Ada Quill" <ada@example.net>\r\n']
    assert named(out, "reply-to") == []  # decorate sets it; munging leaves it to decorate
    empty_cc = munge_from(POST.replace(b"Cc: bob@example.com", b"Cc: "), DEV_REPLY_TO_LIST)
    assert named(empty_cc, "cc") == [b'Cc: "Ada Quill" <ada@example.net>\r\n']

    already = POST.replace(b"Cc: bob@example.com", b"Cc: bob@example.com, ADA@example.net")
    assert named(munge_from(already, DEV_REPLY_TO_LIST), "cc") == named(already, "cc")

    trailing_comma = munge_from(b"Cc: bob@example.com,\nFrom: ada@example.net\n\nhi\n",
                                DEV_REPLY_TO_LIST)
    assert named(trailing_comma, "cc") == [b"Cc: bob@example.com,\n <ada@example.net>\n"]
    empty_first = munge_from(b"Cc:\nTo: x@example.com\nFrom: ada@example.net\n\nhi\n",
                             DEV_REPLY_TO_LIST)
    assert empty_first == (b"To: x@example.com\n"
                           b'From: "ada at example.net via Dev" <dev@example.org>\n'
                           b"X-Original-From: ada@example.net\n"
                           b"Cc: <ada@example.net>\n\nhi\n")


def test_munge_keeps_the_authors_own_reply_to() -> None:
    raw = POST.replace(b"To:", b"Reply-To: ada-lists@example.net\r\nTo:")
    out = munge_from(raw, DEV)
    assert named(out, "reply-to") == [b"Reply-To: ada-lists@example.net\r\n"]
    assert others(out, "from", "x-original-from") == others(raw, "from")


def test_munge_after_decorate() -> None:
    raw = (b"From: =?utf-8?q?Zo=C3=AB_=C3=85berg?= <zoe@example.net>\nTo: dev@example.org\n"
           b"Subject: hi\nMessage-ID: <z@example.net>\n\nHello.\n")
    config = ListConfig("dev@example.org", display_name="Développeurs", reply_to="list",
                        footer="Leave: https://l.example/\n")
    decorated = decorate(raw, config, base_url="https://l.example", message_id="z@example.net",
                         archived=True)
    out = munge_from(decorated, config)
    msg = parse(out)
    assert msg["From"].addresses[0].display_name == "Zoë Åberg via Développeurs"
    assert msg["From"].addresses[0].addr_spec == "dev@example.org"
    assert named(out, "from")[0].isascii()
    assert str(msg["Cc"]) == "Zoë Åberg <zoe@example.net>"
    assert str(msg["Reply-To"]) == "dev@example.org"
    assert str(msg["X-Original-From"]) == "Zoë Åberg <zoe@example.net>"
    assert others(out, "from", "x-original-from", "cc") == others(decorated, "from")
    assert body(out) == body(decorated)
    assert munge_from(out, config) == out  # from the list already: nothing to do


@pytest.mark.parametrize(("from_field", "expected"), [
    (b"From: bob@example.net", b'"bob at example.net via Dev"'),
    (b"From: <bob@example.net>", b'"bob at example.net via Dev"'),
    (b'From: "bob@example.net" <bob@example.net>', b'"bob at example.net via Dev"'),
    (b'From: "Ada \\"Q\\" Quill" <ada@example.net>', b'"Ada \\"Q\\" Quill via Dev"'),
    (b"From: ada@example.net (Ada Quill)", b'"ada at example.net via Dev"'),
    (b'From: "Doe, Jane" <jane@example.net>', b'"Doe, Jane via Dev"'),
    (b"From: =?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= <ada@example.net>",
     b"=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= via Dev"),
])
def test_munged_names(from_field: bytes, expected: bytes) -> None:
    out = munge_from(from_field + b"\nSubject: x\n\nhi\n", DEV)
    assert named(out, "from") == [b"From: " + expected + b" <dev@example.org>\n"]
    assert named(out, "x-original-from") == [b"X-Original-" + from_field + b"\n"]


def test_long_names_fold_within_the_line_limit() -> None:
    out = munge_from(from_with_name("Ada " * 60), DEV)
    msg = parse(out)
    assert msg["From"].addresses[0].display_name.endswith("Ada via Dev")
    assert len(msg["From"].addresses[0].display_name) <= 130
    assert all(len(line) <= 78 for f in named(out, "from", "reply-to") for line in f.splitlines())


def test_munge_leaves_posts_it_cannot_help_alone() -> None:
    no_from = b"To: dev@example.org\r\nSubject: x\r\n\r\nhi\r\n"
    assert munge_from(no_from, DEV) is no_from
    unreadable = b"From: undisclosed-recipients:;\nSubject: x\n\nhi\n"
    assert munge_from(unreadable, DEV) is unreadable
    assert wrap(no_from, DEV) is no_from


def test_munge_replaces_forged_x_original_from_and_extra_from_fields() -> None:
    raw = (b"X-Original-From: ceo@bank.example\nFrom: ada@example.net\n"
           b"From: eve@example.com\nSubject: x\n\nhi\n")
    out = munge_from(raw, DEV)
    assert named(out, "x-original-from") == [b"X-Original-From: ada@example.net\n"]
    assert [str(v) for v in parse(out).get_all("From", [])] == [
        '"ada at example.net via Dev" <dev@example.org>']


@pytest.mark.parametrize("name", [
    "Ada\r\nBcc: victim@example.com",
    "Ada\nX-Evil: 1",
    "Ada\r\n\r\nInjected body",
    "Ada\x00\x07\x1b Quill",
])
def test_line_breaks_in_the_authors_name_go_nowhere(name: str) -> None:
    out = munge_from(from_with_name(name), DEV)
    msg = parse(out)
    assert [k.lower() for k in msg.keys()] == ["from", "x-original-from", "reply-to", "to",
                                               "subject"]
    display = msg["From"].addresses[0].display_name
    assert display.startswith("Ada ") and display.endswith(" via Dev")
    assert not re.search(r"[\x00-\x1f]", display)
    assert body(out) == b"hi\n"


def test_line_breaks_in_list_settings_are_refused() -> None:
    for config in (ListConfig("dev@example.org", display_name="Dev\r\nBcc: x@y"),
                   ListConfig("dev@example.org\nBcc: x@y")):
        for action in (munge_from, wrap):
            with pytest.raises(ValueError, match="line break"):
                action(POST, config)


@given(st.text(max_size=80))
@example("")
@example("\u2028\x85=?utf-8?q?x?=\"\\")
def test_any_name_gives_one_clean_from(name: str) -> None:
    out = munge_from(from_with_name(name), DEV)
    msg = parse(out)
    assert [k.lower() for k in msg.keys()] == ["from", "x-original-from", "reply-to", "to",
                                               "subject"]
    assert [a.addr_spec for a in msg["From"].addresses] == ["dev@example.org"]
    assert msg["From"].addresses[0].display_name.endswith(" via Dev")
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["ada@example.net"]
    assert all(line.isascii() and len(line) < 100 for f in named(out, "from", "reply-to")
               for line in f.splitlines())


# -- wrapping --------------------------------------------------------------------------------


def attached_bytes(out: bytes) -> bytes:
    """The bytes of the message/rfc822 part, exactly."""
    boundary = parse(out).get_boundary()
    assert boundary
    delimiter = b"\r\n--" + boundary.encode()
    part = out.split(delimiter)[2]
    head_end = re.search(rb"\r\n\r\n", part).end()  # type: ignore[union-attr]
    return part[head_end:]


def test_wrap_attaches_the_post_unchanged() -> None:
    out = wrap(POST, DEV)
    msg = parse(out)
    assert named(out, "from") == [b'From: "Ada Quill via Dev" <dev@example.org>\r\n']
    assert str(msg["Reply-To"]) == "Ada Quill <ada@example.net>"
    for name in ("To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                 "List-Id", "List-Post", "X-Loop"):
        assert named(out, name.lower()) == named(POST, name.lower()), name
    assert named(out, "received", "dkim-signature", "x-original-from") == []
    assert msg.get_content_type() == "multipart/mixed"
    assert named(out, "content-transfer-encoding") == [b"Content-Transfer-Encoding: 8bit\r\n"]
    note, attached = msg.iter_parts()
    assert note.get_content_type() == "text/plain"
    text = note.get_content()
    assert "Ada Quill <ada@example.net>" in text and "example.net" in text
    assert "refuse" in text and "attach" in text
    assert attached.get_content_type() == "message/rfc822"
    assert attached_bytes(out) == POST
    inner = attached.get_content()
    assert str(inner["From"]) == "Ada Quill <ada@example.net>"
    assert inner.get_content() == "Café at nine.\r\n-- \r\nAda\r\n"
    assert not msg.defects and not note.defects and not attached.defects
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_wrap_with_reply_to_list_and_a_plain_ascii_post() -> None:
    raw = (b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.net>\nTo: dev@example.org\n"
           b"Reply-To: dev@example.org\nSubject: [dev] hi\nMessage-ID: <z@x>\n\nHello.\n")
    out = wrap(raw, DEV_REPLY_TO_LIST)
    msg = parse(out)
    assert str(msg["Reply-To"]) == "dev@example.org"
    assert str(msg["Cc"]) == "Zoë <zoe@example.net>"
    assert named(out, "content-transfer-encoding") == []  # all seven-bit
    note, attached = msg.iter_parts()
    assert "Zoë <zoe@example.net>" in note.get_content()
    assert attached.get_content().as_bytes() == raw
    assert out.isascii() and b"\r" not in out


def test_a_boundary_in_the_post_is_not_reused() -> None:
    first = wrap(POST, DEV)
    boundary = parse(first).get_boundary()
    assert boundary
    tricky = POST + b"--" + boundary.encode() + b"--\r\n"
    out = wrap(tricky, DEV)
    assert parse(out).get_boundary() != boundary
    assert attached_bytes(out) == tricky


def test_mitigate_dispatches_on_the_mode() -> None:
    assert mitigate(POST, DEV, "munge") == munge_from(POST, DEV)
    assert mitigate(POST, DEV, "wrap") == wrap(POST, DEV)
    assert mitigate(POST, DEV, "none") is POST
    with pytest.raises(ValueError, match="unknown DMARC mitigation"):
        mitigate(POST, DEV, "rewrite")
