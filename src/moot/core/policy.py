"""The posting pipeline's rules: may this post go out to the list, wait for a moderator, or not?

Why this module exists: who may post, and what a post may look like, is the part of a list
server people argue about, so it is kept where it can be read and tested on its own.  Each
rule (after Mailman's ``rules/``) is a name, one sentence saying what it is for, and one check
over plain values: the :class:`Post` as received, the list's :class:`ListConfig` and the
:class:`Situation` the caller looked up (membership, ban, prior approval, the list's sender
rule for the sender, the member's posts accepted so far).  :func:`decide` runs them all and
sums them up in a :class:`Verdict` (accept, hold, reject or discard) whose reasons are written
for the person who reads them: the sender, or the moderator deciding.

What it won't do: read the database, the clock or the network, send anything, or change the
message.  Rules take plain values and look nothing up; finding the member and the matching ban
is the caller's job (see :mod:`moot.core.ban`), and so is acting on the verdict.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import math
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Literal, Protocol

from moot.core.mailinglist import POSTING_POLICIES, ListConfig
from moot.core.member import Member
from moot.core.message import base_subject, clean_text
from moot.core.parse import decode_header_value

BODY_START = 2_000  # characters of the body the rules see
MAX_PARTS = 1_000  # MIME parts post_from_bytes looks at; a bomb of parts is cut short
COMMAND_MAX_LINES = 5  # a body with more lines than this (quotes aside) is not a command


@dataclass(frozen=True)
class Post:
    """What the rules see of one incoming post."""

    sender: str  # From address, lower case ('' if none)
    envelope_sender: str  # MAIL FROM, lower case ('' for the null sender)
    to_cc: tuple[str, ...]  # every address in To and Cc, lower case
    headers: tuple[tuple[str, str], ...]  # (name, unfolded decoded value), in order
    subject: str  # decoded
    body_start: str  # the first ~2,000 characters of the plain-text body
    size: int  # bytes of the whole message
    mime_types: tuple[str, ...]  # content type of every MIME part, lower case

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of one header, in order; the name is case-insensitive.

        >>> Post("", "", (), (("X-Loop", "a"), ("x-loop", "b"), ("To", "c")), "", "", 0, ()
        ...      ).header_values("X-LOOP")
        ('a', 'b')
        """
        wanted = name.strip().lower()
        return tuple(value for key, value in self.headers if key.strip().lower() == wanted)


@dataclass(frozen=True)
class Situation:
    """What the caller looked up about the sender."""

    member: Member | None  # the sender's membership of this list, None if not a member
    ban: str | None = None  # the ban pattern matching the sender (see ban.py), if any
    approved: bool = False  # a moderator approved this post already (skip hold rules)
    # What the list's sender rules say about the sender (accept|hold|reject|discard), if any.
    sender_rule: str | None = None
    accepted_posts: int = 0  # the member's posts accepted (or approved) so far
    # Who the sender really is (moot.core.identity): "verified", "unverified" or "failed",
    # and in words how it was found; "" when nobody checked (e.g. no DNS to ask).
    identity: str = ""
    identity_how: str = ""
    impersonates: str | None = None  # the member whose name or address the From imitates
    auth_before: int = 0  # the sender (a member) passed authentication this often before
    spam: str | None = None  # why the spam filter (spamc) flagged the post, if it did


@dataclass(frozen=True)
class Reason:
    """Why a rule fired: ``text`` is written for the person who reads it."""

    rule: str
    text: str


@dataclass(frozen=True)
class Outcome:
    """What one rule says about a post when it fires."""

    action: Literal["hold", "reject", "discard"]
    text: str


@dataclass(frozen=True)
class Verdict:
    action: Literal["accept", "hold", "reject", "discard"]
    reasons: tuple[Reason, ...] = ()


class Rule(Protocol):
    """One named check.  ``check`` returns None when the rule has nothing to say."""

    name: str
    description: str

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        ...


def hold(text: str) -> Outcome:
    return Outcome("hold", text)


def reject(text: str) -> Outcome:
    return Outcome("reject", text)


def discard(text: str) -> Outcome:
    """Dropped without a word to anyone (the text is for the server's records only)."""
    return Outcome("discard", text)


# -- small helpers ---------------------------------------------------------------------------


