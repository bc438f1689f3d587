"""The web archive as a reader meets it: pages, permalinks, raw bytes, downloads, feeds.

Every test goes through the real application (TestClient) on a real database holding a small
archive imported the way users import theirs (an mbox through the importer).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient

from moot.app import Moot
from moot.importer.run import import_paths
from moot.web.app import create_app
from tests.helpers import make_message, write_mbox

LIST = "dev@example.org"
SECRET = "secret@example.org"
ATOM = "{http://www.w3.org/2005/Atom}"

QUOTE6 = "".join(f"> quoted line {i} of the earlier message\n" for i in range(1, 7))
QUOTE2 = "> just two\n> short quoted lines\n"

# Raw bytes that must survive untouched: CRLF line ends and 8-bit Latin-1 (not UTF-8).
CRLF_8BIT = (
    b"From: =?iso-8859-1?q?Ren=E9_Fran=E7ois?= <rene@example.org>\r\n"
    b"To: dev@example.org\r\n"
    b"Subject: Caf\xe9 des amis\r\n"
    b"Date: Fri, 20 Mar 2026 10:00:00 +0000\r\n"
    b"Message-ID: <crlf@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Un caf\xe9 cr\xe8me, s'il vous pla\xeet.\r\n"
    b"\xa0Trailing spaces   \r\n"
)

ATTACHED_HTML = b"<html><body><script>alert('pwned')</script>evil</body></html>"
ATTACHMENT_MSG = (
    b"From: Ada Quill <ada@example.org>\n"
    b"To: dev@example.org\n"
    b"Subject: Minutes attached\n"
    b"Date: Sat, 21 Mar 2026 10:00:00 +0000\n"
    b"Message-ID: <att@example.org>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="BOUNDARY"\n'
    b"\n"
    b"--BOUNDARY\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"The minutes are attached.\n"
    b"--BOUNDARY\n"
    b'Content-Type: text/html; name="minutes.html"\n'
    b'Content-Disposition: attachment; filename="minutes.html"\n'
    b"\n" + ATTACHED_HTML + b"\n"
    b"--BOUNDARY--\n"
)

HTML_ONLY = (
    b"From: Ada Quill <ada@example.org>\n"
    b"To: dev@example.org\n"
    b"Subject: Newsletter\n"
    b"Date: Sun, 22 Mar 2026 10:00:00 +0000\n"
    b"Message-ID: <html@example.org>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/html; charset=utf-8\n"
    b"\n"
    b"<html><head><style>body { background: url(http://tracker.example/bg.png) }</style>"
    b"</head><body>"
    b"<p onclick=\"steal()\">Spring <b>newsletter</b> is here.</p>"
    b"<script>document.write('evil script ran')</script>"
    b'<img src="http://tracker.example/pixel.gif" alt="pixel">'
    b'<a href="https://example.org/news">Read more</a>'
    b"<p>Questions? Write to Ada Quill &lt;ada@example.org&gt; or "
    b'<a href="mailto:ada@example.org">ada@example.org</a>.</p>'
    b"</body></html>\n"
)


def _msg(mid: str, subject: str, day: str, **kw: object) -> bytes:
    return make_message(mid, subject=subject, date=f"{day} +0000", **kw)  # type: ignore[arg-type]


def _corpus() -> list[bytes]:
    return [
        # January and February: one thread each, for month navigation.
        _msg("jan1@example.org", "New year plans", "Mon, 05 Jan 2026 09:00:00"),
        _msg("feb1@example.org", "Winter seeds", "Tue, 03 Feb 2026 09:00:00",
             sender="Bo Lindqvist <bo@example.org>"),
        # March: a three-level thread with a long quote and a link.
        _msg("a1@example.org", "Spring meeting", "Mon, 02 Mar 2026 09:00:00",
             body="Where shall we meet? Notes: https://example.org/notes?year=2025&x=1\n"),
        _msg("a2@example.org", "Re: Spring meeting", "Mon, 02 Mar 2026 10:00:00",
             sender="Bo Lindqvist <bo@example.org>", in_reply_to="a1@example.org",
             references=["a1@example.org"],
             body=("Ada Quill <ada@example.org> wrote:\n" + QUOTE6 + "\nThe hall, I think.\n"
                   + QUOTE2 + "Yes.\n")),
        _msg("a3@example.org", "Re: Spring meeting", "Mon, 02 Mar 2026 11:00:00",
             sender="Chiara <chiara@example.org>", in_reply_to="a2@example.org",
             references=["a1@example.org", "a2@example.org"], body="Agreed.\n"),
        # Two replies to a message the archive never received.
        _msg("b1@example.org", "Re: Lost message", "Tue, 03 Mar 2026 09:00:00",
             in_reply_to="gone@example.org", references=["gone@example.org"]),
        _msg("b2@example.org", "Re: Lost message", "Tue, 03 Mar 2026 10:00:00",
             sender="Bo Lindqvist <bo@example.org>", in_reply_to="gone@example.org",
             references=["gone@example.org"]),
        # Two different messages that carry the same Message-ID.
        _msg("dup@example.org", "Duplicate one", "Wed, 04 Mar 2026 09:00:00",
             body="First of the twins.\n"),
        _msg("dup@example.org", "Duplicate two", "Wed, 04 Mar 2026 10:00:00",
             body="Second of the twins.\n"),
        # A Message-ID with a slash in it.
        _msg("abc/def@example.org", "Slashed id", "Thu, 05 Mar 2026 09:00:00",
             body="My Message-ID has a slash.\n"),
        # No display name: only an (obfuscated) address can be shown.
        _msg("anon@example.org", "Nameless", "Fri, 06 Mar 2026 09:00:00",
             sender="nobody-named@example.org"),
        CRLF_8BIT,
        ATTACHMENT_MSG,
        HTML_ONLY,
    ]


ALL_ADDRESSES = ["ada@example.org", "bo@example.org", "chiara@example.org",
                 "rene@example.org", "nobody-named@example.org"]
# jan1, feb1, a1-a3, b1-b2, the two dup@ (one thread: same Message-ID), slash, anon, crlf,
# att, html
N_THREADS = 10


@dataclass
class Site:
    moot: Moot
    client: TestClient
    list_id: int
    tmp: Path


@pytest.fixture
def site(moot: Moot, tmp_path: Path) -> Iterator[Site]:
    list_id = moot.store.create_list(LIST, display_name="Developers")
    summary = import_paths(moot.store, list_id, [write_mbox(tmp_path / "dev.mbox", _corpus())])
    assert summary.imported == len(_corpus())
    secret_id = moot.store.create_list(SECRET, display_name="Hidden circle",
                                       archive_policy="private")
    secret = [_msg("s1@example.org", "Top secret plans", "Mon, 02 Mar 2026 09:00:00",
                   body="The password is swordfish.\n")]
    import_paths(moot.store, secret_id, [write_mbox(tmp_path / "secret.mbox", secret)])
    with TestClient(create_app(moot)) as client:
        yield Site(moot, client, list_id, tmp_path)


def m_url(mid: str, kind: str = "m", address: str = LIST) -> str:
    return f"/l/{address}/{kind}/{quote(mid, safe='@')}/"


def html_ok(site: Site, url: str) -> str:
    r = site.client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def text_of(html: str) -> str:
    """Visible text, roughly: tags removed, entities left (good enough for assertions)."""
    return re.sub(r"<[^>]+>", " ", html)


def raws_of(site: Site, list_id: int, **kw: object) -> list[bytes]:
    return sorted(raw for _, raw in site.moot.archive.iter_raw(list_id, **kw))  # type: ignore[arg-type]


# -- lists and privacy -------------------------------------------------------------------------

def test_index_lists_public_lists_only(site: Site) -> None:
    page = html_ok(site, "/")
    assert f'href="/l/{LIST}/"' in page
    assert "Developers" in page
    assert SECRET not in page
    assert "Hidden circle" not in page


def test_private_list_is_indistinguishable_from_a_missing_one(site: Site) -> None:
    routes = ["/", "atom.xml", "2026/03/", "2026/03/mbox", "m/s1@example.org/",
              "m/s1@example.org/raw", "m/s1@example.org/raw?n=1", "t/s1@example.org/",
              "t/s1@example.org/mbox", "m/s1@example.org/a/0/x.txt"]
    for route in routes:
        route = route.lstrip("/")
        secret = site.client.get(f"/l/{SECRET}/{route}")
        missing = site.client.get(f"/l/nosuch@example.org/{route}")
        assert secret.status_code == 404, route
        body = secret.text
        for leak in ("Top secret", "swordfish", "Hidden circle", "s1@example.org/"):
            assert leak not in body, (route, leak)
        # Exactly what a list that does not exist answers: nothing tells the list is there.
        assert body.replace(SECRET, "X") == missing.text.replace("nosuch@example.org", "X")
    api = site.client.get("/api/v1/lists").json()
    assert [x["address"] for x in api["lists"]] == [LIST]
    r = site.client.get(f"/api/v1/lists/{SECRET}/threads/s1@example.org")
    assert r.status_code == 404
    assert "Top secret" not in r.text


# -- list home and months ----------------------------------------------------------------------

def test_list_home_shows_latest_threads_and_months(site: Site) -> None:
    page = html_ok(site, f"/l/{LIST}/")
    for subject in ("Spring meeting", "Winter seeds", "New year plans", "Newsletter"):
        assert subject in page
    assert f'href="{m_url("a1@example.org", "t")}"' in page
    # Newest activity first.
    assert page.index("Newsletter") < page.index("Spring meeting") < page.index("Winter seeds")
    for month, name in (("2026/03", "March 2026"), ("2026/02", "February 2026"),
                        ("2026/01", "January 2026")):
        assert f'href="/l/{LIST}/{month}/"' in page
        assert name in page
    assert page.index("March 2026") < page.index("February 2026") < page.index("January 2026")
    assert f'href="/l/{LIST}/atom.xml"' in page


def test_month_page_shows_its_threads_and_neighbour_months(site: Site) -> None:
    feb = html_ok(site, f"/l/{LIST}/2026/02/")
    assert "Winter seeds" in feb
    assert "Spring meeting" not in feb and "New year plans" not in feb
    assert f'href="/l/{LIST}/2026/01/"' in feb  # previous month
    assert f'href="/l/{LIST}/2026/03/"' in feb  # next month
    assert 'href="mbox"' in feb

    mar = html_ok(site, f"/l/{LIST}/2026/03/")
    assert "Spring meeting" in mar and "Lost message" in mar
    assert "Winter seeds" not in mar
    assert f'href="/l/{LIST}/2026/02/"' in mar
    assert "/2026/04/" not in mar  # nothing newer

    jan = html_ok(site, f"/l/{LIST}/2026/01/")
    assert f'href="/l/{LIST}/2026/02/"' in jan
    assert "/2025/12/" not in jan

    empty = html_ok(site, f"/l/{LIST}/2025/06/")
    assert "No threads." in empty
    assert site.client.get(f"/l/{LIST}/2026/13/").status_code == 404


# -- thread page -------------------------------------------------------------------------------

def test_thread_page_is_an_indented_tree_with_folded_quotes_and_links(site: Site) -> None:
    for start in ("a1@example.org", "a3@example.org"):  # any message of the thread
        page = html_ok(site, m_url(start, "t"))
        depths = re.findall(r'<li class="d(\d+)" id="([^"]+)"', page)
        assert depths == [("0", "a1@example.org"), ("1", "a2@example.org"),
                          ("2", "a3@example.org")]
    assert "Where shall we meet?" in page and "The hall, I think." in page and "Agreed." in page
    # The six-line quote is folded, the two-line one is not.
    details = re.findall(r"<details[^>]*>(.*?)</details>", page, re.S)
    assert len(details) == 1
    assert "quoted line 1 of" in details[0] and "quoted line 6 of" in details[0]
    assert "short quoted lines" not in details[0]
    assert "short quoted lines" in page
    # The URL is a link, nofollow, with the & escaped.
    link = re.search(r'<a href="https://example\.org/notes\?year=2025&amp;x=1" rel="([^"]+)"',
                     page)
    assert link is not None and "nofollow" in link.group(1).split()


def test_thread_page_shows_a_placeholder_for_a_missing_parent(site: Site) -> None:
    page = html_ok(site, m_url("b2@example.org", "t"))
    items = re.findall(r'<li class="d(\d+)" id="([^"]+)"', page)
    assert items == [("0", "gone@example.org"), ("1", "b1@example.org"),
                     ("1", "b2@example.org")]
    assert page.count('class="missing"') == 1
    assert "not in this archive" in page
    perma = html_ok(site, m_url("b1@example.org"))
    assert perma.count('class="missing"') == 1


# -- permalinks --------------------------------------------------------------------------------

def test_permalink_links_to_its_neighbours_in_thread_and_month(site: Site) -> None:
    page = html_ok(site, m_url("a2@example.org"))
    assert "Re: Spring meeting" in page
    prev = re.search(r'<a rel="prev" href="([^"]+)"', page)
    nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
    assert prev and prev.group(1) == m_url("a1@example.org")
    assert nxt and nxt.group(1) == m_url("a3@example.org")
    assert "earlier" in page and "later" in page
    earlier = re.search(r'<a href="([^"]+)">← earlier', page)
    later = re.search(r'<a href="([^"]+)">later', page)
    assert earlier and earlier.group(1) == m_url("a1@example.org")
    assert later and later.group(1) == m_url("a3@example.org")
    assert 'class="t1 current"' in page  # its place in the thread tree
    assert f'href="{m_url("a2@example.org")}raw"' in page

    first = html_ok(site, m_url("a1@example.org"))
    assert 'rel="prev"' not in first
    assert "← earlier" not in first  # first message of March
    assert re.search(r'<a rel="next" href="([^"]+)"', first).group(1) == m_url("a2@example.org")

    # Every link a permalink offers leads somewhere.
    for href in set(re.findall(r'href="(/l/[^"]+)"', page)):
        assert site.client.get(href.replace("&amp;", "&")).status_code == 200, href


def test_raw_is_byte_identical_even_with_crlf_and_8bit(site: Site) -> None:
    r = site.client.get(m_url("crlf@example.org") + "raw")
    assert r.status_code == 200
    assert r.content == CRLF_8BIT
    assert r.headers["content-type"].startswith("text/plain")
    page = html_ok(site, m_url("crlf@example.org"))
    assert "Un café crème" in page  # decoded for reading; the raw stays as sent
    assert "René François" in page
    for mid, raw in (("a1@example.org", None), ("att@example.org", ATTACHMENT_MSG),
                     ("html@example.org", HTML_ONLY)):
        got = site.client.get(m_url(mid) + "raw").content
        assert got == (raw if raw is not None else _corpus()[2])


def test_two_messages_with_one_message_id_are_both_shown_and_downloadable(site: Site) -> None:
    page = html_ok(site, m_url("dup@example.org"))
    assert "First of the twins." in page and "Second of the twins." in page
    assert "2 different messages carry this Message-ID" in page
    base = m_url("dup@example.org") + "raw"
    assert f'href="{base}?n=1"' in page and f'href="{base}?n=2"' in page
    one, two = site.client.get(base + "?n=1"), site.client.get(base + "?n=2")
    assert one.status_code == two.status_code == 200
    assert {one.content, two.content} == {_corpus()[7], _corpus()[8]}
    assert site.client.get(base).content == one.content  # n defaults to 1
    assert site.client.get(base + "?n=3").status_code == 404


def test_attachment_of_the_second_twin_is_reachable(site: Site, tmp_path: Path) -> None:
    """A twin's attachment link must fetch that twin's attachment, not the other's."""
    twin = ATTACHMENT_MSG.replace(b"Minutes attached", b"Minutes, second copy").replace(
        b"The minutes are attached.", b"Here they are again.")
    first = _msg("att@example.org", "Minutes attached (no file)", "Sat, 21 Mar 2026 08:00:00")
    lst = site.moot.store.create_list("twins@example.org")
    import_paths(site.moot.store, lst, [write_mbox(tmp_path / "t.mbox", [first, twin])])
    page = html_ok(site, m_url("att@example.org", address="twins@example.org"))
    links = re.findall(r'href="([^"]+/a/\d+/[^"]+)"', page)
    assert len(links) == 1
    r = site.client.get(links[0].replace("&amp;", "&"))
    assert r.status_code == 200, links[0]
    assert r.content.strip() == ATTACHED_HTML


