"""Parsing raw bytes into what the archive shows: decoding, dates, ids, bodies, attachments."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from moot.core.htmlmail import html_to_text, sanitize_html
from moot.core.parse import _parse_fast, not_mail_reason, parse_many, parse_message
from tests.helpers import make_message


def lines(*parts: str) -> bytes:
    return "\n".join(parts).encode("utf-8")


# -- decoding --------------------------------------------------------------------------------


def test_quoted_printable_latin1_body_is_decoded() -> None:
    raw = (
        b"From: ada@example.org\nMessage-ID: <qp@example.org>\nSubject: x\n"
        b"MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"Caf=E9 na=EFve, =DCbung =3D gut, soft=\nbreak\n"
    )
    p = parse_message(raw)
    assert p.body_text == "Café naïve, Übung = gut, softbreak\n"
    assert not p.has_html


def test_rfc2047_subject_and_from_name_are_decoded() -> None:
    raw = make_message(
        "enc@example.org",
        subject="=?utf-8?b?w4RwZmVs?= und =?iso-8859-1?q?Birnen_f=FCr_J=F6rg?=",
        sender="=?iso-8859-1?q?J=F6rg_Bauer?= <Joerg@Example.ORG>",
    )
    p = parse_message(raw)
    assert p.subject == "Äpfel und Birnen für Jörg"
    assert p.from_name == "Jörg Bauer"
    assert p.from_addr == "joerg@example.org"


def test_latin1_body_without_content_type_is_decoded() -> None:
    raw = (b"From: ada@example.org\nMessage-ID: <l1@example.org>\nSubject: x\n\n"
           + "Grüße aus Köln, café\n".encode("latin-1"))
    assert parse_message(raw).body_text == "Grüße aus Köln, café\n"


def test_cp1252_body_without_content_type_is_decoded() -> None:
    text = "“Smart quotes” – and the € sign…\n"
    raw = b"From: ada@example.org\nMessage-ID: <cp@example.org>\nSubject: x\n\n"
    p = parse_message(raw + text.encode("cp1252"))
    assert p.body_text == text


def test_utf8_body_without_content_type_is_decoded() -> None:
    text = "Zürich → 東京\n"
    raw = b"From: ada@example.org\nMessage-ID: <u8@example.org>\nSubject: x\n\n"
    assert parse_message(raw + text.encode("utf-8")).body_text == text


@pytest.mark.parametrize("content_type", ["", "Content-Type: text/plain; charset=utf-8\r\n"])
def test_crlf_line_ends_become_lf_in_the_body(content_type: str) -> None:
    raw = (b"From: a@example.org\r\nMessage-ID: <crlf@x>\r\nSubject: crlf\r\n"
           + content_type.encode() + b"\r\nline one\r\nline two\r\n")
    assert parse_message(raw).body_text == "line one\nline two\n"


def test_nul_bytes_never_reach_the_body_or_subject() -> None:
    plain = b"From: a@example.org\nMessage-ID: <n1@x>\nSubject: a\x00b\n\nbo\x00dy\n"
    mime = (b"From: a@example.org\nMessage-ID: <n2@x>\nSubject: a\x00b\n"
            b"Content-Type: text/plain; charset=utf-8\n\nbo\x00dy\n")
    refused = (b" X-Odd: y\nFrom: a@example.org\nMessage-ID: <n3@x>\nSubject: s\n\n"
               b"bo\x00dy\n")
    for raw in (plain, mime, refused):
        p = parse_message(raw)
        assert "\x00" not in p.body_text and "\x00" not in p.subject
        assert p.body_text.startswith("bo") and p.body_text.rstrip().endswith("dy")


# -- identity and dates ----------------------------------------------------------------------


def test_missing_message_id_gets_a_stable_generated_one() -> None:
    raw = make_message(None, body="first\n")
    a, b = parse_message(raw), parse_message(bytes(raw))
    other = parse_message(make_message(None, body="second\n"))
    assert a.message_id_generated and other.message_id_generated
    assert a.message_id == b.message_id
    assert a.message_id != other.message_id
    assert a.message_id.endswith("@generated.invalid")
    assert any("Message-ID" in problem for problem in a.problems)


def test_present_message_id_is_kept_without_brackets() -> None:
    p = parse_message(make_message("kept.123@example.org"))
    assert p.message_id == "kept.123@example.org"
    assert not p.message_id_generated
    assert not any("Message-ID" in problem for problem in p.problems)


@pytest.mark.parametrize(("date", "utc"), [
    ("Mon, 02 Mar 2026 23:30:00 -0800", datetime(2026, 3, 3, 7, 30)),
    ("Mon, 02 Mar 2026 23:30:00 +0530", datetime(2026, 3, 2, 18, 0)),
    ("Tue, 1 Apr 1997 10:00:00 -0500 (EST)", datetime(1997, 4, 1, 15, 0)),
    ("Mon, 02 Mar 2026 09:14:00 +0000", datetime(2026, 3, 2, 9, 14)),
])
def test_date_is_converted_to_naive_utc_and_raw_kept(date: str, utc: datetime) -> None:
    p = parse_message(make_message(date=date))
    assert p.date_utc == utc
    assert p.date_utc.tzinfo is None
    assert p.date_raw == date


@pytest.mark.parametrize("date", ["sometime last week", "31 Feb 2026 10:00:00 +0000", "0"])
def test_unreadable_date_gives_none_and_keeps_raw(date: str) -> None:
    p = parse_message(make_message(date=date))
    assert p.date_utc is None
    assert p.date_raw == date
    assert "no readable Date" in p.problems


def test_in_reply_to_and_references_without_brackets() -> None:
    raw = make_message(
        "child@example.org",
        extra="In-Reply-To: <p1@example.org> (Ada's message of Monday)\n"
              "References: <r1@example.org>\n <r2@example.org>\t<p1@example.org>",
    )
    p = parse_message(raw)
    assert p.in_reply_to == "p1@example.org"
    assert p.references == ["r1@example.org", "r2@example.org", "p1@example.org"]
    assert p.parent_candidates == ["p1@example.org", "r2@example.org", "r1@example.org"]


def test_self_references_are_dropped() -> None:
    p = parse_message(make_message("me@x", in_reply_to="me@x", references=["a@x", "me@x"]))
    assert p.in_reply_to is None
    assert p.references == ["a@x"]


# -- pipermail -------------------------------------------------------------------------------


def test_pipermail_munged_from_is_unmunged() -> None:
    raw = (b"From: jdoe at example.org (John Doe)\nSubject: Plan\n"
           b"Date: Fri, 19 Oct 2001 16:15:42 -0400\nMessage-ID: <p@example.org>\n\nbody\n")
    p = parse_message(raw, pipermail=True)
    assert p.from_addr == "jdoe@example.org"
    assert p.from_name == "John Doe"
    assert p.date_utc == datetime(2001, 10, 19, 20, 15, 42)


def test_pipermail_batch_parse_unmunges_too() -> None:
    raw = b"From: jdoe at example.org (John Doe)\nMessage-ID: <pb@example.org>\n\nbody\n"
    [p] = parse_many([raw], pipermail=True)
    assert p.from_addr == "jdoe@example.org"


# -- HTML and attachments --------------------------------------------------------------------


def test_html_only_message_gives_readable_text() -> None:
    raw = (b"From: a@example.org\nMessage-ID: <h@example.org>\nMIME-Version: 1.0\n"
           b"Content-Type: text/html; charset=utf-8\n\n"
           b"<html><head><style>p { color: red }</style>"
           b"<script>alert('tracked')</script></head>"
           b"<body><p>Hello <b>there</b> &amp; welcome</p><p>second line</p></body></html>\n")
    p = parse_message(raw)
    assert p.has_html
    assert p.body_text == "Hello there & welcome\nsecond line"
    for leak in ("<", "alert", "color", "tracked"):
        assert leak not in p.body_text


def test_alternative_with_plain_part_uses_plain_text() -> None:
    raw = lines(
        "From: a@example.org", "Message-ID: <alt@example.org>", "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="XX"', "",
        "--XX", "Content-Type: text/plain; charset=utf-8", "", "plain words",
        "--XX", "Content-Type: text/html; charset=utf-8", "", "<p>html words</p>",
        "--XX--", "",
    )
    p = parse_message(raw)
    assert not p.has_html
    assert "plain words" in p.body_text and "html words" not in p.body_text


def _with_attachments() -> bytes:
    data = bytes(range(256)) * 3 + bytes(232)  # 1000 bytes
    png = b"\x89PNG\r\n\x1a\n" + bytes(92)  # 100 bytes
    return lines(
        "From: a@example.org", "Message-ID: <att@example.org>", "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="BB"', "",
        "--BB", "Content-Type: text/plain; charset=utf-8", "", "See attached.",
        "--BB", 'Content-Type: application/octet-stream; name="data.bin"',
        'Content-Disposition: attachment; filename="data.bin"',
        "Content-Transfer-Encoding: base64", "", base64.encodebytes(data).decode(),
        "--BB", "Content-Type: image/png",
        'Content-Disposition: attachment; filename="=?utf-8?q?Sch=C3=B6n.png?="',
        "Content-Transfer-Encoding: base64", "", base64.encodebytes(png).decode(),
        "--BB--", "",
    )


def test_attachments_have_names_types_and_decoded_sizes() -> None:
    p = parse_message(_with_attachments())
    assert p.body_text.strip() == "See attached."
    got = [(a.position, a.filename, a.content_type, a.size) for a in p.attachments]
    assert got == [(0, "data.bin", "application/octet-stream", 1000),
                   (1, "Schön.png", "image/png", 100)]


# -- fallbacks -------------------------------------------------------------------------------

# fast-mail-parser refuses a header block that opens with a continuation line.
_REFUSED = (b" X-Broken: leading space\nFrom: Ada Quill <ada@example.org>\n"
            b"Subject: Still readable\nMessage-ID: <fb@example.org>\n"
            b"Date: Mon, 02 Mar 2026 09:14:00 +0100\n\nThe body survives.\n")


def test_input_refused_by_fast_parser_is_really_refused() -> None:
    # Guards the next test: if the Rust parser starts accepting this, find another sample.
    assert isinstance(_parse_fast(_REFUSED), Exception)


def test_message_refused_by_fast_parser_still_parses() -> None:
    p = parse_message(_REFUSED)
    assert p.message_id == "fb@example.org"
    assert p.from_addr == "ada@example.org" and p.from_name == "Ada Quill"
    assert p.subject == "Still readable"
    assert p.date_utc == datetime(2026, 3, 2, 8, 14)
    assert p.body_text == "The body survives.\n"
    assert any("fast parser refused" in problem for problem in p.problems)
    [q] = parse_many([_REFUSED])
    assert (q.message_id, q.subject, q.body_text) == (p.message_id, p.subject, p.body_text)


def test_bad_base64_part_falls_back_and_keeps_text() -> None:
    raw = lines(
        "From: a@example.org", "Message-ID: <b64@example.org>", "Subject: broken",
        'Content-Type: multipart/mixed; boundary="b"', "",
        "--b", "Content-Type: text/plain; charset=utf-8", "", "hello text",
        "--b", "Content-Transfer-Encoding: base64", "", "!!!!", "--b--", "",
    )
    p = parse_message(raw)
    assert p.subject == "broken"
    assert "hello text" in p.body_text


@pytest.mark.parametrize("raw", [
    b"", b"\x00\x01\x02", b"\n\n\n", b"no headers at all", b"Subject: only a header",
    b"\xff\xfe\x00garbage\n\n", b"From: \n\n", b"Content-Type: multipart/mixed\n\n--x\n",
    "Subject: x\n\nbody".encode("utf-16"),
])
def test_parse_never_raises(raw: bytes) -> None:
    p = parse_message(raw)
    assert p.message_id
    assert "\x00" not in p.body_text
    assert p.size == len(raw)


# -- is it mail at all? ----------------------------------------------------------------------

_LICENSE = b"""                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 Everyone is permitted to copy and distribute verbatim copies
"""


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"messages": [{"subject": "hi"}]}\n', "not a header"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "binary"),
    (b"", "empty"),
    (b"  \n\r\n\t", "empty"),
    (_LICENSE, "not a header"),
    (b"MIT License\n\nCopyright (c) 2020 Someone\n", "not a header"),
])
def test_not_mail_reason_for_things_that_are_not_mail(raw: bytes, why: str) -> None:
    reason = not_mail_reason(raw)
    assert reason is not None
    assert reason.startswith("not an email message")
    assert why in reason


@pytest.mark.parametrize("raw", [
    make_message(),
    b"From ada@example.org Mon Mar  2 09:14:00 2026\n" + make_message(),
    b"\xef\xbb\xbf" + make_message(),
    b"\r\n" + make_message().replace(b"\n", b"\r\n"),
    b"Received: from x by y; Mon, 2 Mar 2026\n\tcontinued\nSubject: x\n\nbody",
])
def test_not_mail_reason_is_none_for_mail(raw: bytes) -> None:
    assert not_mail_reason(raw) is None


# -- HTML sanitising -------------------------------------------------------------------------


def test_sanitize_html_removes_everything_active() -> None:
    out = sanitize_html(
        '<p onclick="steal()" style="color:red">hi<script>alert(1)</script></p>'
        '<img src="http://tracker.example/pixel.gif" onerror="x()">'
        "<style>body{display:none}</style>"
        '<iframe src="http://evil.example/"></iframe><form action="/x"><input name=a></form>'
        '<svg onload="a()"></svg><a href="javascript:alert(2)">js</a>'
    )
    low = out.lower()
    for bad in ("<script", "alert", "onclick", "onerror", "onload", "<img", "tracker",
                "style", "display:none", "<iframe", "<form", "<input", "javascript:", "<svg"):
        assert bad not in low, bad
    assert "<p>hi</p>" in out


def test_sanitize_html_links_get_nofollow() -> None:
    out = sanitize_html('<a href="https://example.org/x" rel="me">site</a> '
                        '<a href="mailto:a@example.org">mail</a>')
    assert out.count('rel="nofollow noopener noreferrer"') == 2
    assert 'href="https://example.org/x"' in out and 'href="mailto:a@example.org"' in out
    assert 'rel="me"' not in out


def test_sanitize_html_keeps_ordinary_formatting() -> None:
    markup = "<blockquote><p><b>bold</b> <i>it</i></p></blockquote><ul><li>one</li></ul>"
    assert sanitize_html(markup) == markup


def test_html_to_text() -> None:
    text = html_to_text(
        "<script>alert(1)</script><div>A &amp; B &lt;tag&gt;</div>"
        "<ul><li>one</li><li>two</li></ul><p>x</p><br><br><br><br><p>y</p><!-- hidden -->"
    )
    assert text == "A & B <tag>\none\ntwo\nx\n\ny"


def test_html_to_text_keeps_bare_angle_brackets() -> None:
    assert html_to_text("if a < b and c > d") == "if a < b and c > d"
