"""The LMTP server (RFC 2033) the mail server hands list mail to.

A thin adapter: RCPT TO is checked against our lists and their sub-addresses (an unknown one
is refused there, with 550, so nothing bounces later to a forged sender); after DATA each
recipient gets its own reply (RFC 2033 section 4.2), computed by :mod:`moot.inbound.service`
and committed to the database before the reply is written.  A client that goes away in the
middle of DATA never reaches the handler: nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import Envelope, Session

from moot.core.address import Recipient
from moot.core.identity import Identity
from moot.inbound.service import InboundQueue, Job, Outcome

log = logging.getLogger("moot.lmtp")

MAX_MESSAGE = 40 * 1024 * 1024  # bytes; larger ones get 552 during DATA (per-list limits hold)


def reply(outcome: Outcome) -> str:
    """The LMTP reply line for one recipient (RFC 3463 enhanced codes).

    >>> reply(Outcome("held", ("not a member",)))
    '250 2.1.5 held for moderation: not a member'
    >>> reply(Outcome("rejected", ("mail loop",)))
    '550 5.7.1 mail loop'
    """
    text = "; ".join(outcome.reasons) or outcome.detail
    text = " ".join(text.split())[:400]  # one line, never anything a client could misread
    if outcome.status == "accepted":
        return "250 2.0.0 " + (text or "accepted")
    if outcome.status == "held":
        return "250 2.1.5 held for moderation: " + text
    if outcome.status == "rejected":
        if text.startswith("not an email message"):
            return "554 5.6.0 " + text
        return "550 5.7.1 " + text
    return "451 4.3.0 " + (text or "temporary failure; try again later")


class LMTPHandler:
    """aiosmtpd handler: ``resolve`` maps a recipient address to a list sub-address."""

    def __init__(self, resolve: Callable[..., Recipient | None], inbound: InboundQueue,
                 refused: Callable[[Recipient, str], str | None] | None = None,
                 check: Callable[[bytes], Awaitable[tuple[Identity | None, str | None]]]
                 | None = None) -> None:
        self.resolve = resolve
        self.inbound = inbound
        # Who really sent a post, and whether the spam filter flags it: asked once per message
        # that goes to a list (DNS, spamc: off the event loop), before the writer sees it.
        self.check = check
        # Why mail from this envelope sender to this address is refused at once (a ban), if
        # it is: asked at each RCPT on the event loop, so it must answer from memory.
        self.refused = refused

    async def handle_RCPT(self, server: LMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        try:
            # A known list answers from memory; anything else is looked up in the database.
            target = self.resolve(address, cached_only=True) or await asyncio.to_thread(
                self.resolve, address)
        except Exception:  # noqa: BLE001 - the database is down: the mail server retries
            log.exception("cannot look up %s", address)
            return "451 4.3.0 cannot look up the recipient now; try again later"
        if target is None:
            return f"550 5.1.1 <{address}>: no such list here"
        if self.refused is not None:
            try:
                # From memory; the bans are read again every few seconds, a quick query that
                # is not worth a thread hop at every RCPT.
                why = self.refused(target, envelope.mail_from or "")
            except Exception:  # noqa: BLE001 - the database is down: the mail server retries
                log.exception("cannot check bans for %s", address)
                return "451 4.3.0 cannot check the sender now; try again later"
            if why:
                return f"550 5.7.1 <{address}>: {why}"
        envelope.rcpt_tos.append(address)
        targets: list[Recipient] = envelope.__dict__.setdefault("moot_targets", [])
        targets.append(target)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: LMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        sender = envelope.mail_from or ""
        targets: list[Recipient] = envelope.__dict__.get("moot_targets", [])
        identity, spam = None, None
        if self.check is not None and any(t.kind == "post" for t in targets):
            try:
                identity, spam = await self.check(raw)
            except Exception:  # noqa: BLE001 - unchecked is better than refused
                log.exception("checking the sender failed; the post goes on unchecked")
        futures = [asyncio.wrap_future(self.inbound.submit(
            Job(sender, t, raw, identity, spam) if t.kind == "post" else Job(sender, t, raw)))
            for t in targets]
        outcomes = await asyncio.gather(*futures)
        return "\r\n".join(reply(o) for o in outcomes)


class MootLMTP(LMTP):
    """aiosmtpd's LMTP, with one reply per recipient on every path after DATA.

    aiosmtpd refuses a message whose line is too long, or which is too big, with a single
    reply of its own; an LMTP client waits for one reply per accepted recipient (RFC 2033
    section 4.2) and would hang.  Such a refusal is repeated for each recipient here."""

    _replies_due = 0
    _data_open = False

    async def smtp_DATA(self, arg: str) -> None:
        self._replies_due = len(self.envelope.rcpt_tos) if self.envelope else 0
        try:
            await super().smtp_DATA(arg)
        finally:
            self._replies_due, self._data_open = 0, False

    async def push(self, status: str | bytes) -> None:  # type: ignore[override]
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        if text.startswith("354"):
            self._data_open = True
        elif (self._data_open and self._replies_due > 1 and text[:1] in ("4", "5")
              and "\r\n" not in text):
            # An error of aiosmtpd's own during DATA (our handler answers every recipient
            # itself, joined by CRLF): the same answer for each recipient.
            status = "\r\n".join([text] * self._replies_due)
        await super().push(status)


def make_server(handler: LMTPHandler) -> Callable[[], LMTP]:
    """The protocol factory for ``loop.create_server``."""
    def factory() -> LMTP:
        return MootLMTP(handler, data_size_limit=MAX_MESSAGE, enable_SMTPUTF8=True,
                        decode_data=False, ident="moot LMTP")
    return factory
