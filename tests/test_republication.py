"""Republication through real storage: the same letter cross-posted to a second list, reprinted
there a month later with an editor's note, forwarded, and re-wrapped is found on every copy, and
the first is marked; a reply that carries its parent under an answer, the same stock answer sent
to two people, and short notes that match by chance are not republications.  A copy on a
private list is shown only to those who may read it."""

from __future__ import annotations

import textwrap

from fastapi.testclient import TestClient
from sqlalchemy import select

from moot.app import Moot
from moot.core.parse import parse_message
from moot.linking import Linker
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from moot.web.app import create_app
from tests.helpers import make_message

OPEN = "dev@example.org"
DIGEST = "digest@example.org"
CLOSED = "board@example.org"
LETTER = (
    "Dear all, the community garden on Mill Street will lose its lease at the end of the "
    "summer unless the council hears from the people who use it. I have written to the "
    "planning office twice and had no answer; a letter signed by thirty of us would weigh "
    "more than mine alone. Please bring your ideas to the meeting on Thursday evening in "
    "the library, or write to me before then if you cannot come. The seedlings in the "
    "greenhouse need watering every second day while the caretaker is away.")
STOCK = ("Please don't send content free pings and please allow a reasonable time for review. "
         "People get busy, go on holiday, attend conferences and so on so unless there is "
         "some reason for urgency (like critical bug fixes) please allow at least a couple "
         "of weeks for review. If there have been review comments then people may be waiting "
         "for those to be addressed.")


def wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) + "\n"


def add(moot: Moot, address: str, *raws: bytes) -> None:
    moot.store.add_messages(moot.archive.get_list(address).id,
                            [Incoming(r, parse_message(r), sha256(r)) for r in raws])


def republished(moot: Moot) -> dict[str, str | None]:
    """Each message's Message-ID -> the Message-ID of the original it is a copy of."""
    m, lk = s.messages, s.links
    target = m.alias("target")
    with moot.engine.connect() as conn:
        q = (select(m.c.message_id, target.c.message_id)
             .select_from(lk.join(m, m.c.id == lk.c.source_pk)
                          .join(target, target.c.id == lk.c.target_pk))
             .where(lk.c.kind == "republication"))
        return dict(conn.execute(q).all())  # type: ignore[arg-type]


def archive(moot: Moot) -> None:
    moot.store.create_list(OPEN)
    moot.store.create_list(DIGEST)
    moot.store.create_list(CLOSED, archive_policy="private")
    add(moot, OPEN,
        make_message("letter@x", subject="The garden", sender="Ada <ada@example.org>",
                     date="Mon, 02 Mar 2026 09:00:00 +0000", body=wrapped(LETTER, 72)),
        # A reply with the letter under its answer, no quote marks: a quote, not a copy.
        make_message("reply@x", subject="Re: The garden", sender="Bo <bo@example.org>",
                     date="Mon, 02 Mar 2026 12:00:00 +0000", in_reply_to="letter@x",
                     references=["letter@x"],
                     body=wrapped(LETTER, 72) + "\nI can come on Thursday and will bring "
                     "the petition forms from last year, which only need a new heading and "
                     "a date; we could also ask the school to put up a notice about it.\n"),
        # One stock answer sent to two people, each quoting a different message.
        make_message("ping1@x", subject="Re: [PATCH] one", sender="Mark <m@example.org>",
                     date="Tue, 03 Mar 2026 09:00:00 +0000",
                     body="On Mon, Cy wrote:\n> Any news about the first patch of the series "
                     "I sent three weeks ago?\n\n" + wrapped(STOCK, 70)),
        make_message("ping2@x", subject="Re: [PATCH] two", sender="Mark <m@example.org>",
                     date="Tue, 10 Mar 2026 09:00:00 +0000",
                     body="On Sun, Di wrote:\n> Gentle reminder that the codec fix still "
                     "waits for a look from somebody.\n\n" + wrapped(STOCK, 70)),
        make_message("thanks1@x", subject="Re: one", date="Wed, 04 Mar 2026 09:00:00 +0000",
                     body="Thanks, applied to the fixes branch.\n"),
        make_message("thanks2@x", subject="Re: two", date="Thu, 05 Mar 2026 09:00:00 +0000",
                     body="Thanks, applied to the fixes branch.\n"))
    add(moot, DIGEST,
        # Cross-posted an hour later under its own Message-ID, re-wrapped.
        make_message("cross@x", subject="The garden", sender="Ada <ada@example.org>",
                     date="Mon, 02 Mar 2026 10:00:00 +0000", body=wrapped(LETTER, 50)),
        # Reprinted a month later with an editor's note in front.
        make_message("reprint@x", subject="From the lists: the garden",
                     sender="Editor <ed@example.org>", date="Thu, 02 Apr 2026 08:00:00 +0000",
                     body="[Editor's note: this letter went to the dev list in March; the "
                     "council has since renewed the lease for a year, and we print it for "
                     "those who asked what the fuss was about.]\n\n" + wrapped(LETTER, 66)))
    add(moot, CLOSED,
        make_message("fwd@x", subject="Fwd: The garden", sender="Eve <eve@example.org>",
                     date="Tue, 03 Mar 2026 08:00:00 +0000",
                     body="For the board, FYI.\n\n---------- Forwarded message ---------\n"
                     "From: Ada <ada@example.org>\nDate: Mon, 2 Mar 2026\n"
                     "Subject: The garden\n\n" + wrapped(LETTER, 78)))