def test_message_id_with_a_slash(site: Site) -> None:
    url = m_url("abc/def@example.org")
    assert "%2F" in url
    page = html_ok(site, url)
    assert "My Message-ID has a slash." in page
    assert f'href="{url}raw"' in page  # the page links to the encoded form
    assert site.client.get(url + "raw").content == _corpus()[9]
    thread = html_ok(site, m_url("abc/def@example.org", "t"))
    assert "My Message-ID has a slash." in thread
    mbox = site.client.get(m_url("abc/def@example.org", "t") + "mbox")
    assert mbox.status_code == 200 and b"My Message-ID has a slash." in mbox.content
    cd = mbox.headers["content-disposition"]
    # RFC 5987: a filename* value is attr-chars and %XX only; a "/" must not slip through.
    assert re.fullmatch(r"attachment; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+", cd), cd


# -- downloads ---------------------------------------------------------------------------------

def _reimport(site: Site, data: bytes, name: str) -> int:
    path = site.tmp / f"{name}.mbox"
    path.write_bytes(data)
    list_id = site.moot.store.create_list(f"{name}@example.org")
    summary = import_paths(site.moot.store, list_id, [path])
    assert summary.rejected == 0
    return list_id


def test_thread_mbox_reimports_to_the_same_bytes(site: Site) -> None:
    r = site.client.get(m_url("a2@example.org", "t") + "mbox")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["content-type"].startswith("application/mbox")
    copy = _reimport(site, r.content, "threadcopy")
    thread_id = site.moot.archive.messages_by_id(site.list_id, "a1@example.org")[0].thread_id
    original = raws_of(site, site.list_id, thread_id=thread_id)
    assert len(original) == 3
    assert raws_of(site, copy) == original


