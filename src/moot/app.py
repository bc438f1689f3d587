"""The composition root: settings in, adapters built and wired together.  Only this module
constructs engines, stores and the web application."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from moot.config import CONFIG_NAME, Settings, example_config, load_settings
from moot.storage.archive import Archive, IndexFeed
from moot.storage.db import migrate, open_engine
from moot.storage.store import Store

log = logging.getLogger("moot.serve")

if TYPE_CHECKING:
    from moot.bouncing import Bounces
    from moot.core.address import Recipient
    from moot.core.identity import Identity
    from moot.digests import Digests
    from moot.inbound.authentication import Verifier
    from moot.inbound.service import Inbound
    from moot.membership import Membership
    from moot.search.service import Search


@dataclass
class Moot:
    settings: Settings
    engine: Engine
    store: Store
    archive: Archive

    @cached_property
    def search(self) -> Search:
        """The search index (opened on first use: most commands never search)."""
        from moot.search.service import Search

        feed = IndexFeed(self.engine)
        # PostgreSQL: several worker processes on several machines share the database, and the
        # index lives in it (transactional, seen by all).  A tantivy directory allows one
        # writer on one machine, so it serves the embedded default (SQLite) only.
        if self.engine.dialect.name == "postgresql":
            from moot.search.postgres_fts import PostgresIndex

            return Search(PostgresIndex(self.engine), feed)
        from moot.search.tantivy_index import TantivyIndex

        return Search(TantivyIndex(self.settings.data_dir / "index"), feed)

    @cached_property
    def membership(self) -> Membership:
        from moot.membership import Membership, Urls
        from moot.storage.site import secret

        with self.engine.begin() as conn:
            key = secret(conn)
        return Membership(Urls(self.settings.base_url.rstrip("/")), key)

    @cached_property
    def inbound(self) -> Inbound:
        """The posting pipeline (its callers index what it archived: see ``serve``)."""
        from moot.inbound.service import Inbound

        return Inbound(self.engine, self.store, self.membership,
                       self.settings.base_url.rstrip("/"))

    @cached_property
    def bounces(self) -> Bounces:
        from moot.bouncing import Bounces

        return Bounces(self.engine, self.membership)

    @cached_property
    def digests(self) -> Digests:
        from moot.digests import Digests

        return Digests(self.engine, self.membership.urls)

    def resolve(self, address: str, *, cached_only: bool = False) -> Recipient | None:
        """Which list and sub-address a recipient address names, if any.

        The known addresses are remembered for a few seconds (the LMTP server asks at every
        RCPT); an address not among them is always looked up afresh, so a new list answers
        at once."""
        from moot.core.address import parse_recipient

        found = parse_recipient(address, self._known_lists(fresh=False).__contains__)
        if found is None and not cached_only:
            found = parse_recipient(address, self._known_lists(fresh=True).__contains__)
        return found

    @cached_property
    def verifier(self) -> Verifier | None:
        """Checks DKIM and ARC on posts as they come in; None with ``dns = "off"``."""
        from moot.inbound.authentication import Verifier, dnspython_txt

        if self.settings.nameservers == []:
            return None
        trusted = [a.strip() for a in self.settings.trusted_authserv.split(",") if a.strip()]
        servers = self.settings.name_servers()
        if servers is None:
            return Verifier(trusted_authserv=trusted)
        return Verifier(dnspython_txt(servers[0], port=servers[1]), trusted_authserv=trusted)

    def check_post(self, raw: bytes) -> tuple[Identity | None, str | None]:
        """Who really sent a post (None: not checked) and why the spam filter flags it (None:
        it does not, or there is no filter)."""
        identity = self.verifier.check(raw) if self.verifier is not None else None
        return identity, spam_check(self.settings.spamc, raw)

    def refused_sender(self, target: Recipient, sender: str) -> str | None:
        """Why a post from envelope sender ``sender`` is refused outright at RCPT: a ban on a
        list whose ``ban_action`` is ``refuse`` (the bans are remembered for a few seconds).
        Other mail (to -request, -owner, -bounces...) is never refused here."""
        import time

        from moot.core.ban import first_match
        from moot.storage.bans import patterns
        from moot.storage.lists import get_config
        from moot.storage.store import now_utc

        if target.kind != "post" or not sender:
            return None
        cache = self.__dict__.setdefault("_bans_cache", {})
        cached = cache.get(target.list_address)
        if cached is None or time.monotonic() - cached[0] > 5.0:
            with self.engine.connect() as conn:
                config = get_config(conn, target.list_address)
                found = (patterns(conn, config.id, now_utc())
                         if config is not None and config.ban_action == "refuse" else [])
            cached = (time.monotonic(), tuple(found))
            cache[target.list_address] = cached
        if first_match(cached[1], sender.lower()):
            return "the sender is banned from this list"
        return None

    def _known_lists(self, *, fresh: bool) -> frozenset[str]:
        import time

        from moot.storage.lists import list_addresses

        cached = self.__dict__.get("_lists_cache")
        if fresh or cached is None or time.monotonic() - cached[0] > 5.0:
            with self.engine.connect() as conn:
                cached = (time.monotonic(), frozenset(list_addresses(conn)))
            self.__dict__["_lists_cache"] = cached
        return cached[1]

    def close(self) -> None:
        if "search" in self.__dict__:  # opened
            self.search.index.close()
        self.engine.dispose()


def spam_check(command: str, raw: bytes) -> str | None:
    """Run the configured spam filter on one message: why it flags it, or None.  A filter
    that cannot be run, or takes over 20 seconds, flags nothing (and says so in the log)."""
    if not command.strip():
        return None
    import shlex
    import subprocess

    try:
        done = subprocess.run(shlex.split(command), input=raw, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("spam filter %r could not run: %s; the post goes on unchecked", command, exc)
        return None
    if done.returncode == 1:
        score = done.stdout.decode("utf-8", "replace").strip().splitlines()
        name = Path(shlex.split(command)[0]).name
        return f"{name}: {score[0][:40] if score else 'spam'}"
    if done.returncode not in (0, 1):
        log.warning("spam filter %r exited %s; the post goes on unchecked", command,
                    done.returncode)
    return None


def init_data_dir(data_dir: Path) -> Settings:
    """Create the data folder, its commented moot.toml and the database; safe to run twice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = data_dir / CONFIG_NAME
    if not cfg.exists():
        cfg.write_text(example_config(), "utf-8")
    settings = load_settings(data_dir)
    engine = open_engine(settings.database_url, **settings.pool())
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return settings


