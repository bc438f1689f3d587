"""The copy a list sends to its members: list headers, subject prefix, Reply-To, footer."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import moot.core.decorate as decorate_module
from moot.core.decorate import decorate, personalize, prefixed_subject
from moot.core.mailinglist import ListConfig

FOOTER = "Dev list: https://lists.example.org/l/dev@example.org/\n"
BASE = "https://lists.example.org"


def cfg(**changes: object) -> ListConfig:
    return ListConfig("dev@example.org", **changes)  # type: ignore[arg-type]


def message(*headers: str, body: bytes | str = b"Hello, world.\n", eol: str = "\n") -> bytes:
    """A message from header lines (folded lines as "\\n " inside a string) and a body."""
    head = eol.join(h.replace("\n", eol) for h in headers)
    if isinstance(body, str):
        body = body.replace("\n", eol).encode("utf-8")
    return head.encode("utf-8") + eol.encode() * 2 + body


PLAIN = ("From: Ada Quill <ada@example.net>", "To: dev@example.org", "Subject: Hello",
         "Date: Mon, 02 Mar 2026 09:14:00 +0000", "Message-ID: <a1@example.net>",
         "MIME-Version: 1.0")


def run(raw: bytes, config: ListConfig | None = None, *, archived: bool = True,
        message_id: str = "a1@example.net") -> bytes:
    return decorate(raw, config or cfg(), base_url=BASE, message_id=message_id,
                    archived=archived)


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def head_lines(raw: bytes) -> list[bytes]:
    """The header block's lines, line ends kept."""
    end = re.search(rb"\r?\n\r?\n", raw)
    assert end is not None
    return raw[: end.end()].splitlines(keepends=True)[:-1]


def body_of(raw: bytes) -> bytes:
    end = re.search(rb"\r?\n\r?\n", raw)
    assert end is not None
    return raw[end.end():]


def values(raw: bytes, name: str) -> list[str]:
    return [str(v) for v in parse(raw).get_all(name, [])]


def defects(raw: bytes) -> set[str]:
    msg = parse(raw)
    found = set()
    for part in msg.walk():
        found.update(type(d).__name__ for d in part.defects)
        for _, value in part.items():
            found.update(type(d).__name__ for d in getattr(value, "defects", ()))
    return found


def leaves(raw: bytes) -> list[tuple[str, bytes]]:
    """Every non-multipart part: its type and decoded bytes."""
    out = []
    for part in parse(raw).walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out.append((part.get_content_type(), payload))
    return out


# -- list headers ----------------------------------------------------------------------------


def test_list_headers_are_added_on_top() -> None:
    raw = message(*PLAIN)
    out = run(raw, cfg(display_name="Dev Team"))
    assert head_lines(out)[:8] == [
        b'List-Id: "Dev Team" <dev.example.org>\n',
        b"List-Help: <mailto:dev-request@example.org?subject=help>\n",
        b"List-Subscribe: <https://lists.example.org/l/dev@example.org/subscribe>,\n",
        b" <mailto:dev-join@example.org>\n",
        b"List-Post: <mailto:dev@example.org>\n",
        b"List-Owner: <mailto:dev-owner@example.org>\n",
        b"List-Archive: <https://lists.example.org/l/dev@example.org/>\n",
        b"Archived-At: <https://lists.example.org/l/dev@example.org/m/a1@example.net/>\n",
    ]
    assert head_lines(out)[8] == b"X-Loop: dev@example.org\n"
    assert values(out, "List-Subscribe") == [
        "<https://lists.example.org/l/dev@example.org/subscribe>, <mailto:dev-join@example.org>"]


def test_list_id_phrase_defaults_to_the_local_part_and_is_quoted() -> None:
    assert values(run(message(*PLAIN)), "List-Id") == ['"dev" <dev.example.org>']
    out = run(message(*PLAIN), cfg(display_name='The "dev" \\ list'))
    assert b'List-Id: "The \\"dev\\" \\\\ list" <dev.example.org>\n' in out


