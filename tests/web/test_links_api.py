"""GET /api/v1/messages/{msgid}/links: a message's replies both ways, and the stored quote,
reference and republication links, for lists the caller may read only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from moot.app import Moot
from moot.core.parse import parse_message
from moot.storage import links
from moot.storage.store import Incoming, sha256
from moot.web.app import create_app
from tests.helpers import make_message

LIST, SECRET = "dev@example.org", "secret@example.org"


def add(moot: Moot, address: str, raw: bytes) -> None:
    moot.store.add_messages(moot.archive.get_list(address).id,
                            [Incoming(raw, parse_message(raw), sha256(raw))])


def pk(moot: Moot, address: str, message_id: str) -> int:
    return int(moot.archive.messages_by_id(moot.archive.get_list(address).id, message_id)[0].id)


@pytest.fixture
def client(moot: Moot) -> Iterator[TestClient]:
    moot.store.create_list(LIST)
    moot.store.create_list(SECRET, archive_policy="private")
    add(moot, LIST, make_message("a@x", subject="Plan"))
    add(moot, LIST, make_message("b@x", subject="Re: Plan", in_reply_to="a@x",
                                 references=["a@x"]))
    add(moot, LIST, make_message("c@x", subject="Re: Lost", in_reply_to="gone@x"))
    add(moot, SECRET, make_message("s@x", subject="Hidden"))
    with moot.engine.begin() as conn:
        dev = moot.archive.get_list(LIST).id
        links.replace(conn, dev, pk(moot, LIST, "c@x"), [
            links.Link(pk(moot, LIST, "c@x"), "quote", pk(moot, LIST, "a@x"),
                       detail={"lines": [2, 4]}),
            links.Link(pk(moot, LIST, "c@x"), "reference", None, "none",
                       detail={"text": "my post of May 3"}),
            links.Link(pk(moot, LIST, "c@x"), "reference", pk(moot, SECRET, "s@x"))])
    with TestClient(create_app(moot)) as c:
        yield c


def test_replies_both_ways(client: TestClient) -> None:
    a = client.get("/api/v1/messages/a@x/links").json()
    assert a["outgoing"] == []
    assert [(x["kind"], x["source"]) for x in a["incoming"]] == [("reply", "b@x"),
                                                                  ("quote", "c@x")]
    b = client.get("/api/v1/messages/b@x/links").json()
    assert [(x["kind"], x["target"], x["found"]) for x in b["outgoing"]] == [
        ("reply", "a@x", True)]
    lost = client.get("/api/v1/messages/c@x/links").json()
    assert ("reply", "gone@x", False) in [(x["kind"], x["target"], x.get("found"))
                                          for x in lost["outgoing"]]


def test_stored_links_and_what_the_reader_may_not_see(client: TestClient) -> None:
    doc = client.get("/api/v1/messages/c@x/links").json()
    kinds = [(x["kind"], x["target"], x["status"]) for x in doc["outgoing"]
             if x["kind"] != "reply"]
    # The reference into the private list is not shown to an anonymous reader.
    assert kinds == [("quote", "a@x", "found"), ("reference", None, "none")]
    assert doc["outgoing"][1]["lines"] == [2, 4]
    a = client.get("/api/v1/messages/a@x/links").json()
    assert ("quote", "c@x") in [(x["kind"], x["source"]) for x in a["incoming"]]
    r = client.get("/api/v1/messages/s@x/links")
    assert r.status_code == 404 and "Message-ID" in r.json()["error"]