def kilobytes(size: int, *, up: bool) -> str:
    """A size in KB (1,024 bytes) to a tenth, rounded up or down, for people to read.

    A post's size is rounded up and a limit down, so a post over the limit never looks the
    same size as the limit.

    >>> kilobytes(512_000, up=False), kilobytes(512_001, up=True)
    ('500 KB', '500.1 KB')
    >>> kilobytes(3_000_000, up=True)
    '2,929.7 KB'
    """
    tenths = size * 10 / 1024
    n = math.ceil(tenths) if up else math.floor(tenths)
    whole, tenth = divmod(n, 10)
    return f"{whole:,} KB" if tenth == 0 else f"{whole:,}.{tenth} KB"


def type_allowed(mime_type: str, allowed: Iterable[str]) -> bool:
    """Whether a MIME type is one of ``allowed``, exactly or by a ``family/*`` entry.

    >>> type_allowed("text/html", ["text/*"]), type_allowed("Text/Plain", ["text/plain"])
    (True, True)
    >>> type_allowed("application/pdf", ["text/*", "image/png"])
    False
    """
    mime_type = mime_type.strip().lower()
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == mime_type or (entry.endswith("/*") and mime_type.startswith(entry[:-1])):
            return True
    return False


def is_container(mime_type: str) -> bool:
    """Whether a MIME part only holds other parts (its type says nothing about content).

    >>> is_container("multipart/mixed"), is_container("message/rfc822")
    (True, True)
    >>> is_container("text/plain")
    False
    """
    return mime_type.startswith("multipart/") or mime_type == "message/rfc822"


_FILLER = frozenset({"me", "from", "to", "off", "of", "this", "the", "your", "my", "mailing",
                     "list", "e-mail", "email"})
_JOINING = frozenset({"subscribe", "unsubscribe", "join", "leave", "signoff", "unsub"})
_DELIVERY = frozenset({"digest", "nodigest", "regular"})
_SET_WHAT = frozenset({"digest", "nodigest", "nomail", "mail", "delivery"})
_SET_HOW = frozenset({"on", "off", "yes", "no", "plain", "mime", "regular", "digest", "enabled",
                      "disabled", "true", "false"})
_POLITE_START = ("please ", "pls ", "kindly ")
_POLITE_END = (" please", " thanks", " thank you", " thx", " pls")


def _normalise_command(line: str) -> list[str]:
    text = " ".join(line.lower().split())
    words = [w.strip(".,;:!?\"'()") for w in text.split()]
    text = " ".join(w for w in words if w)
    changed = True
    while changed:
        changed = False
        for start in _POLITE_START:
            if text.startswith(start):
                text, changed = text[len(start):], True
        for end in _POLITE_END:
            if text.endswith(end):
                text, changed = text[: -len(end)], True
    return text.split()


def command_in(line: str) -> str | None:
    """The list command a line of text amounts to, normalised, or None when it is not one.

    Commands are the requests the list's ``-request`` address answers; people send them to the
    list itself by mistake.  Words around the command that only say "me" or "this list" are
    allowed, anything else makes it ordinary text.

    >>> command_in("Please unsubscribe me from this list.")
    'unsubscribe me from this list'
    >>> command_in("SET DIGEST ON"), command_in("remove me")
    ('set digest on', 'remove me')
    >>> command_in("Join us for dinner") is None, command_in("Help with plotting?") is None
    (True, True)
    """
    if len(line) > 120:
        return None
    words = _normalise_command(line)
    if not words:
        return None
    first, args = words[0], words[1:]
    if first == "help" and not args:
        return "help"
    if first in ("unsubscribe", "subscribe") and args[:1] == ["me"] and len(args) == 1:
        return " ".join(words)
    if first in _JOINING or (first == "sign" and args[:1] == ["off"]):
        rest = [a for a in args if a not in _FILLER]
        extra = [a for a in rest if not ("@" in a or a.startswith("address=") or a in _DELIVERY)]
        if not extra and len(rest) <= 2:
            return " ".join(words)
        return None
    if first == "remove" and (not args or args[0] == "me"):
        if all(a in _FILLER for a in args):
            return " ".join(words)
        return None
    if first == "take" and args[:2] == ["me", "off"] and all(a in _FILLER for a in args):
        return " ".join(words)
    if first == "set" and args and args[0] in _SET_WHAT and len(args) <= 3:
        if all(a in _SET_HOW for a in args[1:]):
            return " ".join(words)
    return None


