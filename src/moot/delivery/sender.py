"""Hands queued mail to the relay (``moot serve --relay``) and marks each recipient done.

One loop per process: it claims what is due from :mod:`moot.storage.outbox`, sends each message
over a few kept-open SMTP connections (aiosmtplib), one transaction per message, or per
recipient when the copy is personal (each member's own List-Unsubscribe link, RFC 8058, and
their own envelope sender, VERP: ``LIST-bounces+member=domain@``), and records the result.
A recipient the relay refuses for now waits and is tried again; one it refuses for good is
marked failed.  Each transaction is marked as soon as the relay has
answered it, so a crash resends at most the transactions in flight (one per open connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiosmtplib
from sqlalchemy import Engine, select

from moot.core.decorate import add_footer, footer_for, has_member_fields, personalize
from moot.core.dmarc import author_domain, mitigate, needs_mitigation
from moot.core.headers import header_end
from moot.core.mailinglist import ListConfig
from moot.delivery.dmarc import DmarcPolicies
from moot.delivery.signing import Signer
from moot.storage import outbox
from moot.storage import schema as s
from moot.storage.lists import get_config_by_id
from moot.storage.store import now_utc

log = logging.getLogger("moot.delivery")


def verp(config: ListConfig, rcpt: str) -> str | None:
    """The envelope sender of one member's copy (VERP): a bounce then names the member in the
    address it comes back to, whatever the bounce itself says.

    >>> verp(ListConfig("dev@example.org"), "Bob@Mail.example.net")
    'dev-bounces+bob=mail.example.net@example.org'
    >>> verp(ListConfig("dev@example.org"), "odd address@x") is None
    True
    """
    local, at, domain = rcpt.strip().lower().rpartition("@")
    if not at or not local or not domain or not _VERP_SAFE.match(local + domain):
        return None
    return config.sub_address(f"bounces+{local}={domain}")


_VERP_SAFE = re.compile(r"^[a-z0-9.!#$%&'*/=?^_`{|}~+-]+$")


def by_domain(rcpts: list[tuple[int, str, bool]], most: int
              ) -> list[list[tuple[int, str, bool]]]:
    """Recipients in groups of at most ``most`` that share a domain: one SMTP transaction
    each, which the receiving side can take in one go.

    >>> [[r[1] for r in g] for g in by_domain(
    ...     [(1, "a@x.org", False), (2, "b@y.org", False), (3, "c@X.org", False)], 5)]
    [['a@x.org', 'c@X.org'], ['b@y.org']]
    """
    domains: dict[str, list[tuple[int, str, bool]]] = {}
    for r in rcpts:
        domains.setdefault(r[1].rpartition("@")[2].lower(), []).append(r)
    return [group[i:i + most] for group in domains.values()
            for i in range(0, len(group), most)]


class RelayDown(Exception):
    """The relay cannot be reached at all: every queued row waits, none is charged."""

    done: tuple[list[int], list[tuple[int, str, bool]]] = ([], [])


@dataclass
class Sender:
    engine: Engine
    relay: tuple[str, int]
    unsubscribe_url: Callable[[ListConfig, str], str]
    batch: int = 5000  # recipients claimed at a time
    per_transaction: int = 100  # recipients in one SMTP transaction (all of one domain)
    idle_wait: float = 5.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 4  # to the relay at once
    timeout: float = 60.0  # seconds the relay may take to answer one command
    retry_for: timedelta = outbox.RETRY_FOR  # a recipient refused for now, tried this long
    name: str = ""  # "host:pid", written on the rows this sender claims
    # Blocks until there may be work or the time is up (another process queues the mail).
    wait_for_work: Callable[[float], None] | None = None
    # Asks DNS for authors' DMARC policies; None: no look-ups, posts go out as they are.
    dmarc: DmarcPolicies | None = None
    # DKIM-signs the lists' mail (each copy as it goes out); None: unsigned.
    signer: Signer | None = None
    _idle: list[aiosmtplib.SMTP] = field(default_factory=list)
    _configs: dict[int, ListConfig] = field(default_factory=dict)
    _marks: list[tuple[list[int], list[tuple[int, str, bool]], asyncio.Future[None]]] = field(
        default_factory=list)
    _marking: bool = False

    def wake(self) -> None:
        """Something was queued: look now (call from the event loop's thread)."""
        self._wake.set()

    async def run(self) -> None:
        pause = 1.0
        while True:
            try:
                sent = await self.run_once()
                pause = 1.0
            except RelayDown as exc:
                # Not the recipients' fault: nothing is marked; wait longer each time.
                log.warning("%s; trying again in %.0f s", exc, pause)
                await self.close()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            except Exception:  # noqa: BLE001 - keep the loop alive; the rows stay queued
                log.exception("delivery pass failed")
                sent = 0
            if sent == 0 and self.wait_for_work is not None:
                await asyncio.to_thread(self.wait_for_work, self.idle_wait)
            elif sent == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_wait)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """One pass over what is due; the number of recipients handled."""
        def claim() -> list[outbox.Delivery]:
            with self.engine.begin() as conn:
                return outbox.due(conn, now_utc(), self.batch, worker=self.name)
        deliveries = await asyncio.to_thread(claim)
        done = 0
        for d in deliveries:
            try:
                sent, retry = await self._send(d)
            except RelayDown as exc:
                await asyncio.to_thread(self._record, *exc.done)
                raise
            await asyncio.to_thread(self._record, sent, retry)
            done += len(d.recipients)
        if not deliveries:
            await self.close()
        return done

    async def _mark(self, sent: list[int], retry: list[tuple[int, str, bool]]) -> None:
        """Record one transaction's outcome, and return once it is committed.  The outcomes
        of all the connections that finish while a commit is on its way go together in the
        next one (group commit): a commit per copy would take longer than the copy."""
        done = asyncio.get_running_loop().create_future()
        self._marks.append((sent, retry, done))
        if not self._marking:
            self._marking = True
            asyncio.get_running_loop().create_task(self._flush_marks())
        await done

    async def _flush_marks(self) -> None:
        try:
            while self._marks:
                batch, self._marks = self._marks, []
                try:
                    await asyncio.to_thread(self._record, [i for s, _, _ in batch for i in s],
                                            [x for _, r, _ in batch for x in r])
                except Exception as exc:  # noqa: BLE001 - each waiting connection sees it
                    for _, _, done in batch:
                        done.set_exception(exc)
                else:
                    for _, _, done in batch:
                        done.set_result(None)
        finally:
            self._marking = False

    def _record(self, sent: list[int], retry: list[tuple[int, str, bool]]) -> None:
        now = now_utc()
        with self.engine.begin() as conn:
            outbox.mark_sent(conn, sent, now)
            for rid, error, permanent in retry:
                outbox.mark_retry(conn, [rid], error, now, permanent=permanent,
                                  retry_for=self.retry_for)

    def _config(self, list_id: int | None) -> ListConfig | None:
        if list_id is None:
            return None
        if list_id not in self._configs:
            with self.engine.connect() as conn:
                config = get_config_by_id(conn, list_id)
            if config is None:
                return None
            self._configs[list_id] = config
        return self._configs[list_id]

    async def _connection(self) -> aiosmtplib.SMTP:
        """An open connection to the relay: an idle one, or a new one."""
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
        smtp = aiosmtplib.SMTP(hostname=self.relay[0], port=self.relay[1], timeout=self.timeout,
                               start_tls=False)
        try:
            await smtp.connect()
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()  # a relay from before ESMTP
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RelayDown(f"cannot reach the relay {self.relay[0]}:{self.relay[1]} "
                            f"({exc}); check `moot serve --relay`") from exc
        return smtp

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()

    async def _send(self, d: outbox.Delivery
                    ) -> tuple[list[int], list[tuple[int, str, bool]]]:
        """Hand one queued message to the relay for each of its due recipients, over up to
        ``connections`` connections at once (a relay answers each copy in a few round trips:
        one at a time, the sender would mostly wait)."""
        sent: list[int] = []
        retry: list[tuple[int, str, bool]] = []
        config = self._config(d.list_id)
        body = d.data
        if d.kind == "post" and config is not None:
            body = await self._dmarc_safe(body, config)
        personal = [r for r in d.recipients if r[2] and config is not None]
        shared = [r for r in d.recipients if not (r[2] and config is not None)]
        sign = self._signing(config)
        if sign is not _unsigned and d.kind == "post" and self.signer is not None:
            body = await asyncio.to_thread(self._arc_sealed, body, d.message_pk)
        whole = sign(body) if shared else body  # one signature for every shared copy
        groups: list[tuple[bytes | None, list[tuple[int, str, bool]]]] = [
            (whole, chunk) for chunk in by_domain(shared, self.per_transaction)]
        groups.extend((None, [r]) for r in personal)  # made when sent: memory stays flat
        todo = iter(groups)

        async def worker() -> None:
            smtp: aiosmtplib.SMTP | None = None
            try:
                for data, rcpts in todo:
                    mail_from = d.mail_from
                    if data is None:
                        assert config is not None
                        rcpt = rcpts[0][1]
                        url = self.unsubscribe_url(config, rcpt)
                        data = body
                        if d.kind == "post" and has_member_fields(config.footer):
                            data = add_footer(data, footer_for(
                                config.footer, unsubscribe_url=url, address=rcpt))
                        data = sign(personalize(
                            data, unsubscribe_url=url,
                            unsubscribe_mailto=f"mailto:{config.sub_address('leave')}"))
                        mail_from = verp(config, rcpts[0][1]) or mail_from
                    if smtp is None:
                        smtp = await self._connection()
                    smtp = await self._hand_over(smtp, mail_from, data, rcpts, sent, retry)
                    # Mark at once: after a crash only a transaction in flight, at most one
                    # per open connection, can be sent again.  (Taken and emptied with no
                    # await between: the other workers add to the same lists.)
                    done_sent, done_retry = sent[:], retry[:]
                    del sent[:], retry[:]
                    await self._mark(done_sent, done_retry)
            finally:
                if smtp is not None and smtp.is_connected:
                    self._idle.append(smtp)

        workers = min(self.connections, len(groups)) or 1
        results = await asyncio.gather(*(worker() for _ in range(workers)),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, RelayDown):
                r.done = (sent, retry)  # what this message got before the relay went away
                raise r
            if isinstance(r, BaseException):
                raise r
        return sent, retry

    def _signing(self, config: ListConfig | None) -> Callable[[bytes], bytes]:
        """How a copy for this list is signed: by the configured DKIM key when the list's
        domain is the key's or under it (so the signature aligns with From when the post
        goes out from the list), else not at all.  (About 7 ms a signature: with
        personalize=member, each member's copy is signed on its own.)"""
        signer = self.signer
        if signer is None or config is None:
            return _unsigned
        domain = config.domain
        if domain != signer.domain and not domain.endswith("." + signer.domain):
            return _unsigned
        return signer.dkim_sign

    def _arc_sealed(self, data: bytes, message_pk: int | None) -> bytes:
        """The post with our ARC set on top (RFC 8617), recording what we found about its
        sender when it came in, so a receiver that trusts us can see it passed before we
        changed it.  A post that came with an ARC chain of its own is left as it is (whether
        that chain held was not kept), and so is one nobody checked."""
        assert self.signer is not None
        if message_pk is None or re.search(rb"(?im)^arc-seal[ \t]*:", data[:header_end(data)]):
            return data
        with self.engine.connect() as conn:
            found = conn.execute(select(s.messages.c.identity)
                                 .where(s.messages.c.id == message_pk)).scalar()
        if not found:
            return data
        try:
            results = arc_results(json.loads(found))
            # One seal for every copy: each member's own one-click fields come after it,
            # so it must not cover them (their DKIM signature does).
            return self.signer.arc_seal(data, results, later=_PERSONAL_FIELDS)
        except ValueError as exc:
            log.warning("could not ARC-seal message %s: %s", message_pk, exc)
            return data

    async def _dmarc_safe(self, data: bytes, config: ListConfig) -> bytes:
        """The post as it can go out from the list when its author's domain publishes a
        DMARC policy that would have receivers refuse it (the list's ``dmarc_mitigation``)."""
        if self.dmarc is None or config.dmarc_mitigation == "none":
            return data
        domain = author_domain(data)
        if domain is None or domain == config.domain:
            return data
        if needs_mitigation(await self.dmarc.policy(domain)):
            return mitigate(data, config, config.dmarc_mitigation)
        return data

    async def _hand_over(self, smtp: aiosmtplib.SMTP, mail_from: str, data: bytes,
                         rcpts: list[tuple[int, str, bool]], sent: list[int],
                         retry: list[tuple[int, str, bool]]) -> aiosmtplib.SMTP | None:
        """One SMTP transaction; the connection to go on with (None: it was dropped)."""
        try:
            refused = await transaction(smtp, mail_from, [r[1] for r in rcpts], data)
        except aiosmtplib.SMTPResponseException as exc:
            for r in rcpts:
                retry.append((r[0], f"{exc.code} {exc.message}", 500 <= exc.code < 600))
            smtp.close()
            return None
        except (aiosmtplib.SMTPException, OSError) as exc:
            for r in rcpts:
                retry.append((r[0], f"relay {self.relay[0]}:{self.relay[1]}: {exc}", False))
            smtp.close()
            return None
        for r in rcpts:
            err = refused.get(r[1])
            if err is None:
                sent.append(r[0])
            else:
                retry.append((r[0], f"{err.code} {err.message}", 500 <= err.code < 600))
        return smtp