def test_every_copy_of_a_letter_leads_to_the_first(moot: Moot) -> None:
    archive(moot)
    assert Linker(moot).relink() == 9
    assert republished(moot) == {"cross@x": "letter@x", "reprint@x": "letter@x",
                                 "fwd@x": "letter@x"}


def test_the_incremental_step_finds_a_copy_of_an_older_letter(moot: Moot) -> None:
    archive(moot)
    linker = Linker(moot)
    linker.catch_up()
    add(moot, OPEN, make_message("again@x", subject="The garden (again)",
                                 sender="Ada <ada@example.org>",
                                 date="Mon, 09 Mar 2026 09:00:00 +0000",
                                 body=wrapped(LETTER, 60)))
    assert linker.catch_up() == 1
    assert republished(moot)["again@x"] == "letter@x"


def test_pages_show_where_else_a_letter_appeared(moot: Moot) -> None:
    archive(moot)
    Linker(moot).relink()
    with TestClient(create_app(moot)) as client:
        first = client.get(f"/l/{OPEN}/m/letter@x/").text
        assert "Also published in" in first
        section = first[first.index("Also published in"):]
        assert "first published" in section
        assert DIGEST in section and "reprint" in section.lower() or "From the lists" in section
        # The forwarded copy is on a private list: not shown to someone who may not read it.
        assert "Fwd: The garden" not in first
        copy = client.get(f"/l/{DIGEST}/m/reprint@x/").text
        section = copy[copy.index("Also published in"):]
        assert f'href="/l/{OPEN}/m/letter%40x/"' in section or \
            f'href="/l/{OPEN}/m/letter@x/"' in section
        assert "this message" in section
        # Not copies: no such section.
        assert "Also published in" not in client.get(f"/l/{OPEN}/m/reply@x/").text
        assert "Also published in" not in client.get(f"/l/{OPEN}/m/ping2@x/").text
        api = client.get("/api/v1/messages/reprint@x/links").json()
        assert {"kind": "republication", "target": "letter@x"}.items() <= next(
            x for x in api["outgoing"] if x["kind"] == "republication").items()


def test_the_thread_view_shows_each_messages_ties(moot: Moot) -> None:
    archive(moot)
    Linker(moot).relink()
    with TestClient(create_app(moot)) as client:
        page = client.get(f"/l/{OPEN}/t/letter@x/").text
        assert "Also published in" in page and DIGEST in page
        assert "board@example.org" not in page  # the private copy stays private
