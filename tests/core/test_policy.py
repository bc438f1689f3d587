"""The posting rules, one by one on plain values, then decide() and post_from_bytes()."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.mailinglist import POSTING_POLICIES, ListConfig
from moot.core.member import Member
from moot.core.policy import (
    BODY_START,
    MAX_PARTS,
    MEMBERSHIP_RULES,
    RULES,
    Outcome,
    Post,
    Reason,
    Situation,
    Verdict,
    decide,
    needed_headers,
    post_from_bytes,
)

LIST = ListConfig("dev@example.org")
JO = Member("jo@example.net")
MODERATOR = Member("mo@example.net", role="moderator")
OWNER = Member("ow@example.net", role="owner")
AS_JO = Situation(JO)

CLEAN = Post(
    sender="jo@example.net",
    envelope_sender="jo@example.net",
    to_cc=("dev@example.org",),
    headers=(("From", "Jo <jo@example.net>"), ("To", "dev@example.org"),
             ("Subject", "Plan for 2.0")),
    subject="Plan for 2.0",
    body_start="I think we should release in May.\n\nJo\n",
    size=2_000,
    mime_types=("text/plain",),
)


def post(**changes: Any) -> Post:
    return replace(CLEAN, **changes)


def check(name: str, p: Post = CLEAN, config: ListConfig = LIST,
          situation: Situation = AS_JO) -> Outcome | None:
    """What the rule called ``name`` says."""
    [rule] = [r for r in RULES if r.name == name]
    return rule.check(p, config, situation)


def held(name: str, p: Post = CLEAN, config: ListConfig = LIST,
         situation: Situation = AS_JO) -> str:
    """The text of the hold the rule must give (fails when it does not hold)."""
    outcome = check(name, p, config, situation)
    assert outcome is not None and outcome.action == "hold", outcome
    return outcome.text


def rejected(name: str, p: Post = CLEAN, config: ListConfig = LIST,
             situation: Situation = AS_JO) -> str:
    """The text of the reject the rule must give (fails when it does not reject)."""
    outcome = check(name, p, config, situation)
    assert outcome is not None and outcome.action == "reject", outcome
    return outcome.text


# -- the rule table --------------------------------------------------------------------------


def test_rules_are_named_described_and_in_order() -> None:
    assert [r.name for r in RULES] == [
        "loop", "banned", "administrivia", "size", "content-types", "implicit-destination",
        "too-many-recipients", "suspicious-headers", "sender-rule", "non-member", "moderated",
        "announce", "moderated-member", "new-member", "unverified-sender", "impersonation",
        "spam",
    ]
    for rule in RULES:
        assert rule.description.strip().endswith("."), rule.name


def test_a_clean_post_from_a_member_fires_no_rule() -> None:
    assert [r.name for r in RULES if r.check(CLEAN, LIST, AS_JO)] == []


# -- loop ------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    (("List-Id", "Developers <dev.example.org>"),),
    (("list-id", "<DEV.Example.ORG>"),),
    (("Received", "x"), ("List-Id", "<other.example.org>"), ("List-Id", "<dev.example.org>")),
    (("X-Loop", "dev@example.org"),),
    (("X-LOOP", " <DEV@example.org> "),),
])
def test_loop_rejects_posts_that_went_through_this_list(
        headers: tuple[tuple[str, str], ...]) -> None:
    assert rejected("loop", post(headers=headers)).startswith("mail loop: ")


@pytest.mark.parametrize("headers", [
    (("List-Id", "<devel.example.org>"),),
    (("List-Id", "<xdev.example.org>"),),
    (("List-Id", "dev.example.org.evil"),),
    (("X-Loop", "devel@example.org"),),
    (("X-Loop-Id", "dev@example.org"),),
    (("Subject", "<dev.example.org>"),),
])
def test_loop_ignores_other_lists(headers: tuple[tuple[str, str], ...]) -> None:
    assert check("loop", post(headers=headers)) is None


# -- banned ----------------------------------------------------------------------------------


def test_banned_rejects_without_revealing_the_pattern() -> None:
    text = rejected("banned", situation=Situation(JO, ban="^jo@.*$"))
    assert "banned" in text and "dev@example.org" in text
    assert "^jo@" not in text


def test_banned_is_held_when_the_list_says_so() -> None:
    text = held("banned", config=replace(LIST, ban_action="hold"),
                situation=Situation(JO, ban="^jo@.*$"))
    assert "banned" in text and "^jo" not in text


def test_banned_does_not_fire_without_a_ban() -> None:
    assert check("banned", situation=Situation(None, ban=None)) is None


# -- administrivia ---------------------------------------------------------------------------


@pytest.mark.parametrize("subject", [
    "unsubscribe", "UNSUBSCRIBE", "Re: [dev] Unsubscribe", "subscribe me", "help", "Help!",
    "remove me", "Please remove me from this list.", "take me off the list", "set digest on",
    "leave", "join", "unsubscribe jo@example.net", "signoff", "sign off", "set nomail",
])
def test_administrivia_holds_a_command_in_the_subject(subject: str) -> None:
    text = held("administrivia", post(subject=subject, body_start="long text\n" * 20))
    assert "dev-request@example.org" in text


@pytest.mark.parametrize("subject", [
    "Help with plotting", "Join us at FOSDEM", "leave the defaults alone", "Setting up digest",
    "Plan", "set the digest size", "remove me from the review of #42", "Subscribe button broken",
    "how do I unsubscribe a user?",
])
def test_administrivia_lets_ordinary_subjects_through(subject: str) -> None:
    assert check("administrivia", post(subject=subject)) is None


@pytest.mark.parametrize("body", [
    "unsubscribe",
    "unsubscribe\n\nSent from my phone\n",
    "Hi,\n\nplease unsubscribe me.\n\nThanks\nBob\n",
    "\n\n  help  \n",
    "unsubscribe\n\nOn Mon, Jo wrote:\n> a long\n> quoted\n> text\n> of\n> many\n> lines\n",
    "set digest off\n-- \nBob\nExample Corp\nStreet 1\nCity\nCountry\nPhone\n",
])
def test_administrivia_holds_a_short_body_that_is_a_command(body: str) -> None:
    assert "dev-request@example.org" in held("administrivia", post(body_start=body))


@pytest.mark.parametrize("body", [
    "unsubscribe\n" + "".join(f"line {n}\n" for n in range(5)),  # six lines: a real post
    "Hi,\n\nhow do I unsubscribe?\n",
    "Thanks\n-- \nunsubscribe\n",  # the signature does not count
    "> unsubscribe\n\nNo, please don't.\n",
    "",
])
def test_administrivia_ignores_bodies_that_are_not_commands(body: str) -> None:
    assert check("administrivia", post(body_start=body)) is None


# -- size ------------------------------------------------------------------------------------


def test_size_holds_larger_posts_saying_both_sizes_in_kb() -> None:
    text = held("size", post(size=600_000), replace(LIST, max_size=512_000))
    assert "586 KB" in text and "500 KB" in text


def test_size_lets_posts_up_to_the_limit_through() -> None:
    assert check("size", post(size=512_000), replace(LIST, max_size=512_000)) is None
    assert check("size", post(size=10**9), replace(LIST, max_size=0)) is None


# -- content types ---------------------------------------------------------------------------


def test_content_types_holds_a_type_not_accepted_naming_it() -> None:
    config = replace(LIST, content_types=("text/plain",))
    text = held("content-types",
                post(mime_types=("multipart/mixed", "text/plain", "application/pdf",
                                 "application/pdf")), config)
    assert "application/pdf" in text and "multipart" not in text
    assert text.count("application/pdf") == 1


def test_content_types_accepts_families_and_skips_containers() -> None:
    config = replace(LIST, content_types=("text/*", "image/png"))
    types = ("multipart/mixed", "multipart/alternative", "text/plain", "text/html",
             "message/rfc822", "text/plain", "image/png")
    assert check("content-types", post(mime_types=types), config) is None
    assert check("content-types", post(mime_types=("image/jpeg",)), config) is not None


def test_content_types_accepts_anything_when_the_setting_is_empty() -> None:
    assert check("content-types", post(mime_types=("application/x-msdownload",))) is None


# -- implicit destination --------------------------------------------------------------------


@pytest.mark.parametrize("to_cc", [(), ("al@example.net",), ("dev@example.org.evil",)])
def test_implicit_destination_holds_posts_not_addressed_to_the_list(
        to_cc: tuple[str, ...]) -> None:
    assert "not in To or Cc" in held("implicit-destination", post(to_cc=to_cc))


def test_implicit_destination_is_case_insensitive() -> None:
    assert check("implicit-destination", post(to_cc=("al@x.net", "DEV@Example.ORG"))) is None


# -- too many recipients ---------------------------------------------------------------------


def test_too_many_recipients_holds_above_the_limit() -> None:
    many = tuple(f"p{n}@example.net" for n in range(10)) + ("dev@example.org",)
    text = held("too-many-recipients", post(to_cc=many))
    assert "11" in text and "10" in text
    assert check("too-many-recipients", post(to_cc=many[1:])) is None
    assert check("too-many-recipients", post(to_cc=many * 10),
                 replace(LIST, max_recipients=0)) is None


# -- suspicious headers ----------------------------------------------------------------------


SPAMMY = replace(LIST, suspicious_headers=("X-Spam-Flag: ^yes", "subject: viagra|casino"))


def test_suspicious_headers_hold_naming_the_header() -> None:
    text = held("suspicious-headers", post(headers=(("x-spam-flag", "YES"),)), SPAMMY)
    assert "x-spam-flag" in text
    text = held("suspicious-headers",
                post(headers=(("Subject", "Cheap CASINO chips"), ("X-Spam-Flag", "yes"))), SPAMMY)
    assert "Subject" in text and "X-Spam-Flag" in text


@pytest.mark.parametrize("headers", [
    (("X-Spam-Flag", "no"),),
    (("X-Spam-Status", "yes"),),
    (("X-Spam-Flag", "it is yes"),),  # ^ anchors the search
    (("Subject", "Plan"),),
])
def test_suspicious_headers_ignore_what_does_not_match(
        headers: tuple[tuple[str, str], ...]) -> None:
    assert check("suspicious-headers", post(headers=headers), SPAMMY) is None


def test_suspicious_headers_survive_a_bad_regex_that_slipped_into_the_config() -> None:
    config = replace(LIST, suspicious_headers=("X-Spam: (unclosed", "no colon", "X-Spam: ^y"))
    assert check("suspicious-headers", post(headers=(("X-Spam", "no"),)), config) is None
    assert check("suspicious-headers", post(headers=(("X-Spam", "yes"),)), config) is not None


# -- who may post ----------------------------------------------------------------------------


def policy(name: str) -> ListConfig:
    return replace(LIST, posting_policy=name)


def test_non_member_is_held_on_members_lists_and_rejected_on_announce_lists() -> None:
    assert "not a member" in held("non-member", config=policy("members"),
                                  situation=Situation(None))
    text = rejected("non-member", config=policy("announce"), situation=Situation(None))
    assert "only the list's owners and moderators post here" in text


@pytest.mark.parametrize(("name", "member"), [
    ("open", None), ("moderated", None), ("members", JO), ("announce", JO), ("members", OWNER),
])
def test_non_member_does_not_fire_otherwise(name: str, member: Member | None) -> None:
    assert check("non-member", config=policy(name), situation=Situation(member)) is None


@pytest.mark.parametrize("member", [None, JO, Member("x@y.z", moderated=True)])
def test_moderated_holds_everyone_but_moderators(member: Member | None) -> None:
    assert "moderated" in held("moderated", config=policy("moderated"),
                               situation=Situation(member))


@pytest.mark.parametrize(("name", "member"), [
    ("moderated", MODERATOR), ("moderated", OWNER), ("members", JO), ("open", None),
    ("announce", JO),
])
def test_moderated_does_not_fire_otherwise(name: str, member: Member | None) -> None:
    assert check("moderated", config=policy(name), situation=Situation(member)) is None


def test_an_unknown_posting_policy_holds_everything_but_moderators() -> None:
    assert "not one moot knows" in held("moderated", config=policy("bogus"),
                                        situation=AS_JO)
    assert check("moderated", config=policy("bogus"), situation=Situation(OWNER)) is None


def test_announce_holds_members_who_cannot_moderate() -> None:
    text = held("announce", config=policy("announce"), situation=AS_JO)
    assert "announce-only" in text and "moderator may approve" in text


@pytest.mark.parametrize(("name", "member"), [
    ("announce", MODERATOR), ("announce", OWNER), ("announce", None), ("members", JO),
])
def test_announce_does_not_fire_otherwise(name: str, member: Member | None) -> None:
    assert check("announce", config=policy(name), situation=Situation(member)) is None


@pytest.mark.parametrize("member", [Member("jo@x.net", moderated=True),
                                    Member("ow@x.net", role="owner", moderated=True)])
def test_moderated_member_holds_members_under_moderation(member: Member) -> None:
    assert "moderated" in held("moderated-member", situation=Situation(member))


@pytest.mark.parametrize("member", [None, JO, OWNER])
def test_moderated_member_does_not_fire_otherwise(member: Member | None) -> None:
    assert check("moderated-member", situation=Situation(member)) is None


# -- non-members, sender rules, new members -------------------------------------------------


def nonmember(action: str) -> ListConfig:
    return replace(LIST, posting_policy="members", nonmember_action=action)


def test_a_non_member_is_rejected_or_discarded_when_the_list_says_so() -> None:
    assert "only members may post" in rejected("non-member", config=nonmember("reject"),
                                               situation=Situation(None))
    outcome = check("non-member", config=nonmember("discard"), situation=Situation(None))
    assert outcome is not None and outcome.action == "discard"
    assert "not a member" in held("non-member", config=nonmember("hold"),
                                  situation=Situation(None))
    verdict = decide(CLEAN, nonmember("discard"), Situation(None))
    assert verdict.action == "discard" and [r.rule for r in verdict.reasons] == ["non-member"]


@pytest.mark.parametrize("action", ["reject", "discard"])
def test_nonmember_action_leaves_members_and_other_policies_alone(action: str) -> None:
    assert check("non-member", config=nonmember(action), situation=AS_JO) is None
    assert check("non-member", config=replace(nonmember(action), posting_policy="open"),
                 situation=Situation(None)) is None
    # an announce list refuses non-members whatever nonmember_action says
    assert rejected("non-member", config=replace(nonmember(action), posting_policy="announce"),
                    situation=Situation(None))


def test_sender_rules_hold_reject_or_discard() -> None:
    assert "sender rules hold" in held("sender-rule", situation=Situation(JO, sender_rule="hold"))
    assert "does not accept posts from jo@example.net" in rejected(
        "sender-rule", situation=Situation(JO, sender_rule="reject"))
    outcome = check("sender-rule", situation=Situation(JO, sender_rule="discard"))
    assert outcome is not None and outcome.action == "discard"


@pytest.mark.parametrize("rule", [None, "accept"])
def test_sender_rules_say_nothing_otherwise(rule: str | None) -> None:
    assert check("sender-rule", situation=Situation(None, sender_rule=rule)) is None


def test_an_accepted_sender_skips_membership_and_moderation_rules() -> None:
    trusted = Situation(None, sender_rule="accept")
    for policy_name in ("members", "moderated", "announce"):
        assert decide(CLEAN, policy(policy_name), trusted) == Verdict("accept")
    member = Situation(Member("jo@example.net", moderated=True), sender_rule="accept")
    assert decide(CLEAN, replace(LIST, new_member_posts=3), member) == Verdict("accept")


def test_an_accepted_sender_still_meets_loops_bans_and_sizes() -> None:
    trusted = Situation(None, sender_rule="accept")
    looped = post(headers=(("X-Loop", "dev@example.org"),))
    assert decide(looped, LIST, trusted).action == "reject"
    assert decide(CLEAN, LIST, Situation(None, ban="jo@example.net",
                                         sender_rule="accept")).action == "reject"
    verdict = decide(post(size=10**6), LIST, trusted)
    assert verdict.action == "hold" and [r.rule for r in verdict.reasons] == ["size"]


def test_a_reject_beats_a_discard_and_a_discard_beats_a_hold() -> None:
    looped = post(headers=(("X-Loop", "dev@example.org"),))
    assert decide(looped, nonmember("discard"), Situation(None)).action == "reject"
    verdict = decide(post(size=10**6), nonmember("discard"), Situation(None))
    assert verdict.action == "discard" and [r.rule for r in verdict.reasons] == ["non-member"]
    # a moderator's approval overrides a discard as it does a hold
    assert decide(CLEAN, nonmember("discard"), Situation(None, approved=True)).action == "accept"


def new_members(n: int) -> ListConfig:
    return replace(LIST, new_member_posts=n)


@pytest.mark.parametrize(("n", "accepted", "text"), [
    (3, 0, "new member: first 3 posts are moderated"),
    (3, 2, "new member: first 3 posts are moderated"),
    (1, 0, "new member: first post is moderated"),
])
def test_a_new_members_first_posts_are_held(n: int, accepted: int, text: str) -> None:
    assert held("new-member", config=new_members(n),
                situation=Situation(JO, accepted_posts=accepted)) == text


@pytest.mark.parametrize(("n", "situation"), [
    (0, Situation(JO)),  # the list does not moderate new members
    (3, Situation(JO, accepted_posts=3)),  # trusted by now
    (3, Situation(None)),  # not a member: the non-member rule's business
    (3, Situation(MODERATOR)),
    (3, Situation(OWNER)),
    (3, Situation(Member("jo@example.net", moderated=True))),  # moderated-member holds it
])
def test_new_member_does_not_fire_otherwise(n: int, situation: Situation) -> None:
    assert check("new-member", config=new_members(n), situation=situation) is None


# -- decide ----------------------------------------------------------------------------------


def test_decide_accepts_a_clean_post() -> None:
    assert decide(CLEAN, LIST, AS_JO) == Verdict("accept")


def test_anyone_may_post_to_an_open_list() -> None:
    assert decide(CLEAN, policy("open"), Situation(None)) == Verdict("accept")
    assert decide(CLEAN, policy("members"), Situation(None)).action == "hold"


def test_decide_holds_with_every_hold_reason_in_rule_order() -> None:
    verdict = decide(post(size=10**6, to_cc=()), LIST, Situation(None))
    assert verdict.action == "hold"
    assert [r.rule for r in verdict.reasons] == ["size", "implicit-destination", "non-member"]


def test_a_reject_wins_and_gives_only_the_rejecting_reasons_first_first() -> None:
    p = post(size=10**6, headers=(("X-Loop", "dev@example.org"),))
    verdict = decide(p, LIST, Situation(None, ban="*@example.net"))
    assert verdict.action == "reject"
    assert [r.rule for r in verdict.reasons] == ["loop", "banned"]
    assert all(isinstance(r, Reason) and r.text for r in verdict.reasons)


def test_an_approved_post_skips_the_holds_but_not_the_rejects() -> None:
    big = post(size=10**6)
    assert decide(big, policy("moderated"), Situation(None, approved=True)) == Verdict("accept")
    verdict = decide(big, LIST, Situation(JO, ban="jo@example.net", approved=True))
    assert verdict == Verdict("reject", (verdict.reasons[0],))
    assert verdict.reasons[0].rule == "banned"


def test_owners_and_moderators_still_go_through_the_other_rules() -> None:
    for member in (OWNER, MODERATOR):
        assert decide(CLEAN, policy("announce"), Situation(member)).action == "accept"
        assert decide(CLEAN, policy("moderated"), Situation(member)).action == "accept"
        verdict = decide(post(size=10**6), policy("announce"), Situation(member))
        assert [r.rule for r in verdict.reasons] == ["size"]
        assert decide(CLEAN, LIST, Situation(member, ban="x")).action == "reject"
        looped = post(headers=(("List-Id", "<dev.example.org>"),))
        assert decide(looped, LIST, Situation(member)).action == "reject"


def test_a_non_member_on_an_announce_list_is_rejected() -> None:
    verdict = decide(CLEAN, policy("announce"), Situation(None))
    assert verdict.action == "reject"
    assert [r.rule for r in verdict.reasons] == ["non-member"]


# -- decide on anything ----------------------------------------------------------------------

addresses = st.one_of(st.emails(), st.text(max_size=30))
posts = st.builds(
    Post,
    sender=addresses,
    envelope_sender=addresses,
    to_cc=st.lists(st.one_of(addresses, st.just("dev@example.org")), max_size=15).map(tuple),
    headers=st.lists(st.tuples(st.sampled_from(["List-Id", "X-Loop", "X-Spam", "Subject"])
                               | st.text(max_size=10), st.text(max_size=40)),
                     max_size=8).map(tuple),
    subject=st.one_of(st.text(max_size=60), st.sampled_from(["unsubscribe", "Re: help"])),
    body_start=st.text(max_size=300),
    size=st.integers(min_value=-10, max_value=10**9),
    mime_types=st.lists(st.text(max_size=20) | st.sampled_from(["text/plain", "image/png"]),
                        max_size=5).map(tuple),
)
configs = st.builds(
    ListConfig,
    address=st.one_of(st.just("dev@example.org"), st.emails(), st.text(max_size=20)),
    posting_policy=st.one_of(st.sampled_from(POSTING_POLICIES), st.text(max_size=10)),
    max_size=st.integers(min_value=-1, max_value=10**7),
    content_types=st.lists(st.text(max_size=12) | st.just("text/*"), max_size=3).map(tuple),
    max_recipients=st.integers(min_value=-1, max_value=20),
    nonmember_action=st.sampled_from(["hold", "reject", "discard"]),
    new_member_posts=st.integers(min_value=0, max_value=3),
    suspicious_headers=st.lists(st.text(max_size=20) | st.just("X-Spam: (") |
                                st.just("x-spam: ."), max_size=3).map(tuple),
)
situations = st.builds(
    Situation,
    member=st.none() | st.builds(Member, email=st.emails(),
                                 role=st.sampled_from(["member", "moderator", "owner", "x"]),
                                 moderated=st.booleans()),
    ban=st.none() | st.text(max_size=10),
    approved=st.booleans(),
    sender_rule=st.none() | st.sampled_from(["accept", "hold", "reject", "discard"]),
    accepted_posts=st.integers(min_value=0, max_value=5),
)


@settings(max_examples=300)
@given(posts, configs, situations)
def test_decide_never_raises_and_sums_up_the_rules(p: Post, config: ListConfig,
                                                    situation: Situation) -> None:
    verdict = decide(p, config, situation)
    skipped = MEMBERSHIP_RULES if situation.sender_rule == "accept" else frozenset()
    outcomes = [(r.name, r.check(p, config, situation)) for r in RULES if r.name not in skipped]
    rejects = [Reason(n, o.text) for n, o in outcomes if o and o.action == "reject"]
    discards = [Reason(n, o.text) for n, o in outcomes if o and o.action == "discard"]
    holds = [Reason(n, o.text) for n, o in outcomes if o and o.action == "hold"]
    if rejects:
        assert verdict == Verdict("reject", tuple(rejects))
    elif discards and not situation.approved:
        assert verdict == Verdict("discard", tuple(discards))
    elif holds and not situation.approved:
        assert verdict == Verdict("hold", tuple(holds))
    else:
        assert verdict == Verdict("accept")
    assert all(r.text.strip() for r in verdict.reasons)
    if situation.ban is not None:
        assert verdict.action == "reject"


# -- post_from_bytes -------------------------------------------------------------------------

MULTIPART = b"""\
From: =?utf-8?q?J=C3=B6rg?= <Joerg@Example.NET>\r
To: "Dev, the list" <DEV@example.org>,\r
 =?utf-8?q?Al=2C_B?= <al@example.net>\r
