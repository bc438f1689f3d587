"""The owners' and moderators' pages for one list: ``/l/{list}/admin/...``.

Who sees what: a list's moderators (and its owners, and site admins) see the overview, the
queue of held posts and decide them, the bans and expulsions, and the audit log; only owners
change the settings and the members.  Whoever is not logged in is sent to the log-in page and
back; an account without the role gets 403, a list that does not exist 404.

Every page works without scripts (the site's Content-Security-Policy forbids them): a form
POSTs, carries the page's CSRF token (:mod:`moot.web.forms`), and is answered with a 303 back
to the page, whose query string says what to report (``?saved=1``: there is no session store
for messages; the words are the page's own or come from the database, so a crafted link cannot
put words of its own on the page).  A form with a mistake is shown again with the error next to
what was typed; a bulk add answers with what became of each address.  Every change is in the
audit log under the acting account's address, written here or by the function that made the
change (settings, moderation decisions, bans and expulsions record themselves).

Why the pages check roles themselves instead of :func:`moot.web.authz.list_role`: that helper
is the API's, and it asks a browser session for an ``X-CSRF-Token`` header, which a plain HTML
form cannot send; here the form's own token is the proof.

The members page reads a page of 100 at a time by address (keyset), so it is as fast deep in a
list of 100,000 as at its start (``bench/members_page.py`` times it); the CSV export is
streamed a thousand rows at a time.  Adding members in bulk takes a pasted block of addresses
(:func:`parse_pasted`), at most :data:`MAX_PASTE` at once; the REST API's ``members.csv`` and
``members/bulk`` share this module's :func:`csv_response` and :func:`bulk_add`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.engine import Connection

from moot.app import Moot
from moot.authz import role_on
from moot.core.address import valid_email
from moot.core.ban import first_match
from moot.core.errors import AlreadyDecided, BadSetting, HoldNotFound, MootError
from moot.core.mailinglist import SETTINGS, ListConfig, validate_setting
from moot.core.member import DELIVERY_MODES, ROLES, Member
from moot.storage import audit, bans, held
from moot.storage import lists as list_store
from moot.storage import members as member_store
from moot.storage.store import now_utc
from moot.web import forms
from moot.web.authz import page_role, viewer

router = APIRouter()

PER_PAGE = 100  # members and audit entries on one page
HELD_PER_PAGE = 50  # held posts on one page (each with its text)
HELD_TEXT = 20_000  # characters of a held post's text shown on the queue page
MAX_PASTE = 10_000  # addresses added at once
_MAX_PASTE_CHARS = MAX_PASTE * 400


def install(app: FastAPI) -> None:
    """Add these pages to the web app: the routes and the
    ``admin_role`` helper the list's home page uses for its "Administration" link."""
    app.include_router(router)
    app.state.templates.env.globals["admin_role"] = admin_role


def admin_role(request: Request, lst: Any) -> str | None:
    """The visitor's role on a list if it lets them administer it (moderator or owner), for
    templates; None for everyone else, and no database look-up without a log-in."""
    from moot.web.accounts import current_user

    if "authorization" not in request.headers and current_user(request) is None:
        return None
    try:
        who = viewer(request)
    except HTTPException:
        return None
    if who.anonymous:
        return None
    with _moot(request).engine.connect() as conn:
        role = role_on(conn, who, lst.id)
    return role if role in ("moderator", "owner") else None


def _moot(request: Request) -> Moot:
    return request.app.state.moot  # type: ignore[no-any-return]


def _base(config: ListConfig) -> str:
    return f"/l/{config.address}/admin"


