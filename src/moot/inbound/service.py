"""What happens to one piece of mail that reached one of our addresses.

The LMTP server and ``moot inject`` both hand mail here, as a :class:`Job` (envelope sender,
the parsed recipient, raw bytes).  This module does the looking up (the list, the sender's
membership, bans), asks the core what to do (:func:`moot.core.policy.decide`), and writes the
result: the archived post and its queued delivery, a held post and its notices, a subscription
request, a bounce kept for later — each in one transaction, committed before the caller answers
250.  Nothing here speaks SMTP.

Moderation: :meth:`Inbound.moderate` carries out a decision on a held post (from the CLI, the
REST API, the moderators' web page, or a reply to a signed ``LIST-confirm+TOKEN@`` address:
see :mod:`moot.core.moderation`), recorded in the audit log by :mod:`moot.moderation`.

Writes go through one thread (:class:`InboundQueue`): SQLite has one writer anyway, and jobs
that arrive together are committed together (one fsync for many posts).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, insert
from sqlalchemy.engine import Connection

from moot.core import moderation as mod
from moot.core import notices
from moot.core.address import Recipient, valid_email
from moot.core.ban import first_match
from moot.core.commands import HELP_TEXT, parse_commands
from moot.core.decorate import decorate
from moot.core.errors import AlreadyDecided, BadSetting, HoldNotFound
from moot.core.identity import Identity, Roster
from moot.core.mailinglist import ListConfig
from moot.core.message import ParsedMessage
from moot.core.parse import not_mail_reason, parse_message
from moot.core.policy import Situation, decide, needed_headers, post_from_bytes
from moot.membership import Membership, aware, new_message_id
from moot.moderation import close, hold_links, row_key, target
from moot.storage import audit, digests, held, outbox, senders
from moot.storage import members as m
from moot.storage import schema as s
from moot.storage.codec import CODEC, compress_many
from moot.storage.db import writing
from moot.storage.lists import get_config
from moot.storage.store import Incoming, Store, now_utc, sha256
from moot.storage.templates import text as own_text

log = logging.getLogger("moot.inbound")

SENDER_LISTS_FOR = 2.0  # seconds a list's bans and sender rules are remembered


@dataclass(frozen=True)
class Job:
    envelope_sender: str
    recipient: Recipient
    raw: bytes
    # Checked before the job reached the writer (DNS and filters are slow): who the sender
    # really is (None: not checked) and why the spam filter flagged it (None: it did not).
    identity: Identity | None = None
    spam: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one job, for the sender's mail server (and ``moot inject``)."""

    status: str  # accepted | held | rejected | failed
    reasons: tuple[str, ...] = ()
    detail: str = ""
    message_pk: int | None = None

    def line(self) -> str:
        """``accepted``, ``held: REASON; REASON`` or ``rejected: REASON`` (the contract); a
        post the list drops silently is ``accepted`` for its sender's mail server, and
        ``discarded: REASON`` here."""
        if self.status == "accepted":
            return self.detail if self.detail.startswith("discarded: ") else "accepted"
        return f"{self.status}: " + "; ".join(self.reasons or (self.detail,))


def _auto_reply_allowed(envelope_sender: str, headers: dict[str, str]) -> bool:
    """RFC 3834: never answer the null sender, automatic mail or mail from a list."""
    if not envelope_sender or envelope_sender == "<>":
        return False
    auto = headers.get("auto-submitted", "no").strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    return auto in ("", "no") and precedence not in ("bulk", "junk", "list")


def _header_map(raw: bytes) -> dict[str, str]:
    from moot.core.headers import pick_headers

    return pick_headers(raw, _AUTO_HEADERS)


_AUTO_HEADERS = (b"auto-submitted", b"precedence")


@dataclass
class _Accepted:
    """A post the rules accepted, waiting to be archived with the rest of its batch."""

    config: ListConfig
    raw: bytes
    parsed: ParsedMessage
    sender: str
    incoming: Incoming | None = None
    identity: Identity | None = None
    member: bool = True  # the sender is a member (False: nothing to count for them)


