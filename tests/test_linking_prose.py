"""Prose references resolved through real storage: "my posting yesterday", "my email from last
week concerning ...", "my previous post on ...", "Ada's earlier message on ...", "as you posted
yesterday (thread 'X', date)", "my email of this subject stamped 4:43 PM".  Each fixture has
twins: the author's other post of the same day, an older post on the same topic, someone
else's post; one fit is "found", several "ambiguous", none "none"."""

from __future__ import annotations

from sqlalchemy import select

from moot.app import Moot
from moot.core.parse import parse_message
from moot.linking import Linker
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message

LIST = "dev@example.org"
ADA = "Ada Quill <ada@example.org>"
BO = "Bo Park <bo@example.org>"


def add(moot: Moot, *raws: bytes) -> None:
    moot.store.add_messages(moot.archive.get_list(LIST).id,
                            [Incoming(r, parse_message(r), sha256(r)) for r in raws])


def pk(moot: Moot, message_id: str) -> int:
    return int(moot.archive.messages_by_id(moot.archive.get_list(LIST).id, message_id)[0].id)


def references(moot: Moot, message_id: str) -> list[tuple[str, int | None, list[int]]]:
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.links.c.status, s.links.c.target_pk, s.links.c.candidates)
                            .where(s.links.c.source_pk == pk(moot, message_id),
                                   s.links.c.kind == "reference")
                            .order_by(s.links.c.id))
        out = []
        for status, target, candidates in rows:
            listed = candidates if isinstance(candidates, list) else [
                int(c) for c in str(candidates or "").replace("[", "").replace("]", "")
                .split(",") if c.strip()]
            out.append((status, target, sorted(listed)))
        return out


def archive(moot: Moot) -> None:
    moot.store.create_list(LIST)
    add(moot,
        # Ada's older post on the same topic (a month before), and two posts of hers on one
        # day: the sorting one and another on the build.
        make_message("old@x", subject="Sorting with NA values", sender=ADA,
                     date="Mon, 02 Feb 2026 09:00:00 +0000",
                     body="Sorting a vector with NA values is slow in some cases.\n"),
        make_message("sort@x", subject="Faster sorting of factors", sender=ADA,
                     date="Mon, 02 Mar 2026 09:00:00 -0500",
                     body="Sorting factors could reuse the integer codes; a patch follows.\n"),
        make_message("build@x", subject="Build fails on ARM", sender=ADA,
                     date="Mon, 02 Mar 2026 16:00:00 -0500",
                     body="The build stops in the linker on ARM boards.\n"),
        make_message("bo1@x", subject="Faster sorting of factors", sender=BO,
                     date="Mon, 02 Mar 2026 11:00:00 -0500", in_reply_to="sort@x",
                     references=["sort@x"], body="Nice idea, I will try it.\n"),
        # Bo's repost, a day later, in a new thread.
        make_message("bo2@x", subject="Sorting factors again", sender=BO,
                     date="Tue, 03 Mar 2026 10:00:00 -0500",
                     body="Did anyone look at the factor sorting idea?\n"))


def test_yesterday_is_the_writers_day_and_the_topic_picks_one(moot: Moot) -> None:
    archive(moot)
    add(moot,
        # Both of Ada's posts of 2 March fit "yesterday": neither is picked.
        make_message("y1@x", subject="Status", sender=ADA,
                     date="Tue, 03 Mar 2026 08:00:00 -0500",
                     body="The responses to my posting yesterday were kind.\n"),
        # With a topic, the sorting one.
        make_message("y2@x", subject="Status", sender=ADA,
                     date="Tue, 03 Mar 2026 08:30:00 -0500",
                     body="Thanks for the answers to my posting yesterday on sorting factors,"
                          " they helped.\n"),
        # Three days later "yesterday" names a day she did not post: none.
        make_message("y3@x", subject="Status", sender=ADA,
                     date="Thu, 05 Mar 2026 08:00:00 -0500",
                     body="The responses to my posting yesterday were kind.\n"))
    Linker(moot).relink()
    assert references(moot, "y1@x") == [
        ("ambiguous", None, sorted([pk(moot, "sort@x"), pk(moot, "build@x")]))]
    assert references(moot, "y2@x") == [("found", pk(moot, "sort@x"), [])]
    assert references(moot, "y3@x") == [("none", None, [])]