def test_non_ascii_list_name_is_an_encoded_word() -> None:
    name = "Développeurs de Moot, la liste où l'on parle de tout et de rien, très longuement"
    out = run(message(*PLAIN), cfg(display_name=name))
    assert values(out, "List-Id") == [f"{name} <dev.example.org>"]
    list_id = out[: out.index(b"List-Help:")]
    assert b"=?utf-8?q?" in list_id and list_id.isascii()
    assert all(len(line) <= 78 for line in list_id.splitlines())


def test_announce_list_says_no_posting() -> None:
    out = run(message(*PLAIN), cfg(posting_policy="announce"))
    assert values(out, "List-Post") == ["NO"]


def test_no_archive_headers_without_archive() -> None:
    out = run(message(*PLAIN), cfg(archive_policy="none"), archived=False)
    assert values(out, "List-Archive") == [] and values(out, "Archived-At") == []
    out = run(message(*PLAIN), cfg(archive_policy="private"), archived=False)
    assert values(out, "List-Archive") == ["<https://lists.example.org/l/dev@example.org/>"]
    assert values(out, "Archived-At") == []


def test_trailing_slash_of_base_url_and_message_id_escaping() -> None:
    out = decorate(message(*PLAIN), cfg(), base_url=BASE + "/", message_id="a/b c%d?#<x>@h",
                   archived=True)
    assert values(out, "Archived-At") == [
        "<https://lists.example.org/l/dev@example.org/m/a%2Fb%20c%25d%3F%23%3Cx%3E@h/>"]
    assert values(out, "List-Archive") == ["<https://lists.example.org/l/dev@example.org/>"]


def test_list_headers_of_another_list_are_replaced() -> None:
    raw = message(
        "LIST-ID: Other <other.example.com>",
        "List-Unsubscribe: <https://other.example.com/u>,\n <mailto:other-leave@example.com>",
        "list-post: <mailto:other@example.com>", "List-Help: <mailto:x>",
        "List-Subscribe: <mailto:x>", "List-Archive: <https://other.example.com/>",
        "List-Owner: <mailto:o@x>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Archived-At:\n <https://other.example.com/m/1>", "X-Loop: <DEV@example.org>",
        "X-Loop: other@example.com", "x-loop: dev@example.org", *PLAIN)
    out = run(raw)
    head = b"".join(head_lines(out))
    assert b"other" not in head.replace(b"X-Loop: other@example.com", b"")
    assert b"mailto:x" not in head and b"One-Click" not in head
    assert values(out, "List-Id") == ['"dev" <dev.example.org>']
    assert values(out, "List-Unsubscribe") == []
    assert values(out, "X-Loop") == ["dev@example.org", "other@example.com"]


def test_untouched_headers_and_body_stay_byte_for_byte() -> None:
    kept = (b"Received: from mx.example.net (mx.example.net [192.0.2.1])\n"
            b"\tby lists.example.org; Mon, 2 Mar 2026 09:14:01 +0000\n"
            b"From: =?utf-8?q?J=C3=B6rg?= <j@example.net>\n"
            b"X-Odd:   spaced\t value  \n"
            b"X-Eight-Bit: caf\xe9 \xff\n"
            b"Subject: [dev] Re: already tagged  \n"
            b"Content-Type: text/plain; charset=utf-8\n")
    body = b"Line one  \n\xe2\x82\xac two\n\n-- \nsig\n"
    out = run(kept + b"List-Id: gone <gone.example>\n\n" + body)
    assert out.endswith(b"X-Loop: dev@example.org\n" + kept + b"\n" + body)


def test_crlf_message_stays_crlf() -> None:
    raw = message(*PLAIN, "Reply-To: ada@example.net", body="one\ntwo\n", eol="\r\n")
    raw = raw.replace(b"Subject: Hello", "Subject: Grüße aus Köln".encode())
    out = run(raw, cfg(display_name="Dév", reply_to="list", footer="Footer\nline two\n"))
    assert out.count(b"\n") == out.count(b"\r\n") > 10
    assert parse(out).get_content() == "one\r\ntwo\r\n\r\nFooter\r\nline two\r\n"
    assert str(parse(out)["Subject"]) == "[dev] Grüße aus Köln"