def _page(request: Request, name: str, config: ListConfig, role: str, section: str,
          status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """An administration page: with the form token, never cached or indexed."""
    ctx.update(lst=config, role=role, section=section, base=_base(config),
               csrf=forms.form_token(request))
    response = request.app.state.templates.TemplateResponse(request, name, ctx,
                                                            status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return forms.set_cookie(request, response)  # type: ignore[return-value]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _number(text: str | None) -> int:
    """A page's number parameter (``after``, ``before``...); 0 for anything else, so that an
    edited link shows the first page instead of an error.

    >>> _number("42"), _number("x"), _number(None), _number("-3")
    (42, 0, 0, 0)
    """
    return int(text) if text and text.isdigit() and len(text) < 19 else 0


# -- overview ---------------------------------------------------------------------------------

_SUB_ADDRESSES = (("request", "email commands (help, subscribe, set digest...)"),
                  ("join", "a message of any content asks to join"),
                  ("leave", "a message of any content asks to leave"),
                  ("owner", "reaches the people who run the list"),
                  ("bounces", "delivery failures come back here"))


@router.get("/l/{address}/admin/", response_class=HTMLResponse)
def overview(request: Request, address: str) -> HTMLResponse:
    config, who, role = page_role(request, address, "moderator")
    with _moot(request).engine.connect() as conn:
        counts = {"members": member_store.count(conn, config.id),
                  "held": len(held.waiting(conn, config.id)),
                  "bans": len(bans.listed(conn, config.id))}
    subs = [(config.sub_address(suffix), what) for suffix, what in _SUB_ADDRESSES]
    return _page(request, "admin/overview.html", config, role, "overview", counts=counts,
                 subs=subs, who=who)


# -- settings ---------------------------------------------------------------------------------

# The settings form's sections, in order; "Joining" comes first: it is how an owner closes
# the list to requests to join.  A setting not named here lands in "Other settings".
SETTING_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Joining", ("subscriptions",)),
    ("About the list", ("display_name", "description")),
    ("Posting", ("posting_policy", "nonmember_action", "new_member_posts", "max_size",
                 "max_recipients", "content_types", "suspicious_headers", "held_expire_days")),
    ("Senders and spam", ("ban_action", "identity_policy", "spam_action")),
    ("What members receive", ("subject_prefix", "reply_to", "footer", "personalize",
                              "dmarc_mitigation")),
    ("Digests", ("digest_period", "digest_size", "digest_format")),
    ("Bounces", ("bounce_threshold", "bounce_warnings")),
    ("Archive", ("archive_policy",)),
)
_LABELS = {"subscriptions": "Who may join", "display_name": "Name",
           "posting_policy": "Who may post", "nonmember_action": "Posts from non-members",
           "new_member_posts": "New members' posts held", "max_size": "Largest post (bytes)",
           "max_recipients": "Most addresses in To and Cc",
           "content_types": "Allowed content types",
           "held_expire_days": "Days before an undecided post is dropped",
           "dmarc_mitigation": "DMARC mitigation", "digest_size": "Digest size (kilobytes)",
           "reply_to": "Replies go to"}
_CHOICE_WORDS = {("subscriptions", "open"): "Open: anyone may ask to join (they confirm by "
                                            "mail)",
                 ("subscriptions", "closed"): "Closed: only the owners add members; requests "
                                              "to join are refused"}


@dataclass
class SettingField:
    """One setting as the form shows it."""

    name: str
    label: str
    kind: str  # str | text | choice | int | list
    help: str
    value: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, words)
    error: str = ""


def _shown(config: ListConfig, name: str) -> str:
    value = getattr(config, name)
    if name == "subject_prefix":
        return config.prefix
    if isinstance(value, tuple):
        return "\n".join(value)
    return str(value)


def _setting_fields(config: ListConfig, typed: dict[str, str], errors: dict[str, str]
                    ) -> list[tuple[str, list[SettingField]]]:
    named = {n for _, names in SETTING_GROUPS for n in names}
    groups = [*SETTING_GROUPS, ("Other settings", tuple(n for n in SETTINGS if n not in named))]
    out = []
    for legend, names in groups:
        fields = []
        for name in names:
            if name not in SETTINGS:
                continue
            kind, help_text = SETTINGS[name]
            choices = []
            if kind.startswith("choice:"):
                choices = [(c, _CHOICE_WORDS.get((name, c), c))
                           for c in kind[len("choice:"):].split("|")]
                kind = "choice"
            if kind == "list":
                help_text += " Here: one per line."
            fields.append(SettingField(
                name, _LABELS.get(name, name.replace("_", " ").capitalize()), kind, help_text,
                typed[name] if name in typed else _shown(config, name), choices,
                errors.get(name, "")))
        if fields:
            out.append((legend, fields))
    return out