def body_lines(body: str) -> list[str]:
    """The lines of a body that its sender wrote: not blank, not quoted, not the signature.

    >>> body_lines("unsubscribe\\n\\n> old text\\n-- \\nBob\\n")
    ['unsubscribe']
    """
    out: list[str] = []
    for line in body.splitlines():
        if line.rstrip() == "--":
            break
        stripped = line.strip()
        if stripped and not stripped.startswith(">"):
            out.append(stripped)
    return out


def _show(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- the rules -------------------------------------------------------------------------------


class Loop:
    name = "loop"
    description = "A post that already went through this list is refused, so mail cannot loop."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        list_id = f"<{config.list_id.lower()}>"
        for value in post.header_values("List-Id"):
            if list_id in value.lower():
                return reject(f"mail loop: the post already went through {config.address} "
                              "(it has the list's List-Id header)")
        address = config.address.lower()
        for value in post.header_values("X-Loop"):
            if value.strip().strip("<>").strip().lower() == address:
                return reject(f"mail loop: the post already went through {config.address} "
                              "(it has the list's X-Loop header)")
        return None


class Banned:
    name = "banned"
    description = ("Senders the owners banned cannot post: refused, or held for a moderator "
                   "(the list's ban_action).")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if situation.ban is None:
            return None
        if config.ban_action == "hold":
            return hold(f"the sender is banned from the list {config.address}")
        return reject(f"the sender is banned from the list {config.address}")


class Administrivia:
    name = "administrivia"
    description = ("A post that is really a command (unsubscribe, help, set digest...) is held "
                   "and its sender pointed to the -request address.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        command = command_in(base_subject(post.subject))
        if command is None:
            lines = body_lines(post.body_start)
            if len(lines) <= COMMAND_MAX_LINES:
                command = next((c for c in map(command_in, lines) if c is not None), None)
        if command is None:
            return None
        return hold(f'the post looks like a command ("{_show(command)}") rather than a message '
                    f"for the list; commands go to {config.request_address} (send \"help\" "
                    "there for the list of them)")


class Size:
    name = "size"
    description = "Posts larger than the list's max_size are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if config.max_size <= 0 or post.size <= config.max_size:
            return None
        return hold(f"the post is {kilobytes(post.size, up=True)}, larger than the list's "
                    f"limit of {kilobytes(config.max_size, up=False)}")


class ContentTypes:
    name = "content-types"
    description = "Posts with a MIME part of a type the list does not accept are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if not config.content_types:
            return None
        refused: list[str] = []
        for mime_type in post.mime_types:
            mime_type = mime_type.strip().lower()
            if is_container(mime_type) or type_allowed(mime_type, config.content_types):
                continue
            if mime_type not in refused:
                refused.append(mime_type)
        if not refused:
            return None
        names = ", ".join(_show(t, 80) for t in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        return hold(f"the post contains {names}{more}; the list accepts only "
                    f"{', '.join(config.content_types)}")


class ImplicitDestination:
    name = "implicit-destination"
    description = "Posts that do not name the list in To or Cc are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        address = config.address.lower()
        if any(a.strip().lower() == address for a in post.to_cc):
            return None
        return hold(f"the list ({config.address}) was not in To or Cc "
                    "(Bcc or a forwarded copy?)")


class TooManyRecipients:
    name = "too-many-recipients"
    description = "Posts with more addresses in To and Cc than max_recipients are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if config.max_recipients <= 0 or len(post.to_cc) <= config.max_recipients:
            return None
        return hold(f"the post has {len(post.to_cc)} addresses in To and Cc; the list allows "
                    f"at most {config.max_recipients}")


def suspicious_rules(entries: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``"Header: regex"`` settings as (lower-case header name, regex); malformed ones skipped.

    >>> list(suspicious_rules(["X-Spam-Flag: ^yes", "no colon", ": nameless"]))
    [('x-spam-flag', '^yes')]
    """
    for entry in entries:
        name, colon, pattern = entry.partition(":")
        if colon and name.strip():
            yield name.strip().lower(), pattern.strip()


class SuspiciousHeaders:
    name = "suspicious-headers"
    description = "Posts with a header matching one of the list's suspicious_headers are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        found: list[str] = []
        for name, pattern in suspicious_rules(config.suspicious_headers):
            for key, value in post.headers:
                if key.strip().lower() != name:
                    continue
                try:
                    hit = re.search(pattern, value, re.IGNORECASE) is not None
                except re.error:  # validate_setting refuses these; a stray one matches nothing
                    hit = False
                if hit and key.strip() not in found:
                    found.append(key.strip())
                    break
        if not found:
            return None
        headers = ", ".join(_show(h, 60) for h in found)
        word = "header" if len(found) == 1 else "headers"
        return hold(f"the post's {headers} {word} matched the list's suspicious_headers setting")


class SenderRule:
    name = "sender-rule"
    description = ("A sender the list's sender rules name is held, rejected or discarded as "
                   "the rule says ('accept' is applied by decide: it skips the membership "
                   "rules).")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        who = post.sender or post.envelope_sender or "the sender"
        if situation.sender_rule == "hold":
            return hold(f"the list's sender rules hold every post from {who}")
        if situation.sender_rule == "reject":
            return reject(f"the list {config.address} does not accept posts from {who}")
        if situation.sender_rule == "discard":
            return discard(f"the list's sender rules discard every post from {who}")
        return None


class NonMember:
    name = "non-member"
    description = ("On 'members' lists posts from non-members are held, rejected or discarded "
                   "(the list's nonmember_action); on 'announce' lists they are rejected.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if situation.member is not None:
            return None
        if config.posting_policy == "members":
            who = post.sender or "the sender"
            if config.nonmember_action == "reject":
                return reject(f"{who} is not a member of {config.address}; only members may "
                              "post to it")
            text = f"{who} is not a member of {config.address}; only members post freely"
            if config.nonmember_action == "discard":
                return discard(text)
            return hold(text)
        if config.posting_policy == "announce":
            return reject(f"only the list's owners and moderators post here ({config.address} "
                          "is an announce-only list)")
        return None


class Moderated:
    name = "moderated"
    description = ("On 'moderated' lists every post waits for a moderator, except those of "
                   "moderators and owners.  A posting policy moot does not know holds everything.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        member = situation.member
        if member is not None and member.can_moderate:
            return None
        if config.posting_policy == "moderated":
            return hold("the list is moderated: a moderator reviews every post")
        if config.posting_policy not in POSTING_POLICIES:
            return hold(f"the list's posting policy {_show(config.posting_policy)!r} is not one "
                        "moot knows, so every post waits for a moderator")
        return None


class Announce:
    name = "announce"
    description = "On 'announce' lists posts from members who are not moderators are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        member = situation.member
        if config.posting_policy != "announce" or member is None or member.can_moderate:
            return None
        return hold("the post was sent to an announce-only list; a moderator may approve it")


class ModeratedMember:
    name = "moderated-member"
    description = "Posts from members the owners put under moderation are held."

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if situation.member is None or not situation.member.moderated:
            return None
        return hold(f"the sender's posts to {config.address} are moderated; a moderator "
                    "reviews each one")


class NewMember:
    name = "new-member"
    description = ("A member's first posts (the list's new_member_posts) are held, until that "
                   "many of theirs were accepted.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        member, first = situation.member, config.new_member_posts
        if member is None or member.can_moderate or member.moderated or first <= 0:
            return None  # (a moderated member's posts are held by moderated-member anyway)
        if situation.accepted_posts >= first:
            return None
        posts = "post is" if first == 1 else f"{first} posts are"
        return hold(f"new member: first {posts} moderated")


class UnverifiedSender:
    name = "unverified-sender"
    description = ("A post whose From could not be verified (no DKIM signature or SPF pass "
                   "aligned with it) is accepted, held or rejected as the list's "
                   "identity_policy says.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if situation.identity not in ("unverified", "failed"):
            return None
        if config.identity_policy == "accept":
            return None
        text = f"could not verify sender: {_show(situation.identity_how, 200)}"
        return reject(text) if config.identity_policy == "reject" else hold(text)


class Impersonation:
    name = "impersonation"
    description = ("Held whatever else applies: a From whose name or address looks like a "
                   "member's but is not theirs, and a member's address whose mail passed "
                   "authentication before and now does not.")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        if situation.impersonates:
            return hold(f"possible impersonation of {situation.impersonates}: the From name or "
                        f"address looks like theirs, but the mail is from "
                        f"{_show(post.sender or post.envelope_sender)}")
        if (situation.member is not None and situation.auth_before > 0
                and situation.identity in ("unverified", "failed")):
            times = "once" if situation.auth_before == 1 else f"{situation.auth_before} times"
            return hold(f"possible impersonation: mail from {situation.member.email} passed "
                        f"authentication {times} before, this one did not "
                        f"({_show(situation.identity_how, 200)})")
        return None


_SPAM_FLAG = re.compile(r"^\s*yes\b", re.IGNORECASE)


class Spam:
    name = "spam"
    description = ("A post the spam filter flags, or that carries X-Spam-Flag: YES from the "
                   "mail server, is held, discarded or rejected as the list's spam_action "
                   "says (or accepted).")

    def check(self, post: Post, config: ListConfig, situation: Situation) -> Outcome | None:
        why = situation.spam
        if why is None and any(_SPAM_FLAG.match(header_text(v))
                               for v in post.header_values("x-spam-flag")):
            why = "X-Spam-Flag: YES"
        if why is None or config.spam_action == "accept":
            return None
        text = f"looks like spam ({_show(why, 120)})"
        if config.spam_action == "reject":
            return reject(text)
        return discard(text) if config.spam_action == "discard" else hold(text)


RULES: tuple[Rule, ...] = (
    Loop(),
    Banned(),
    Administrivia(),
    Size(),
    ContentTypes(),
    ImplicitDestination(),
    TooManyRecipients(),
    SuspiciousHeaders(),
    SenderRule(),
    NonMember(),
    Moderated(),
    Announce(),
    ModeratedMember(),
    NewMember(),
    UnverifiedSender(),
    Impersonation(),
    Spam(),
)

# The rules about who the sender is; a sender rule saying "accept" skips them (and only them:
# loops, bans, sizes and the rest still apply).
MEMBERSHIP_RULES = frozenset({"non-member", "moderated", "announce", "moderated-member",
                              "new-member"})


def decide(post: Post, config: ListConfig, situation: Situation) -> Verdict:
    """Run every rule: any reject rejects (with the rejecting rules' reasons), else any discard
    discards, else any hold holds (with every hold reason), else the post is accepted.  A post
    a moderator already approved skips the holds and discards, never the rejects; a sender
    the list's sender rules accept skips :data:`MEMBERSHIP_RULES`."""
    rejects: list[Reason] = []
    discards: list[Reason] = []
    holds: list[Reason] = []
    trusted = situation.sender_rule == "accept"
    for rule in RULES:
        if trusted and rule.name in MEMBERSHIP_RULES:
            continue
        outcome = rule.check(post, config, situation)
        if outcome is None:
            continue
        reason = Reason(rule.name, outcome.text)
        if outcome.action == "reject":
            rejects.append(reason)
        elif situation.approved:
            continue
        elif outcome.action == "discard":
            discards.append(reason)
        else:
            holds.append(reason)
    if rejects:
        return Verdict("reject", tuple(rejects))
    if discards:
        return Verdict("discard", tuple(discards))
    if holds:
        return Verdict("hold", tuple(holds))
    return Verdict("accept")


# -- building a Post from bytes --------------------------------------------------------------

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_NEWLINES = re.compile(r"[\r\n]+")


def header_text(value: object) -> str:
    """A raw header value unfolded and decoded (RFC 2047 words and raw 8-bit bytes alike).

    >>> header_text("=?utf-8?q?caf=C3=A9?=\\r\\n au lait")
    'café au lait'
    >>> header_text("caf\\udcc3\\udca9")  # raw UTF-8 bytes as the email package keeps them
    'café'
    """
    text = _NEWLINES.sub(" ", _FOLD.sub("", str(value)))
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", "replace")
    return clean_text(decode_header_value(text).strip())


def addresses(values: Iterable[str]) -> tuple[str, ...]:
    """The addresses in raw From/To/Cc-like header values, lower case, each once, in order.

    Addresses are found before display names are decoded, so an encoded comma in a name
    cannot split it in two; words without an ``@`` are not addresses.

    >>> addresses(['"Doe, J" <J@X.org>, b@y.org', 'undisclosed-recipients:;', 'j@x.org'])
    ('j@x.org', 'b@y.org')
    >>> addresses(['undisclosed recipients'])
    ()
    >>> addresses(['=?utf-8?q?Doe=2C_J?= <j@x.org>'])
    ('j@x.org',)
    """
    out: list[str] = []
    for value in values:
        try:
            pairs = email.utils.getaddresses([value])
        except Exception:  # noqa: BLE001 - garbage in a header is the sender's problem
            continue
        for _name, addr in pairs:
            addr = header_text(addr).lower()
            if "@" in addr and addr not in out:
                out.append(addr)
    return tuple(out)


def _mime_types(message: Message) -> tuple[str, ...]:
    out: list[str] = []
    stack: list[object] = [message]
    while stack and len(out) < MAX_PARTS:
        part = stack.pop()
        if not isinstance(part, Message):
            continue
        try:
            out.append(part.get_content_type().lower())
            if part.is_multipart():
                payload = part.get_payload()
                if isinstance(payload, list):
                    stack.extend(reversed(payload))
        except Exception:  # noqa: BLE001 - a broken part says nothing more
            continue
    return tuple(out)


# The header fields the rules read whatever the list's settings (see needed_headers).
RULE_HEADERS = frozenset({"from", "to", "cc", "subject", "list-id", "x-loop", "x-spam-flag"})


def needed_headers(config: ListConfig) -> frozenset[str]:
    """The header fields (lower case) the rules read for this list.

    >>> sorted(needed_headers(ListConfig("d@x.org", suspicious_headers=("X-Spam: yes",))))[-3:]
    ['x-loop', 'x-spam', 'x-spam-flag']
    """
    return RULE_HEADERS | {name for name, _ in suspicious_rules(config.suspicious_headers)}


def post_from_bytes(raw: bytes, *, envelope_sender: str, body_text: str,
                    only_headers: Collection[str] | None = None,
                    mime_types: bool = True) -> Post:
    """The :class:`Post` for raw message bytes; never raises.

    ``body_text`` is the plain-text body as the caller already extracted it (see
    :mod:`moot.core.parse`); missing or garbled headers give ``''`` or ``()``.
    ``only_headers`` (lower-case names, e.g. :func:`needed_headers`) decodes just those fields,
    and ``mime_types=False`` leaves the body unparsed: a list that restricts no content type
    needs neither, and a post carries dozens of Received and DKIM lines.

    >>> post = post_from_bytes(b"From: Jo <JO@x.org>\\nTo: dev@example.org\\nSubject: hi\\n\\nyo",
    ...                        envelope_sender="JO@x.org", body_text="yo")
    >>> post.sender, post.to_cc, post.subject, post.size, post.mime_types
    ('jo@x.org', ('dev@example.org',), 'hi', 55, ('text/plain',))
    """
    try:
        if mime_types:
            message = email.message_from_bytes(raw, policy=email.policy.compat32)
        else:
            message = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception:  # noqa: BLE001
        message = Message()
    headers: list[tuple[str, str]] = []
    raw_values: dict[str, list[str]] = {}  # lower-case name -> unfolded undecoded values
    try:
        items = list(message.raw_items())
    except Exception:  # noqa: BLE001
        items = []
    for name, value in items:
        if only_headers is not None and str(name).strip().lower() not in only_headers:
            continue
        try:
            value = str(value)
            key = header_text(name)
            text = header_text(value)
        except Exception:  # noqa: BLE001
            continue
        headers.append((key, text))
        raw_values.setdefault(key.lower(), []).append(_NEWLINES.sub(" ", _FOLD.sub("", value)))
    senders = addresses(raw_values.get("from", []))
    subjects = [v for k, v in headers if k.lower() == "subject"]
    return Post(
        sender=senders[0] if senders else "",
        envelope_sender=clean_text(envelope_sender.strip().lower()),
        to_cc=addresses(raw_values.get("to", []) + raw_values.get("cc", [])),
        headers=tuple(headers),
        subject=subjects[0] if subjects else "",
        body_start=clean_text(body_text[:BODY_START]),
        size=len(raw),
        mime_types=_mime_types(message) if mime_types else (),
    )
