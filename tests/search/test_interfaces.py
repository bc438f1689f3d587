"""Search where people use it: `moot search --json`, `moot reindex`, `GET /api/v1/search` and the
/search page (with the search box on every archive page), on a real archive."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from moot.app import Moot
from moot.cli.main import app
from moot.importer.run import import_paths
from moot.web.app import create_app
from tests.helpers import make_message, write_mbox

LIST = "dev@example.org"
SECRET = "secret@example.org"
HIT_KEYS = {"message_id", "list", "subject", "from", "date", "score", "snippet"}


def messages() -> list[bytes]:
    out = [
        make_message("root@example.org", subject="Lighthouse keeping",
                     date="Mon, 02 Mar 2026 09:00:00 +0000",
                     body="The lighthouse lamp needs <oil> & care.\n"),
        make_message("reply@example.org", subject="Re: Lighthouse keeping",
                     date="Mon, 02 Mar 2026 10:00:00 +0000",
                     sender="Bo Lindqvist <bo@example.org>", in_reply_to="root@example.org",
                     references=["root@example.org"], body="A lighthouse is lonely.\n"),
    ]
    # 25 more single-message threads about the lighthouse: more than one page of 20
    out += [make_message(f"lh{i}@example.org", subject=f"Beacon {i}",
                         date=f"Tue, {3 + i // 10:02d} Mar 2026 09:{i:02d}:00 +0000",
                         body=f"Lighthouse note number {i}.\n") for i in range(25)]
    return out


@dataclass
class Site:
    moot: Moot
    client: TestClient
    data: Path
    db_url: str

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(app, ["--data", str(self.data), *args],
                                    env={"MOOT_DATABASE_URL": self.db_url, "MOOT_DATA": None})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result


@pytest.fixture
def site(moot: Moot, data_dir: Path, db_url: str, tmp_path: Path) -> Iterator[Site]:
    list_id = moot.store.create_list(LIST, display_name="Developers")
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "dev.mbox", messages())])
    secret_id = moot.store.create_list(SECRET, archive_policy="private")
    import_paths(moot.store, secret_id, [write_mbox(tmp_path / "s.mbox", [make_message(
        "s1@example.org", subject="Lighthouse secrets", date="Mon, 02 Mar 2026 09:00:00 +0000",
        body="The password is swordfish.\n")])])
    moot.search.catch_up()
    with TestClient(create_app(moot)) as client:
        yield Site(moot, client, data_dir, db_url)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- command line ------------------------------------------------------------------------------

def test_cli_search_json_has_exactly_the_promised_keys(site: Site) -> None:
    r = site.cli("search", "lighthouse", "--list", LIST, "--json", "--limit", "5")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)  # one document, nothing else on stdout
    assert set(doc) == {"total", "hits"}
    assert doc["total"] == 27
    assert len(doc["hits"]) == 5
    for hit in doc["hits"]:
        assert set(hit) == HIT_KEYS
        assert isinstance(hit["score"], float) and hit["score"] > 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", hit["date"])
        assert hit["list"] == LIST and "<" not in hit["message_id"]
        assert "lighthouse" in hit["snippet"].lower()
    assert doc["hits"][0]["message_id"] in {"root@example.org", "reply@example.org"}
    top = doc["hits"][0]
    assert top["subject"].endswith("Lighthouse keeping")


def test_cli_search_list_option_and_filters(site: Site) -> None:
    doc = json.loads(site.cli("search", "swordfish", "--json").stdout)
    assert [h["message_id"] for h in doc["hits"]] == ["s1@example.org"]  # operators see all
    doc = json.loads(site.cli("search", "swordfish", "--list", LIST, "--json").stdout)
    assert doc == {"total": 0, "hits": []}
    doc = json.loads(site.cli("search", "from:lindqvist lighthouse", "--json").stdout)
    assert [h["message_id"] for h in doc["hits"]] == ["reply@example.org"]
    assert doc["hits"][0]["from"] == "Bo Lindqvist <bo@example.org>"


@pytest.mark.parametrize("q", ['"unbalanced', "-", "colour:red", "a OR", "after:someday x"])
def test_cli_malformed_query_is_one_line_on_stderr(site: Site, q: str) -> None:
    line = one_error_line(site.cli("search", q, "--json"))
    assert "query" in line or "OR" in line or "field" in line


def test_cli_unknown_list_is_a_user_error(site: Site) -> None:
    line = one_error_line(site.cli("search", "lighthouse", "--list", "nosuch@example.org"))
    assert "nosuch@example.org" in line


def test_cli_reindex_prints_the_count(site: Site) -> None:
    r = site.cli("reindex")
    assert r.exit_code == 0, r.output
    assert "indexed 28 messages" in r.stdout
    doc = json.loads(site.cli("search", "lighthouse", "--json").stdout)
    assert doc["total"] == 28
    one_error_line(site.cli("reindex", "nosuch@example.org"))


# -- REST API ----------------------------------------------------------------------------------

def test_api_search_json(site: Site) -> None:
    r = site.client.get("/api/v1/search", params={"q": "lighthouse", "list": LIST, "limit": 3})
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == {"total", "hits"}
    assert doc["total"] == 27 and len(doc["hits"]) == 3
    assert all(set(h) == HIT_KEYS for h in doc["hits"])
    # the same document as the command line
    cli_doc = json.loads(site.cli("search", "lighthouse", "--list", LIST, "--limit", "3",
                                  "--json").stdout)
    assert doc == cli_doc


@pytest.mark.parametrize("q", ['"unbalanced', "-", "title:x", "OR", ""])
def test_api_malformed_query_answers_400_with_an_error(site: Site, q: str) -> None:
    r = site.client.get("/api/v1/search", params={"q": q})
    assert r.status_code == 400
    doc = r.json()
    assert set(doc) == {"error"} and doc["error"]


def test_private_list_never_reaches_the_api(site: Site) -> None:
    for params in ({"q": "swordfish"}, {"q": "swordfish", "list": SECRET},
                   {"q": f"swordfish list:{SECRET}"}, {"q": "lighthouse secrets"},
                   {"q": "lighthouse", "limit": 100}):
        r = site.client.get("/api/v1/search", params=params)
        assert r.status_code == 200, params
        doc = r.json()
        assert all(h["list"] == LIST for h in doc["hits"]), params
        assert "s1@example.org" not in r.text and "swordfish" not in r.text
    assert site.client.get("/api/v1/search", params={"q": "swordfish"}).json()["total"] == 0


# -- web page ----------------------------------------------------------------------------------

def page(site: Site, **params: str) -> str:
    r = site.client.get("/search", params=params)
    assert r.status_code == 200, (params, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def test_search_page_highlights_and_links_to_messages(site: Site) -> None:
    html = page(site, q="oil")
    assert "<mark>oil</mark>" in html
    assert "&lt;<mark>oil</mark>&gt; &amp; care" in html  # the text is escaped around the mark
    assert 'href="/l/dev@example.org/m/root@example.org/"' in html
    assert "1 message matches" in html


def test_search_page_is_a_plain_get_form(site: Site) -> None:
    html = page(site, q="lighthouse")
    form = re.search(r'<form class="search big"[^>]*>', html)
    assert form and 'action="/search"' in form.group(0) and 'method="get"' in form.group(0)
    assert re.search(r'<input type="search" name="q" value="lighthouse"', html)
    assert "<script" not in html  # nothing needs JavaScript


def test_search_page_pagination(site: Site) -> None:
    first = page(site, q="lighthouse")
    assert "27 messages match" in first
    assert len(re.findall(r'<li><a href="/l/', first)) == 20
    nxt = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert nxt and 'rel="prev"' not in first
    second = site.client.get("/search" + unescape(nxt.group(1)))
    assert second.status_code == 200
    assert len(re.findall(r'<li><a href="/l/', second.text)) == 7
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text
    links = set(re.findall(r'<li><a href="([^"]+)"', first))
    assert not links & set(re.findall(r'<li><a href="([^"]+)"', second.text))


def test_search_page_one_per_thread_and_newest_first(site: Site) -> None:
    html = page(site, q="lighthouse keeping", group="thread")
    assert len(re.findall(r'<li><a href="/l/', html)) == 1
    assert "2 hits in this thread" in html
    assert re.search(r'name="group" value="thread" checked', html)
    html = page(site, q="lighthouse", sort="newest")
    assert re.search(r'<option value="newest" selected>', html)
    dates = re.findall(r'(\d{4}-\d\d-\d\d) · ', html)
    assert len(dates) == 20 and dates == sorted(dates, reverse=True)
    assert dates[0] == "2026-03-05"


def test_search_page_never_shows_a_private_list(site: Site) -> None:
    for params in ({"q": "swordfish"}, {"q": "swordfish", "l": SECRET},
                   {"q": f"swordfish list:{SECRET}"}, {"q": "lighthouse secrets"}):
        html = page(site, **params)
        results = html.split('<form class="search big"', 1)[1].split("</form>", 1)[1]
        assert "swordfish" not in results.lower()
        assert "s1@example.org" not in html and "Lighthouse secrets" not in html
    assert "0 messages match" in page(site, q="swordfish")


@pytest.mark.parametrize("q", ['"unbalanced', "colour:red", "-"])
def test_search_page_malformed_query_is_a_400_with_the_reason(site: Site, q: str) -> None:
    r = site.client.get("/search", params={"q": q})
    assert r.status_code == 400
    assert "That query cannot be read" in r.text
    assert '<form class="search big"' in r.text  # the reader can correct it in place


def test_search_box_on_every_archive_page(site: Site) -> None:
    mid = quote("root@example.org", safe="@")
    for url in ("/", f"/l/{LIST}/", f"/l/{LIST}/t/{mid}/", f"/l/{LIST}/m/{mid}/",
                f"/l/{LIST}/2026/03/"):
        r = site.client.get(url)
        assert r.status_code == 200, url
        form = re.search(r'<form class="search" action="/search" method="get"[^>]*>(.*?)</form>',
                         r.text, re.S)
        assert form, url
        assert 'name="q"' in form.group(1)
        if url != "/":  # on a list's pages the box searches that list
            assert f'name="l" value="{LIST}"' in form.group(1), url
    # the box's form, submitted, narrows to the list
    html = page(site, q="lonely", l=LIST)
    assert "1 message matches" in html and "Developers" in html