def _submitted(name: str, raw: str) -> Any:
    """A setting's value as the form sends it, in the form :func:`validate_setting` takes:
    a list setting is one item a line (content types may also be separated by commas)."""
    kind = SETTINGS[name][0]
    if kind == "list":
        lines = raw.splitlines()
        if name == "content_types":
            lines = [part for line in lines for part in line.split(",")]
        return [line.strip() for line in lines if line.strip()]
    if kind == "int":
        return raw.strip()
    return raw


def _settings_page(request: Request, config: ListConfig, role: str, *,
                   typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                   status_code: int = 200, flash: str = "", error: str = "") -> HTMLResponse:
    return _page(request, "admin/settings.html", config, role, "settings", status_code,
                 groups=_setting_fields(config, typed or {}, errors or {}), flash=flash,
                 error=error)


@router.get("/l/{address}/admin/settings", response_class=HTMLResponse)
def settings_form(request: Request, address: str, saved: str = "") -> HTMLResponse:
    config, _, role = page_role(request, address, "owner")
    return _settings_page(request, config, role, flash="Settings saved." if saved else "")


async def _posted(request: Request) -> dict[str, str]:
    """Every text field of a posted form (the settings form has one per setting)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/l/{address}/admin/settings", response_model=None)
def save_settings(request: Request, address: str,
                  posted: Annotated[dict[str, str], Depends(_posted)]) -> Response:
    """Every field is checked; nothing is stored unless all are right.  Only the settings
    that changed are stored (and so named in the audit log); a setting the form did not send
    stays as it is."""
    forms.check(request, posted.get("csrf", ""))
    config, who, role = page_role(request, address, "owner")
    typed = {k: v for k, v in posted.items() if k in SETTINGS}
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for name, raw in typed.items():
        value = _submitted(name, raw)
        try:
            stored = validate_setting(name, value)
        except BadSetting as exc:
            errors[name] = str(exc)
            continue
        unchanged = stored == getattr(config, name) or (
            name == "subject_prefix" and config.subject_prefix is None and stored == config.prefix)
        if not unchanged:
            changes[name] = value
    if errors:
        return _settings_page(request, config, role, typed=typed, errors=errors,
                              status_code=400, error="Nothing was saved: correct the settings "
                              "marked below and save again.")
    try:
        with _moot(request).engine.begin() as conn:
            list_store.update_settings(conn, config.address, changes, by=who.actor)
    except MootError as exc:
        return _settings_page(request, config, role, typed=typed, status_code=400,
                              error=f"Nothing was saved: {exc}")
    return _see_other(f"{_base(config)}/settings?saved=1")


# -- members ----------------------------------------------------------------------------------

@dataclass
class Pasted:
    """What a pasted block of addresses holds: (address, name) pairs in the order given,
    each address once, and the pieces that are no address, each with why."""

    addresses: list[tuple[str, str]] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.addresses) + len(self.invalid)


_NAMED = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _pieces(line: str) -> Iterator[str]:
    """A line split at commas and semicolons (as mail programs copy several addresses),
    except inside double quotes or angle brackets."""
    piece: list[str] = []
    quoted = angled = escaped = False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;" and not quoted and not angled:
            yield "".join(piece)
            piece = []
            continue
        piece.append(ch)
    yield "".join(piece)


def parse_pasted(text: str) -> Pasted:
    """The addresses in a block an owner pasted: one a line, or several separated by commas
    or semicolons, each bare or as ``Name <address>`` (the name may be in double quotes).

    >>> p = parse_pasted('ada@example.org\\n"Quill, Bob" <Bob@Example.org>, cy@example.org\\n'
    ...                  'ada@example.org\\nnot an address\\nDee <dee@>')
    >>> p.addresses
    [('ada@example.org', ''), ('bob@example.org', 'Quill, Bob'), ('cy@example.org', '')]
    >>> p.invalid
    [('not an address', 'no @ in it'), ('Dee <dee@>', 'no domain after the @')]
    >>> len(parse_pasted(" , \\n\\n"))
    0
    """
    out = Pasted()
    seen: set[str] = set()
    for line in text.splitlines():
        for piece in _pieces(line):
            piece = piece.strip()
            if not piece:
                continue
            named = _NAMED.match(piece)
            name, addr = ("", piece) if named is None else (
                named.group("name").strip(), named.group("addr").strip())
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\").strip()
            name = _CONTROL.sub(" ", name)[:300]
            why = _why_not(addr)
            if why:
                out.invalid.append((piece[:400], why))
                continue
            addr = addr.lower()
            if addr not in seen:
                seen.add(addr)
                out.addresses.append((addr, name))
    return out


def _why_not(addr: str) -> str:
    """Why a string is not an address a list can take ("" if it is one).

    >>> _why_not("ada@example.org"), _why_not("ada@localhost"), _why_not("a b@example.org")
    ('', 'the domain needs a dot, like example.org', 'no spaces allowed')
    """
    if valid_email(addr):
        return ""
    if "@" not in addr:
        return "no @ in it"
    if len(addr) > 320:
        return "longer than 320 characters"
    local, _, domain = addr.rpartition("@")
    if not domain:
        return "no domain after the @"
    if not local:
        return "nothing before the @"
    if re.search(r"\s", addr):
        return "no spaces allowed"
    if "@" in local:
        return "more than one @"
    if "." not in domain:
        return "the domain needs a dot, like example.org"
    return "not an address like name@example.org"


class BadPaste(MootError):
    """A pasted block the bulk add refuses as a whole (too many addresses)."""


def bulk_add(conn: Connection, moot: Moot, config: ListConfig, text: str, *, invite: bool,
             welcome: bool, by: str) -> dict[str, Any]:
    """Add the addresses in a pasted block (see :func:`parse_pasted`) in the caller's
    transaction: subscribed at once (with a welcome message if ``welcome``), or, with
    ``invite``, each sent a request to confirm.  Members already, banned addresses (they stay
    out) and pieces that are no address are reported, not added.  Each addition is in the
    audit log.  :class:`BadPaste` for more than :data:`MAX_PASTE` addresses."""
    if len(text) > _MAX_PASTE_CHARS:
        raise BadPaste(f"That paste is too long: add at most {MAX_PASTE:,} addresses at a time.")
    pasted = parse_pasted(text)
    if len(pasted) > MAX_PASTE:
        raise BadPaste(f"That paste holds {len(pasted):,} addresses; add at most "
                       f"{MAX_PASTE:,} at a time (split it in parts).")
    now = now_utc()
    result: dict[str, Any] = {"added": [], "already": [], "invited": [],
                              "invalid": [{"address": a, "why": w} for a, w in pasted.invalid],
                              "banned": []}
    membership = moot.membership
    # Looked up once for the whole paste, not once an address: the same answers as
    # Membership.banned and get_member give, in the same transaction.
    patterns = member_store.ban_patterns(conn, config.id, now)
    members = member_store.existing(conn, config.id, [e for e, _ in pasted.addresses])
    quiet: list[Member] = []  # subscribed at once without a welcome: one INSERT for all
    for email, name in pasted.addresses:
        if email in members:
            result["already"].append(email)
        elif first_match(patterns, email) is not None:
            result["banned"].append(email)
        elif invite:
            membership.request_subscribe(conn, config, email, now, by_owner=True)
            audit.record(conn, config.id, by, "member:invite", email, "", now)
            result["invited"].append(email)
        else:
            quiet.append(Member(email, name=name))
            result["added"].append(email)
    # One statement for the members and two for their welcomes, however many were pasted.
    member_store.add_members(conn, config.id, quiet, now)
    if welcome:
        membership.welcome_many(conn, config, [x.email for x in quiet], now)
    for member in quiet:
        audit.record(conn, config.id, by, "member:add", member.email,
                     "welcomed" if welcome else "no welcome message", now)
    return result


CSV_COLUMNS = ("email", "name", "role", "delivery", "nomail", "moderated", "subscribed_at")


def csv_cell(value: str) -> str:
    """A cell as a spreadsheet will not run as a formula (CSV injection): text starting with
    ``= + - @`` (or a tab or carriage return) gets a leading apostrophe.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("@SUM(A1)"), csv_cell("Ada"), csv_cell("")
    ("'=HYPERLINK(1)", "'@SUM(A1)", 'Ada', '')
    """
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def members_csv(moot: Moot, list_id: int, batch: int = 1000) -> Iterator[str]:
    """Every member of a list as CSV text, a header row first, read ``batch`` rows at a time
    (each batch on a connection of its own, so a slow download holds none)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(CSV_COLUMNS)
    after = ""
    while True:
        with moot.engine.connect() as conn:
            rows = member_store.export_batch(conn, list_id, after=after, limit=batch)
        for r in rows:
            out.writerow([csv_cell(r.email), csv_cell(r.name or ""), r.role, r.delivery,
                          "true" if r.nomail else "false", "true" if r.moderated else "false",
                          r.subscribed_at.isoformat(timespec="seconds") + "Z"])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < batch:
            return
        after = rows[-1].email