def test_month_mbox_reimports_to_the_same_bytes(site: Site) -> None:
    r = site.client.get(f"/l/{LIST}/2026/03/mbox")
    assert r.status_code == 200
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment") and "2026-03" in cd
    copy = _reimport(site, r.content, "monthcopy")
    original = raws_of(site, site.list_id, month=(2026, 3))
    assert len(original) == 12  # March: every message but January's and February's
    assert CRLF_8BIT in original
    assert raws_of(site, copy) == original
    feb = site.client.get(f"/l/{LIST}/2026/02/mbox").content
    assert b"Winter seeds" in feb and b"Spring meeting" not in feb


def test_attachment_is_a_download_never_live_html(site: Site) -> None:
    page = html_ok(site, m_url("att@example.org"))
    assert "minutes.html" in page
    links = re.findall(r'href="([^"]+/a/\d+/[^"]+)"', page)
    assert len(links) == 1
    r = site.client.get(links[0])
    assert r.status_code == 200
    assert r.content.strip() == ATTACHED_HTML
    assert r.headers["content-disposition"].startswith("attachment")
    assert "minutes.html" in unquote(r.headers["content-disposition"])
    ctype = r.headers["content-type"].split(";")[0].strip().lower()
    assert ctype not in ("text/html", "application/xhtml+xml", "image/svg+xml")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert site.client.get(m_url("att@example.org") + "a/7/x").status_code == 404