def test_crlf_message_wrapped_for_a_footer_stays_crlf() -> None:
    raw = message(*PLAIN[:-1], "Content-Type: text/html", body="<p>hi</p>\n", eol="\r\n")
    out = run(raw, cfg(footer="Fußnote\n"))
    assert out.count(b"\n") == out.count(b"\r\n")
    assert leaves(out) == [("text/html", b"<p>hi</p>\r\n"),
                           ("text/plain", "Fußnote\r\n".encode())]


# -- subject ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "prefix", "expected"), [
    ("hello", "[dev] ", "[dev] hello"),
    ("[dev] hello", "[dev] ", "[dev] hello"),
    ("Re: [dev] Re: [dev] hello", "[dev] ", "[dev] Re: hello"),
    ("RE: Aw: [DEV] x", "[dev] ", "[dev] Re: x"),
    ("Re[2]: [dev] x", "[dev] ", "[dev] Re: x"),
    ("SV: Antw: odp: x", "[dev] ", "[dev] Re: x"),
    ("  [ dev ] x", "[dev] ", "[dev] [ dev ] x"),
    ("Fwd: [dev] x", "[dev] ", "[dev] Fwd: [dev] x"),
    ("Reply needed", "[dev] ", "[dev] Reply needed"),
    ("Re: x", "", "Re: x"),
    ("x", "dev:", "dev:x"),
    ("dev: Re: dev:x", "  DEV:  ", "  DEV:  Re: x"),
    ("RE :", "Re: ", "Re: "),  # a prefix that looks like a reply marker takes no "Re: " more
    ("Aw: x", "Re: ", "Re: x"),
])
def test_prefixed_subject(subject: str, prefix: str, expected: str) -> None:
    assert prefixed_subject(subject, prefix) == expected


SUBJECT_WORDS = st.sampled_from(["Re:", "RE :", "aw:", "Re[3]:", "[dev]", "[DEV]", " ", "x",
                                 "Fwd:", "[other]", "ré", "dev", ":", "[", "]", "SV:"])
PREFIXES = st.one_of(st.sampled_from(["[dev] ", "[dev]", "dev:", " [Dev] ", "Re: ", "[é] "]),
                     st.text(max_size=8))


@example("RE :", "Re: ")
@example("Aw: x", "Re")
@example("Re: x", "Re: [x] ")
@given(st.one_of(st.lists(SUBJECT_WORDS, max_size=8).map("".join), st.text(max_size=30)),
       PREFIXES)
def test_prefixed_subject_is_idempotent(subject: str, prefix: str) -> None:
    once = prefixed_subject(subject, prefix)
    assert prefixed_subject(once, prefix) == once
    if prefix.strip():
        assert once.startswith(prefix)
        rest = once[len(prefix):].removeprefix("Re: ")
        assert subject.endswith(rest)  # only markers and tags came off the front


def test_encoded_subject_is_decoded_then_prefixed() -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello",
                                  b"Subject: Re: =?iso-8859-1?q?R=E9sum=E9?=\n du jour")
    out = run(raw)
    assert str(parse(out)["Subject"]) == "[dev] Re: Résumé du jour"
    assert b"Subject: [dev] Re: =?utf-8?q?R=C3=A9sum=C3=A9?= du jour\n" in out


def test_ascii_subject_is_written_plain_and_folded() -> None:
    subject = "A rather long subject line " * 4
    out = run(message(*PLAIN).replace(b"Subject: Hello", b"Subject: " + subject.encode()))
    lines = out[out.index(b"Subject:"):].split(b"\nMIME")[0].split(b"\n")
    assert len(lines) > 1 and all(len(line) <= 78 for line in lines)
    assert b"=?" not in out
    assert str(parse(out)["Subject"]) == "[dev] " + subject.strip()


@given(st.text(alphabet=st.sampled_from(list("aé € 😀Zx.:[]=?_\t-")), max_size=120))
def test_non_ascii_subject_reads_back_as_written(text: str) -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello",
                                  b"Subject: " + text.replace("\t", " ").encode())
    out = run(raw)
    expected = prefixed_subject(text.replace("\t", " ").strip() or "(no subject)", "[dev] ")
    assert str(parse(out)["Subject"]) == expected.rstrip()
    subject_lines = [line for line in head_lines(out)
                     if line.startswith((b"Subject:", b" ", b"\t"))
                     and not line.startswith(b" <mailto:dev-join")]
    assert all(len(line.rstrip(b"\n")) <= 78 for line in subject_lines)
    assert all(line.isascii() for line in subject_lines)