def csv_response(moot: Moot, config: ListConfig) -> StreamingResponse:
    """The members of a list as a CSV download, streamed."""
    return StreamingResponse(members_csv(moot, config.id), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": "attachment; "
                                      f'filename="{config.list_id}-members.csv"',
                                      "Cache-Control": "no-store"})


def _members_url(config: ListConfig, q: str = "", role: str = "", after: str = "",
                 **flash: str) -> str:
    params = {k: v for k, v in (("q", q), ("role", role), ("after", after), *flash.items())
              if v}
    return f"{_base(config)}/members" + (f"?{urlencode(params)}" if params else "")


def _members_page(request: Request, config: ListConfig, role: str, *, q: str = "",
                  role_filter: str = "", after: str = "", status_code: int = 200,
                  **ctx: Any) -> HTMLResponse:
    q, after = q.strip()[:320], after.strip().lower()[:320]
    role_filter = role_filter if role_filter in ROLES else ""
    with _moot(request).engine.connect() as conn:
        rows, total = member_store.page(conn, config.id, query=q, role=role_filter,
                                        after=after, limit=PER_PAGE + 1)
        first = member_store.count(conn, config.id, query=q, role=role_filter,
                                   upto=after) + 1 if after else 1
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    ctx.setdefault("welcome", True)
    return _page(request, "admin/members.html", config, role, "members", status_code,
                 members=rows, total=total, first=first, q=q, role_filter=role_filter,
                 after=after, roles=ROLES, deliveries=DELIVERY_MODES, max_paste=MAX_PASTE,
                 next_url=_members_url(config, q, role_filter, rows[-1].email)
                 if more else "",
                 first_url=_members_url(config, q, role_filter) if after else "",
                 here=urlencode({k: v for k, v in (("q", q), ("role", role_filter),
                                                   ("after", after)) if v}), **ctx)