def test_html_mail_is_shown_without_scripts_styles_handlers_or_remote_images(site: Site) -> None:
    page = html_ok(site, m_url("html@example.org"))
    assert "newsletter" in page and "Spring" in page
    low = page.lower()
    assert "<script" not in low and "evil script ran" not in low
    assert "onclick" not in low and "steal()" not in low
    assert "<style" not in low and "tracker.example" not in low
    assert "<img" not in low
    assert 'href="https://example.org/news"' in page
    thread = html_ok(site, m_url("html@example.org", "t")).lower()
    assert "<script" not in thread and "onclick" not in thread and "tracker.example" not in thread


# -- privacy, headers, page weight -------------------------------------------------------------

def _pages(site: Site) -> list[str]:
    return ["/", f"/l/{LIST}/", f"/l/{LIST}/2026/03/", m_url("a1@example.org", "t"),
            m_url("a2@example.org"), m_url("anon@example.org"), m_url("anon@example.org", "t"),
            m_url("crlf@example.org"), m_url("dup@example.org"), m_url("html@example.org"),
            m_url("b1@example.org", "t"), "/l/nosuch@example.org/"]


def test_sender_addresses_are_obfuscated_but_names_shown(site: Site) -> None:
    seen = ""
    for url in _pages(site):
        page = site.client.get(url).text
        for addr in ALL_ADDRESSES:
            assert addr not in page, (url, addr)
        seen += page
    for name in ("Ada Quill", "Bo Lindqvist", "Chiara", "René François"):
        assert name in seen
    anon = html_ok(site, m_url("anon@example.org"))
    assert "nobody-named@e..." in anon


