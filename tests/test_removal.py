"""Taking archived messages down (moot.removal) against a real database and the real search
index (tantivy on SQLite, full-text search on PostgreSQL): a deleted message keeps its place
in the thread and nothing else; a redacted one loses exactly the passages struck; neither can
be found, downloaded or re-imported with the old words; the audit log says who, how and why."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from moot.app import Moot
from moot.core.errors import MessageNotFound
from moot.core.mailinglist import ListConfig
from moot.core.parse import parse_message
from moot.reading import export_mbox, thread_rows
from moot.removal import AlreadyDeleted, RemovalError, take_down
from moot.storage import audit
from moot.storage import schema as s
from moot.storage.lists import get_config
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message

LIST = "dev@example.org"
WHEN = datetime(2026, 11, 25, 17, 3)

ROOT = (
    b"From: Ada Quill <ada@example.org>\n"
    b"To: dev@example.org\n"
    b"Subject: Plans for Zanzibar\n"
    b"Date: Mon, 02 Mar 2026 09:14:00 +0000\n"
    b"Message-ID: <root@example.org>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="b1"\n'
    b"\n"
    b"--b1\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"The meeting is at 12 Quokka Lane.\n"
    b"Call 555-0199 for details, or 555-0199 after six.\n"
    b"--b1\n"
    b"Content-Type: application/octet-stream\n"
    b'Content-Disposition: attachment; filename="map.bin"\n'
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"UXVva2thIExhbmUgbWFw\n"
    b"--b1--\n"
)
REPLY = make_message("reply@example.org", subject="Count me in",
                     sender="Bob <bob@example.org>", date="Mon, 02 Mar 2026 10:00:00 +0000",
                     in_reply_to="root@example.org", references=["root@example.org"],
                     body="Thanks, I will bring the wombat.\n")


@pytest.fixture
def site(moot: Moot) -> tuple[Moot, ListConfig]:
    moot.store.create_list(LIST)
    list_id = moot.archive.get_list(LIST).id
    moot.store.add_messages(list_id, [Incoming(r, parse_message(r), sha256(r))
                                      for r in (ROOT, REPLY)])
    moot.search.catch_up()
    with moot.engine.connect() as conn:
        config = get_config(conn, LIST)
    assert config is not None
    return moot, config


def found(moot: Moot, q: str) -> set[str]:
    """What a search finds; the count agrees (a removed message left in the index would be
    counted even where the archive no longer shows it)."""
    results = moot.search.search(q, list_ids=None, limit=50)
    assert results.total == len(results.hits), q
    return {h.message_id for h in results.hits}


def row(moot: Moot, message_id: str) -> object:
    return moot.archive.messages_by_id(moot.archive.get_list(LIST).id, message_id)[0]


def counts(moot: Moot, pk: int) -> tuple[int, int]:
    with moot.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t).where(t.c.message_pk == pk))
            .scalar_one() for t in (s.raw_messages, s.attachments))


def mbox(moot: Moot, config: ListConfig) -> bytes:
    return b"".join(export_mbox(moot.archive, config.id, month=(2026, 3)))


def test_a_deleted_message_keeps_its_place_in_the_thread_and_nothing_else(site) -> None:
    moot, config = site
    assert found(moot, "Quokka") == {"root@example.org"}
    assert counts(moot, row(moot, "root@example.org").id) == (1, 1)
    done = take_down(moot, config, "root@example.org", "delete", by="mod@example.org",
                     reason="doxxing", now=WHEN)
    assert (done.kind, done.removed_at, done.message_id) == ("deleted", WHEN, "root@example.org")
    m = row(moot, "root@example.org")
    assert (m.subject, m.body_text, m.removed_kind, m.removed_at, m.removed_by) == (
        "(removed)", "", "deleted", WHEN, "mod@example.org")
    assert (m.has_html, m.attachment_count) == (False, 0)
    assert counts(moot, m.id) == (0, 0)  # raw bytes and attachments are gone
    rows = thread_rows(moot.archive, m.thread_id)
    assert [(r.message_id, r.depth, r.parent) for r in rows] == [
        ("root@example.org", 0, None), ("reply@example.org", 1, "root@example.org")]
    assert moot.archive.thread(m.thread_id).subject == "(removed)"  # the list pages' name
    data = mbox(moot, config)
    assert b"Quokka" not in data and b"Zanzibar" not in data
    assert b"wombat" in data and data.count(b"From: ") == 1  # the reply only
    for word in ("Quokka", "Zanzibar", "555-0199", "from:ada"):
        assert found(moot, word) == set(), word
    assert found(moot, "wombat") == {"reply@example.org"}  # the reply is untouched
    with moot.engine.connect() as conn:
        entry = audit.entries(conn, config.id)[0]
    assert entry["action"] == "remove:deleted" and entry["actor"] == "mod@example.org"
    assert entry["target"] == "root@example.org" and entry["detail"] == "doxxing"


def test_a_redaction_strikes_every_occurrence_and_keeps_the_rest(site) -> None:
    moot, config = site
    take_down(moot, config, "root@example.org", "redact",
              passages=["555-0199", "Quokka Lane", "Zanzibar"], by="mod@example.org",
              reason="private details", now=WHEN)
    m = row(moot, "root@example.org")
    assert m.body_text.count("[redacted]") == 3
    assert "555-0199" not in m.body_text and "Quokka" not in m.body_text
    assert "The meeting is at 12 [redacted]." in m.body_text
    assert m.subject == "Plans for [redacted]" and m.removed_kind == "redacted"
    assert moot.archive.thread(m.thread_id).subject == "Plans for [redacted]"
    assert counts(moot, m.id) == (0, 0)
    assert b"Quokka" not in mbox(moot, config)  # left out of downloads (its bytes are gone)
    for word in ("Quokka", "555", "Zanzibar"):
        assert found(moot, word) == set(), word
    assert found(moot, "meeting") == {"root@example.org"}  # found by what is left
    assert found(moot, "subject:plans") == {"root@example.org"}
    hits = moot.search.search("meeting", list_ids=None).hits
    assert "Quokka" not in hits[0].snippet and "Zanzibar" not in hits[0].subject
    with moot.engine.connect() as conn:
        entry = audit.entries(conn, config.id)[0]
    assert entry["action"] == "remove:redacted"
    assert entry["detail"] == "3 passages struck; private details"
    assert "Quokka" not in str(entry) and "555" not in str(entry)
    # More can be struck later, and a redacted message can still be deleted.
    take_down(moot, config, "root@example.org", "redact", passages=["meeting"], by="x")
    assert found(moot, "meeting") == set()
    take_down(moot, config, "root@example.org", "delete", by="x")
    assert row(moot, "root@example.org").removed_kind == "deleted"


def test_nothing_changes_when_a_passage_is_not_in_the_message(site) -> None:
    moot, config = site
    before = row(moot, "root@example.org")
    for passages in (["quokka lane"], ["555-0199", "not there"], [], ["   "]):
        with pytest.raises(RemovalError) as caught:
            take_down(moot, config, "root@example.org", "redact", passages=passages, by="x")
        assert "passage" in str(caught.value)
    with pytest.raises(RemovalError, match="'not there'"):
        take_down(moot, config, "root@example.org", "redact",
                  passages=["555-0199", "not there"], by="x")
    assert row(moot, "root@example.org") == before
    assert counts(moot, before.id) == (1, 1)
    assert found(moot, "Quokka") == {"root@example.org"}


def test_what_cannot_be_removed_says_why(site) -> None:
    moot, config = site
    with pytest.raises(RemovalError, match="delete' or 'redact"):
        take_down(moot, config, "root@example.org", "shred", by="x")
    with pytest.raises(MessageNotFound):
        take_down(moot, config, "nobody@example.org", "delete", by="x")
    with pytest.raises(MessageNotFound):
        take_down(moot, config, "root@example.org", "delete", by="x", n=2)
    take_down(moot, config, "root@example.org", "delete", by="x")
    for kind in ("delete", "redact"):
        with pytest.raises(AlreadyDeleted, match="deleted already"):
            take_down(moot, config, "root@example.org", kind, passages=["x"], by="x")


def test_importing_the_same_mail_again_does_not_bring_it_back(site) -> None:
    moot, config = site
    take_down(moot, config, "root@example.org", "delete", by="x")
    result = moot.store.add_messages(config.id, [Incoming(ROOT, parse_message(ROOT),
                                                          sha256(ROOT))])
    assert result.stored == [] and result.duplicates == 1
    moot.search.catch_up()
    assert found(moot, "Quokka") == set()


def test_a_message_not_indexed_yet_is_indexed_as_removed(site) -> None:
    """A post stored but not yet indexed when it is taken down: the next catch-up reads the
    archive as it is now."""
    moot, config = site
    late = make_message("late@example.org", subject="Aardvark news",
                        body="The aardvark lives at 9 Numbat Road.\n")
    other = make_message("other@example.org", subject="Pangolin", body="Pangolin facts.\n")
    moot.store.add_messages(config.id, [Incoming(r, parse_message(r), sha256(r))
                                        for r in (late, other)])
    take_down(moot, config, "late@example.org", "redact", passages=["9 Numbat Road"], by="x")
    take_down(moot, config, "other@example.org", "delete", by="x")
    moot.search.catch_up()
    assert found(moot, "Numbat") == set() and found(moot, "aardvark") == {"late@example.org"}
    assert found(moot, "pangolin") == set()
    moot.search.rebuild()  # and a rebuild keeps them so
    assert found(moot, "Numbat") == set() and found(moot, "pangolin") == set()
    assert found(moot, "aardvark") == {"late@example.org"}


def test_a_busy_index_does_not_undo_the_removal(site, data_dir) -> None:
    """Another process writing to the embedded index (an import): the message is removed all
    the same, the answer says the index lags, and a reindex catches it up."""
    moot, config = site
    from moot.search.tantivy_index import TantivyIndex

    if not isinstance(moot.search.index, TantivyIndex):
        pytest.skip("only the embedded index has one writer at a time")
    moot.search.index.close()
    other = TantivyIndex(data_dir / "index")
    other._w()  # holds the writer's lock, as an import in another process would
    try:
        done = take_down(moot, config, "root@example.org", "redact", passages=["Quokka"],
                         by="x")
    finally:
        other.close()
    assert done.indexed is False
    assert "Quokka" not in row(moot, "root@example.org").body_text
    assert moot.search.search("Quokka", list_ids=None).total == 1  # lags, as reported
    moot.search.rebuild()  # `moot reindex`
    assert found(moot, "Quokka") == set() and found(moot, "meeting") == {"root@example.org"}