def _back_params(back: str) -> dict[str, str]:
    """q, role and after of the members page a form came from (nothing else)."""
    from urllib.parse import parse_qs

    found = parse_qs(back[:2000])
    return {k: found[k][0] for k in ("q", "role", "after") if found.get(k)}


@router.get("/l/{address}/admin/members", response_class=HTMLResponse)
def members_page(request: Request, address: str, q: str = "", role: str = "",
                 after: str = "", removed: str = "", changed: str = "") -> HTMLResponse:
    config, _, my_role = page_role(request, address, "owner")
    flash = ""
    if _number(removed):
        flash = f"Removed {_number(removed)} member{'s' if _number(removed) != 1 else ''}."
    elif changed:
        with _moot(request).engine.connect() as conn:
            found = member_store.get_member(conn, config.id, changed)
        flash = f"Saved the options of {found.email}." if found else ""
    return _members_page(request, config, my_role, q=q, role_filter=role, after=after,
                         flash=flash)


@router.get("/l/{address}/admin/members.csv")
def members_download(request: Request, address: str) -> StreamingResponse:
    config, _, _ = page_role(request, address, "owner")
    return csv_response(_moot(request), config)


@router.post("/l/{address}/admin/members/add", response_class=HTMLResponse)
def add_members(request: Request, address: str, addresses: str = Form(""),
                invite: str = Form(""), welcome: str = Form(""),
                csrf: str = Form("")) -> HTMLResponse:
    forms.check(request, csrf)
    config, who, role = page_role(request, address, "owner")
    moot = _moot(request)
    if not addresses.strip():
        return _members_page(request, config, role, status_code=400, paste=addresses,
                             invite=bool(invite), welcome=bool(welcome),
                             error="Paste at least one address to add.")
    try:
        with moot.engine.begin() as conn:
            results = bulk_add(conn, moot, config, addresses, invite=bool(invite),
                               welcome=bool(welcome), by=who.actor)
    except BadPaste as exc:
        return _members_page(request, config, role, status_code=400, paste=addresses,
                             invite=bool(invite), welcome=bool(welcome), error=str(exc))
    return _members_page(request, config, role, results=results)