def build(settings: Settings, *, durable: bool = False) -> Moot:
    """``durable``: for the server, which promises mail servers that what it took is kept."""
    engine = open_engine(settings.database_url, durable=durable,
                         **settings.pool())
    return Moot(settings, engine, Store(engine), Archive(engine))


async def serve(moot: Moot, *, http: tuple[str, int], lmtp: tuple[str, int] | None,
                relay: tuple[str, int], workers: int = 1,
                on_ready: Callable[[], None] | None = None) -> None:
    """Web and LMTP on one event loop, the indexer in a thread, delivery in ``workers``
    processes of their own (at a lower priority: answering the mail server comes first), until
    a signal."""
    import asyncio
    import multiprocessing
    import os
    import socket

    import uvicorn

    from moot.housekeeping import Housekeeper
    from moot.inbound.lmtp import LMTPHandler, make_server
    from moot.inbound.service import InboundQueue
    from moot.moderation import expire_held, send_hold_summaries
    from moot.search.indexer import Indexer
    from moot.storage import outbox
    from moot.web.app import create_app

    loop = asyncio.get_running_loop()
    _release_dead_claims(moot, socket.gethostname())
    ctx = multiprocessing.get_context("spawn")
    wake = ctx.Event()
    host = socket.gethostname()

    def delivery_process(n: int) -> Any:
        p = ctx.Process(target=run_delivery, args=(moot.settings, relay, wake, os.getpid()),
                        name=f"moot-delivery-{n}", daemon=True)
        p.start()
        return p

    deliveries = [delivery_process(n) for n in range(max(1, workers))]

    async def supervise() -> None:
        """A delivery process that died (killed, out of memory) is replaced; what it had
        claimed and not marked is released first, so the new one sends it."""
        while True:
            await asyncio.sleep(0.5)
            for n, p in enumerate(deliveries):
                if p.is_alive():
                    continue
                log.warning("delivery process %s died (exit code %s); starting another",
                            p.pid, p.exitcode)
                with moot.engine.begin() as conn:
                    outbox.release(conn, f"{host}:{p.pid}", exact=True)
                deliveries[n] = delivery_process(n)
                wake.set()

    supervisor = asyncio.create_task(supervise())
    indexer = Indexer(moot.search)
    moot.inbound.after_commit.append(indexer.poke)
    moot.inbound.after_commit.append(wake.set)
    def purge_outbox(now: Any) -> int:
        with moot.engine.begin() as conn:
            outbox.purge(conn, now)
        return 0  # nothing to send

    from moot.linking import Linker

    linker = Linker(moot)

    def link_new(now: Any) -> int:
        """New posts' links, a minute or so after they come; an archive just imported is
        linked 2,000 messages a pass, the next pass soon after, until it is done."""
        if linker.catch_up(limit=2000) >= 2000:
            housekeeper.poke()
        return 0  # nothing to send

    housekeeper = Housekeeper([("bounces", moot.bounces.process_new),
                               ("bounce records", moot.bounces.tick),
                               ("digests", moot.digests.send_due),
                               ("held posts", lambda now: expire_held(moot.engine, now)),
                               ("held summaries", lambda now: send_hold_summaries(
                                   moot.engine, moot.membership, now)),
                               ("outbound queue", purge_outbox),
                               ("links", link_new)],
                              after=wake.set, gap=10.0)
    moot.inbound.after_commit.append(housekeeper.poke)
    inbound = InboundQueue(moot.inbound)
    # Checking who sent a post (DKIM: RSA and DNS) is CPU work that would slow the writer
    # sharing this process's interpreter lock: it runs in a process of its own.
    checker = None
    check = None
    if moot.verifier is not None or moot.settings.spamc:
        from concurrent.futures import ProcessPoolExecutor

        checker = ProcessPoolExecutor(1, mp_context=ctx, initializer=_start_checker,
                                      initargs=(moot.settings,))

        async def check(raw: bytes) -> tuple[Any, str | None]:
            return await loop.run_in_executor(checker, _check_post, raw)

    lmtp_server = None
    if lmtp is not None:
        lmtp_server = await loop.create_server(
            make_server(LMTPHandler(moot.resolve, inbound, moot.refused_sender, check)),
            lmtp[0], lmtp[1])
    web = uvicorn.Server(uvicorn.Config(create_app(moot), host=http[0], port=http[1],
                                        log_level="warning", lifespan="off",
                                        log_config=None))  # moot.logs formats its records
    try:
        if on_ready is not None:
            on_ready()
        await web.serve()
    finally:
        if lmtp_server is not None:
            lmtp_server.close()
            await lmtp_server.wait_closed()
        await asyncio.to_thread(inbound.close)
        await asyncio.to_thread(indexer.close)
        await asyncio.to_thread(housekeeper.close)
        if checker is not None:
            for process in list(getattr(checker, "_processes", {}).values()):
                process.terminate()  # a check in flight is for a post not yet answered
            checker.shutdown(wait=False, cancel_futures=True)
        supervisor.cancel()
        for p in deliveries:
            p.terminate()  # they mark as they go; a copy in flight may be sent again
        for p in deliveries:
            await asyncio.to_thread(p.join, 10)