@dataclass
class Inbound:
    engine: Engine
    store: Store
    membership: Membership
    base_url: str
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    _rosters: dict[int, tuple[float, Roster]] = field(default_factory=dict, repr=False)
    _senders_cache: dict[int, tuple[float, list[str], Any]] = field(default_factory=dict,
                                                                    repr=False)
    clock: Callable[[], datetime] = now_utc  # naive UTC; tests move it
    # What this process answered, counted once committed (read by moot.web.metrics).
    outcomes: Counter = field(default_factory=lambda: Counter(
        "moot_posts", "Mail the intake pipeline of this process answered, by outcome: "
        "accepted, held, rejected, failed (451, to be retried).", ["outcome"], registry=None),
        repr=False)

    # -- entry points -------------------------------------------------------------------------

    def handle(self, conn: Connection, job: Job, cache: dict[Any, Any] | None = None) -> Outcome:
        """One job, in the caller's transaction."""
        return self.handle_many(conn, [job], cache)[0]

    def handle_many(self, conn: Connection, jobs: Sequence[Job],
                    cache: dict[Any, Any] | None = None) -> list[Outcome]:
        """Jobs in order, in the caller's transaction; the posts they accept are archived
        together at the end, list by list (one archive write for many posts).

        ``cache`` holds what jobs of one batch may share (list settings, bans, recipients);
        anything but a post may change those, so it is emptied after any other job."""
        cache = {} if cache is None else cache
        results: list[Outcome | _Accepted] = []
        for job in jobs:
            try:
                results.append(self._handle(conn, job, cache))
            finally:
                if job.recipient.kind != "post":
                    cache.clear()
        accepted = [r for r in results if isinstance(r, _Accepted)]
        if accepted:
            done = iter(self._distribute_many(conn, accepted, self.clock(), cache))
            results = [next(done) if isinstance(r, _Accepted) else r for r in results]
        return results  # type: ignore[return-value]

    def _handle(self, conn: Connection, job: Job, cache: dict[Any, Any]
                ) -> Outcome | _Accepted:
        now = self.clock()
        key = ("config", job.recipient.list_address)
        if key not in cache:
            cache[key] = get_config(conn, job.recipient.list_address)
        config = cache[key]
        if config is None:
            return Outcome("rejected", (f"no list {job.recipient.list_address} here",))
        kind = job.recipient.kind
        if kind == "bounces":
            conn.execute(insert(s.bounces), {
                "list_id": config.id, "token": job.recipient.token, "codec": CODEC,
                "data": compress_many([job.raw])[0], "received_at": now, "processed": False})
            return Outcome("accepted", detail="bounce kept")
        reason = not_mail_reason(job.raw)
        if reason is not None:
            self.store.add_reject(config.id, job.raw, f"lmtp:{kind}", reason, conn=conn)
            return Outcome("rejected", (f"not an email message ({reason})",))
        parsed = parse_message(job.raw)
        if kind == "post":
            return self._post(conn, config, job, parsed, now, cache)
        if kind == "owner":
            return self._to_owners(conn, config, job, parsed, now)
        return self._request(conn, config, job, parsed, now)

    # -- posts -------------------------------------------------------------------------------

    def _post(self, conn: Connection, config: ListConfig, job: Job, parsed: ParsedMessage,
              now: datetime, cache: dict[Any, Any]) -> Outcome | _Accepted:
        post = post_from_bytes(job.raw, envelope_sender=job.envelope_sender.lower(),
                               body_text=parsed.body_text,
                               only_headers=needed_headers(config),
                               mime_types=bool(config.content_types))
        sender = post.sender or post.envelope_sender
        member = m.get_member(conn, config.id, sender) if sender else None
        patterns, rules = self._sender_lists(conn, config.id, now)
        ban = first_match(patterns, sender) or first_match(patterns, post.envelope_sender)
        rule = senders.first_rule(rules, sender) if sender else None
        accepted = 0
        if member is not None and config.new_member_posts > 0:
            accepted = senders.accepted_posts(conn, config.id, member.email)
        identity = job.identity
        impersonates, auth_before = None, 0
        if identity is not None:
            name = parsed.from_name or ""
            impersonates = self._roster(conn, config.id).lookalike(name, sender)
            if member is not None and identity.verdict != "verified":
                auth_before = m.auth_passes(conn, config.id, member.email)
        verdict = decide(post, config, Situation(
            member=member, ban=ban, sender_rule=rule, accepted_posts=accepted,
            identity=identity.verdict if identity else "",
            identity_how=identity.how if identity else "", impersonates=impersonates,
            auth_before=auth_before, spam=job.spam))
        reasons = tuple(r.text for r in verdict.reasons)
        if verdict.action == "reject":
            return Outcome("rejected", reasons)
        if verdict.action == "discard":  # silently: the sender's server hears "accepted"
            return Outcome("accepted", detail="discarded: " + "; ".join(reasons))
        if verdict.action == "hold":
            earlier = held.received_since(conn, config.id, now - mod.NOTICE_WINDOW)
            hid = held.hold(conn, list_id=config.id, message_id=parsed.message_id, sender=sender,
                            envelope_sender=post.envelope_sender, subject=parsed.subject,
                            reasons=list(reasons), raw=job.raw, now=now)
            self._notify_hold(conn, config, job, parsed, sender, hid, list(reasons), now,
                              tell_moderators=mod.tell_at_once(earlier))
            return Outcome("held", reasons)
        return _Accepted(config, job.raw, parsed, sender, identity=identity,
                         member=member is not None)

    def _sender_lists(self, conn: Connection, list_id: int, now: datetime
                      ) -> tuple[list[str], Any]:
        """The list's ban patterns (its own and the site's) and sender rules, read again
        after :data:`SENDER_LISTS_FOR` seconds: at a few hundred posts a second, reading
        them for every batch cost a tenth of the writer's time.  A new ban or rule takes
        effect within that time."""
        cached = self._senders_cache.get(list_id)
        if cached is None or time.monotonic() - cached[0] > SENDER_LISTS_FOR:
            cached = (time.monotonic(), m.ban_patterns(conn, list_id, now),
                      senders.rules(conn, list_id))
            self._senders_cache[list_id] = cached
        return cached[1], cached[2]

    def forget_sender_lists(self) -> None:
        """Read bans and sender rules afresh at the next post (after changing them here)."""
        self._senders_cache.clear()

    def _roster(self, conn: Connection, list_id: int) -> Roster:
        """The list's members prepared for look-alike checks, remade every minute."""
        cached = self._rosters.get(list_id)
        if cached is None or time.monotonic() - cached[0] > 60:
            cached = (time.monotonic(), Roster(m.names_and_addresses(conn, list_id)))
            self._rosters[list_id] = cached
        return cached[1]

    def distribute(self, conn: Connection, config: ListConfig, raw: bytes,
                   parsed: ParsedMessage, sender: str, now: datetime) -> Outcome:
        """Archive one accepted post and queue it for every member who gets it now."""
        return self._distribute_many(conn, [_Accepted(config, raw, parsed, sender)], now, {})[0]

    def _distribute_many(self, conn: Connection, posts: Sequence[_Accepted], now: datetime,
                         cache: dict[Any, Any]) -> list[Outcome]:
        by_list: dict[int, list[_Accepted]] = {}
        for p in posts:
            if p.config.archive_policy != "none":
                p.incoming = Incoming(p.raw, p.parsed, sha256(p.raw), identity=json.dumps(
                    p.identity.as_json(), ensure_ascii=False) if p.identity else None)
                by_list.setdefault(p.config.id, []).append(p)
        keys: dict[int, int] = {}  # id(Incoming) -> message key
        for list_id, group in by_list.items():
            result = self.store.add_messages(list_id, [p.incoming for p in group], conn=conn)
            keys.update((id(i), k) for i, k in zip(result.items, result.stored, strict=True))
        out: list[Outcome] = []
        for p in posts:
            pk: int | None = None
            if p.incoming is not None:
                pk = keys.get(id(p.incoming))
                if pk is None:
                    # The same bytes again: a mail server resending after a lost 250.  It was
                    # archived and queued the first time; doing it again would deliver it twice.
                    out.append(Outcome("accepted", detail="already accepted"))
                    continue
            config = p.config
            data = decorate(p.raw, config, base_url=self.base_url,
                            message_id=p.parsed.message_id, archived=pk is not None,
                            member_footer=config.personalize == "member")
            if ("recipients", config.id) not in cache:
                cache["recipients", config.id] = m.post_recipients(conn, config.id)
            sender = p.sender.lower()
            rcpts = [r for r, own in cache["recipients", config.id] if own or r != sender]
            personal = config.personalize == "member"
            outbox.enqueue(conn, list_id=config.id, kind="post",
                           mail_from=config.bounces_address, data=data,
                           recipients=[(r, personal) for r in rcpts], now=now, message_pk=pk)
            if ("digest", config.id) not in cache:
                cache["digest", config.id] = digests.has_digest_members(conn, config.id)
            if cache["digest", config.id]:
                digests.queue_post(conn, config.id, data, now)
            if p.member:
                senders.count_accepted(conn, config.id, sender)  # one post nearer trust
            if p.identity is not None and p.identity.verdict == "verified" and p.member:
                m.count_auth_pass(conn, config.id, sender, now)
            out.append(Outcome("accepted", message_pk=pk))
        return out

    def _notify_hold(self, conn: Connection, config: ListConfig, job: Job,
                     parsed: ParsedMessage, sender: str, hold_id: int, reasons: list[str],
                     now: datetime, *, tell_moderators: bool = True) -> None:
        """The author is told (with a signed address to withdraw the post); the moderators
        too, with signed addresses and a page to decide, unless this hold waits for their
        summary (:func:`moot.moderation.send_hold_summaries`)."""
        send = self.membership.send_notice
        links = hold_links(self.membership.secret, self.base_url, config, hold_id,
                           mod.hold_key(parsed.message_id, now))
        if (valid_email(sender)
                and _auto_reply_allowed(job.envelope_sender, _header_map(job.raw))):
            send(conn, config, sender, notices.held_for_moderation(
                config, sender, subject=notices.one_line(parsed.subject), reasons=reasons,
                in_reply_to=parsed.message_id, message_id=new_message_id(config),
                date=aware(now), withdraw_address=links.withdraw,
                text=own_text(conn, config.id, "held_for_moderation")), now)
        if not tell_moderators:
            return
        for moderator in m.moderators(conn, config.id):
            send(conn, config, moderator.email, notices.moderator_notice(
                config, moderator.email, hold_id=hold_id,
                sender=notices.one_line(sender) or "(unknown sender)",
                subject=notices.one_line(parsed.subject), reasons=reasons,
                moderate_url=links.page, approve_address=links.approve,
                reject_address=links.reject, discard_address=links.discard,
                message_id=new_message_id(config), date=aware(now)), now)

    def _to_owners(self, conn: Connection, config: ListConfig, job: Job, parsed: ParsedMessage,
                   now: datetime) -> Outcome:
        owners = [o.email for o in m.owners(conn, config.id)]
        if not owners:
            # Nobody to forward to: keep it where a moderator will see it.
            held.hold(conn, list_id=config.id, message_id=parsed.message_id,
                      sender=parsed.from_addr, envelope_sender=job.envelope_sender,
                      subject=parsed.subject, raw=job.raw, now=now,
                      reasons=["mail for the list's owners, but the list has no owner"])
            return Outcome("held", ("the list has no owner yet",))
        outbox.enqueue(conn, list_id=config.id, kind="forward", mail_from=config.bounces_address,
                       data=job.raw, recipients=owners, now=now)
        return Outcome("accepted", detail="forwarded to the owners")

    # -- moderation ---------------------------------------------------------------------------

    def moderate(self, conn: Connection, config: ListConfig, hold_id: int, decision: str, *,
                 by: str, reason: str = "", now: datetime | None = None) -> Outcome:
        """Decide one held post, with a line in the audit log:

        - approve: deliver and archive it as if it had passed;
        - approve+unmoderate: the same, and if the sender is a member, their posts are no
          longer held (neither as a moderated member nor as a new one);
        - approve+accept: the same, and a sender rule accepts the sender's posts from now on;
        - reject: tell the author why (``reason``); discard: drop it silently;
        - defer: leave it waiting (only the audit log notes it, with the reason);
        - withdraw (its author took it back) and expire (nobody decided in time): dropped.

        A hold is decided once: a second decision raises :class:`AlreadyDecided`."""
        if decision not in mod.DECISIONS:
            raise ValueError(f"unknown decision {decision!r}: {', '.join(mod.DECISIONS)}")
        now = now or self.clock()
        row = held.get_held(conn, config.id, hold_id)
        if row is None:
            raise HoldNotFound(config.address, hold_id)
        if decision == "defer":
            if row.decision is not None:
                raise AlreadyDecided(hold_id, row.decision)
            audit.record(conn, config.id, by, "moderate:defer", target(row), reason, now)
            return Outcome("held", (reason or "deferred by a moderator",))
        close(conn, config, row, decision, by=by, reason=reason, now=now)
        raw = held.raw_of(row)
        if decision in mod.APPROVALS:
            outcome = self.distribute(conn, config, raw, parse_message(raw), row.sender, now)
            if decision == "approve+unmoderate":
                self._unmoderate(conn, config, row.sender)
            elif decision == "approve+accept":
                self._accept_always(conn, config, row.sender, by, now)
            return outcome
        if decision == "reject":
            if valid_email(row.sender) and _auto_reply_allowed(row.envelope_sender,
                                                               _header_map(raw)):
                self.membership.send_notice(conn, config, row.sender, notices.rejected(
                    config, row.sender, subject=notices.one_line(row.subject),
                    reason=reason or "a moderator declined it", in_reply_to=row.message_id,
                    message_id=new_message_id(config), date=aware(now),
                    text=own_text(conn, config.id, "rejected")), now)
            return Outcome("rejected", (reason or "rejected by a moderator",))
        default = {"withdraw": "withdrawn by its author",
                   "expire": "nobody decided in time"}.get(decision, "discarded by a moderator")
        return Outcome("discarded", (reason or default,))

    def _unmoderate(self, conn: Connection, config: ListConfig, sender: str) -> None:
        member = m.get_member(conn, config.id, sender) if sender else None
        if member is None:
            return
        m.update_member(conn, config.id, member.email, moderated=False)
        senders.trust(conn, config.id, member.email, config.new_member_posts)

    def _accept_always(self, conn: Connection, config: ListConfig, sender: str, by: str,
                       now: datetime) -> None:
        if not valid_email(sender):
            return  # no address to name in a rule; the post itself is approved
        try:
            pattern = senders.add(conn, config.id, sender, "accept", by=by, now=now)
        except BadSetting:
            return
        audit.record(conn, config.id, by, "sender-rule:accept", pattern, "", now)
        self.forget_sender_lists()

    def _by_token(self, conn: Connection, config: ListConfig, job: Job, parsed: ParsedMessage,
                  now: datetime) -> Outcome | None:
        """Mail to a hold's signed ``LIST-confirm+TOKEN@`` address: a moderator's decision or
        the author's withdrawal.  None when the token is not one of a hold of this list (it
        may be a subscription's confirmation code)."""
        claimed = mod.read_hold_token(job.recipient.token)
        if claimed is None:
            return None
        hold_id, action = claimed
        row = held.get_held(conn, config.id, hold_id)
        if row is None or not mod.check_hold_token(self.membership.secret, config.address,
                                                   job.recipient.token, row_key(row)):
            return None
        if not _auto_reply_allowed(job.envelope_sender, _header_map(job.raw)):
            return Outcome("accepted", detail="automatic mail: nothing done")
        if row.decision is not None:
            return Outcome("accepted", detail=f"post {hold_id} was already decided "
                                              f"({row.decision})")
        if action == "moderate":  # the web page's token, sent by mail: not a decision
            return Outcome("accepted", detail="nothing done: that token is for the web page")
        if action == "withdraw" and not mod.asks_to_withdraw(parsed.subject, parsed.body_text):
            return Outcome("accepted", detail="nothing done: say 'withdraw' to withdraw it")
        who = (parsed.from_addr or job.envelope_sender).strip().lower() or "mail"
        try:
            done = self.moderate(conn, config, hold_id, action, by=who[:320], now=now)
        except AlreadyDecided as exc:
            return Outcome("accepted", detail=str(exc))
        return Outcome("accepted", detail=f"post {hold_id}: {action} ({done.line()})",
                       message_pk=done.message_pk)

    # -- requests: LIST-request, -join, -leave, -confirm ------------------------------------------

    def _request(self, conn: Connection, config: ListConfig, job: Job, parsed: ParsedMessage,
                 now: datetime) -> Outcome:
        headers = _header_map(job.raw)
        who = parsed.from_addr.lower() or job.envelope_sender.lower()
        kind = job.recipient.kind
        if kind == "confirm":
            by_token = self._by_token(conn, config, job, parsed, now)
            if by_token is not None:
                return by_token
            done = self.membership.confirm(conn, job.recipient.token, now)
            return Outcome("accepted", detail="confirmed" if done else "unknown or expired token")
        if not valid_email(who):
            return Outcome("rejected", (f"no usable sender address to answer ({who!r})",))
        if kind == "join":
            text = self.membership.request_subscribe(conn, config, who, now)
            return Outcome("accepted", detail=text)
        if kind == "leave":
            text = self.membership.request_unsubscribe(conn, config, who, now)
            return Outcome("accepted", detail=text)
        # LIST-request: email commands, each answered in one reply.
        parsed_cmds = parse_commands(parsed.subject, parsed.body_text)
        results: list[tuple[str, str]] = []
        for cmd in parsed_cmds.commands:
            results.append((cmd.line, self._command(conn, config, who, cmd.name, cmd.args, now)))
        if not results and not parsed_cmds.unknown:
            results.append(("(no command found)", HELP_TEXT(config)))
        if _auto_reply_allowed(job.envelope_sender, headers):
            self.membership.send_notice(conn, config, who, notices.command_results(
                config, who, results=results, unknown=parsed_cmds.unknown,
                ignored=parsed_cmds.ignored, in_reply_to=parsed.message_id,
                message_id=new_message_id(config), date=aware(now)), now)
        return Outcome("accepted", detail=f"{len(results)} command(s)")

    def _command(self, conn: Connection, config: ListConfig, who: str, name: str,
                 args: tuple[str, ...], now: datetime) -> str:
        ms = self.membership
        if name == "subscribe":
            delivery = "digest" if "digest" in args else "regular"
            return ms.request_subscribe(conn, config, who, now, delivery=delivery)
        if name == "unsubscribe":
            return ms.request_unsubscribe(conn, config, who, now)
        if name == "confirm":
            done = ms.confirm(conn, args[0] if args else "", now)
            if done is None:
                return "that confirmation token is unknown or has expired"
            return f"confirmed: {done[1]} {done[2]}"
        if name == "who":
            member = m.get_member(conn, config.id, who)
            if member is None or member.role != "owner":
                return "only the list's owners may ask who is subscribed"
            everyone = m.all_members(conn, config.id)
            return f"{len(everyone)} members:\n" + "\n".join(
                f"  {x.email} ({x.role}, {x.delivery}{', no mail' if x.nomail else ''})"
                for x in everyone)
        return HELP_TEXT(config)