def _owners_left(conn: Connection, list_id: int, without: set[str]) -> int:
    return sum(1 for o in member_store.owners(conn, list_id) if o.email not in without)


_LAST_OWNER = ("{email} is the last owner of {address}: make another member an owner first, "
               "so that someone can still run the list.")


def _members_again(request: Request, config: ListConfig, role: str, params: dict[str, str],
                   status_code: int, error: str) -> HTMLResponse:
    """The members page a form came from, again, with what went wrong."""
    return _members_page(request, config, role, q=params.get("q", ""),
                         role_filter=params.get("role", ""), after=params.get("after", ""),
                         status_code=status_code, error=error)


@router.post("/l/{address}/admin/members/remove", response_model=None)
def remove_members(request: Request, address: str,
                   email: Annotated[list[str] | None, Form()] = None, goodbye: str = Form(""),
                   back: str = Form(""), csrf: str = Form("")) -> Response:
    """Remove the ticked members (all or none: never the last owner)."""
    forms.check(request, csrf)
    config, who, role = page_role(request, address, "owner")
    moot = _moot(request)
    chosen = sorted({e.strip().lower() for e in email or [] if e.strip()})
    params = _back_params(back)
    if not chosen:
        return _members_again(request, config, role, params, 400,
                              "Tick the members to remove first.")
    now = now_utc()
    last = ""
    removed = 0
    with moot.engine.begin() as conn:
        owners = {o.email for o in member_store.owners(conn, config.id)}
        if owners and owners <= set(chosen):
            last = (_LAST_OWNER.format(email=min(owners), address=config.address)
                    if len(owners) == 1 else
                    f"You chose every owner of {config.address} ({', '.join(sorted(owners))})"
                    ": keep at least one, so that someone can still run the list.")
        else:
            for addr in chosen:
                if moot.membership.unsubscribe_now(conn, config, addr, now,
                                                   goodbye=bool(goodbye)):
                    audit.record(conn, config.id, who.actor, "member:remove", addr,
                                 "told" if goodbye else "not told", now)
                    removed += 1
    if last:
        return _members_again(request, config, role, params, 409, last)
    return _see_other(_members_url(config, **params, removed=str(removed)))


@router.post("/l/{address}/admin/members/edit", response_model=None)
def edit_member(request: Request, address: str, email: str = Form(""),
                role: str = Form("member"), delivery: str = Form("regular"),
                nomail: str = Form(""), moderated: str = Form(""), back: str = Form(""),
                csrf: str = Form("")) -> Response:
    """Change one member's role and delivery options (never demoting the last owner)."""
    forms.check(request, csrf)
    config, who, my_role = page_role(request, address, "owner")
    params = _back_params(back)
    if role not in ROLES or delivery not in DELIVERY_MODES:
        return _members_again(request, config, my_role, params, 400,
                              f"Role is one of {', '.join(ROLES)}; delivery one of "
                              f"{', '.join(DELIVERY_MODES)}.")
    moot = _moot(request)
    wanted = {"role": role, "delivery": delivery, "nomail": bool(nomail),
              "moderated": bool(moderated)}
    problem: tuple[int, str] | None = None
    with moot.engine.begin() as conn:
        member = member_store.get_member(conn, config.id, email.strip())
        if member is None:
            problem = (404, f"{email.strip()} is not a member of {config.address}.")
        elif member.role == "owner" and role != "owner" and _owners_left(
                conn, config.id, {member.email}) == 0:
            problem = (409, _LAST_OWNER.format(email=member.email, address=config.address))
        else:
            changes = {k: v for k, v in wanted.items() if getattr(member, k) != v}
            if changes:
                member_store.update_member(conn, config.id, member.email, **changes)
                audit.record(conn, config.id, who.actor, "member:change", member.email,
                             "; ".join(f"{k}={str(v).lower()}" for k, v in changes.items()))
    if problem is not None or member is None:
        status, error = problem or (404, "")
        return _members_again(request, config, my_role, params, status, error)
    return _see_other(_members_url(config, **params, changed=member.email))


