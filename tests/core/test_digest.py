"""Digests: both layouts read back as a member's mail reader would see them."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.commands import parse_commands
from moot.core.digest import build_digest, digest_subject
from moot.core.mailinglist import ListConfig

CONFIG = ListConfig("dev@example.org", display_name="Dev")
DATE = datetime(2026, 3, 2, 9, 14, tzinfo=UTC)
SUBJECT = "Dev Digest, Vol 3, Issue 12"
ARCHIVE = "https://lists.example.org/l/dev@example.org/"
OPTIONS = "https://lists.example.org/options/dev@example.org"


def post(*headers: str, body: bytes | str, eol: str = "\r\n") -> bytes:
    if isinstance(body, str):
        body = body.replace("\n", eol).encode("utf-8")
    return (eol.join(headers) + eol * 2).encode("utf-8") + body


def std(n: int, subject: str, *extra: str) -> tuple[str, ...]:
    return ("Received: from mx.example.net by lists.example.org; Mon, 2 Mar 2026 08:00:00",
            "DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=sel;\r\n b=AAAA",
            f"From: Ada Quill <ada{n}@example.net>", "To: dev@example.org",
            f"Subject: {subject}", f"Date: Mon, 02 Mar 2026 08:{n:02d}:00 +0000",
            f"Message-ID: <p{n}@example.net>", "List-Id: Dev <dev.example.org>",
            "List-Unsubscribe: <mailto:dev-leave@example.org>", "X-Mailer: Tinker 1.0",
            "MIME-Version: 1.0", *extra)


PDF = (b"%PDF-1.4\n" + bytes(range(256)) * 48)[: 12 * 1024]
POSTS = [
    post(*std(1, "[dev] Release plan"), body="Plain ASCII text.\nSecond line.\n"),
    post(*std(2, "[dev] Re: Release plan", "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit"), body="Grüße aus Köln — ça va?\n"),
    post(*std(3, "[dev] Quoted", "Content-Type: text/plain; charset=iso-8859-1",
              "Content-Transfer-Encoding: quoted-printable"),
         body="Caf=E9 au lait, and a long line that is soft=\nbroken here.\n"),
    post(*std(4, "[dev] Base64", "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: base64"),
         body=base64.encodebytes("Base64 body: naïve résumé\n".encode())),
    post(*std(5, "[dev] Shiny", "Content-Type: text/html; charset=utf-8"),
         body="<html><p>Hello <b>HTML</b></p><p>second &amp; last</p></html>\n"),
    post(*std(6, "[dev] Report", 'Content-Type: multipart/mixed; boundary="b1"'),
         body=b"--b1\r\nContent-Type: text/plain\r\n\r\nSee the report.\r\n--b1\r\n"
              b"Content-Type: application/pdf\r\n"
              b'Content-Disposition: attachment; filename="report.pdf"\r\n'
              b"Content-Transfer-Encoding: base64\r\n\r\n"
              + base64.encodebytes(PDF).replace(b"\n", b"\r\n") + b"--b1--\r\n"),
    post("Received: by mx", "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>",
         "Subject: [dev] =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
         "Message-ID: <p7@example.de>", body="Encoded headers.\n", eol="\n"),
    post(*std(8, "[dev] Dashes"), body="above\n" + "-" * 30 + "\nbelow\n"),
    b"\xff\xfe this is not mail at all\r\nBcc: eve@example.com\r\n\x00",
]
TOPICS = [
    "   1. Release plan (Ada Quill)",
    "   2. Re: Release plan (Ada Quill)",
    "   3. Quoted (Ada Quill)",
    "   4. Base64 (Ada Quill)",
    "   5. Shiny (Ada Quill)",
    "   6. Report (Ada Quill)",
    "   7. Grüße aus Köln (Jörg Müller)",
    "   8. Dashes (Ada Quill)",
    "   9. (no subject) (unknown)",
]


def build(fmt: str, posts: list[bytes] | None = None, **kw: str) -> bytes:
    kw = {"archive_url": ARCHIVE, "options_url": OPTIONS, **kw}
    return build_digest(CONFIG, POSTS if posts is None else posts, volume=3, issue=12,
                        date=DATE, message_id="digest-3-12@example.org", fmt=fmt, **kw)


def read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text(part: EmailMessage) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def plain_text() -> str:
    msg = read(build("plain"))
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    return text(msg)


def posts_of(msg: EmailMessage) -> list[EmailMessage]:
    digest = list(msg.iter_parts())[2]
    assert digest.get_content_type() == "multipart/digest"
    inner = [p.get_content() for p in digest.iter_parts()]
    assert all(isinstance(m, EmailMessage) for m in inner)
    return inner


def test_subject() -> None:
    assert digest_subject(CONFIG, 3, 12) == SUBJECT
    assert digest_subject(ListConfig("ops@example.org"), 1, 1) == "ops Digest, Vol 1, Issue 1"


@pytest.mark.parametrize("fmt", ["mime", "plain"])
def test_headers(fmt: str) -> None:
    raw = build(fmt)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    msg = read(raw)
    assert msg["Subject"] == SUBJECT
    assert msg["From"] == "Dev <dev-request@example.org>"
    assert msg["To"] == "dev@example.org"
    assert msg["Reply-To"] == "dev@example.org"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<digest-3-12@example.org>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Precedence"] == "list"
    assert msg["Auto-Submitted"] is None
    assert msg["X-Loop"] == "dev@example.org"
    assert msg["List-Id"] == '"Dev" <dev.example.org>'
    assert msg["List-Post"] == "<mailto:dev@example.org>"
    assert msg["List-Help"] == "<mailto:dev-request@example.org?subject=help>"
    assert msg["List-Unsubscribe"] == f"<mailto:dev-leave@example.org>, <{OPTIONS}>"
    assert msg["List-Archive"] == f"<{ARCHIVE}>"


def test_without_urls() -> None:
    msg = read(build("mime", archive_url="", options_url=""))
    assert msg["List-Unsubscribe"] == "<mailto:dev-leave@example.org>"
    assert msg["List-Archive"] is None
    masthead = text(next(msg.iter_parts()))
    assert "https://" not in masthead and "dev-request@example.org" in masthead


def test_mime_layout() -> None:
    msg = read(build("mime"))
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "text/plain", "multipart/digest", "text/plain"]
    masthead, topics, _, end = (text(p) if p.get_content_maintype() == "text" else ""
                                for p in parts)
    for needed in ("dev@example.org", "dev-request@example.org", '"help"', OPTIONS, ARCHIVE,
                   "dev-leave@example.org", f'"Re: {SUBJECT}"'):
        assert needed in masthead
    assert parse_commands("", masthead).commands == ()  # quoting it to -request runs nothing
    assert topics.splitlines() == ["Today's Topics:", "", *TOPICS]
    assert end == f"End of {SUBJECT}\n"


def test_mime_posts_in_order_without_transport_headers() -> None:
    inner = posts_of(read(build("mime")))
    assert [m["Message-ID"] for m in inner[:8]] == [
        f"<p{n}@example.{'de' if n == 7 else 'net'}>" for n in range(1, 9)]
    assert list(inner[0].keys()) == ["From", "To", "Subject", "Date", "Message-ID",
                                     "MIME-Version"]
    assert list(inner[1].keys()) == ["From", "To", "Subject", "Date", "Message-ID",
                                     "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
    for m in inner:
        for gone in ("Received", "DKIM-Signature", "List-Id", "List-Unsubscribe", "X-Mailer"):
            assert m[gone] is None


def test_mime_keeps_post_bytes() -> None:
    raw = build("mime")
    # Bodies and kept fields are byte for byte the post's (line ends made CRLF).
    assert "Grüße aus Köln — ça va?\r\n".encode() in raw
    assert b"Caf=E9 au lait, and a long line that is soft=\r\nbroken here." in raw
    assert b"Subject: [dev] =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n" in raw
    assert base64.encodebytes(PDF).replace(b"\n", b"\r\n") in raw
    inner = posts_of(read(raw))
    assert text(inner[1]) == "Grüße aus Köln — ça va?\n"
    assert text(inner[2]).startswith("Café au lait, and a long line that is softbroken here.")
    assert text(inner[3]) == "Base64 body: naïve résumé\n"
    attachment = next(inner[5].iter_attachments())
    assert attachment.get_filename() == "report.pdf" and attachment.get_content() == PDF
    assert str(inner[6]["From"]) == "Jörg Müller <joerg@example.de>"


def test_mime_declares_8bit() -> None:
    msg = read(build("mime"))
    digest = list(msg.iter_parts())[2]
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert digest["Content-Transfer-Encoding"] == "8bit"
    cte = [p["Content-Transfer-Encoding"] for p in digest.iter_parts()]
    assert cte[0] is None and cte[1] == "8bit"
    ascii_only = read(build("mime", posts=POSTS[:1]))
    assert ascii_only["Content-Transfer-Encoding"] is None


def test_mime_broken_post_still_there() -> None:
    inner = posts_of(read(build("mime")))
    assert len(inner) == len(POSTS)
    assert "this is not mail at all" in inner[8].get_payload()
    assert inner[8]["Bcc"] is None  # a broken post's text never becomes a header


def test_plain_layout() -> None:
    body = plain_text()
    head, _, rest = body.partition("\n" + "-" * 70 + "\n")
    assert "\n".join(["Today's Topics:", "", *TOPICS]) in head
    assert f'"Re: {SUBJECT}"' in head
    chunks = rest.split("\n" + "-" * 30 + "\n")
    assert len(chunks) == len(POSTS) + 1  # the dashes inside post 8 split nothing
    assert [c.strip().splitlines()[0] for c in chunks[:-1]] == [
        f"Message: {n}" for n in range(1, 10)]
    assert chunks[0].strip().splitlines()[1:6] == [
        "Date: Mon, 02 Mar 2026 08:01:00 +0000", "From: Ada Quill <ada1@example.net>",
        "Subject: [dev] Release plan", "Message-ID: <p1@example.net>", ""]
    assert chunks[-1] == f"\nEnd of {SUBJECT}\n" + "*" * len(f"End of {SUBJECT}") + "\n"


def test_plain_bodies() -> None:
    chunks = plain_text().split("\n" + "-" * 30 + "\n")
    assert chunks[0].endswith("\n\nPlain ASCII text.\nSecond line.\n")
    assert "\nGrüße aus Köln — ça va?\n" in chunks[1]
    assert "\nCafé au lait, and a long line that is softbroken here.\n" in chunks[2]
    assert "\nBase64 body: naïve résumé\n" in chunks[3]
    assert "\nHello HTML\nsecond & last\n" in chunks[4]
    assert "<p>" not in chunks[4]
    assert "\nSee the report.\n[attachment: report.pdf, application/pdf, 12 KB, not included]\n" \
        in chunks[5]
    assert "%PDF" not in chunks[5]
    assert "From: Jörg Müller <joerg@example.de>\nSubject: [dev] Grüße aus Köln\n" in chunks[6]
    assert "\nabove\n " + "-" * 30 + "\nbelow\n" in chunks[7]
    assert "From: (unknown)\nSubject: (no subject)\n" in chunks[8]
    assert "this is not mail at all" in chunks[8]


def test_plain_alternative_prefers_text() -> None:
    alt = post("From: a@example.net", "Subject: alt",
               'Content-Type: multipart/alternative; boundary="x"',
               body="--x\nContent-Type: text/plain\n\nthe text\n--x\nContent-Type: text/html\n"
                    "\n<p>the html</p>\n--x--\n", eol="\n")
    body = text(read(build("plain", posts=[alt])))
    assert "\nthe text\n" in body and "the html" not in body


def test_plain_notes_forwarded_message() -> None:
    fwd = post("From: a@example.net", "Subject: fwd", 'Content-Type: multipart/mixed; boundary="z"',
               body="--z\nContent-Type: text/plain\n\nsee below\n--z\n"
                    "Content-Type: message/rfc822\n\nSubject: old\n\nold text\n--z--\n", eol="\n")
    body = text(read(build("plain", posts=[fwd])))
    assert "\nsee below\n[attachment: forwarded message, message/rfc822, not included]\n" in body
    assert "old text" not in body


@pytest.mark.parametrize("fmt", ["mime", "plain"])
def test_same_input_same_bytes(fmt: str) -> None:
    assert build(fmt) == build(fmt)


@pytest.mark.parametrize("bad", [
    {"message_id": "x@example.org>\r\nBcc: eve@example.com"},
    {"message_id": "x@example.org\nBcc: eve@example.com"},
    {"message_id": "no-at-sign"},
    {"message_id": "a\x00@example.org"},
    {"fmt": "html"},
    {"posts": []},
    {"date": datetime(2026, 3, 2)},
    {"volume": 0},
    {"issue": True},
    {"archive_url": "https://x/\r\nBcc: eve@example.com"},
    {"options_url": "https://x/ a"},
])
def test_bad_arguments(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"posts": POSTS, "volume": 3, "issue": 12, "date": DATE,
                               "message_id": "d@example.org", "fmt": "mime", **bad}
    with pytest.raises(ValueError):
        build_digest(CONFIG, **args)  # type: ignore[arg-type]


def test_message_id_in_brackets_is_accepted() -> None:
    raw = build_digest(CONFIG, POSTS[:1], volume=1, issue=1, date=DATE,
                       message_id="<d@example.org>")
    assert read(raw)["Message-ID"] == "<d@example.org>"


_header_line = st.sampled_from(
    ["From: ", "Subject: ", "Date: ", "Message-ID: ", "Content-Type: ", "To: ", "X-A: ",
     "Content-Transfer-Encoding: ", " ", "\t", "", "--b\r\n", "From "]
).flatmap(lambda name: st.text(max_size=40).map(lambda v: name + v))
_mailish = st.tuples(st.lists(_header_line, max_size=8), st.text(max_size=200)).map(
    lambda t: "\n".join(t[0]).encode("utf-8", "surrogatepass") + b"\n\n"
    + t[1].encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(posts=st.lists(st.one_of(st.binary(max_size=300), _mailish), min_size=1, max_size=4),
       fmt=st.sampled_from(["mime", "plain"]))
def test_any_posts_make_a_digest(posts: list[bytes], fmt: str) -> None:
    raw = build(fmt, posts=posts)
    msg = read(raw)
    assert msg["Subject"] == SUBJECT
    if fmt == "mime":
        assert len(list(list(msg.iter_parts())[2].iter_parts())) == len(posts)
        assert raw.endswith(b"--\r\n")
    else:
        body = text(msg)
        assert len(re.findall(r"(?m)^-{30}$", body)) == len(posts)
        assert body.endswith(f"End of {SUBJECT}\n" + "*" * len(f"End of {SUBJECT}") + "\n")
