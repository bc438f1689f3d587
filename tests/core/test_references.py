"""References in a message's own words: Message-IDs, archive URLs and prose."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moot.core.references import Reference, find_references, hyperkitty_id


def one(body: str) -> Reference:
    refs = find_references(body)
    assert len(refs) == 1, refs
    ref = refs[0]
    assert body[ref.start:ref.end] == ref.text
    return ref


# -- prose ----------------------------------------------------------------------------------


def test_post_he_made_on_a_day_with_a_subject() -> None:
    ref = one("As I read in a post he made on December 22 ('Peru-MRTA seeks only dialogue'), "
              "the talks go on.")
    assert ref.kind == "prose"
    assert ref.text == "a post he made on December 22 ('Peru-MRTA seeks only dialogue')"
    assert (ref.date, ref.subject, ref.pronoun, ref.author) == (
        (None, 12, 22), "Peru-MRTA seeks only dialogue", "he", None)


def test_his_message_of_a_full_date() -> None:
    ref = one('Compare his message of 22 Dec 1996 ("Re: Lima hostages") with this one.')
    assert ref.text == 'his message of 22 Dec 1996 ("Re: Lima hostages")'
    assert (ref.date, ref.subject, ref.pronoun) == ((1996, 12, 22), "Re: Lima hostages", "he")


def test_my_post_of_an_abbreviated_month() -> None:
    ref = one("As I explained in my post of Jan. 5, the flag is ignored.")
    assert (ref.text, ref.date, ref.pronoun) == ("my post of Jan. 5", (None, 1, 5), "I")


def test_a_name_wrote_on_a_day() -> None:
    ref = one('It works, as Jane Doe wrote on 3 March ("Faster sorting"), for small inputs.')
    assert ref.text == 'Jane Doe wrote on 3 March ("Faster sorting")'
    assert (ref.author, ref.date, ref.subject, ref.pronoun) == (
        "Jane Doe", (None, 3, 3), "Faster sorting", None)


def test_relative_date_keeps_the_subject() -> None:
    ref = one("Please see my message 'Subject here' from last Tuesday.")
    assert ref.text == "my message 'Subject here' from last Tuesday"
    assert (ref.subject, ref.date, ref.pronoun) == ("Subject here", None, "I")


def test_numeric_american_date() -> None:
    ref = one("Thanks for your posting of 12/22/96 about the parser.")
    assert (ref.text, ref.date, ref.pronoun, ref.topic) == (
        "your posting of 12/22/96 about the parser", (1996, 12, 22), "you", "the parser")


@pytest.mark.parametrize(("text", "quoted", "fields"), [
    ("The responses to my posting yesterday seem mixed.", "my posting yesterday",
     {"pronoun": "I", "relative": ("days", 1)}),
    ("reactions on my posting of yesterday:", "my posting of yesterday",
     {"pronoun": "I", "relative": ("days", 1)}),
    ("As I posted yesterday, it works.", "I posted yesterday",
     {"pronoun": "I", "relative": ("days", 1)}),
    ("(see my post on interfacing a C++ class, just some minutes ago).",
     "my post on interfacing a C++ class, just some minutes ago",
     {"pronoun": "I", "relative": ("minutes", 0), "topic": "interfacing a C++ class"}),
    ("no reply concerning my email from last week concerning the\nbug in foo.bar(). It",
     "my email from last week concerning the\nbug in foo.bar()",
     {"pronoun": "I", "relative": ("weeks", 1), "topic": "the bug in foo.bar()"}),
    ("Following my previous post on S3 method despatch, I tried", "my previous post on S3 "
     "method despatch", {"pronoun": "I", "relative": ("previous", 0),
                         "topic": "S3 method despatch"}),
    ("Further to my last post on OpenBSD/alpha.\nThe", "my last post on OpenBSD/alpha",
     {"relative": ("previous", 0), "topic": "OpenBSD/alpha"}),
    ("I liked Duncan's earlier message on RXLisp.", "Duncan's earlier message on RXLisp",
     {"author": "Duncan", "relative": ("previous", 0), "topic": "RXLisp"}),
    ("what I found alarming in Jan's message yesterday is gone", "Jan's message yesterday",
     {"author": "Jan", "relative": ("days", 1)}),
    ("See my email of this subject stamped 4:43 PM Central time.",
     "my email of this subject stamped 4:43 PM", {"same_subject": True, "time": (16, 43)}),
    ("details in my email on 2004-03-17 @ 14.28) and", "my email on 2004-03-17 @ 14.28",
     {"date": (2004, 3, 17), "time": (14, 28)}),
    ("Back to the scenario in my email of Jan. 3: we", "my email of Jan. 3",
     {"pronoun": "I", "date": (None, 1, 3)}),
    ('This continues the message "Speed of sort()" that\nwas posted on 2006/10/12. Thanks',
     'the message "Speed of sort()" that\nwas posted on 2006/10/12',
     {"subject": "Speed of sort()", "date": (2006, 10, 12)}),
    ("as you posted yesterday (R-devel thread ''Speed of sort,\nagain\", 2014-04-30).",
     "you posted yesterday (R-devel thread ''Speed of sort,\nagain\", 2014-04-30)",
     {"pronoun": "you", "relative": ("days", 1), "subject": "Speed of sort, again",
      "date": (2014, 4, 30)}),
])
def test_relative_dates_topics_and_times(text: str, quoted: str, fields: dict[str, object]
                                         ) -> None:
    ref = one(text)
    assert ref.text == quoted
    assert {k: getattr(ref, k) for k in fields} == fields


@pytest.mark.parametrize("text", [
    "As I said in my previous message, it fails.",  # most likely the message answered
    "The error message on startup was odd.",
    "I posted a patch on the tracker.",
    "a previous post on this list",
    "the message yesterday was odd",  # nobody's
])
def test_relative_words_that_name_no_message(text: str) -> None:
    assert [r for r in find_references(text) if r.kind == "prose"] == []


@pytest.mark.parametrize(("date_text", "date"), [
    ("12/22/96", (1996, 12, 22)),
    ("22/12/1996", (1996, 12, 22)),  # the first number is over 12: day first
    ("2019-05-01", (2019, 5, 1)),
    ("1.5.2019", (2019, 5, 1)),
    ("May 1st, 2019", (2019, 5, 1)),
    ("Wed, 1 May 2019", (2019, 5, 1)),
    ("1 May 19", (2019, 5, 1)),
    ("Thursday, August 02, 2001", (2001, 8, 2)),
])
def test_date_shapes(date_text: str, date: tuple[int | None, int, int]) -> None:
    assert one(f"see her note of {date_text} for the numbers").date == date


def test_impossible_day_is_no_date() -> None:
    assert find_references("see my note of 31/31/2019 about it") == []
    assert find_references("see my note of February 30 about it") == []


def test_possessive_and_by_name() -> None:
    ref = one("I agree with Smith's post.")
    assert (ref.text, ref.author) == ("Smith's post", "Smith")
    ref = one("There was a post by Jane Doe about this.")
    assert (ref.text, ref.author) == ("a post by Jane Doe", "Jane Doe")
    ref = one("Kurt Hornik's email from Thursday, August 02, 2001 said so.")
    assert (ref.author, ref.date) == ("Kurt Hornik", (2001, 8, 2))


def test_sentence_words_are_no_name() -> None:
    ref = one("As Brian Ripley wrote in his message of 3 May 2005, this is wrong.")
    assert (ref.author, ref.date, ref.text) == (
        "Brian Ripley", (2005, 5, 3), "Brian Ripley wrote in his message of 3 May 2005")
    assert one("From Anna's email it follows.").author == "Anna"


def test_thread_with_subject_and_list() -> None:
    ref = one('See the thread "Lazy loading and S4" on the r-devel list last year.')
    assert (ref.subject, ref.list_hint) == ("Lazy loading and S4", "r-devel")
    assert one("see the thread 'Foo' on dev@example.org").list_hint == "dev@example.org"


def test_subject_split_over_two_lines() -> None:
    ref = one('in his post "A rather long\n  subject line" of 4 July')
    assert (ref.subject, ref.date) == ("A rather long subject line", (None, 7, 4))


def test_other_quote_styles() -> None:
    assert one("my mail `Old style quotes' of 1 Jan 1998").subject == "Old style quotes"
    assert one("her letter “Curly quotes” from 2 Feb").subject == "Curly quotes"


@pytest.mark.parametrize("body", [
    "the meeting on December 22",
    "the 'foo' function",
    "I said 'no'",
    "I said on Monday that it was fine.",
    "my message",
    "I will post a message tomorrow.",
    'R prints the error message "object not found" here.',
    'the commit message "fix typo" is too short',
    'message("starting now")',
    'The message "no such file" means the path is wrong.',
    "On 3 March 2019, Jane Doe wrote:",
    "We released 2.0 on 3 March 2019.",
    "Bob <bob@example.org> and <carol@example.org> agree.",
    "Signed-off-by: Jane Doe <jane@example.org>",
    "",
])
def test_negatives(body: str) -> None:
    assert find_references(body) == []


# -- Message-IDs ----------------------------------------------------------------------------


def test_message_id_in_an_attribution() -> None:
    ref = one("In <abc@example.org>, you wrote:")
    assert (ref.kind, ref.text, ref.message_id) == ("message-id", "<abc@example.org>",
                                                    "abc@example.org")


@pytest.mark.parametrize(("body", "message_id"), [
    ("In article <xy_6.19$xd.35@news.example.net>, he wrote", "xy_6.19$xd.35@news.example.net"),
    ("Message-ID: <20190501.1234@mail.example.org>", "20190501.1234@mail.example.org"),
    ("Message-Id: 20190501.1234@mail.example.org.", "20190501.1234@mail.example.org"),
    ("msgid=abc.def@example.com", "abc.def@example.com"),
    ("see mid:abc%25x@example.org for the original", "abc%x@example.org"),
    ("mid:abc@example.org/part1@example.org", "abc@example.org"),
    ("news:abc@example.org", "abc@example.org"),
    ("see message <list/1.2@gargle.example> first", "list/1.2@gargle.example"),
    ("On Fri, 18 Jan 2002, you wrote in message\n<a.1@example.org>:", "a.1@example.org"),
    ("you wrote in message\n#<a.1@example.org>:\n#", "a.1@example.org"),
])
def test_message_id_shapes(body: str, message_id: str) -> None:
    ref = one(body)
    assert (ref.kind, ref.message_id) == ("message-id", message_id)


def test_references_line_chains() -> None:
    refs = find_references("References: <a.1@example.org> <b.2@example.org>\n")
    assert [r.message_id for r in refs] == ["a.1@example.org", "b.2@example.org"]


# -- URLs -----------------------------------------------------------------------------------


def test_lore_short_link() -> None:
    ref = one("[1] https://lore.kernel.org/r/20190501.abc@example.org")
    assert (ref.kind, ref.text, ref.message_id, ref.archive, ref.list_hint) == (
        "url", "https://lore.kernel.org/r/20190501.abc@example.org",
        "20190501.abc@example.org", "public-inbox", None)


@pytest.mark.parametrize(("url", "message_id", "hint"), [
    ("https://lore.kernel.org/alsa-devel/20190501.abc@example.org/", "20190501.abc@example.org",
     "alsa-devel"),
    ("https://lore.kernel.org/all/1-2-git-send@ex.com/T/#u", "1-2-git-send@ex.com", None),
    ("https://lore.kernel.org/alsa-devel/87a%2Fb%40example.org/raw", "87a/b@example.org",
     "alsa-devel"),
    ("https://public-inbox.org/git/x.y@host.example/", "x.y@host.example", "git"),
    ("https://inbox.example.net/dev/abc@example.net", "abc@example.net", "dev"),
    ("https://archive.example.com/lore/dev/abc@example.net/", "abc@example.net", "dev"),
])
def test_public_inbox_urls(url: str, message_id: str, hint: str | None) -> None:
    ref = one(f"See {url}.")
    assert (ref.text, ref.archive, ref.message_id, ref.list_hint) == (
        url, "public-inbox", message_id, hint)


def test_moot_urls() -> None:
    ref = one("https://lists.example.org/l/dev@example.org/m/abc%2Fdef@example.org/")
    assert (ref.archive, ref.message_id, ref.list_hint) == (
        "moot", "abc/def@example.org", "dev@example.org")
    ref = one("https://lists.example.org/l/dev@example.org/t/abc@example.org/")
    assert (ref.archive, ref.message_id) == ("moot", "abc@example.org")
    ref = one("(https://other.example/t/abc@example.org/)")
    assert (ref.archive, ref.message_id, ref.text) == (
        "moot", "abc@example.org", "https://other.example/t/abc@example.org/")


def test_own_hosts_limit_moot_urls() -> None:
    url = "https://elsewhere.example/l/dev@example.org/m/abc@example.org/"
    ref, = find_references(url, own_hosts=["lists.example.org"])
    assert ref.archive != "moot"
    ref, = find_references(url, own_hosts=["elsewhere.example"])
    assert ref.archive == "moot"


def test_pipermail() -> None:
    ref = one("See https://stat.ethz.ch/pipermail/r-devel/2019-May/077123.html for it.")
    assert (ref.archive, ref.list_hint, ref.pipermail, ref.message_id) == (
        "pipermail", "r-devel", (2019, 5, 77123), None)
    ref = one("http://lists.example.org/pipermail/dev/Week-of-Mon-20050103/012345.html")
    assert ref.pipermail == (2005, 1, 12345)


def test_hyperkitty() -> None:
    hk = hyperkitty_id("20190501.abc@example.org")
    ref = one(f"https://lists.example.org/hyperkitty/list/dev@example.org/message/{hk}/")
    assert (ref.archive, ref.hyperkitty_id, ref.list_hint) == ("hyperkitty", hk,
                                                               "dev@example.org")
    ref = one(f"https://lists.example.org/archives/list/dev@example.org/thread/{hk}/")
    assert ref.hyperkitty_id == hk


def test_hyperkitty_id() -> None:
    value = hyperkitty_id("abc@example.org")
    assert len(value) == 32 and value.isupper() and "=" not in value
    assert hyperkitty_id("<abc@example.org>") == value


def test_other_archives() -> None:
    ref = one("http://marc.info/?l=r-devel&m=107151103308418&w=2")
    assert (ref.archive, ref.list_hint, ref.archive_id) == ("marc", "r-devel", "107151103308418")
    ref = one("http://article.gmane.org/gmane.comp.lang.r.devel/10882/match=difftime")
    assert (ref.archive, ref.list_hint, ref.archive_id) == (
        "gmane", "gmane.comp.lang.r.devel", "10882")
    assert one("http://thread.gmane.org/gmane.x.y/20945/focus=20959").archive_id == "20959"
    ref = one("https://www.mail-archive.com/dev@example.org/msg01234.html")
    assert (ref.archive, ref.list_hint, ref.archive_id, ref.message_id) == (
        "mail-archive", "dev@example.org", "msg01234", None)
    ref = one("https://www.mail-archive.com/search?l=mid&q=abc@example.org")
    assert (ref.archive, ref.message_id) == ("mail-archive", "abc@example.org")
    ref = one("https://patchwork.kernel.org/project/alsa-devel/patch/1-2@example.org/")
    assert (ref.archive, ref.message_id, ref.list_hint) == (None, "1-2@example.org",
                                                             "alsa-devel")


@pytest.mark.parametrize("body", [
    "_______________________________________________\nAlsa-devel mailing list\n"
    "Alsa-devel@alsa-project.org\nhttps://mailman.alsa-project.org/mailman/listinfo/alsa-devel\n",
    "______________________________________________\nR-devel at r-project.org mailing list\n"
    "https://stat.ethz.ch/mailman/listinfo/r-devel\n",
    "Archives: https://stat.ethz.ch/pipermail/r-devel/",
    "https://stat.ethz.ch/pipermail/r-devel/2016-December/thread.html",
    "https://stat.ethz.ch/pipermail/r-devel/attachments/20070204/2e7fb79c/attachment.gz",
    "https://lists.example.org/hyperkitty/list/kbuild-all@lists.example.org",
    "http://files.example.no/R/r-devel@lists.example.org",
    "https://github.com/example/project/pull/12",
    "https://lore.kernel.org/patchwork/patch/539656/",
    "http://[broken/",
])
def test_urls_that_are_no_reference(body: str) -> None:
    assert find_references(body) == []


def test_url_punctuation() -> None:
    ref = one("(see <https://lore.kernel.org/r/a.b@example.org>).")
    assert ref.text == "https://lore.kernel.org/r/a.b@example.org"


def test_document_order_and_mixture() -> None:
    body = ("In <1.2@example.org>, you wrote:\n\nAs in my post of Jan. 5 and\n"
            "https://lore.kernel.org/r/3.4@example.org\n")
    assert [r.kind for r in find_references(body)] == ["message-id", "prose", "url"]


# -- properties -----------------------------------------------------------------------------

_PIECES = st.sampled_from([
    " ", "\n", "> ", "my ", "his ", "post", "message", " of ", "on ", "December 22", "22 Dec 1996",
    "12/22/96", " (", ")", '"Subject"', "'x'", "<", ">", "a@b.c", "In ", "Message-ID: ",
    "https://", "lore.kernel.org/r/", "/pipermail/r-devel/2019-May/0001.html", "%", "%2F",
    "mid:", "Jane Doe", "'s ", " wrote", " by ", "thread", "/l/x@y/m/", "/t/", "list/x/message/",
    "?l=x&m=1", "[", "]", "é", "\u2019", "“", "”",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200),
                 st.lists(_PIECES, max_size=40).map("".join)))
def test_never_raises_and_offsets_slice(body: str) -> None:
    refs = find_references(body)
    starts = [r.start for r in refs]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for ref in refs:
        assert body[ref.start:ref.end] == ref.text
        assert ref.kind in ("message-id", "url", "prose")


def test_link_wrapped_by_a_mail_filter() -> None:
    body = ("https://urldefense.example/v3/__https://stat.ethz.ch/pipermail/r-devel/"
            "2020-May/079451.html__;!!JQ5!Km$ ")
    ref = one(body)
    assert (ref.text, ref.pipermail) == (
        "https://stat.ethz.ch/pipermail/r-devel/2020-May/079451.html", (2020, 5, 79451))


def test_acronyms_and_leading_words_are_no_name() -> None:
    assert find_references("a new message from DSP arrives") == []
    assert one("Following Dirk's post, I changed it.").author == "Dirk"
