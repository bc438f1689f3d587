"""DMARC-safe copies of list posts: read a domain's policy, then munge From or wrap the post.

Why: a list changes every post it passes on (subject tag, list headers, footer), which breaks
the author's DKIM signature, and it sends from its own servers, so SPF speaks for the list's
domain rather than the author's.  When the author's domain publishes a DMARC policy of
``p=reject`` or ``p=quarantine`` (RFC 7489), receivers then refuse or junk the members' copies.
Two ways out, chosen per list (``dmarc_mitigation``):

* :func:`munge_from`: ``From`` becomes the list (``"Ada via Dev" <dev@example.org>``); the
  author goes to ``Reply-To`` (or to ``Cc`` when the list sets ``Reply-To`` to itself) and the
  original field is kept as ``X-Original-From``.  Every other header field stays byte for byte.
* :func:`wrap`: a new message from the list carries the post, bytes unchanged, as a
  ``message/rfc822`` attachment (RFC 2046 section 5.2.1) next to a short note saying why.

The policy side is pure too: :func:`lookup_names` says which ``_dmarc`` names to ask (RFC 7489
section 6.6.3) and :func:`policy_from_answer` reads what came back; the DNS look-up itself
lives in :mod:`moot.delivery.dmarc`.  The header fields are edited as bytes with the helpers of
:mod:`moot.core.decorate`, for the same reason as there.

What it won't do: no DKIM verification (a post whose signature would survive gets mitigated
all the same), no ARC (RFC 8617) sealing, no Public Suffix List (see :func:`lookup_names`), and
no ``pct=`` sampling (a policy applied to some messages needs mitigating for all).  No I/O.
It raises :class:`ValueError` only when a line break would reach a header from the list's
settings; line breaks and control characters in what the author wrote are dropped.
"""

from __future__ import annotations

import email.policy
import email.utils
import re

from moot.core.decorate import (
    _as_text,
    _decode_text,
    _Field,
    _field,
    _footer_part,
    _new_boundary,
    _no_line_break,
    _Parts,
    _split,
    _terminated,
    _value,
)
from moot.core.mailinglist import ListConfig

