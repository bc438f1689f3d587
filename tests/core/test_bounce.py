"""Bounce reading: each fixture in tests/core/bounces/ is a report in the shape one real mail
system writes (our own examples, with example domains), and gives exactly the failures listed
here.  Addresses that appear only in the returned original are never reported."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.bounce import Failure, parse_bounce, verp_recipient
from moot.core.mailinglist import ListConfig
from moot.delivery.sender import verp

BOUNCES = Path(__file__).parent / "bounces"


def F(recipient: str, action: str, status: str, diagnostic: str) -> Failure:
    return Failure(recipient, action, status, diagnostic)


EXPECTED: dict[str, list[Failure]] = {
    # RFC 3464 delivery status notifications
    "dsn_postfix.eml": [
        F("bob@example.net", "failed", "5.1.1", "550 5.1.1 <bob@example.net>: Recipient address "
          "rejected: User unknown in virtual mailbox table"),
        F("erin@example.net", "failed", "5.2.2", "552 5.2.2 <erin@example.net>: Mailbox full"),
    ],
    "dsn_postfix_delayed.eml": [
        F("carol@example.com", "delayed", "4.4.1",
          "connect to mx.example.com[192.0.2.50]:25: Connection timed out"),
    ],
    "dsn_sendmail_relayed.eml": [  # the "relayed" recipient is not a failure
        F("heidi@example.com", "failed", "5.1.1", "550 5.1.1 <heidi@example.com>... User unknown"),
        F("judy@example.com", "failed", "5.7.1", "550 5.7.1 <judy@example.com>... Message "
          "rejected as spam by content filter; see https://postmaster.example.com/550-5.7.1 for "
          "details"),
    ],
    "dsn_success.eml": [],  # delivered, expanded, relayed
    "dsn_global_utf8.eml": [  # utf-8 address type; the second group has only Original-Recipient
        F("jürgen@bücher.example", "failed", "5.1.1",
          "550 5.1.1 <jürgen@bücher.example>: Mailbox unavailable"),
        F("liesl@example.de", "failed", "5.7.1", "554 5.7.1 Relaying denied"),
    ],
    "dsn_wrong_type.eml": [  # multipart/mixed, not report; no Action, so Status decides
        F("mallory@example.com", "failed", "5.1.1", "550 5.1.1 Mailbox does not exist"),
        F("nina@example.com", "delayed", "4.2.2", "452 4.2.2 Mailbox full"),
    ],
    # prose
    "postfix_plain.eml": [  # a Postfix bounce is final, even with a 4xx reply in it
        F("paul@example.edu", "failed", "5.1.1", "host mail.example.edu[192.0.2.70] said: 550 "
          "5.1.1 <paul@example.edu>... User unknown (in reply to RCPT TO command)"),
        F("quinn@dept.example.edu", "failed", "",
          "connect to dept.example.edu[192.0.2.71]:25: Connection refused"),
        F("rita@example.edu", "failed", "4.2.0", "host mail.example.edu[192.0.2.70] said: 450 "
          "4.2.0 <rita@example.edu>: Recipient address rejected: Greylisted, see "
          "https://postmaster.example.edu/greylisting.html (in reply to RCPT TO command)"),
    ],
    "qmail.eml": [
        F("tom@example.net", "failed", "5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)"),
        F("uma@example.com", "failed", "5.1.1", "192.0.2.80 does not like recipient. Remote "
          "host said: 550 5.1.1 <uma@example.com>: Recipient address rejected: User unknown in "
          "local recipient table Giving up on 192.0.2.80."),
        F("victor@example.org", "failed", "4.4.2", "Connected to 192.0.2.81 but connection died. "
          "(#4.4.2) I'm not going to try again; this message has been in the queue too long."),
    ],
    "exim.eml": [  # the pipe "|/usr/local/bin/list-archiver" is no member
        F("zack@example.ac.uk", "failed", "5.1.1", "host mx.example.ac.uk [192.0.2.101] SMTP "
          "error from remote mail server after RCPT TO:<zack@example.ac.uk>: 550 5.1.1 "
          "<zack@example.ac.uk>: Recipient address rejected: User unknown"),
        F("amy@physics.example.ac.uk", "failed", "", "retry timeout exceeded"),
    ],
    "exim_delayed.eml": [
        F("dave@example.net", "delayed", "4.7.1", "host mx.example.net [192.0.2.30] Delay "
          "reason: SMTP error from remote mail server after RCPT TO:<dave@example.net>: 451 "
          "4.7.1 <dave@example.net>: Recipient address rejected: Greylisted, try again later"),
    ],
    "sendmail.eml": [
        F("ben@example.com", "failed", "5.1.1", "550 5.1.1 <ben@example.com>... User unknown"),
        F("chris@example.com", "failed", "", ""),
    ],
    "exchange.eml": [
        F("dana@corp.example.com", "failed", "5.1.1",
          "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"),
        F("eli@partner.example.net", "failed", "5.2.2",
          "mx.partner.example.net #552 5.2.2 Mailbox full ##"),
    ],
    "yahoo.eml": [
        F("xavier@example.net", "failed", "5.0.0", "554: delivery error: dd Sorry your message to "
          "xavier@example.net cannot be delivered. This mailbox is disabled (554.30). - "
          "mta4031.mail.example.net"),
    ],
    "yahoo_remote.eml": [
        F("yara@example.com", "failed", "5.1.1", "Remote host said: 550 5.1.1 <yara@example.com>: "
          "Recipient address rejected: User unknown in virtual alias table [RCPT_TO]"),
    ],
    # not delivery failure reports
    "vacation.eml": [],
    "challenge.eml": [],
    "post.eml": [],
}
# Addresses written only in the returned originals, the challenge's held copy or the quote
# under the vacation reply.
DECOYS = {"grace@example.net", "frank@example.net", "sam@example.edu", "wendy@example.net",
          "beth@example.ac.uk", "oscar@example.com", "fiona@corp.example.com",
          "alice@example.com", "dev@example.org", "dev-bounces@example.org"}


def test_every_fixture_has_its_expectation() -> None:
    assert sorted(p.name for p in BOUNCES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    assert parse_bounce((BOUNCES / name).read_bytes()) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_addresses_in_the_returned_original_are_never_reported(name: str) -> None:
    assert not {f.recipient for f in parse_bounce((BOUNCES / name).read_bytes())} & DECOYS


def test_permanent_means_failed() -> None:
    assert F("a@example.net", "failed", "5.1.1", "").permanent
    assert not F("a@example.net", "delayed", "4.4.1", "").permanent


def dsn(*groups: str, top: str = "multipart/report; report-type=delivery-status") -> bytes:
    """A small report around the given per-recipient groups."""
    body = "\n\n".join(["Reporting-MTA: dns; mx.example.net", *groups])
    return (f'From: MAILER-DAEMON@mx.example.net\nMIME-Version: 1.0\nContent-Type: {top}; '
            f'boundary="b"\n\n--b\nContent-Type: text/plain\n\nSorry.\n\n--b\n'
            f'Content-Type: message/delivery-status\n\n{body}\n\n--b--\n').encode()


def test_the_permanent_failure_wins_for_one_recipient() -> None:
    delayed = "Final-Recipient: rfc822; bob@example.net\nAction: delayed\nStatus: 4.2.2"
    failed = "Final-Recipient: rfc822; BOB@example.net\nAction: failed\nStatus: 5.2.2"
    other = "Final-Recipient: rfc822; kim@example.net\nAction: delayed\nStatus: 4.4.1"
    assert parse_bounce(dsn(delayed, other, failed, delayed)) == [
        F("bob@example.net", "failed", "5.2.2", ""), F("kim@example.net", "delayed", "4.4.1", "")]


def test_dsn_field_forms() -> None:
    groups = [
        # RFC 6533 \x{HEX} escapes in a utf-8 address; the Status comment says why
        "Final-Recipient: utf-8; j\\x{FC}rgen@example.de\nAction: failed\n"
        "Status: 5.2.2 (mailbox full)",
        # an empty Final-Recipient falls back to Original-Recipient
        "Final-Recipient: rfc822;\nOriginal-Recipient: rfc822; <Kim@Example.net>\nStatus: 5.1.1",
        # no address, no type, odd case, a comment after the action
        "Final-Recipient: Lee@example.net\nACTION: Failed (bad address)\n"
        "Diagnostic-Code: X-Local; 500 no such user",
        # a group that names nobody; Status 2.x.x without an Action is no failure
        "Action: failed\nStatus: 5.0.0",
        "Final-Recipient: rfc822; ok@example.net\nStatus: 2.0.0",
    ]
    assert parse_bounce(dsn(*groups)) == [
        F("jürgen@example.de", "failed", "5.2.2", "mailbox full"),
        F("kim@example.net", "failed", "5.1.1", ""),
        F("lee@example.net", "failed", "5.0.0", "500 no such user"),
        F("", "failed", "5.0.0", ""),
    ]


def test_a_diagnostic_is_one_line_of_at_most_300_characters() -> None:
    long = "smtp; 550 5.7.1 \x07rejected\x1b[0m\tby\n  policy " + "x" * 400
    [failure] = parse_bounce(dsn(f"Final-Recipient: rfc822; a@example.net\nAction: failed\n"
                                 f"Diagnostic-Code: {long}"))
    assert failure.diagnostic.startswith("550 5.7.1 rejected [0m by policy xxx")
    assert len(failure.diagnostic) == 300


def test_dsn_fields_in_a_part_labelled_text() -> None:
    raw = (b"From: postmaster@example.net\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
           b"Content-Type: text/plain\n\nReporting-MTA: dns; mx.example.net\n\n"
           b"Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.1.1\n--b--\n")
    assert parse_bounce(raw) == [F("bob@example.net", "failed", "5.1.1", "")]


def test_a_report_whose_boundary_was_lost() -> None:
    raw = dsn("Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.4.6",
              top="multipart/report; report-type=delivery-status;\n\tbo").replace(
                  b'boundary="b"', b"")
    assert parse_bounce(raw) == [F("bob@example.net", "failed", "5.4.6", "")]


def plain(body: str) -> bytes:
    return f"From: MAILER-DAEMON@mx.example.net\nSubject: failure\n\n{body}".encode()


def test_where_the_notice_does_not_say_a_4xx_reply_means_delayed() -> None:
    raw = plain("Sorry, we were unable to deliver your message to the following address.\n\n"
                "<bob@example.net>:\nRemote host said: 451 4.3.0 Try again later\n\n"
                "<kim@example.net>:\nmailbox unavailable\n")
    assert parse_bounce(raw) == [
        F("bob@example.net", "delayed", "4.3.0", "Remote host said: 451 4.3.0 Try again later"),
        F("kim@example.net", "failed", "", "mailbox unavailable")]


def test_postfix_warning_in_plain_text() -> None:
    raw = plain("This is the mail system at host relay.example.org.\n\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n\n"
                "<bob@example.net>: host mx.example.net[192.0.2.9] said: 450 4.2.1 Slow down\n"
                "    (in reply to RCPT TO command)\n")
    assert parse_bounce(raw) == [F("bob@example.net", "delayed", "4.2.1", "host mx.example.net"
                                   "[192.0.2.9] said: 450 4.2.1 Slow down (in reply to RCPT TO "
                                   "command)")]


def test_sendmail_transient_errors_are_delays() -> None:
    raw = plain("   ----- The following addresses had transient non-fatal errors -----\n"
                "<bob@example.net>\n    (reason: 451 4.4.1 reply: read error from mx.example.net.)"
                "\n\n   ----- Transcript of session follows -----\n")
    assert parse_bounce(raw) == [F("bob@example.net", "delayed", "4.4.1",
                                   "451 4.4.1 reply: read error from mx.example.net.")]


def test_exchange_without_the_section_for_administrators() -> None:
    raw = plain("Delivery has failed to these recipients or groups:\n\n"
                "Dana Example (dana@corp.example.com)<mailto:dana@corp.example.com>\n"
                "The e-mail address you entered couldn't be found.\n\n"
                "eli@partner.example.net\nThe recipient's mailbox is full.\n")
    assert parse_bounce(raw) == [
        F("dana@corp.example.com", "failed", "", "The e-mail address you entered couldn't be "
          "found."),
        F("eli@partner.example.net", "failed", "", "The recipient's mailbox is full.")]


def test_exchange_delay_notice() -> None:
    raw = plain("Delivery is delayed to these recipients or groups:\n\n"
                "Bob Example (bob@example.net)<mailto:bob@example.net>\n\n"
                "Subject: [dev] Planning call\n\n"
                "This message hasn't been delivered yet. Delivery will continue to be attempted."
                "\n\nThe server will keep trying to deliver this message for the next 1 days.\n")
    assert parse_bounce(raw) == [F("bob@example.net", "delayed", "", "")]


# --- never raises; what comes back always has the documented shape ---

def check_shape(failures: list[Failure]) -> None:
    assert isinstance(failures, list)
    for f in failures:
        assert f.action in ("failed", "delayed")
        assert f.recipient == f.recipient.lower() and "<" not in f.recipient
        assert re.fullmatch(r"|[245]\.\d{1,3}\.\d{1,3}", f.status)
        assert len(f.diagnostic) <= 300
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", f.diagnostic)
    assert len({f.recipient for f in failures}) == len(failures)


@given(st.binary(max_size=4000))
def test_any_bytes(raw: bytes) -> None:
    check_shape(parse_bounce(raw))


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(EXPECTED)), data=st.data())
def test_mutated_fixtures(name: str, data: st.DataObject) -> None:
    raw = bytearray((BOUNCES / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        kind = data.draw(st.sampled_from(["insert", "delete", "cut", "dup"]), label="kind")
        if kind == "insert":
            raw[at:at] = data.draw(st.sampled_from([b"\n", b"\r\n", b"--", b":", b";", b"<",
                                                    b"\xff\xfe", b"\x00", b"=?", b" "]))
        elif kind == "delete":
            del raw[at:at + data.draw(st.integers(1, 40))]
        elif kind == "cut":
            del raw[at:]
        else:
            raw[at:at] = raw[at:at + data.draw(st.integers(1, 200))]
    check_shape(parse_bounce(bytes(raw)))


def test_deep_nesting_does_not_raise() -> None:
    head = b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n"
    raw = b"".join(head % (i, i) for i in range(5000))
    assert parse_bounce(raw) == []


# --- VERP ---

def test_verp_round_trip_with_the_sender_example() -> None:
    bounce_address = verp(ListConfig("dev@example.org"), "Bob@Mail.example.net")
    assert bounce_address == "dev-bounces+bob=mail.example.net@example.org"
    token = bounce_address.rpartition("@")[0].partition("+")[2]
    assert verp_recipient(token) == "bob@mail.example.net"


LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*/=?^_`{|}~+-"
label = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                min_size=1, max_size=12)


@given(local=st.text(LOCAL_CHARS, min_size=1, max_size=40),
       domain=st.lists(label, min_size=2, max_size=4).map(".".join))
def test_verp_round_trip(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    bounce_address = verp(ListConfig("dev@example.org"), address)
    assert bounce_address is not None
    token = bounce_address.rpartition("@")[0].partition("+")[2]
    assert verp_recipient(token) == address.lower()


@pytest.mark.parametrize("token", [
    "", "bob", "=", "=example.net", "bob=", "bob smith=example.net", "bob=exa mple.net",
    "bob=example.net\n", "bob\x00=example.net", "bob=localhost", "bob=.example.net",
    "bob=example.net.", "bob=ex_ample.net", "b(o)b=example.net", "bob=[192.0.2.1]",
    "bøb=example.net",
])
def test_malformed_verp_tokens(token: str) -> None:
    assert verp_recipient(token) is None


@given(st.text(max_size=80))
def test_verp_recipient_never_raises(token: str) -> None:
    result = verp_recipient(token)
    assert result is None or result.count("@") == 1


# --- the shared corpus of real mail (../shared/data/torture) ---

def corpus_files(root: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, files in os.walk(root) for f in files)


_PLAIN_GROUP = re.compile(  # one RFC 3464 group, read without the module's code
    r"^Final-Recipient:[^;\n]*;\s*<?([^\s<>;]+@[^\s<>;]+?)>?\s*$(.*)", re.I | re.M | re.S)


def failed_or_delayed_in_plain_sight(raw: bytes) -> set[tuple[str, str]]:
    """(recipient, action) for each group with a plain Final-Recipient and Action failed or
    delayed, from a file that is one message with a delivery-status part."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    if "delivery-status" not in text.lower() or len(re.findall(r"(?m)^From ", text)) > 1:
        return set()  # not a DSN, or an mbox of many messages
    found = set()
    for group in re.split(r"\n[ \t]*\n", text):
        if (m := _PLAIN_GROUP.search(group)) and (
                action := re.search(r"^Action:\s*(failed|delayed)\b", group, re.I | re.M)):
            found.add((m[1].lower(), action[1].lower()))
    return found


@pytest.mark.corpus
def test_real_delivery_reports_name_their_recipients(shared_data: Path) -> None:
    """Each real DSN that names a Final-Recipient as failed or delayed yields that recipient
    with that action, so the member behind it is the one who gets counted."""
    checked, missed = 0, []
    for path in corpus_files(shared_data / "torture"):
        raw = path.read_bytes()
        if expected := failed_or_delayed_in_plain_sight(raw):
            checked += 1
            got = {(f.recipient, f.action) for f in parse_bounce(raw)}
            if not expected <= got:
                missed.append((path.name, sorted(expected - got)))
    assert checked, "no delivery report with a plain Final-Recipient in the corpus"
    assert missed == []


@pytest.mark.corpus
def test_real_mail_that_is_no_delivery_report_names_nobody(shared_data: Path) -> None:
    """Ordinary messages (hundreds of odd and broken ones) never make a member look bouncing."""
    wrong = []
    for path in corpus_files(shared_data / "torture"):
        raw = path.read_bytes()
        failures = parse_bounce(raw)
        check_shape(failures)
        if failures and b"delivery-status" not in raw.lower():
            wrong.append((path.name, failures))
    assert wrong == []
