"""Linking through real storage: a passage quoted two replies down is linked to the message
where it was first written, not to the reply in between; console transcripts are not quotes;
a passage from nowhere is kept as "not in the archive"; Message-IDs and prose references
("in my post of March 2 ('Spring meeting')") find their message, or say there are several, or
none; `moot relink` and the import's incremental step make the links."""

from __future__ import annotations

from sqlalchemy import select

from moot.app import Moot
from moot.core.parse import parse_message
from moot.linking import Linker
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message

LIST = "dev@example.org"
FIRST = ("We should move the spring meeting to the large hall because the small room\n"
         "cannot seat everyone who signed up this year.\n")


def add(moot: Moot, *raws: bytes) -> None:
    moot.store.add_messages(moot.archive.get_list(LIST).id,
                            [Incoming(r, parse_message(r), sha256(r)) for r in raws])


def pk(moot: Moot, message_id: str) -> int:
    return int(moot.archive.messages_by_id(moot.archive.get_list(LIST).id, message_id)[0].id)


def links_of(moot: Moot, message_id: str) -> list[tuple[str, str, int | None]]:
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.links.c.kind, s.links.c.status, s.links.c.target_pk)
                            .where(s.links.c.source_pk == pk(moot, message_id))
                            .order_by(s.links.c.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def thread(moot: Moot) -> None:
    moot.store.create_list(LIST)
    add(moot,
        make_message("a@x", subject="Spring meeting", sender="Ada <ada@example.org>",
                     date="Mon, 02 Mar 2026 09:00:00 +0000", body=FIRST),
        make_message("b@x", subject="Re: Spring meeting", sender="Bo <bo@example.org>",
                     date="Mon, 02 Mar 2026 10:00:00 +0000", in_reply_to="a@x",
                     references=["a@x"],
                     body="Ada wrote:\n" + "".join(f"> {x}\n" for x in FIRST.splitlines())
                     + "\nAgreed, and we need a projector that works with every laptop.\n"),
        make_message("c@x", subject="Re: Spring meeting", sender="Cy <cy@example.org>",
                     date="Mon, 02 Mar 2026 11:00:00 +0000", in_reply_to="b@x",
                     references=["a@x", "b@x"],
                     body="Bo wrote:\n> Ada wrote:\n"
                     + "".join(f">> {x}\n" for x in FIRST.splitlines())
                     + "> Agreed, and we need a projector that works with every laptop.\n"
                     + "\nThe hall it is. Trying it out:\n> x <- c(1, 2, 3)\n> mean(x)\n[1] 2\n"
                     + "\nAnd as someone wrote elsewhere:\n"
                     + "> nobody in this archive ever wrote these particular words before\n"
                     + "> so the passage cannot be found anywhere at all today\n"),
        make_message("d@x", subject="Minutes", sender="Ada <ada@example.org>",
                     date="Tue, 10 Mar 2026 09:00:00 +0000",
                     body="As I said in my post of March 2 ('Spring meeting'), the hall.\n"
                          "See also <b@x> in the thread, and message <gone@x>.\n"))


def test_quotes_lead_to_where_the_words_were_first_written(moot: Moot) -> None:
    thread(moot)
    assert Linker(moot).relink() == 4
    a, b = pk(moot, "a@x"), pk(moot, "b@x")
    assert links_of(moot, "b@x") == [("quote", "found", a)]
    # c@x: the ">>" passage is Ada's (a@x), the ">" line is Bo's (b@x); the R console is no
    # quote; the last passage is found nowhere, and the archive says so.
    assert links_of(moot, "c@x") == [("quote", "found", b), ("quote", "found", a),
                                     ("quote", "none", None)]


def test_references_by_message_id_and_by_date_and_subject(moot: Moot) -> None:
    thread(moot)
    Linker(moot).relink()
    got = links_of(moot, "d@x")
    # "my post of March 2 ('Spring meeting')": Ada's, the first with that subject that day.
    assert ("reference", "found", pk(moot, "a@x")) in got
    assert ("reference", "found", pk(moot, "b@x")) in got
    assert ("reference", "none", None) in got  # <gone@x>: not in the archive


def test_the_incremental_step_links_only_what_is_new(moot: Moot) -> None:
    thread(moot)
    linker = Linker(moot)
    assert linker.catch_up() == 4
    assert linker.catch_up() == 0
    add(moot, make_message("e@x", subject="Re: Minutes", in_reply_to="d@x",
                           references=["d@x"], date="Wed, 11 Mar 2026 09:00:00 +0000",
                           body="> As I said in my post of March 2 ('Spring meeting'), the hall.\n"
                                "Fine.\n"))
    assert linker.catch_up() == 1
    assert links_of(moot, "e@x") == [("quote", "found", pk(moot, "d@x"))]


def test_the_message_page_shows_the_links_both_ways(moot: Moot) -> None:
    from fastapi.testclient import TestClient

    from moot.web.app import create_app

    thread(moot)
    Linker(moot).relink()
    with TestClient(create_app(moot)) as client:
        first = client.get(f"/l/{LIST}/m/a@x/").text
        assert "Quoted by 2 later messages" in first and "Referred to by" in first
        assert f'href="/l/{LIST}/m/c%40x/"' in first or f'href="/l/{LIST}/m/c@x/"' in first
        third = client.get(f"/l/{LIST}/m/c@x/").text
        assert "from a message that is not in this archive" in third
        minutes = client.get(f"/l/{LIST}/m/d@x/").text
        assert "Refers to" in minutes and "no message in this archive fits" in minutes


def test_catching_up_can_go_a_slice_at_a_time(moot: Moot) -> None:
    thread(moot)
    linker = Linker(moot)
    assert linker.relink(batch=1, limit=2) == 2  # stops after two, and marks how far it got
    assert linker.catch_up() == 2  # the other two
    assert linker.catch_up(limit=1) == 0


def test_the_thread_view_shows_quotes_and_quoted_by(moot: Moot) -> None:
    from fastapi.testclient import TestClient

    from moot.web.app import create_app

    thread(moot)
    Linker(moot).relink()
    with TestClient(create_app(moot)) as client:
        page = client.get(f"/l/{LIST}/t/a@x/").text
        assert "Quoted by 2 later messages" in page  # Ada's first message
        assert page.count("Quotes ") >= 2  # Bo's and Cy's replies say whom they quote
        minutes = client.get(f"/l/{LIST}/t/d@x/").text
        assert "Refers to " in minutes  # <b@x>, named in the text, was found