POLICIES = ("none", "quarantine", "reject")
# Two-level public suffixes under which organizations register (a small part of the PSL).
TWO_LEVEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "nhs.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
    "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "co.nz", "net.nz", "org.nz", "ac.nz",
    "com.br", "net.br", "org.br", "gov.br", "co.in", "net.in", "org.in", "ac.in", "gov.in",
    "co.za", "org.za", "ac.za", "gov.za", "com.cn", "net.cn", "org.cn", "edu.cn", "gov.cn",
    "com.mx", "com.ar", "com.tr", "com.tw", "com.hk", "com.sg", "com.my", "com.ph", "com.ua",
    "co.kr", "or.kr", "co.il", "ac.il", "co.id", "co.th", "in.th", "edu.sg", "edu.tw",
})
# Fields of the post that the wrapping message repeats (List-* too, by prefix).
WRAP_COPIES = frozenset({"to", "cc", "subject", "date", "message-id", "in-reply-to",
                         "references", "reply-to", "archived-at", "x-loop"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 section 3.2.3
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NAME_LIMIT = 120  # characters of the author's name kept in the new From


# -- the policy --------------------------------------------------------------------------------


def _tags(txt: str) -> dict[str, str] | None:
    """A DMARC record's tags (names lower case), or None when ``v=DMARC1`` is not the first."""
    tags: dict[str, str] = {}
    for part in txt.split(";"):
        name, equals, value = part.partition("=")
        name = name.strip(" \t\r\n").lower()
        if not tags and (name != "v" or value.strip(" \t\r\n").upper() != "DMARC1"):
            return None
        if equals and name and name not in tags:
            tags[name] = value.strip(" \t\r\n")
    return tags or None


def record_policy(txt: str, *, subdomain: bool = False) -> str | None:
    """``'reject'``, ``'quarantine'`` or ``'none'`` from one TXT record's text; None when the
    text is not a DMARC record (``v=DMARC1`` must come first, RFC 7489 section 6.3).

    ``subdomain``: the record is the organizational domain's, answering for a subdomain, so
    ``sp=`` wins when present.  Tag names and values may be in any case.  A record with a
    missing or invalid ``p=``, or an invalid ``sp=``, gives ``'none'``: RFC 7489 section 6.6.3
    (5) has the receiver apply ``p=none`` or no DMARC at all, and neither refuses mail.

    >>> record_policy("v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com;")
    'reject'
    >>> record_policy("V = DMARC1 ;P=Quarantine; SP=none", subdomain=True)
    'none'
    >>> record_policy("v=DMARC1; p=bounce"), record_policy("v=DMARC1")
    ('none', 'none')
    >>> record_policy("v=spf1 -all") is None, record_policy("p=reject; v=DMARC1") is None
    (True, True)
    """
    tags = _tags(txt)
    if tags is None:
        return None
    policy = tags.get("p", "").lower()
    sub = tags.get("sp")
    if policy not in POLICIES or (sub is not None and sub.lower() not in POLICIES):
        return "none"
    return sub.lower() if subdomain and sub is not None else policy


def policy_from_answer(txts: list[str], *, subdomain: bool = False) -> str | None:
    """The policy from all the TXT records at one ``_dmarc`` name; None when none of them is
    a DMARC record (then the organizational domain is asked), ``'none'`` when several are
    (RFC 7489 section 6.6.3 (4): no policy applies).

    >>> policy_from_answer(["v=spf1 -all", "v=DMARC1; p=reject"])
    'reject'
    >>> policy_from_answer(["v=DMARC1; p=reject", "v=DMARC1; p=none"])
    'none'
    """
    found = [txt for txt in txts if _tags(txt) is not None]
    if len(found) > 1:
        return "none"
    return record_policy(found[0], subdomain=subdomain) if found else None


def lookup_names(domain: str) -> list[str]:
    """The DNS names to ask, in order: ``_dmarc.`` and the author's domain, then ``_dmarc.``
    and its organizational domain when that differs (RFC 7489 sections 3.2 and 6.6.3).

    Limit: without the Public Suffix List the organizational domain is guessed as the last two
    labels, or the last three under a two-level suffix in :data:`TWO_LEVEL_SUFFIXES`.  Under
    other multi-level or private suffixes (``pvt.k12.ma.us``, ``github.io``) the guess is wrong
    and a subdomain may miss its organization's policy (or find its registry's).  International
    names are asked as A-labels; something that is not a domain name gives ``[]``.

    >>> lookup_names("Lists.Example.COM.")
    ['_dmarc.lists.example.com', '_dmarc.example.com']
    >>> lookup_names("mail.example.co.uk"), lookup_names("example.com")
    (['_dmarc.mail.example.co.uk', '_dmarc.example.co.uk'], ['_dmarc.example.com'])
    >>> lookup_names("bücher.example"), lookup_names("no spaces.example")
    (['_dmarc.xn--bcher-kva.example'], [])
    """
    name = domain.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return []
    labels = name.split(".")
    if len(name) > 240 or not all(_LABEL.fullmatch(label) for label in labels):
        return []
    keep = 3 if ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES else 2
    organization = ".".join(labels[-keep:])
    return ["_dmarc." + name] + (["_dmarc." + organization] if organization != name else [])


def needs_mitigation(policy: str | None) -> bool:
    """Whether receivers would refuse or junk a changed post under this policy.

    >>> needs_mitigation("quarantine"), needs_mitigation("none"), needs_mitigation(None)
    (True, False, False)
    """
    return policy in ("reject", "quarantine")


# -- the author --------------------------------------------------------------------------------


def _author(fields: list[_Field]) -> tuple[str, str] | None:
    """The display name (control characters dropped, cut to :data:`_NAME_LIMIT`) and the
    address of the first From."""
    field = next((f for f in fields if f.name == "from"), None)
    if field is None:
        return None
    text = _as_text(_value(field.raw))
    try:
        first = next(iter(email.policy.default.header_factory("from", text).addresses))
        name, address = first.display_name, first.addr_spec
    except Exception:  # noqa: BLE001 - one the registry refuses (a line break in the name)
        name, address = next(iter(email.utils.getaddresses([text])), ("", ""))
        name = _decode_text(name.encode("utf-8", "surrogateescape"))
    local, at, domain = address.rpartition("@")
    if not at or not local or re.search(r"[\x00-\x1f\x7f<>]", address) \
            or not lookup_names(domain):
        return None
    return " ".join(_CONTROL.sub(" ", name).split())[:_NAME_LIMIT].rstrip(), address


def author_domain(data: bytes) -> str | None:
    """The domain of the first From address, lower case; None when there is none to read.

    >>> author_domain(b"From: =?utf-8?q?Ad=C3=A1?= <ada@Mail.Example.NET>\\r\\n\\r\\nhi")
    'mail.example.net'
    >>> author_domain(b"From: undisclosed\\n\\nhi") is None
    True
    """
    author = _author(_split(data).fields)
    return None if author is None else author[1].rpartition("@")[2].rstrip(".").lower()


# -- munging -----------------------------------------------------------------------------------


def _phrase_atoms(name: str) -> list[tuple[str, str, bool]]:
    """A display name as :func:`moot.core.decorate._field` atoms: words of RFC 5322 ``atext``
    as they are, runs of other words (with the spaces between them) as encoded words.  Plain
    words between encoded ones keep a name readable, and foldable, in every reader.

    >>> _phrase_atoms("Zoë Åberg via Dev")
    [(' ', 'Zoë Åberg', True), (' ', 'via', False), (' ', 'Dev', False)]
    """
    atoms: list[tuple[str, str, bool]] = []
    for word in name.split():
        plain = _ATEXT.fullmatch(word) is not None and "=?" not in word
        if not plain and atoms and atoms[-1][2]:
            atoms[-1] = (" ", atoms[-1][1] + " " + word, True)
        else:
            atoms.append((" ", word, not plain))
    return atoms


def _mailbox(key: str, header: str, name: str, address: str, eol: bytes) -> _Field:
    """A one-address field: a short ASCII name quoted, any other through encoded words."""
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name.isascii() and "=?" not in name and len(quoted) < 60:
        phrase = [(" ", quoted, False)] if name else []
    else:  # a quoted string cannot fold, and some readers decode encoded words inside one
        phrase = _phrase_atoms(name)
    return _field(key, header, phrase + [(" ", f"<{address}>", False)], eol)


def _via(name: str, address: str, config: ListConfig) -> str:
    """``Ada via Dev``; ``ada at example.net via Dev`` for a nameless author.  An ``@`` in
    the name becomes `` at `` too: filters take an address-like name for a forgery."""
    return f"{(name or address).replace('@', ' at ')} via {config.name}"


def _munged(fields: list[_Field], name: str, address: str, config: ListConfig,
            eol: bytes) -> list[_Field]:
    """The header fields with From replaced and the author added to Reply-To or Cc."""
    at = next(i for i, f in enumerate(fields) if f.name == "from")
    added = [_mailbox("from", "From", _via(name, address, config), config.address, eol),
             _Field("x-original-from", b"X-Original-From:" + fields[at].raw.partition(b":")[2])]
    # Other From fields (a malformed post) and copies of our X-Original-From go.
    rest = [f for f in fields if f.name not in ("from", "x-original-from")]
    at = sum(1 for f in fields[:at] if f.name != "x-original-from")
    if config.reply_to != "list":
        # The author's own Reply-To, if any, already takes replies away from the list.
        if not any(f.name == "reply-to" for f in rest):
            added.append(_mailbox("reply-to", "Reply-To", name, address, eol))
        return rest[:at] + added + rest[at:]
    listed = [a.lower() for _, a in email.utils.getaddresses(
        [_as_text(_value(f.raw)) for f in rest if f.name in ("to", "cc")])]
    if address.lower() in listed:  # a reply to all reaches the author already
        return rest[:at] + added + rest[at:]
    author = _mailbox("cc", "Cc", name, address, eol)
    cc = next((i for i, f in enumerate(rest) if f.name == "cc"), None)
    if cc is not None and _value(rest[cc].raw).strip(b", \t"):
        # One more address, on a continuation line of its own.
        kept = rest[cc].raw.rstrip(b"\r\n")
        comma = b"" if kept.rstrip(b" \t").endswith(b",") else b","
        rest[cc] = _Field("cc", kept + comma + eol + author.raw.partition(b":")[2])
        return rest[:at] + added + rest[at:]
    if cc is not None:  # an empty Cc
        del rest[cc]
        at -= 1 if cc < at else 0
    return rest[:at] + added + [author] + rest[at:]


def _author_of(data: bytes, config: ListConfig) -> tuple[_Parts, str, str] | None:
    """The post cut up, and its author; None when From is unreadable or the list's own."""
    _no_line_break(config.address, "list address")
    _no_line_break(config.name, "list name")
    parts = _split(data)
    author = _author(parts.fields)
    if author is None or author[1].lower() == config.address.lower():
        return None
    return parts, *author


def munge_from(data: bytes, config: ListConfig) -> bytes:
    """The post with From rewritten to the list (see the module docstring).

    A Reply-To the author set is kept: it already takes replies away from the list.  Further
    From fields and an incoming X-Original-From are dropped.  A post without a readable From,
    or already from the list, comes back unchanged.
    """
    found = _author_of(data, config)
    if found is None:
        return data
    parts, name, address = found
    fields = _munged(parts.fields, name, address, config, parts.eol)
    return (b"".join(_terminated(f.raw, parts.eol) for f in fields)
            + (parts.separator or parts.eol) + parts.body)


# -- wrapping ----------------------------------------------------------------------------------


def _note(name: str, address: str, config: ListConfig) -> str:
    who = f"{name} <{address}>" if name else address
    domain = address.rpartition("@")[2]
    return (f"The message from {who} to {config.name} is attached, unchanged.\n\n"
            f"Their domain, {domain}, asks receivers to refuse or set aside mail that was "
            "changed on the way, and a list changes every post it passes on (the subject tag, "
            "list headers, a footer). So the list sends it as an attachment, from itself.\n")


def wrap(data: bytes, config: ListConfig) -> bytes:
    """A message from the list with the post attached as ``message/rfc822``, its bytes
    unchanged, after a short note.  Subject, Date, Message-ID, To, Cc, the threading and the
    list fields are repeated outside; replies go to the author as with :func:`munge_from`.

    A post without a readable From, or already from the list, comes back unchanged.
    """
    found = _author_of(data, config)
    if found is None:
        return data
    parts, name, address = found
    eol = parts.eol
    outer = [f for f in _munged(parts.fields, name, address, config, eol)
             if f.name in WRAP_COPIES or f.name == "from" or f.name.startswith("list-")]
    note = _footer_part(_note(name, address, config), eol)
    boundary = _new_boundary(data + note)
    eight_bit = b"" if data.isascii() else b"Content-Transfer-Encoding: 8bit" + eol
    head = (b"".join(_terminated(f.raw, eol) for f in outer) + b"MIME-Version: 1.0" + eol
            + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"' + eol + eight_bit)
    delimiter = b"--" + boundary
    attached = (b"Content-Type: message/rfc822" + eol + b"Content-Disposition: inline" + eol
                + eight_bit + eol + data)
    return (head + eol + delimiter + eol + note + delimiter + eol + attached + eol
            + delimiter + b"--" + eol)


def mitigate(data: bytes, config: ListConfig, mode: str) -> bytes:
    """The post as it should go out under ``mode`` (a ``dmarc_mitigation`` value).

    >>> mitigate(b"From: a@b.example\\n\\nhi", ListConfig("dev@example.org"), "none")
    b'From: a@b.example\\n\\nhi'
    """
    if mode == "munge":
        return munge_from(data, config)
    if mode == "wrap":
        return wrap(data, config)
    if mode == "none":
        return data
    raise ValueError(f"unknown DMARC mitigation {mode!r}; known ones are munge, wrap, none")