Cc: al@example.net, "Bo" <bo@example.net>\r
Subject: =?utf-8?q?Caf=C3=A9?=\r
 plans\r
X-Raw: caf\xc3\xa9\r
List-Id: Developers <dev.example.org>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="b1"\r
\r
--b1\r
Content-Type: text/plain; charset=utf-8\r
\r
Hello\r
--b1\r
Content-Type: Application/PDF\r
\r
%PDF\r
--b1\r
Content-Type: message/rfc822\r
\r
Subject: inner\r
Content-Type: text/html\r
\r
<p>hi</p>\r
--b1--\r
"""


def test_post_from_bytes_reads_a_real_message() -> None:
    p = post_from_bytes(MULTIPART, envelope_sender="Bounce@Example.NET ", body_text="Hello")
    assert p.sender == "joerg@example.net"
    assert p.envelope_sender == "bounce@example.net"
    assert p.to_cc == ("dev@example.org", "al@example.net", "bo@example.net")
    assert p.subject == "Café plans"
    assert ("X-Raw", "café") in p.headers
    assert p.header_values("list-id") == ("Developers <dev.example.org>",)
    assert [name for name, _ in p.headers][:3] == ["From", "To", "Cc"]
    assert p.mime_types == ("multipart/mixed", "text/plain", "application/pdf",
                            "message/rfc822", "text/html")
    assert p.size == len(MULTIPART)
    assert p.body_start == "Hello"
    assert decide(p, LIST, AS_JO).reasons[0].rule == "loop"


@pytest.mark.parametrize("raw", [b"", b"\n\n", b"\xff\xfe\x00garbage", b"From:\n\nbody",
                                 b"To: <>, ,\nFrom: not an address\n\n",
                                 b"Subject: =?bogus-charset?q?x?=\n\n"])
def test_post_from_bytes_gives_empty_values_for_missing_or_garbled_headers(raw: bytes) -> None:
    p = post_from_bytes(raw, envelope_sender="", body_text="")
    assert p.sender == "" and p.envelope_sender == "" and p.to_cc == ()
    assert p.subject in ("", "x")
    assert p.size == len(raw)


def test_post_from_bytes_keeps_only_the_start_of_the_body() -> None:
    p = post_from_bytes(b"Subject: x\n\n", envelope_sender="", body_text="a\x00" * BODY_START)
    assert len(p.body_start) == BODY_START and "\x00" not in p.body_start


def test_post_from_bytes_looks_at_a_bounded_number_of_parts() -> None:
    parts = b"".join(b"--b\nContent-Type: text/plain\n\nx\n" for _ in range(MAX_PARTS + 50))
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\n' + parts + b"--b--\n"
    assert len(post_from_bytes(raw, envelope_sender="", body_text="").mime_types) == MAX_PARTS


def test_post_from_bytes_survives_deep_nesting() -> None:
    depth = 400
    raw = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (n, n)
                   for n in range(depth)) + b"Content-Type: text/plain\n\nx\n"
    p = post_from_bytes(raw, envelope_sender="", body_text="x")
    assert p.size == len(raw)


header_lines = st.lists(
    st.tuples(st.sampled_from([b"From", b"To", b"Cc", b"Subject", b"Content-Type", b"X"]),
              st.binary(max_size=40)),
    max_size=8,
).map(lambda items: b"".join(name + b": " + value + b"\r\n" for name, value in items))


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=400), st.tuples(header_lines, st.binary(max_size=200))
                 .map(lambda hb: hb[0] + b"\r\n" + hb[1])))
def test_post_from_bytes_never_raises(raw: bytes) -> None:
    p = post_from_bytes(raw, envelope_sender="X@Y", body_text="")
    assert p.size == len(raw)
    assert p.sender == p.sender.lower() and all(a == a.lower() for a in p.to_cc)
    assert all("\n" not in v and "\r" not in v for _, v in p.headers)
    assert decide(p, LIST, Situation(None)).action in ("accept", "hold", "reject")


def test_a_slim_post_decides_as_the_full_one() -> None:
    """Reading only the fields the rules need (and no MIME tree when no type is restricted)
    gives the same verdict as reading everything."""
    from moot.core.policy import needed_headers

    raw = (b"Received: from a by b\nDKIM-Signature: v=1; a=rsa\nFrom: Eve <eve@x.org>\n"
           b"To: other@x.org\nX-Spam: yes\nSubject: unsubscribe\n"
           b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n"
           b"--b\nContent-Type: application/x-msdownload\n\nMZ\n--b--\n")
    for config in (ListConfig("dev@example.org", suspicious_headers=("X-Spam: yes",)),
                   ListConfig("dev@example.org", content_types=("text/*",))):
        full = post_from_bytes(raw, envelope_sender="eve@x.org", body_text="hi")
        slim = post_from_bytes(raw, envelope_sender="eve@x.org", body_text="hi",
                               only_headers=needed_headers(config),
                               mime_types=bool(config.content_types))
        situation = Situation(member=None)
        verdict = decide(slim, config, situation)
        assert verdict == decide(full, config, situation)
        assert len(slim.headers) < len(full.headers)
        rules = {r.rule for r in verdict.reasons}
        assert ("suspicious-headers" in rules) == bool(config.suspicious_headers)
        assert ("content-types" in rules) == bool(config.content_types)


# -- identity and spam ---------------------------------------------------------------------------

def test_an_unverified_sender_follows_the_lists_identity_policy() -> None:
    unverified = Situation(JO, identity="unverified", identity_how="no signature")
    assert check("unverified-sender", situation=unverified) is None  # accept, the default
    text = held("unverified-sender", config=replace(LIST, identity_policy="hold"),
                situation=unverified)
    assert text == "could not verify sender: no signature"
    out = check("unverified-sender", config=replace(LIST, identity_policy="reject"),
                situation=replace(unverified, identity="failed"))
    assert out is not None and out.action == "reject"
    for verdict in ("verified", ""):  # verified, or nobody could check
        assert check("unverified-sender", config=replace(LIST, identity_policy="reject"),
                     situation=replace(unverified, identity=verdict)) is None


def test_impersonation_is_held_whatever_the_identity_policy() -> None:
    mallory = post(sender="bob.smith@evil.example")
    text = held("impersonation", mallory, situation=Situation(None, impersonates="bob@example.org"))
    assert "possible impersonation of bob@example.org" in text and "evil.example" in text
    # A member whose mail passed before and now fails.
    text = held("impersonation", situation=Situation(JO, identity="failed", auth_before=3,
                                                     identity_how="the body was changed"))
    assert "passed authentication 3 times before" in text
    assert check("impersonation", situation=Situation(JO, identity="failed")) is None
    assert check("impersonation", situation=Situation(JO, identity="verified",
                                                      auth_before=3)) is None
    # An "accept this sender" rule does not skip it.
    verdict = decide(mallory, LIST, Situation(None, impersonates="bob@example.org",
                                              sender_rule="accept"))
    assert verdict.action == "hold"


def test_spam_flagged_by_the_filter_or_the_mail_server() -> None:
    flagged = post(headers=CLEAN.headers + (("X-Spam-Flag", "YES"),))
    assert held("spam", flagged) == "looks like spam (X-Spam-Flag: YES)"
    assert check("spam", post(headers=CLEAN.headers + (("X-Spam-Flag", "NO"),))) is None
    assert check("spam") is None
    by_filter = Situation(JO, spam="spamc: 9.1/5.0")
    assert held("spam", situation=by_filter) == "looks like spam (spamc: 9.1/5.0)"
    for action in ("discard", "reject"):
        out = check("spam", flagged, config=replace(LIST, spam_action=action))
        assert out is not None and out.action == action
    assert check("spam", flagged, config=replace(LIST, spam_action="accept")) is None
    raw = b"From: jo@example.net\r\nX-Spam-Flag: YES\r\n\r\nbuy\r\n"
    parsed = post_from_bytes(raw, envelope_sender="jo@example.net", body_text="buy",
                             only_headers=needed_headers(LIST))
    assert check("spam", parsed) is not None