def test_pages_are_phone_friendly_script_free_and_light(site: Site) -> None:
    for url in _pages(site):
        r = site.client.get(url)
        assert r.headers["content-type"].startswith("text/html"), url
        assert '<meta name="viewport"' in r.text, url
        assert "<script" not in r.text.lower(), url
        assert len(r.content) < 50_000, (url, len(r.content))
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_security_headers_on_every_kind_of_answer(site: Site) -> None:
    for url in ("/healthz", m_url("a1@example.org") + "raw", f"/l/{LIST}/atom.xml",
                f"/l/{LIST}/2026/03/mbox", "/api/v1/lists", "/l/nosuch@example.org/"):
        r = site.client.get(url)
        assert "default-src 'none'" in r.headers["content-security-policy"], url
        assert r.headers["x-content-type-options"] == "nosniff", url


# -- feed, health, API, errors -----------------------------------------------------------------

def test_atom_feed_has_one_entry_per_new_thread(site: Site) -> None:
    r = site.client.get(f"/l/{LIST}/atom.xml")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    threads = site.moot.archive.latest_threads(site.list_id, limit=100)
    assert len(entries) == len(threads) == N_THREADS
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles[0] == "Newsletter"  # newest thread first
    assert titles.count("Spring meeting") == 1  # one entry per thread, not per message
    base = site.moot.settings.base_url.rstrip("/")
    for e in entries:
        href = e.find(f"{ATOM}link").get("href")
        assert href.startswith(f"{base}/l/{LIST}/t/")
        assert e.findtext(f"{ATOM}id") and e.findtext(f"{ATOM}updated")
        assert site.client.get(href[len(base):]).status_code == 200, href


def test_healthz_and_openapi(site: Site) -> None:
    r = site.client.get("/healthz")
    assert r.status_code == 200 and r.text == "ok"
    r = site.client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert "openapi" in doc and doc["paths"]


def test_unknown_list_and_message_give_helpful_404_pages(site: Site) -> None:
    r = site.client.get("/l/nosuch@example.org/")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text and "nosuch@example.org" in r.text
    assert 'href="/"' in r.text  # a way back
    for url in (m_url("missing@example.org"), m_url("missing@example.org", "t"),
                m_url("missing@example.org") + "raw"):
        r = site.client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html"), url
        assert "No message &lt;missing@example.org&gt; in dev@example.org" in r.text, url
        assert "search" in r.text
    r = site.client.get("/api/v1/lists/nosuch@example.org/threads/x@y")
    assert r.status_code == 404 and "error" in r.json()