def test_overlong_subject_word_is_folded_within_the_line_limit() -> None:
    word = "x" * 2000
    out = run(message(*PLAIN).replace(b"Subject: Hello", b"Subject: Re: " + word.encode()))
    assert str(parse(out)["Subject"]) == "[dev] Re: " + word
    assert max(len(line) for line in out.splitlines()) <= 78


def test_raw_utf8_subject_is_encoded() -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello", "Subject: Re: Grüße".encode())
    out = run(raw)
    assert b"Subject: [dev] Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n" in out
    assert str(parse(out)["Subject"]) == "[dev] Re: Grüße"


def test_tagged_subject_keeps_its_bytes() -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello",
                                  b"Subject: [dev] =?utf-8?q?h=C3=A9llo?=\n  there")
    out = run(raw)
    assert b"Subject: [dev] =?utf-8?q?h=C3=A9llo?=\n  there\n" in out
    raw = message(*PLAIN).replace(b"Subject: Hello", b"Subject: [DEV] hello")
    assert b"Subject: [dev] hello\n" in run(raw)


def test_missing_or_empty_subject() -> None:
    no_subject = message(*[h for h in PLAIN if not h.startswith("Subject")])
    assert values(run(no_subject), "Subject") == ["[dev] (no subject)"]
    assert values(run(no_subject, cfg(subject_prefix="")), "Subject") == []
    assert values(run(no_subject, cfg(subject_prefix="  ")), "Subject") == []
    empty = message(*PLAIN).replace(b"Subject: Hello", b"Subject:  ")
    assert values(run(empty), "Subject") == ["[dev] (no subject)"]


def test_empty_prefix_leaves_subject_alone() -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello", b"Subject: Re: =?utf-8?q?x?=")
    out = run(raw, cfg(subject_prefix=""))
    assert b"Subject: Re: =?utf-8?q?x?=\n" in out


def test_encoded_line_breaks_in_subject_make_no_new_header() -> None:
    raw = message(*PLAIN).replace(b"Subject: Hello",
                                  b"Subject: =?utf-8?q?hi=0D=0ABcc:_evil@example.com?=")
    out = run(raw)
    assert values(out, "Bcc") == []
    assert str(parse(out)["Subject"]) == "[dev] hi Bcc: evil@example.com"


# -- Reply-To --------------------------------------------------------------------------------


def test_reply_to_list_replaces_the_authors() -> None:
    raw = message(*PLAIN, "reply-to: Ada\n <ada@example.net>")
    out = run(raw, cfg(reply_to="list"))
    assert values(out, "Reply-To") == ["dev@example.org"]
    assert b"ada@example.net>" not in b"".join(head_lines(out)).split(b"From:")[0]
    assert b"<ada@example.net>" not in out.replace(b"From: Ada Quill <ada@example.net>", b"")


def test_reply_to_author_is_left_alone() -> None:
    raw = message(*PLAIN, "Reply-To: Ada\n <ada@example.net>")
    out = run(raw, cfg(reply_to="author"))
    assert b"Reply-To: Ada\n <ada@example.net>\n" in out
    assert len(values(out, "Reply-To")) == 1
    assert values(run(message(*PLAIN), cfg(reply_to="author")), "Reply-To") == []


# -- footer ----------------------------------------------------------------------------------


def check_parts(raw: bytes, out: bytes, footer: str = FOOTER) -> None:
    """The parts of ``raw`` are all in ``out``, unchanged, then the footer; no new defects."""
    assert leaves(out) == leaves(raw) + [("text/plain", footer.encode("utf-8"))]
    assert defects(out) <= defects(raw)
    footer_part = list(parse(out).walk())[-1]
    assert footer_part.get_content_disposition() == "inline"
    assert parse(out).get_content_type() == "multipart/mixed"