class InboundQueue:
    """One writer thread; jobs that wait together are committed together.

    ``submit`` may be called from any thread; it returns a future per job.  When a batch's
    transaction fails, each of its jobs is tried again alone, so one bad job cannot take the
    others with it; a job that fails alone gets ``failed`` (the mail server will try again).
    """

    def __init__(self, inbound: Inbound, *, max_batch: int = 64) -> None:
        self.inbound = inbound
        self.max_batch = max_batch
        self._q: queue.Queue[tuple[Job, Future[Outcome]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="moot-inbound", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future[Outcome]:
        fut: Future[Outcome] = Future()
        self._q.put((job, fut))
        return fut

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._process(batch)
            if stop:
                return

    def _process(self, batch: list[tuple[Job, Future[Outcome]]]) -> None:
        try:
            with writing(self.inbound.engine) as conn:
                outcomes = self.inbound.handle_many(conn, [job for job, _ in batch])
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            if len(batch) == 1:
                log.exception("inbound job failed")
                self._keep(batch[0][0], exc)
                self.inbound.outcomes.labels("failed").inc()
                batch[0][1].set_result(Outcome("failed", ("temporary failure; try again",)))
                return
            for item in batch:
                self._process([item])
            return
        self._after_commit()
        for (_, fut), outcome in zip(batch, outcomes, strict=True):
            self.inbound.outcomes.labels(outcome.status).inc()
            fut.set_result(outcome)

    def _keep(self, job: Job, exc: Exception) -> None:
        """A job that failed on its own: keep its bytes with the reason, so that nothing is
        lost even if the mail server gives up retrying (one copy however often it retries)."""
        try:
            with self.inbound.engine.begin() as conn:
                config = get_config(conn, job.recipient.list_address)
                if config is not None:
                    self.inbound.store.add_reject(
                        config.id, job.raw, f"lmtp:{job.recipient.kind}",
                        f"failed while handling it ({type(exc).__name__}: {exc}); "
                        "answered 451", conn=conn)
        except Exception:  # noqa: BLE001 - the database itself is failing; the MTA retries
            log.exception("could not keep the failed job either")

    def _after_commit(self) -> None:
        for callback in self.inbound.after_commit:
            try:
                callback()
            except Exception:  # noqa: BLE001 - the posts are safe; indexing catches up later
                log.exception("after-commit step failed")
