"""Hostile input at the web's doors: script in every header, body and list field is shown as
text; oversized bodies are refused before they are read; forged form tokens are refused; an
attachment's name cannot lead anywhere on disk; `next` never leads off the site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from moot.app import Moot
from moot.core.parse import parse_message
from moot.storage import lists as list_store
from moot.storage.store import Incoming, sha256
from moot.web.app import create_app
from moot.web.limits import MAX_BODY
from tests.helpers import make_message

LIST = "dev@example.org"
XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "<svg/onload=alert(3)>",
    "javascript:alert(4)//<a href=javascript:alert(5)>x</a>",
    "</textarea><script>alert(6)</script>",
    "{{7*7}}{% raw %}<b>ssti</b>",
]
MARKERS = ["<script>alert", "<img src=x", "<svg/onload", "<a href=javascript", "<b>ssti"]

HOSTILE_ATTACHMENT = (
    b"From: Mallory <mallory@example.org>\n"
    b"To: dev@example.org\n"
    b"Subject: files\n"
    b"Date: Sat, 21 Mar 2026 10:00:00 +0000\n"
    b"Message-ID: <files@example.org>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="B"\n'
    b"\n"
    b"--B\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"see attached\n"
    b"--B\n"
    b'Content-Type: application/octet-stream; name="../../../../etc/passwd"\n'
    b'Content-Disposition: attachment; filename="../../../../etc/passwd"\n'
    b"\n"
    b"root:x:0:0\n"
    b"--B\n"
    b'Content-Type: text/html; name="<script>alert(1)</script>.html"\n'
    b'Content-Disposition: attachment; filename="<script>alert(1)</script>.html"\n'
    b"\n"
    b"<script>alert(1)</script>\n"
    b"--B--\n"
)


def add(moot: Moot, raw: bytes) -> None:
    moot.store.add_messages(moot.archive.get_list(LIST).id,
                            [Incoming(raw, parse_message(raw), sha256(raw))])


@pytest.fixture
def client(moot: Moot) -> Iterator[TestClient]:
    moot.store.create_list(LIST)
    payload = " ".join(XSS)
    with moot.engine.begin() as conn:
        list_store.update_settings(conn, LIST, {"display_name": XSS[1][:150],
                                                "description": payload}, by="test")
    add(moot, make_message("x1@example.org", subject=payload,
                           sender=f'"{XSS[1]}" <mallory@example.org>', body=payload + "\n"))
    add(moot, make_message(f"{XSS[1]}@example.org", subject="Re: " + XSS[0],
                           in_reply_to="x1@example.org", references=["x1@example.org"],
                           body="> " + payload + "\nquoted\n"))
    add(moot, HOSTILE_ATTACHMENT)
    moot.search.catch_up()
    with TestClient(create_app(moot)) as c:
        yield c


class _Tags(HTMLParser):
    """Every tag and attribute as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_inert(text: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} reached {where} unescaped"
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.found:
        assert tag not in ("script", "svg", "iframe", "object", "embed"), (where, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name)
            if name in ("href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith("javascript:"), (where, value)


def test_script_in_headers_bodies_and_list_fields_is_shown_as_text(client: TestClient) -> None:
    pages = ["/", f"/l/{LIST}/", f"/l/{LIST}/2026/03/", f"/l/{LIST}/m/x1@example.org/",
             f"/l/{LIST}/t/x1@example.org/", f"/l/{LIST}/atom.xml",
             "/search?q=alert", "/search?q=" + quote(XSS[0]), "/search?q=" + quote(XSS[1]),
             f"/l/{LIST}/m/files@example.org/", f"/l/{LIST}/subscribe",
             "/login?next=" + quote(XSS[1]), "/signup"]
    for page in pages:
        r = client.get(page)
        assert r.status_code in (200, 400), (page, r.status_code)
        assert_inert(r.text, page)
    # The words are there, as text a reader can see.
    shown = client.get(f"/l/{LIST}/m/x1@example.org/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    # The API gives the strings back as data (JSON), for its clients to escape.
    hits = client.get("/api/v1/search", params={"q": "alert"}).json()["hits"]
    assert any(XSS[0] in h["subject"] for h in hits)


def test_a_form_echoing_what_was_typed_escapes_it(client: TestClient) -> None:
    page = client.get(f"/l/{LIST}/subscribe")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(f"/l/{LIST}/subscribe", data={"email": XSS[1], "csrf": token})
    assert r.status_code == 400
    assert_inert(r.text, "subscribe form")


def test_oversized_bodies_are_refused_before_they_are_read(client: TestClient) -> None:
    big = b"x" * (MAX_BODY + 1)
    r = client.post("/login", content=big,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "larger than" in r.text
    r = client.post("/api/v1/lists", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"y" * 65536

    r = client.post("/api/v1/lists", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    # A normal form still works.
    assert client.get("/login").status_code == 200


def test_forged_or_missing_form_tokens_are_refused(client: TestClient) -> None:
    url = f"/l/{LIST}/subscribe"
    client.get(url)  # the visitor has a real token cookie
    for data, headers in (({"email": "a@example.org"}, {}),
                          ({"email": "a@example.org", "csrf": "forged-token-0123456789"}, {}),
                          ({"email": "a@example.org",
                            "csrf": client.cookies.get("moot_csrf") or ""},
                           {"origin": "https://evil.example"})):
        r = client.post(url, data=data, headers=headers)
        assert r.status_code == 403, (data, headers)
        assert "Reload the page" in r.text or "another site" in r.text


def test_an_attachment_name_cannot_reach_the_disk(client: TestClient) -> None:
    page = client.get(f"/l/{LIST}/m/files@example.org/").text
    links = re.findall(r'href="(/l/[^"]+/a/[^"]+)"', page)
    assert len(links) == 2
    assert all("../" not in link and "<" not in link for link in links)
    r = client.get(links[0].replace("&amp;", "&"))
    assert r.status_code == 200 and r.content == b"root:x:0:0"  # the attachment's own bytes
    disposition = r.headers["content-disposition"]
    assert "/" not in disposition.split("filename*=UTF-8''")[1]
    assert r.headers["content-type"] == "application/octet-stream"
    # Dots and slashes in the URL lead to the attachment or to nothing, never to a file.
    for path in (f"/l/{LIST}/m/files@example.org/a/2/..%2F..%2F..%2Fmoot.toml",
                 f"/l/{LIST}/m/files@example.org/a/..%2F..%2Fmoot.toml/x",
                 "/static/..%2F..%2F..%2Fmoot.toml", "/static/../../pyproject.toml"):
        r = client.get(path)
        assert b"database" not in r.content and b"[project]" not in r.content, path
    # The HTML attachment never runs as a page of ours.
    r = client.get(links[1].replace("&amp;", "&"))
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/%0a/evil.example".replace("%0a", "\n"), "javascript:alert(1)",
    "http:/evil.example", " //evil.example"])
def test_next_never_leads_off_the_site(client: TestClient, target: str) -> None:
    page = client.get("/login", params={"next": target}).text
    assert "evil.example" not in page.split('name="next" value="')[1].split('"')[0]