def test_footer_appended_to_plain_8bit_text() -> None:
    body = "Grüße,\nAda\n".encode()
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: 8bit", "Content-Length: 14", body=body)
    out = run(raw, cfg(footer="Liste für alle\r\n\r\n"))
    assert body_of(out) == body + "\nListe für alle\n".encode()
    assert parse(out).get_content() == "Grüße,\nAda\n\nListe für alle\n"
    assert values(out, "Content-Length") == []


def test_footer_after_a_body_without_final_newline() -> None:
    raw = message(*PLAIN, body=b"no newline")
    out = run(raw, cfg(footer=FOOTER))
    assert body_of(out) == b"no newline\n\n" + FOOTER.encode()


def test_ascii_footer_appended_without_content_type() -> None:
    raw = message(*PLAIN[:-1], body="plain\n")
    out = run(raw, cfg(footer=FOOTER))
    assert body_of(out) == b"plain\n\n" + FOOTER.encode()
    assert values(out, "Content-Type") == []


def test_non_ascii_footer_wraps_a_seven_bit_part() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=us-ascii", body="plain\n")
    out = run(raw, cfg(footer="Liste für alle\n"))
    check_parts(raw, out, "Liste für alle\n")
    first = list(parse(out).walk())[1]
    assert first.get_content_type() == "text/plain" and first.get_content() == "plain\n"


def test_non_ascii_footer_wraps_text_without_transfer_encoding() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8", body="plain\n")
    out = run(raw, cfg(footer="Liste für alle\n"))
    check_parts(raw, out, "Liste für alle\n")


def test_text_in_a_charset_unlike_ascii_is_wrapped() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-16",
                  "Content-Transfer-Encoding: binary", body="hi\n".encode("utf-16"))
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)


def test_footer_in_latin1_text() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=ISO-8859-1",
                  "Content-Transfer-Encoding: 8bit", body="caf\xe9\n".encode("latin-1"))
    out = run(raw, cfg(footer="Liste für alle\n"))
    assert body_of(out) == "café\n\nListe für alle\n".encode("latin-1")
    assert parse(out).get_content() == "café\n\nListe für alle\n"


def test_footer_the_charset_cannot_carry_wraps_the_text() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=ISO-8859-1",
                  "Content-Transfer-Encoding: 8bit", body="caf\xe9\n".encode("latin-1"))
    out = run(raw, cfg(footer="Price: 5 €\n"))
    check_parts(raw, out, "Price: 5 €\n")


def test_unknown_charset_wraps_the_text() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=x-no-such-charset",
                  "Content-Transfer-Encoding: 8bit", body=b"hi\n")
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)


def test_footer_in_quoted_printable_text() -> None:
    text = "Caf\xe9 na\xefve = good, " + "a long line " * 10 + "\nend\n"
    encoded = ("Caf=C3=A9 na=C3=AFve =3D good, " + "a long line " * 4 + "=\n"
               + "a long line " * 6 + "\nend\n")
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: quoted-printable", body=encoded)
    out = run(raw, cfg(footer="Fußnote  \n"))
    assert parse(out).get_content() == text + "\nFußnote  \n"
    assert parse(out)["Content-Transfer-Encoding"] == "quoted-printable"
    assert all(len(line) <= 76 for line in body_of(out).splitlines())
    assert body_of(out).isascii()


def test_footer_in_base64_text() -> None:
    text = "Grüße,\r\nAda\r\n"
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: base64",
                  body=base64.encodebytes(text.encode("utf-8")))
    out = run(raw, cfg(footer="Fußnote\n"))
    assert base64.b64decode(body_of(out)) == (text + "\r\nFußnote\r\n").encode()
    assert parse(out)["Content-Transfer-Encoding"] == "base64"


def test_footer_in_base64_text_of_a_crlf_message() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: base64",
                  body=base64.encodebytes(b"x" * 100).replace(b"\n", b"\r\n"), eol="\r\n")
    out = run(raw, cfg(footer="a\nb\n"))
    assert out.count(b"\n") == out.count(b"\r\n")
    assert base64.b64decode(body_of(out)) == b"x" * 100 + b"\r\n\r\na\r\nb\r\n"


def test_broken_base64_text_is_wrapped() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: base64", body=b"abc\n")
    out = run(raw, cfg(footer=FOOTER))
    assert body_of(out).count(b"\nabc\n") == 1
    assert [t for t, _ in leaves(out)] == ["text/plain", "text/plain"]
    assert list(parse(out).walk())[-1].get_content() == FOOTER


