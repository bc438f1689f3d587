"""Pipermail and HyperKitty URLs through a real import: month files of our own making are
imported, later messages cite their articles by number, and the linker finds the message
meant by calibrating the numbers on the citations whose words say what they cite; a number
it cannot settle is ambiguous (the candidates kept) or unresolved, never guessed.  HyperKitty
URLs find their message by the hash of its Message-ID, kept for imported and posted mail."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from moot.app import Moot
from moot.core.parse import parse_message
from moot.core.references import hyperkitty_id
from moot.importer.run import import_paths
from moot.linking import Linker
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message

DEV, OPS = "dev@example.org", "ops@example.org"
BASE = 100  # the dev list's article number of its first message in the files
URL = "https://lists.example.org/pipermail/{list}/{month}/{n:06d}.html"


def pipermail_text(messages: list[tuple[str, str, datetime, str]]) -> str:
    """A pipermail month file: envelope, a few headers, addresses written "x at y"."""
    out = []
    for message_id, subject, when, body in messages:
        out.append(f"From ada at example.org  {when:%a %b %d %H:%M:%S %Y}\n"
                   f"From: ada at example.org (Ada)\n"
                   f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000\n"
                   f"Subject: [Dev] {subject}\n"
                   f"Message-ID: <{message_id}>\n\n{body}\n\n")
    return "".join(out)


def day(month: int, n: int) -> datetime:
    return datetime(2020, month, 1, 9) + timedelta(days=n)


def url(month: str, n: int, name: str = "dev") -> str:
    return URL.format(list=name, month=month, n=n)


def archive(moot: Moot, tmp_path: Path) -> None:
    """dev: January (articles 100-105, 102 a repeated copy of 101) and February (106-110),
    then March, whose messages cite them.  ops: one January month, barely cited."""
    jan = [("j0@x", "Spring meeting", day(1, 0), "Shall we meet in April?"),
           ("j1@x", "Projector budget", day(1, 1), "The projector needs replacing."),
           ("j1@x", "Projector budget", day(1, 1), "The projector needs replacing."),
           ("j3@x", "Garden party", day(1, 3), "Bring your own chairs."),
           ("j4@x", "Library hours", day(1, 4), "The library closes at six."),
           ("j5@x", "Parking permits", day(1, 5), "Permits are renewed in May.")]
    feb = [("f0@x", "Printer toner", day(2, 0), "Toner is out again."),
           ("f1@x", "Window cleaning", day(2, 1), "Tuesday, the cleaners come."),
           ("f2@x", "Coffee machine", day(2, 2), "It leaks."),
           ("f3@x", "Bicycle racks", day(2, 3), "Two more racks are coming."),
           ("f4@x", "Holiday rota", day(2, 4), "Please add your days.")]
    mar = [("m0@x", "Notes one", day(3, 0), f"On the spring meeting: {url('2020-January', 100)}"),
           ("m1@x", "Notes two", day(3, 1), f"Garden party details at {url('2020-January', 103)}"),
           ("m2@x", "Notes three", day(3, 2), f"Library hours, see {url('2020-January', 104)}"),
           ("m3@x", "Notes four", day(3, 3), f"The printer toner: {url('2020-February', 106)}"),
           ("m4@x", "Notes five", day(3, 4), f"Coffee machine: {url('2020-February', 108)}"),
           ("m5@x", "Notes six", day(3, 5), f"Holiday rota: {url('2020-February', 110)}"),
           ("m6@x", "Notes seven", day(3, 6), f"Cheers.\n\n[1] {url('2020-January', 105)}"),
           ("m7@x", "Notes eight", day(3, 7), f"Earlier: {url('2020-January', 102)}"),
           ("m8@x", "Notes nine", day(3, 8),
            f"Older: {url('2019-December', 90)} and {url('2020-January', 100, 'other')}"),
           ("m9@x", "Notes ten", day(3, 9),
            f"The budget review came up in {url('2020-January', 501, 'ops')}\n\n\n\n"
            f"Unrelated: {url('2020-January', 503, 'ops')}")]
    ops = [("o0@x", "Budget review", day(1, 0), "Figures attached."),
           ("o1@x", "Budget review", day(1, 1), "Corrected figures."),
           ("o2@x", "Budget review", day(1, 2), "Final figures."),
           ("o3@x", "Office plants", day(1, 3), "Water them on Fridays.")]
    for name, messages in (("2020-January", jan), ("2020-February", feb),
                           ("2020-March", mar)):
        (tmp_path / "dev").mkdir(exist_ok=True)
        (tmp_path / "dev" / f"{name}.txt").write_text(pipermail_text(messages))
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "2020-January.txt").write_text(pipermail_text(ops))
    for address, folder in ((DEV, "dev"), (OPS, "ops")):
        moot.store.create_list(address)
        list_id = moot.archive.get_list(address).id
        import_paths(moot.store, list_id, sorted((tmp_path / folder).glob("*.txt")))
    Linker(moot).relink()


def pk(moot: Moot, address: str, message_id: str) -> int:
    return int(moot.archive.messages_by_id(moot.archive.get_list(address).id,
                                           message_id)[0].id)


def references(moot: Moot, message_id: str) -> list[tuple[str, int | None, str]]:
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.links.c.status, s.links.c.target_pk, s.links.c.candidates)
                            .where(s.links.c.source_pk == pk(moot, DEV, message_id),
                                   s.links.c.kind == "reference").order_by(s.links.c.id))
        return [(r.status, r.target_pk, r.candidates) for r in rows]


def test_the_importer_keeps_each_message_s_place_in_its_month_file(moot: Moot,
                                                                    tmp_path: Path) -> None:
    archive(moot, tmp_path)
    p = s.import_positions.c
    with moot.engine.connect() as conn:
        rows = conn.execute(select(p.source, p.position, p.period, p.message_pk)
                            .where(p.period == "2020-01",
                                   p.list_id == moot.archive.get_list(DEV).id)
                            .order_by(p.position)).all()
    # The repeated copy (position 2) names the message stored once.
    assert [(r.source, r.position, r.period) for r in rows] == [
        ("2020-January.txt", n, "2020-01") for n in range(6)]
    assert rows[1].message_pk == rows[2].message_pk == pk(moot, DEV, "j1@x")


def test_a_cited_number_is_calibrated_on_the_citations_that_say_what_they_cite(
        moot: Moot, tmp_path: Path) -> None:
    archive(moot, tmp_path)
    # Words next to the URL name the subject: found (and they are the evidence).
    assert references(moot, "m0@x") == [("found", pk(moot, DEV, "j0@x"), "")]
    assert references(moot, "m4@x") == [("found", pk(moot, DEV, "f2@x"), "")]
    # A bare footnote: no words of its own, the citations around it settle the number.
    assert references(moot, "m6@x") == [("found", pk(moot, DEV, "j5@x"), "")]
    # Article 102 is the repeated copy of 101: the message stored once.
    assert references(moot, "m7@x") == [("found", pk(moot, DEV, "j1@x"), "")]


def test_what_cannot_be_settled_is_ambiguous_or_none(moot: Moot, tmp_path: Path) -> None:
    archive(moot, tmp_path)
    # A month never imported, and a list this archive does not hold.
    assert references(moot, "m8@x") == [("none", None, ""), ("none", None, "")]
    # ops has a single citation: its words fit three messages of the month, so they are the
    # candidates; the other URL has no words and no citations around it.
    ambiguous, unresolved = references(moot, "m9@x")
    assert ambiguous[:2] == ("ambiguous", None)
    assert sorted(int(c) for c in ambiguous[2].split(",")) == [
        pk(moot, OPS, m) for m in ("o0@x", "o1@x", "o2@x")]
    assert unresolved == ("none", None, "")
    with moot.engine.connect() as conn:
        details = [json.loads(d) for d in conn.execute(
            select(s.links.c.detail).where(s.links.c.source_pk == pk(moot, DEV, "m9@x")))
            .scalars()]
    assert all(d["why"] for d in details)


def test_a_hyperkitty_url_finds_the_message_by_the_hash_of_its_message_id(
        moot: Moot, tmp_path: Path) -> None:
    archive(moot, tmp_path)
    list_id = moot.archive.get_list(DEV).id
    posted = make_message("posted.1@example.org", subject="Posted", body="A post.\n")
    citing = make_message(
        "citing@example.org", subject="Citing", date="Sat, 04 Apr 2020 09:00:00 +0000",
        body=("Imported: https://lists.example.org/hyperkitty/list/dev@example.org/message/"
              f"{hyperkitty_id('j3@x')}/\nPosted: https://lists.example.org/hyperkitty/list/"
              f"dev@example.org/thread/{hyperkitty_id('posted.1@example.org')}/\n"
              "Elsewhere: https://lists.example.org/hyperkitty/list/dev@example.org/message/"
              f"{hyperkitty_id('nowhere@example.org')}/\n"))
    moot.store.add_messages(list_id, [Incoming(r, parse_message(r), sha256(r))
                                      for r in (posted, citing)])
    Linker(moot).catch_up()
    with moot.engine.connect() as conn:
        kept = conn.execute(select(s.messages.c.hyperkitty_id).where(
            s.messages.c.id == pk(moot, DEV, "posted.1@example.org"))).scalar()
    assert kept == hyperkitty_id("posted.1@example.org")
    assert references(moot, "citing@example.org") == [
        ("found", pk(moot, DEV, "j3@x"), ""),
        ("found", pk(moot, DEV, "posted.1@example.org"), ""),
        ("none", None, "")]
