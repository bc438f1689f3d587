"""Quote links through real storage for the shapes beyond plain ``>`` quotes: words pasted
back without markers, a parent whose text the archive lost to a scrubbed attachment, Outlook
chains that carry older mail, and a patch that someone else sent on.

Every message here is made up for these tests."""

from __future__ import annotations

import json

from sqlalchemy import select

from moot.app import Moot
from moot.linking import Linker
from moot.storage import schema as s
from tests.helpers import make_message
from tests.test_linking import LIST, add, pk

ASK = ("Could somebody explain why the mixer resets its volume on resume after a cold boot, "
       "while a warm reboot keeps every setting exactly as it was before?\n")


def quote_links(moot: Moot, message_id: str) -> list[tuple[str, int | None, dict[str, object]]]:
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.links.c.status, s.links.c.target_pk, s.links.c.detail)
                            .where(s.links.c.source_pk == pk(moot, message_id),
                                   s.links.c.kind == "quote").order_by(s.links.c.id))
        return [(st, t, json.loads(d or "{}")) for st, t, d in rows]


def reply(mid: str, parent: str, body: str, *, sender: str = "Bo <bo@example.org>",
          refs: list[str] | None = None, hour: int = 10) -> bytes:
    return make_message(mid, subject="Re: Mixer", sender=sender, in_reply_to=parent,
                        references=refs or [parent], body=body,
                        date=f"Mon, 02 Mar 2026 {hour:02}:00:00 +0000")


def test_words_pasted_back_without_markers_are_an_unmarked_quote(moot: Moot) -> None:
    moot.store.create_list(LIST)
    add(moot,
        make_message("q@x", subject="Mixer", sender="Ada <ada@example.org>", body=ASK,
                     date="Mon, 02 Mar 2026 09:00:00 +0000"),
        reply("r@x", "q@x", "You asked why the mixer resets its volume on resume after a cold "
              "boot, while a warm reboot keeps every setting.\n\nThe firmware clears the "
              "codec registers on a cold boot only; the driver restores them since 6.2.\n"),
        reply("short@x", "q@x", "A warm reboot keeps every setting here as well.\n", hour=11))
    Linker(moot).relink()
    (got,) = quote_links(moot, "r@x")
    status, target, detail = got
    assert (status, target) == ("found", pk(moot, "q@x"))
    assert detail["unmarked"] is True and detail["depth"] == 0
    assert str(detail["excerpt"]).startswith("why the mixer resets")
    assert detail["lines"] == [0, 1]
    assert quote_links(moot, "short@x") == []  # six words in common happen by chance


def test_a_resent_letter_or_own_words_or_a_patch_are_no_unmarked_quote(moot: Moot) -> None:
    moot.store.create_list(LIST)
    patch = ("Restore the mixer volume after a cold boot, since the firmware clears the codec "
             "registers then and nothing else brings them back.\n\n"
             "diff --git a/sound/mixer.c b/sound/mixer.c\n--- a/sound/mixer.c\n"
             "+++ b/sound/mixer.c\n@@ -1,2 +1,3 @@\n+restore();\n")
    add(moot,
        make_message("q@x", subject="Mixer", sender="Ada <ada@example.org>", body=ASK,
                     date="Mon, 02 Mar 2026 09:00:00 +0000"),
        reply("again@x", "q@x", "Sorry, resending.\n\n" + ASK, sender="Bo <bo@example.org>"),
        reply("mine@x", "q@x", "To say it again: " + ASK + "Nobody knows?\n",
              sender="Ada <ada@example.org>", hour=11),
        make_message("p1@x", subject="[PATCH] mixer", sender="Cy <cy@example.org>",
                     body=patch, date="Mon, 02 Mar 2026 12:00:00 +0000"),
        reply("p2@x", "p1@x", "v2: reworded.\n\n" + patch, sender="Di <di@example.org>",
              hour=13))
    Linker(moot).relink()
    for mid in ("again@x", "mine@x", "p2@x"):
        assert quote_links(moot, mid) == [], mid