MIXED = (
    "--b1\n"
    "Content-Type: text/plain; charset=utf-8\n\nSee the patch.\n\n"
    "--b1\n"
    "Content-Type: text/x-diff; name=fix.diff\nContent-Disposition: attachment\n\n"
    "--- a\n+++ b\n"
    "--b1--\n"
    "epilogue\n"
)


def test_footer_part_added_to_multipart_mixed() -> None:
    raw = message(*PLAIN, 'Content-Type: multipart/mixed; boundary="b1"', body=MIXED)
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)
    assert body_of(out).endswith(FOOTER.encode() + b"\n--b1--\nepilogue\n")
    assert body_of(out).startswith(MIXED.split("--b1--")[0].encode())
    assert parse(out).get_body(("plain",)).get_content() == "See the patch.\n"


def test_mime_version_added_with_the_footer_part() -> None:
    raw = message(*PLAIN[:-1], 'Content-Type: multipart/mixed; boundary="b1"', body=MIXED)
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)
    assert values(out, "MIME-Version") == ["1.0"]
    assert values(run(raw), "MIME-Version") == []


def test_non_ascii_footer_part_in_multipart_mixed_is_quoted_printable() -> None:
    raw = message(*PLAIN, 'Content-Type: multipart/mixed; boundary="b1"', body=MIXED)
    out = run(raw, cfg(footer="Fußnote\n"))
    check_parts(raw, out, "Fußnote\n")
    assert b"Fu=C3=9Fnote" in out and body_of(out).isascii()


def test_footer_holding_the_boundary_is_not_put_into_the_multipart() -> None:
    raw = message(*PLAIN, 'Content-Type: multipart/mixed; boundary="b1"', body=MIXED)
    out = run(raw, cfg(footer="--b1 is our motto\n"))
    check_parts(raw, out, "--b1 is our motto\n")
    assert parse(out).get_boundary() != "b1"


def test_multipart_mixed_without_close_delimiter_is_wrapped() -> None:
    raw = message(*PLAIN, 'Content-Type: multipart/mixed; boundary="b1"',
                  body=MIXED.split("--b1--")[0])
    out = run(raw, cfg(footer=FOOTER))
    assert leaves(out)[-1] == ("text/plain", FOOTER.encode())
    assert leaves(out)[:-1] == leaves(raw)
    assert parse(out).get_boundary() != "b1"


def test_multipart_alternative_is_wrapped() -> None:
    alternative = ("preamble\n--alt\nContent-Type: text/plain\n\nplain\n"
                   "--alt\nContent-Type: text/html\n\n<p>html</p>\n--alt--\n")
    raw = message(*PLAIN, 'Content-Type: multipart/alternative;\n boundary="alt"',
                  "Content-Description: the post", body=alternative)
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)
    msg = parse(out)
    inner = msg.get_payload(0)
    assert inner.get_content_type() == "multipart/alternative"
    assert inner["Content-Description"] == "the post"
    assert msg["Content-Description"] is None
    assert msg.get_body(("plain",)).get_content() == "plain"
    assert alternative.encode() in out
    assert b'Content-Type: multipart/alternative;\n boundary="alt"\n' in body_of(out)


def test_html_only_post_is_wrapped() -> None:
    raw = message(*PLAIN, "Content-Type: text/html; charset=utf-8",
                  "Content-Transfer-Encoding: 8bit", body="<p>Grüße</p>\n")
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)
    assert parse(out).get_body(("html",)).get_content() == "<p>Grüße</p>\n"
    assert parse(out)["Content-Transfer-Encoding"] == "8bit"  # the multipart holds 8-bit


def test_single_attachment_is_wrapped_and_mime_version_added() -> None:
    pdf = b"%PDF-1.4\x00\xff binary"
    raw = message(*PLAIN[:-1], "Content-Type: application/pdf",
                  "Content-Transfer-Encoding: base64",
                  "Content-Disposition: attachment; filename=a.pdf",
                  body=base64.encodebytes(pdf))
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)
    assert values(out, "MIME-Version") == ["1.0"]
    assert leaves(out)[0] == ("application/pdf", pdf)
    assert list(parse(out).walk())[1].get_filename() == "a.pdf"