def _unsigned(data: bytes) -> bytes:
    return data


_PERSONAL_FIELDS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


def arc_results(identity: dict[str, object]) -> str:
    """An Authentication-Results value for the ARC set from what was found on arrival.

    >>> arc_results({"verdict": "verified", "dkim_domains": ["example.org"]})
    'dkim=pass header.d=example.org; arc=none'
    >>> arc_results({"verdict": "failed", "dkim_domains": []})
    'dkim=fail; arc=none'
    """
    domains = identity.get("dkim_domains") or []
    parts = [f"dkim=pass header.d={d}" for d in domains if isinstance(d, str)
             and re.fullmatch(r"[A-Za-z0-9.-]+", d)]
    if not parts:
        parts = ["dkim=fail" if identity.get("verdict") == "failed" else "dkim=none"]
    return "; ".join(parts + ["arc=none"])


_RCPT = re.compile(r"^[^\s<>@]+@[^\s<>@]+$")


async def transaction(smtp: aiosmtplib.SMTP, mail_from: str, rcpts: list[str], data: bytes
                      ) -> dict[str, aiosmtplib.SMTPResponse]:
    """MAIL, one RCPT per recipient, DATA: the recipients the relay refused, with its answer.
    Raises :class:`aiosmtplib.SMTPResponseException` when the relay refuses the sender or
    the message, or refuses every recipient (then nothing was sent).

    aiosmtplib's own ``sendmail`` runs each recipient through ``email.utils.parseaddr``, which
    took half of the sender's time on a big list; the addresses here were checked when the
    members subscribed (and the sender is the list's own), so they only need to be safe on a
    command line.
    """
    if mail_from and (not _RCPT.match(mail_from) or not mail_from.isascii()):
        raise aiosmtplib.SMTPSenderRefused(553, "not an address we can send from", mail_from)
    reply = await smtp.execute_command(b"MAIL", b"FROM:<" + mail_from.encode() + b">")
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail_from)
    refused: dict[str, aiosmtplib.SMTPResponse] = {}
    for rcpt in rcpts:
        if not _RCPT.match(rcpt) or not rcpt.isascii():
            refused[rcpt] = aiosmtplib.SMTPResponse(553, "5.1.3 not an address we can send to")
            continue
        reply = await smtp.execute_command(b"RCPT", b"TO:<" + rcpt.encode() + b">")
        if reply.code not in (250, 251):
            refused[rcpt] = reply
    if len(refused) == len(rcpts):
        await smtp.rset()
        return refused
    reply = await smtp.data(data)
    if reply.code != 250:  # data() raises on refusals; this is a relay that said 2xx oddly
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return refused