def test_a_parent_lost_to_a_scrubbed_attachment_is_named_by_the_attribution(
        moot: Moot) -> None:
    moot.store.create_list(LIST)
    scrubbed = ("-------------- next part --------------\n"
                "An HTML attachment was scrubbed...\nURL: <http://example.org/a.html>\n")
    quoted = "".join(f"> {x}\n" for x in ASK.splitlines())
    add(moot,
        make_message("h@x", subject="Mixer", sender="Ada Quill <ada@example.org>",
                     body=scrubbed, date="Mon, 02 Mar 2026 09:00:00 +0000"),
        reply("named@x", "h@x", "On Mon, Ada Quill wrote:\n" + quoted + "\nCold boots.\n"),
        reply("other@x", "h@x", "On Mon, Cy Moss wrote:\n" + quoted + "\nCold boots.\n",
              hour=11))
    Linker(moot).relink()
    assert [(st, t) for st, t, _ in quote_links(moot, "named@x")] == [
        ("found", pk(moot, "h@x"))]
    assert [(st, t) for st, t, _ in quote_links(moot, "other@x")] == [("none", None)]


def test_an_outlook_chain_links_each_layer_to_its_writer(moot: Moot) -> None:
    moot.store.create_list(LIST)
    answer = ("The firmware clears the codec registers on a cold boot only, and the driver "
              "restores them since version 6.2 of the kernel.\n")
    add(moot,
        make_message("q@x", subject="Mixer", sender="Ada <ada@example.org>", body=ASK,
                     date="Mon, 02 Mar 2026 09:00:00 +0000"),
        reply("a@x", "q@x", answer + "\nOn Mon, Ada wrote:\n"
              + "".join(f"> {x}\n" for x in ASK.splitlines())),
        reply("t@x", "a@x", "Thanks, that settles it.\n\n-----Original Message-----\n"
              "From: Bo <bo@example.org>\nSent: Monday, March 2, 2026 10:00 AM\n"
              "To: Ada <ada@example.org>\nSubject: RE: Mixer\n\n" + answer
              + "\nOn Mon, Ada wrote:\n" + "".join(f"> {x}\n" for x in ASK.splitlines()),
              sender="Ada <ada@example.org>", refs=["q@x", "a@x"], hour=11))
    Linker(moot).relink()
    got = [(st, t, d["depth"]) for st, t, d in quote_links(moot, "t@x")]
    assert got == [("found", pk(moot, "a@x"), 0), ("found", pk(moot, "q@x"), 2)]


def test_a_patch_sent_on_by_someone_else_leads_to_its_first_posting(moot: Moot) -> None:
    moot.store.create_list(LIST)
    text = ("Restore the mixer volume after a cold boot, since the firmware clears the codec "
            "registers then and nothing else brings them back.\n")
    add(moot,
        make_message("orig@x", subject="[PATCH] mixer", sender="Cy Moss <cy@example.org>",
                     body=text, date="Mon, 02 Mar 2026 09:00:00 +0000"),
        make_message("back@x", subject="[PATCH 5.4] mixer", sender="Di <di@example.org>",
                     body="From: Cy Moss <cy@example.org>\n\n[ Upstream commit 0123abcd ]\n\n"
                     + text, date="Tue, 10 Mar 2026 09:00:00 +0000"),
        make_message("ask@x", subject="Re: [PATCH 5.4] mixer", sender="Ed <ed@example.org>",
                     in_reply_to="back@x", references=["back@x"],
                     body="Di wrote:\n" + "".join(f"> {x}\n" for x in text.splitlines())
                     + "\nDoes this need the 6.2 driver too?\n",
                     date="Wed, 11 Mar 2026 09:00:00 +0000"))
    moot.search.catch_up()
    Linker(moot).relink()
    assert [(st, t) for st, t, _ in quote_links(moot, "ask@x")] == [
        ("found", pk(moot, "orig@x"))]