def test_text_attachment_is_wrapped_not_appended_to() -> None:
    raw = message(*PLAIN, "Content-Type: text/plain", "Content-Disposition: attachment",
                  body="file\n")
    out = run(raw, cfg(footer=FOOTER))
    check_parts(raw, out)


SIGNED = ('Content-Type: multipart/signed; boundary="s"; protocol="application/pgp-signature";'
          ' micalg=pgp-sha256')


@pytest.mark.parametrize("content_type", [
    SIGNED,
    'Content-Type: multipart/encrypted; boundary="s"; protocol="application/pgp-encrypted"',
    "Content-Type: application/pkcs7-mime; smime-type=enveloped-data",
    "Content-Type: application/x-pkcs7-mime",
])
def test_signed_or_encrypted_posts_get_no_footer(content_type: str) -> None:
    body = (b"--s\nContent-Type: text/plain\n\nsigned text\n--s\n"
            b"Content-Type: application/pgp-signature\n\nSIG\n--s--\n")
    raw = message(*PLAIN, content_type, body=body)
    out = run(raw, cfg(footer=FOOTER, subject_prefix=""))
    assert body_of(out) == body
    assert out.endswith(raw)


def test_multipart_without_boundary_gets_no_footer() -> None:
    raw = message(*PLAIN, "Content-Type: multipart/mixed", body="--x\n\nhi\n--x--\n")
    out = run(raw, cfg(footer=FOOTER))
    assert body_of(out) == b"--x\n\nhi\n--x--\n"


def test_footer_line_ends_follow_the_message() -> None:
    out = run(message(*PLAIN, body="hi\n"), cfg(footer="a\r\nb\rc"))
    assert body_of(out) == b"hi\n\na\nb\nc\n"


def test_new_boundary_skips_a_candidate_found_in_the_post(
        monkeypatch: pytest.MonkeyPatch) -> None:
    digests = iter(["a" * 64, "b" * 64])

    class FakeHash:
        def __init__(self, data: bytes) -> None:
            self.digest = next(digests)

        def hexdigest(self) -> str:
            return self.digest

    monkeypatch.setattr(decorate_module.hashlib, "sha256", FakeHash)
    raw = message(*PLAIN, "Content-Type: text/html", body="<p>moot-" + "a" * 32 + "</p>\n")
    out = run(raw, cfg(footer=FOOTER))
    assert parse(out).get_boundary() == "moot-" + "b" * 32
    check_parts(raw, out)


def test_decorating_is_deterministic() -> None:
    raw = message(*PLAIN, "Content-Type: text/html", body="<p>x</p>\n")
    assert run(raw, cfg(footer=FOOTER)) == run(raw, cfg(footer=FOOTER))


def test_new_boundary_does_not_occur_in_the_post() -> None:
    raw = message(*PLAIN, "Content-Type: text/html", body="<p>moot-</p>\n")
    out = run(raw, cfg(footer=FOOTER))
    boundary = parse(out).get_boundary()
    assert boundary and boundary.encode() not in raw


# -- garbage ---------------------------------------------------------------------------------

