"""Proof of identity through the posting pipeline: real DKIM signatures (keys made in the
test, DNS answered from a fixed table), real SQLite/PostgreSQL, the message page as readers
see it, and the holds a list owner would see."""

from __future__ import annotations

import json
from pathlib import Path

import dkim
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from moot.app import Moot
from moot.core.member import Member
from moot.inbound.authentication import Verifier
from moot.inbound.service import Job
from moot.storage import members as m
from moot.storage import schema as s
from moot.storage.lists import get_config, update_settings
from moot.storage.store import now_utc
from moot.web.app import create_app
from tests.helpers import dkim_keypair

LIST = "dev@lists.example.org"


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    return dkim_keypair()


@pytest.fixture
def site(moot: Moot, key: tuple[bytes, str]) -> Moot:
    answers = {"mail._domainkey.example.org": [key[1]]}
    moot.__dict__["verifier"] = Verifier(lambda name: answers.get(name.rstrip("."), []))
    moot.store.create_list(LIST, posting_policy="open")
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        m.add_member(conn, config.id, Member("bob@example.org", name="Bob Smith"), now_utc())
    return moot


def message(n: int, sender: str = "Bob Smith <bob@example.org>") -> bytes:
    return (f"From: {sender}\r\nTo: {LIST}\r\nSubject: Post {n}\r\n"
            f"Message-ID: <id{n}@example.org>\r\nDate: Wed, 25 Nov 2026 07:00:00 +0000\r\n"
            f"\r\nHello, number {n}.\r\n").encode()


def signed(raw: bytes, pem: bytes) -> bytes:
    sig = dkim.sign(raw, b"mail", b"example.org", pem,
                    include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    return sig + raw


def post(moot: Moot, raw: bytes, envelope: str = "bob@example.org") -> tuple[str, str]:
    identity, spam = moot.check_post(raw)
    target = moot.resolve(LIST)
    assert target is not None
    with moot.engine.begin() as conn:
        out = moot.inbound.handle(conn, Job(envelope, target, raw, identity, spam))
    return out.status, "; ".join(out.reasons)


def test_a_signed_post_is_verified_shown_so_and_remembered(site: Moot,
                                                           key: tuple[bytes, str]) -> None:
    assert post(site, signed(message(1), key[0])) == ("accepted", "")
    with site.engine.connect() as conn:
        stored = conn.execute(select(s.messages.c.identity)).scalar_one()
        config = get_config(conn, LIST)
        assert m.auth_passes(conn, config.id, "bob@example.org") == 1
    assert json.loads(stored)["verdict"] == "verified"
    page = TestClient(create_app(site)).get(f"/l/{LIST}/m/id1@example.org/")
    assert page.status_code == 200
    assert "verified: DKIM signature by example.org" in page.text
    # Now mail in Bob's name that does not pass: held, with the evidence.
    status, why = post(site, message(2))
    assert status == "held"
    assert "possible impersonation: mail from bob@example.org passed authentication once " \
           "before, this one did not" in why
    # A changed body breaks the signature: the same.
    tampered = signed(message(3), key[0]).replace(b"number 3", b"number 33")
    status, why = post(site, tampered)
    assert status == "held" and "possible impersonation" in why


def test_a_look_alike_name_is_held(site: Moot) -> None:
    status, why = post(site, message(4, "Bоb Smith <bob.smith@evil.example>"),  # Cyrillic о
                       envelope="bob.smith@evil.example")
    assert status == "held"
    assert why.startswith("possible impersonation of bob@example.org")


def test_the_lists_identity_policy_for_unverified_senders(site: Moot) -> None:
    stranger = message(5, "Carol <carol@elsewhere.example>")
    assert post(site, stranger, "carol@elsewhere.example")[0] == "accepted"  # accept: default
    with site.engine.begin() as conn:
        update_settings(conn, LIST, {"identity_policy": "hold"})
    status, why = post(site, message(6, "Carol <carol@elsewhere.example>"),
                       "carol@elsewhere.example")
    assert status == "held" and why.startswith("could not verify sender: ")
    with site.engine.begin() as conn:
        update_settings(conn, LIST, {"identity_policy": "reject"})
    assert post(site, message(7, "Carol <carol@elsewhere.example>"),
                "carol@elsewhere.example")[0] == "rejected"


def test_the_spam_filter_flags_posts(site: Moot, tmp_path: Path) -> None:
    import dataclasses

    spamc = tmp_path / "fake-spamc"
    spamc.write_text("#!/bin/sh\nif grep -q 'cheap pills' ; then echo 9.1/5.0; exit 1; fi\n"
                     "echo 0.1/5.0\n")
    spamc.chmod(0o755)
    site.settings = dataclasses.replace(site.settings, spamc=str(spamc))
    raw = message(8, "Carol <carol@elsewhere.example>").replace(b"Hello", b"cheap pills")
    status, why = post(site, raw, "carol@elsewhere.example")
    assert (status, why) == ("held", "looks like spam (fake-spamc: 9.1/5.0)")
    assert post(site, message(9, "Carol <carol@elsewhere.example>"),
                "carol@elsewhere.example")[0] == "accepted"


def test_the_server_checks_posts_in_a_process_of_its_own(moot: Moot, data_dir: Path,
                                                         tmp_path: Path) -> None:
    """Through a real LMTP conversation: the check (here a spam filter) runs in the server's
    checker process, and its verdict reaches the rules."""
    import os

    from tests.inbound.test_end_to_end import Server
    from tests.web.test_serve import free_port, running, wait_until_up

    spamc = tmp_path / "fake-spamc"
    spamc.write_text("#!/bin/sh\nif grep -q 'cheap pills' ; then echo 9.9/5.0; exit 1; fi\n")
    spamc.chmod(0o755)
    with open(data_dir / "moot.toml", "a") as toml:
        toml.write(f'\nspamc = "{spamc}"\n')
    moot.store.create_list(LIST, posting_policy="open")
    http, lmtp = free_port(), free_port()
    args = ["--data", str(data_dir), "serve", "--http", f"127.0.0.1:{http}",
            "--lmtp", f"127.0.0.1:{lmtp}", "--relay", "127.0.0.1:9"]
    with running(args, dict(os.environ)) as proc:
        wait_until_up(proc, f"http://127.0.0.1:{http}/healthz")
        srv = Server(f"http://127.0.0.1:{http}", lmtp, None, data_dir)  # type: ignore[arg-type]
        spam = message(20, "Carol <carol@elsewhere.example>").replace(b"Hello", b"cheap pills")
        code, text = srv.lmtp("carol@elsewhere.example", [LIST], spam)[LIST]
        assert code == 250 and b"held" in text and b"9.9/5.0" in text
        ok = srv.lmtp("carol@elsewhere.example", [LIST],
                      message(21, "Carol <carol@elsewhere.example>"))
        assert ok[LIST][0] == 250 and b"held" not in ok[LIST][1]