# -- held posts -------------------------------------------------------------------------------

DECISIONS = (("approve", "Approve"), ("reject", "Reject"), ("discard", "Discard"),
             ("defer", "Defer"), ("approve+unmoderate", "Approve and unmoderate sender"),
             ("approve+accept", "Approve and always accept sender"))


@router.get("/l/{address}/admin/held", response_class=HTMLResponse)
def held_queue(request: Request, address: str, after: str = "",
               decided: str = "") -> HTMLResponse:
    from moot.core.parse import parse_message
    from moot.web.render import render_body

    config, _, role = page_role(request, address, "moderator")
    moot = _moot(request)
    flash = ""
    with moot.engine.connect() as conn:
        waiting = held.waiting_after(conn, config.id, _number(after))
        posts = []
        for row in waiting[:HELD_PER_PAGE]:
            full = held.get_held(conn, config.id, row.id)
            if full is None:
                continue
            parsed = parse_message(held.raw_of(full))
            text = parsed.body_text
            cut = max(0, len(text) - HELD_TEXT)
            posts.append({"hold": row, "parsed": parsed, "body": render_body(text[:HELD_TEXT]),
                          "cut": cut, "reasons": [r for r in row.reasons.split("\n") if r]})
        if _number(decided):
            done = held.get_held(conn, config.id, _number(decided))
            if done is not None:
                subject = done.subject or "no subject"
                flash = (f"Post #{done.id} ({subject}) stays in the queue."
                         if done.decision is None else
                         f"Post #{done.id} ({subject}): {done.decision}"
                         f"{' by ' + done.decided_by if done.decided_by else ''}.")
        total = len(held.waiting(conn, config.id))
    more = len(waiting) > HELD_PER_PAGE
    return _page(request, "admin/held.html", config, role, "held", posts=posts, total=total,
                 decisions=DECISIONS, flash=flash,
                 first_url=f"{_base(config)}/held" if _number(after) else "",
                 next_url=f"{_base(config)}/held?after={posts[-1]['hold'].id}"
                 if more and posts else "")