GARBAGE = [
    b"",
    b"\n",
    b"\r\n",
    b"\nbody after an empty header block\n",
    b"no header at all\n",
    b"Subject: no newline at all",
    b"Subject: x\nbody without an empty line\n",
    b"\xff\xfe: \x80\x81\nSubject: caf\xe9 \x80\n\n\xff body\n",
    b" orphan continuation\nSubject: x\n\nbody\n",
    b"From ada@example.net Mon Mar  2 09:14:00 2026\nSubject: x\n\nbody\n",
    b"Subject: a\rX-Loop: dev@example.org\rFrom: b\r\rbody",
    b"Content-Type: garbage\n\nbody\n",
    b"Content-Type: text/plain; charset=\n\nbody\n",
    b"Content-Type: text/plain; charset=\"\xff\"\n\nbody\n",
    b"Content-Type: multipart/mixed; boundary=\"\"\n\nbody\n",
    b"Content-Type: multipart/mixed; boundary=\"\xe9\"\n\n--\xe9\n\nx\n--\xe9--\n",
    b"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx",
    b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!!=\n",
    b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=",
    b"Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n",
    b"Subject: =?utf-8?q?unterminated\nSubject: =?x-bogus?b?!!!?=\n\nb\n",
    b"Subject: " + b"x" * 2000 + b"\n\nlong\n",
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_does_not_raise(raw: bytes) -> None:
    out = run(raw, cfg(footer="Fußnote\n", reply_to="list"))
    assert re.match(rb'List-Id: "dev" <dev.example.org>\r?\nList-Help: ', out)
    msg = parse(out)
    assert msg["List-Id"] == '"dev" <dev.example.org>'
    assert msg.get_all("X-Loop") == ["dev@example.org"]
    assert msg["Subject"].startswith("[dev] ")


def test_missing_empty_line_is_supplied() -> None:
    out = run(b"Subject: x\nbody without an empty line\n")
    assert out.endswith(b"Subject: [dev] x\n\nbody without an empty line\n")
    assert parse(out).get_content() == "body without an empty line\n"


def test_mbox_from_line_and_orphan_lines_are_not_sent() -> None:
    out = run(b"From ada Mon Mar  2 09:14:00 2026\n orphan\nSubject: x\n\nbody\n")
    assert b"From ada" not in out and b"orphan" not in out
    assert out.endswith(b"Subject: [dev] x\n\nbody\n")
    out = run(b"Subject: x\nFrom ada Mon Mar  2 09:14:00 2026\n orphan\nTo: a@b\n\nbody\n")
    assert b"From ada" not in out and b"orphan" not in out
    assert out.endswith(b"Subject: [dev] x\nTo: a@b\n\nbody\n")


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_are_decorated_without_error(raw: bytes, archived: bool) -> None:
    out = run(raw, cfg(footer="Fußnote\n"), archived=archived)
    assert out.startswith(b"List-Id: ")


@pytest.mark.parametrize(("changes", "kwargs"), [
    ({"subject_prefix": "[x]\r\nBcc: a@b "}, {}),
    ({"display_name": "dev\nBcc: a@b"}, {}),
    ({}, {"base_url": "https://l.example\r\nBcc: a@b"}),
    ({}, {"message_id": "a@b\nBcc: c@d"}),
])
def test_line_breaks_in_settings_or_arguments_are_refused(
        changes: dict[str, str], kwargs: dict[str, str]) -> None:
    arguments = {"base_url": BASE, "message_id": "a@b", "archived": True, **kwargs}
    with pytest.raises(ValueError, match="line break"):
        decorate(message(*PLAIN), cfg(**changes), **arguments)  # type: ignore[arg-type]


# -- personalize -----------------------------------------------------------------------------


def test_personalize_prepends_unsubscribe_headers() -> None:
    decorated = run(message(*PLAIN))
    out = personalize(decorated, unsubscribe_url="https://lists.example.org/u/tok3n",
                      unsubscribe_mailto="mailto:dev-leave+tok3n@example.org")
    assert out == (b"List-Unsubscribe: <https://lists.example.org/u/tok3n>,\n"
                   b" <mailto:dev-leave+tok3n@example.org>\n"
                   b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n" + decorated)
    assert values(out, "List-Unsubscribe") == [
        "<https://lists.example.org/u/tok3n>, <mailto:dev-leave+tok3n@example.org>"]


def test_personalize_keeps_crlf_and_adds_mailto() -> None:
    decorated = run(message(*PLAIN, eol="\r\n"))
    out = personalize(decorated, unsubscribe_url="https://l.example/u",
                      unsubscribe_mailto="d-leave@l.example")
    assert out == (b"List-Unsubscribe: <https://l.example/u>, <mailto:d-leave@l.example>\r\n"
                   b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" + decorated)


@pytest.mark.parametrize(("url", "mailto"), [("https://x/u\r\nBcc: a@b", "m@x"),
                                             ("https://x/u", "m@x\nBcc: a@b")])
def test_personalize_refuses_line_breaks(url: str, mailto: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        personalize(b"Subject: x\n\nb", unsubscribe_url=url, unsubscribe_mailto=mailto)