def test_previous_post_on_a_topic_is_the_latest_that_fits(moot: Moot) -> None:
    archive(moot)
    add(moot,
        make_message("p1@x", subject="Sorting, part 2", sender=ADA,
                     date="Wed, 04 Mar 2026 08:00:00 -0500",
                     body="Following my previous post on sorting, here is the patch.\n"),
        # "my previous post" alone is the one answered, most likely: no reference.
        make_message("p2@x", subject="Re: Build fails on ARM", sender=ADA,
                     date="Wed, 04 Mar 2026 09:00:00 -0500", in_reply_to="build@x",
                     body="As I said in my previous post, it is the linker.\n"),
        # A name: Bo's earlier message on the factor sorting idea (his repost; not Ada's).
        make_message("p3@x", subject="Sorting", sender=ADA,
                     date="Wed, 04 Mar 2026 10:00:00 -0500",
                     body="I read Bo's earlier message on the factor sorting idea.\n"))
    Linker(moot).relink()
    assert references(moot, "p1@x") == [("found", pk(moot, "sort@x"), [])]
    assert references(moot, "p2@x") == []
    assert references(moot, "p3@x") == [("found", pk(moot, "bo2@x"), [])]


def test_last_week_concerning_a_topic(moot: Moot) -> None:
    archive(moot)
    add(moot, make_message(
        "w1@x", subject="Sorting again", sender=ADA, date="Tue, 10 Mar 2026 08:00:00 -0500",
        body="I got no reply concerning my email from last week concerning sorting\n"
             "factors. Here it is again.\n"))
    Linker(moot).relink()
    # The February post on sorting NA values is older than last week.
    assert references(moot, "w1@x") == [("found", pk(moot, "sort@x"), [])]


def test_you_is_the_author_of_the_message_answered(moot: Moot) -> None:
    archive(moot)
    add(moot, make_message(
        "u1@x", subject="Re: Sorting factors again", sender=ADA,
        date="Wed, 04 Mar 2026 08:00:00 -0500", in_reply_to="bo2@x", references=["bo2@x"],
        body="No need to repost, as you posted on 2 March (thread 'Faster sorting of\n"
             "factors').\n"))
    Linker(moot).relink()
    # Bo's reply in that thread, not Ada's first post of the same subject.
    assert references(moot, "u1@x") == [("found", pk(moot, "bo1@x"), [])]


def test_same_subject_and_a_time_stamp(moot: Moot) -> None:
    archive(moot)
    add(moot,
        make_message("sort2@x", subject="Re: Faster sorting of factors", sender=ADA,
                     date="Mon, 02 Mar 2026 17:43:00 +0000", in_reply_to="bo1@x",
                     body="Here are timings.\n"),
        make_message("t1@x", subject="Re: Faster sorting of factors", sender=ADA,
                     date="Mon, 02 Mar 2026 20:00:00 +0000", in_reply_to="bo1@x",
                     body="See my email of this subject stamped 11:43 AM Central time.\n"))
    Linker(moot).relink()
    # sort@x (14:00 UTC) has the subject too, but not the minutes.
    assert references(moot, "t1@x") == [("found", pk(moot, "sort2@x"), [])]


def test_a_lone_fit_on_another_subject_stays_a_candidate(moot: Moot) -> None:
    archive(moot)
    add(moot,
        make_message("c1@x", subject="Linker errors on ARM", sender=ADA,
                     date="Wed, 04 Mar 2026 09:00:00 -0500",
                     body="Bo reported yesterday that he could not reproduce it.\n"),
        make_message("c2@x", subject="Sorting factors: timings", sender=ADA,
                     date="Wed, 04 Mar 2026 09:30:00 -0500",
                     body="As Bo posted yesterday, the idea is worth a look.\n"))
    Linker(moot).relink()
    # Bo's one post of 3 March is about sorting: maybe not where he said it (c1), surely
    # what is meant when the subjects meet (c2).
    assert references(moot, "c1@x") == [("ambiguous", None, [pk(moot, "bo2@x")])]
    assert references(moot, "c2@x") == [("found", pk(moot, "bo2@x"), [])]
    from fastapi.testclient import TestClient

    from moot.web.app import create_app

    with TestClient(create_app(moot)) as client:
        page = client.get(f"/l/{LIST}/m/c1@x/").text
        assert "— perhaps" in page and "one of these" not in page