@router.post("/l/{address}/admin/held/{hold_id}", response_model=None)
def decide(request: Request, address: str, hold_id: int, decision: str = Form(""),
           reason: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    config, who, _ = page_role(request, address, "moderator")
    if decision not in dict(DECISIONS):
        raise HTTPException(400, f"Choose one of: {', '.join(dict(DECISIONS))}.")
    moot = _moot(request)
    reason = " ".join(reason.split())[:1000]
    try:
        with moot.engine.begin() as conn:
            outcome = moot.inbound.moderate(conn, config, hold_id, decision, by=who.actor,
                                            reason=reason)
    except HoldNotFound:
        raise HTTPException(404, f"There is no held post #{hold_id} on {config.address}."
                            ) from None
    except AlreadyDecided:
        return _see_other(f"{_base(config)}/held?decided={hold_id}")
    if outcome.message_pk is not None:
        moot.search.catch_up()
    return _see_other(f"{_base(config)}/held?decided={hold_id}")


# -- bans and expulsions ----------------------------------------------------------------------

_BAN_DONE = {"ban": "Ban added.", "lift": "Ban lifted.",
             "expel": "Expelled: no longer a member, and banned.",
             "readmit": "Readmitted: the address may join again."}


def _bans_page(request: Request, config: ListConfig, role: str, status_code: int = 200,
               **ctx: Any) -> HTMLResponse:
    with _moot(request).engine.connect() as conn:
        found = bans.listed(conn, config.id)
    ctx.setdefault("typed", {})
    return _page(request, "admin/bans.html", config, role, "bans", status_code, bans=found,
                 **ctx)


@router.get("/l/{address}/admin/bans", response_class=HTMLResponse)
def bans_page(request: Request, address: str, done: str = "") -> HTMLResponse:
    config, _, role = page_role(request, address, "moderator")
    return _bans_page(request, config, role, flash=_BAN_DONE.get(done, ""))


def _ban_action(request: Request, address: str, action: str, typed: dict[str, str],
                form: str) -> Response:
    """Carry out one of the bans page's forms; its error (if any) is shown on the page next to
    the form ``form``, with what was typed."""
    from moot.expulsion import NotAllowed, ban, expel, readmit, unban

    config, who, role = page_role(request, address, "moderator")
    moot = _moot(request)
    now = now_utc()
    try:
        with moot.engine.begin() as conn:
            if action == "ban":
                days_text = typed.get("days", "").strip()
                days = None
                if days_text:
                    try:
                        days = float(days_text)
                    except ValueError:
                        days = -1.0
                    if not 0 < days <= 36_500:
                        raise NotAllowed("Days is a number above 0, or empty for a ban "
                                         "without end.")
                ban(conn, config, typed.get("pattern", ""), reason=typed.get("reason", ""),
                    by=who.actor, now=now, days=days)
            elif action == "lift":
                unban(conn, config, typed.get("pattern", ""), by=who.actor, now=now)
            elif action == "expel":
                appeal = typed.get("appeal", "").strip()
                if appeal and not valid_email(appeal):
                    raise NotAllowed("The appeal address must be an address like "
                                     "name@example.org (or empty: the list's owners).")
                target = member_store.get_member(conn, config.id, typed.get("email", ""))
                if target is not None and target.role == "owner":
                    # A moderator must not put the owners out, nor anyone the last owner.
                    if role != "owner":
                        raise NotAllowed(f"{target.email} is an owner of {config.address}; "
                                         "only an owner may expel an owner.")
                    if _owners_left(conn, config.id, {target.email}) == 0:
                        raise NotAllowed(_LAST_OWNER.format(email=target.email,
                                                            address=config.address))
                expel(conn, moot.membership, config, typed.get("email", ""),
                      reason=typed.get("reason", ""), by=who.actor, now=now,
                      notify=bool(typed.get("notify")), appeal=appeal or None)
            else:
                readmit(conn, config, typed.get("email", ""), by=who.actor, now=now)
    except (BadSetting, MootError) as exc:
        status = 409 if "already" in str(exc) else 400
        return _bans_page(request, config, role, status, error=str(exc), form=form,
                          typed=typed)
    return _see_other(f"{_base(config)}/bans?done={action}")


@router.post("/l/{address}/admin/bans", response_model=None)
def add_ban(request: Request, address: str, pattern: str = Form(""), reason: str = Form(""),
            days: str = Form(""), csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    return _ban_action(request, address, "ban",
                       {"pattern": pattern, "reason": reason[:1000], "days": days}, "ban")


@router.post("/l/{address}/admin/bans/lift", response_model=None)
def lift_ban(request: Request, address: str, pattern: str = Form(""),
             csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    return _ban_action(request, address, "lift", {"pattern": pattern}, "list")


@router.post("/l/{address}/admin/bans/expel", response_model=None)
def expel_member(request: Request, address: str, email: str = Form(""),
                 reason: str = Form(""), notify: str = Form(""), appeal: str = Form(""),
                 csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    return _ban_action(request, address, "expel", {"email": email, "reason": reason[:1000],
                                                   "notify": notify, "appeal": appeal},
                       "expel")


@router.post("/l/{address}/admin/bans/readmit", response_model=None)
def readmit_member(request: Request, address: str, email: str = Form(""),
                   csrf: str = Form("")) -> Response:
    forms.check(request, csrf)
    return _ban_action(request, address, "readmit", {"email": email}, "list")


# -- the audit log ----------------------------------------------------------------------------

@router.get("/l/{address}/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, address: str, before: str = "") -> HTMLResponse:
    config, _, role = page_role(request, address, "moderator")
    older_than = _number(before) or None
    with _moot(request).engine.connect() as conn:
        found = audit.entries_before(conn, config.id, before=older_than, limit=PER_PAGE + 1)
    more = len(found) > PER_PAGE
    found = found[:PER_PAGE]
    return _page(request, "admin/audit.html", config, role, "audit", entries=found,
                 before=older_than,
                 older_url=f"{_base(config)}/audit?before={found[-1]['id']}" if more else "",
                 newest_url=f"{_base(config)}/audit" if older_than is not None else "")