_checking: Moot | None = None  # the checker process's own (see serve)


def _start_checker(settings: Settings) -> None:
    """In the checker process: its own moot, and an exit as soon as the server is gone (a
    killed server must not leave it holding the server's pipes)."""
    import os
    import signal
    import threading
    import time

    global _checking
    _checking = build(settings)
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()


def _check_post(raw: bytes) -> tuple[Identity | None, str | None]:
    assert _checking is not None
    return _checking.check_post(raw)


def _release_dead_claims(moot: Moot, host: str) -> None:
    """Claims this machine's earlier delivery workers held die with them: nobody else sends
    those rows now.  Another node on the same machine (same host name, docs/scaling.md) keeps
    the claims of its workers, which are alive."""
    import os

    from sqlalchemy import select

    from moot.storage import outbox
    from moot.storage import schema as s

    r = s.outbox_recipients
    with moot.engine.begin() as conn:
        names = conn.execute(select(r.c.claimed_by).distinct().where(
            r.c.claimed_by.like(f"{host}:%"), r.c.status == "pending")).scalars().all()
        for name in names:
            pid = name.rpartition(":")[2]
            if pid.isdigit():
                try:
                    os.kill(int(pid), 0)
                    continue  # alive: another node's worker on this machine
                except ProcessLookupError:
                    pass
                except PermissionError:
                    continue  # alive, another user's
            outbox.release(conn, name, exact=True)


def run_delivery(settings: Settings, relay: tuple[str, int], wake: Any, parent: int) -> None:
    """The delivery process: hand the outbound queue to the relay until terminated."""
    import asyncio
    import os
    import signal

    from moot.delivery.sender import Sender

    try:
        os.nice(5)
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def orphaned() -> None:  # the server was killed outright: a new one starts its own sender
        # (``parent`` comes from the server: it may have died before this process got here)
        import time

        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    import threading

    threading.Thread(target=orphaned, daemon=True).start()
    # Marks survive a crash of the process without an fsync each (WAL): a power cut could at
    # worst resend the last few, never lose a post (the posts themselves are committed durably).
    moot = build(settings)

    def wait_for_work(seconds: float) -> None:
        if wake.wait(seconds):
            wake.clear()

    import socket
    from datetime import timedelta

    from moot.delivery.dmarc import policies_for

    sender = Sender(moot.engine, relay, moot.membership.unsubscribe_url,
                    wait_for_work=wait_for_work, idle_wait=2.0,
                    dmarc=policies_for(settings), signer=settings.signer(),
                    name=f"{socket.gethostname()}:{os.getpid()}",
                    connections=settings.connections,
                    retry_for=timedelta(hours=settings.retry_for_hours))
    try:
        asyncio.run(sender.run())
    finally:
        moot.close()
