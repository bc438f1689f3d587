"""The ``moot`` command.  Each subcommand is a thin wrapper over the same functions the web
application calls; ``--json`` prints one JSON document on stdout and nothing else there.

Exit status: 0 on success, 1 on a user error (one line on stderr saying what to do next),
2 on bad usage (Typer/click's own).
"""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from moot.app import Moot, build, init_data_dir
from moot.config import ConfigError, load_settings
from moot.core.errors import ListExists, MootError
from moot.storage.db import pending_migrations

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="moot: a discussion-list server with a living archive.")
list_app = typer.Typer(no_args_is_help=True, help="Create and inspect lists.")
app.add_typer(list_app, name="list")

err = Console(stderr=True, highlight=False, soft_wrap=True)

DataOpt = Annotated[Path, typer.Option("--data", envvar="MOOT_DATA",
                                       help="The data folder (moot.toml, SQLite database).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def fail(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(1)


_opened: list[Moot] = []  # closed when the command ends (see main_options)


def open_moot(data: Path, *, durable: bool = False) -> Moot:
    """The data folder's moot, or a clear error if it was never initialised."""
    try:
        settings = load_settings(data)
    except ConfigError as exc:
        fail(str(exc))
    if settings.is_sqlite and not (data / "moot.toml").exists():
        fail(f"{data} is not a moot data folder yet: run `moot --data {data} init` first")
    moot = build(settings, durable=durable)
    _opened.append(moot)
    try:
        behind = pending_migrations(moot.engine)
    except Exception as exc:  # noqa: BLE001 - the database is unreachable or not ours
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        fail(f"cannot open the database {settings.database_url}: {reason}")
    if behind:
        fail(f"the database schema is out of date: run `moot --data {data} init` to migrate it")
    return moot


def emit_json(doc: object) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")


@app.callback()
def main_options(ctx: typer.Context, data: DataOpt = Path("moot-data")) -> None:
    ctx.obj = data
    ctx.call_on_close(_close_opened)


def _close_opened() -> None:
    while _opened:
        _opened.pop().close()


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data folder, its configuration and the database (safe to run twice)."""
    data: Path = ctx.obj
    try:
        settings = init_data_dir(data)
    except MootError as exc:
        fail(str(exc))
    err.print(f"moot data folder ready: {data.resolve()} ({settings.database_url})",
              markup=False)


# -- lists ---------------------------------------------------------------------------------

@list_app.command("create")
def list_create(
    ctx: typer.Context,
    address: str,
    policy: Annotated[str, typer.Option(help="open|members|moderated|announce")] = "members",
    archive: Annotated[str, typer.Option(help="public|private|none")] = "public",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a list; ADDRESS is its posting address, e.g. dev@example.org."""
    from moot.core.address import valid_list_address

    if policy not in ("open", "members", "moderated", "announce"):
        fail(f"unknown policy {policy!r}: choose open, members, moderated or announce")
    if archive not in ("public", "private", "none"):
        fail(f"unknown archive policy {archive!r}: choose public, private or none")
    if not valid_list_address(address):
        fail(f"{address!r} is not a list address: write it as name@domain")
    moot = open_moot(ctx.obj)
    try:
        moot.store.create_list(address, display_name=name, posting_policy=policy,
                               archive_policy=archive)
    except ListExists as exc:
        fail(str(exc))
    row = moot.archive.get_list(address)
    if as_json:
        emit_json(_list_json(row))
    else:
        print(f"created {row.address}")


def _list_json(row: object) -> dict[str, object]:
    keys = ("address", "display_name", "description", "posting_policy", "archive_policy")
    doc = {k: getattr(row, k) for k in keys}
    for k in ("messages", "threads"):
        if hasattr(row, k):
            doc[k] = getattr(row, k)
    return doc


@list_app.command("ls")
def list_ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """All lists."""
    rows = open_moot(ctx.obj).archive.lists()
    if as_json:
        emit_json({"lists": [_list_json(r) for r in rows]})
        return
    for r in rows:
        print(f"{r.address}\t{r.messages} messages\t{r.threads} threads")


@list_app.command("show")
def list_show(ctx: typer.Context, address: str, as_json: JsonOpt = False) -> None:
    """One list's settings and counts."""
    from moot.storage.lists import get_config

    moot = open_moot(ctx.obj)
    rows = [r for r in moot.archive.lists() if r.address == address.strip().lower()]
    if not rows:
        fail(f"no list {address!r}: see `moot list ls`")
    with moot.engine.connect() as conn:
        config = get_config(conn, address)
    assert config is not None
    doc = {**_list_json(rows[0]), **config.as_json()}
    if as_json:
        emit_json(doc)
    else:
        for k, v in doc.items():
            print(f"{k}: {v}")


# -- import / export / thread ------------------------------------------------------------------

@app.command("import")
def import_cmd(
    ctx: typer.Context,
    address: str,
    paths: Annotated[list[Path], typer.Argument(help="mbox, .gz, maildir or pipermail files")],
    fmt: Annotated[str, typer.Option("--format",
                                     help="auto|mbox|mboxo|mboxrd|maildir|pipermail|message")]
    = "auto",
    as_json: JsonOpt = False,
    link: Annotated[bool, typer.Option(
        "--link", help="Also find the new messages' quotes, references and republications "
        "now (otherwise `moot serve` does it in the background).")] = False,
) -> None:
    """Add an existing archive to a list (created if it does not exist); idempotent."""
    from moot.cli.progress import import_with_progress
    from moot.importer.sources import FORMATS

    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    for p in paths:
        if not p.exists():
            fail(f"{p}: no such file or folder")
    moot = open_moot(ctx.obj)
    row = moot.archive.find_list(address)
    if row is None:
        from moot.core.address import valid_list_address

        if not valid_list_address(address):
            fail(f"{address!r} is not a list address: write it as name@domain")
        moot.store.create_list(address)
        row = moot.archive.get_list(address)
        err.print(f"created the list {row.address} (public archive)", markup=False)
    try:
        summary = import_with_progress(moot, row.id, paths, fmt,
                                       show=not as_json and sys.stderr.isatty())
    except (MootError, ValueError) as exc:
        fail(str(exc))
    for line in summary.refused:
        err.print(f"refused: {line}", markup=False)
    # Linking is an incremental step of its own, far slower than storing and indexing (a few
    # hundred messages a second): `moot serve` links what is new in the background, so an
    # import is not held up by it; --link does it now.
    if link:
        from moot.cli.progress import link_with_progress

        link_with_progress(moot, show=not as_json and sys.stderr.isatty())
    elif summary.imported and not as_json:
        err.print("quotes, references and republications of the new messages are linked by "
                  "`moot serve` in the background (or now: `moot relink`)", markup=False)
    if as_json:
        emit_json(summary.as_json())
    else:
        rate = summary.imported / summary.seconds if summary.seconds else 0
        print(f"imported {summary.imported}, duplicates {summary.duplicates}, "
              f"rejected {summary.rejected} in {summary.seconds:.1f} s ({rate:,.0f} messages/s)")
    if summary.refused and not summary.imported and not summary.duplicates:
        raise typer.Exit(1)


def _index(moot: Moot, *, show: bool, rebuild: bool = False) -> int:
    """Bring the search index up to date with the archive (with a progress bar on a terminal)."""
    from moot.cli.progress import index_with_progress

    return index_with_progress(moot, show=show, rebuild=rebuild)


@app.command()
def search(
    ctx: typer.Context,
    query: str,
    list_address: Annotated[str, typer.Option("--list", help="Only this list.")] = "",
    limit: Annotated[int, typer.Option(help="Hits to show (1-100).")] = 20,
    offset: Annotated[int, typer.Option(help="Hits to skip (for the next page).")] = 0,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first, not best first.")]
    = False,
    threads: Annotated[bool, typer.Option("--threads", help="One hit per thread.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the archive: words, "phrases", prefix*, -word, OR, from:, subject:, list:,
    after:YYYY-MM-DD, before:YYYY-MM-DD."""
    from moot.core.query import QueryError

    moot = open_moot(ctx.obj)
    list_ids = None
    if list_address:
        row = moot.archive.find_list(list_address)
        if row is None:
            fail(f"no list {list_address!r}: see `moot list ls`")
        list_ids = [row.id]
    _index(moot, show=False)
    try:
        results = moot.search.search(query, list_ids=list_ids, limit=limit, offset=offset,
                                     newest_first=newest, by_thread=threads,
                                     list_address_ids=lambda a: _list_id(moot, a))
    except QueryError as exc:
        fail(f"cannot read the query: {exc}")
    if as_json:
        emit_json(results.as_json())
        return
    print(f"{results.total} messages match")
    for h in results.hits:
        when = h.date.strftime("%Y-%m-%d") if h.date else "          "
        print(f"{when}  {h.subject}  — {h.sender}\n            <{h.message_id}>  {h.list}\n"
              f"            {h.snippet}")


def _list_id(moot: Moot, address: str) -> int | None:
    row = moot.archive.find_list(address)
    return int(row.id) if row is not None else None


@app.command()
def reindex(ctx: typer.Context, address: Annotated[str, typer.Argument()] = "") -> None:
    """Rebuild the search index (of every list; ADDR is accepted for the contract's form and
    checked, but the index is rebuilt whole)."""
    moot = open_moot(ctx.obj)
    if address and moot.archive.find_list(address) is None:
        fail(f"no list {address!r}: see `moot list ls`")
    n = _index(moot, show=sys.stderr.isatty(), rebuild=True)
    print(f"indexed {n} messages")


@app.command()
def relink(ctx: typer.Context, address: Annotated[str, typer.Argument()] = "") -> None:
    """Find again every message's quotes, references and republications (of one list, or
    all), with a progress bar; links are otherwise made as mail and imports arrive."""
    from moot.cli.progress import link_with_progress

    moot = open_moot(ctx.obj)
    list_id = None
    if address:
        row = moot.archive.find_list(address)
        if row is None:
            fail(f"no list {address!r}: see `moot list ls`")
        list_id = row.id
    _index(moot, show=False)  # quotes found nowhere in the thread are looked up in the index
    started = time.perf_counter()
    n = link_with_progress(moot, show=sys.stderr.isatty(), list_id=list_id, everything=True)
    print(f"linked {n} messages in {time.perf_counter() - started:.1f} s")


@app.command()
def thread(ctx: typer.Context, message_id: str, as_json: JsonOpt = False,
           list_address: Annotated[str, typer.Option("--list")] = "") -> None:
    """A thread, in display order, from any of its Message-IDs (without angle brackets)."""
    from moot.reading import thread_rows

    moot = open_moot(ctx.obj)
    message_id = message_id.strip().strip("<>")
    hits = moot.archive.find_message_everywhere(message_id)
    if list_address:
        hits = [h for h in hits if h.address == list_address.strip().lower()]
    if not hits:
        fail(f"no message <{message_id}> in the archive: check the Message-ID "
             "(search with `moot search`)")
    rows = thread_rows(moot.archive, hits[0].thread_id, with_body=False)
    root = rows[0].message_id if rows else message_id
    msgs = [{"message_id": r.message_id, "parent": r.parent, "depth": r.depth,
             "subject": r.message.subject if r.message else None,
             "from": _from(r.message) if r.message else None,
             "date": r.message.date_utc.isoformat() + "Z"
             if r.message and r.message.date_utc else None,
             "placeholder": r.message is None}
            for r in rows]
    if as_json:
        emit_json({"root": root, "list": hits[0].address, "messages": msgs})
        return
    for m in msgs:
        who = m["from"] or "(not in the archive)"
        print(f"{'  ' * m['depth']}{m['subject'] or '[missing message]'}  — {who}  "
              f"<{m['message_id']}>")


def _from(m: object) -> str:
    name, addr = getattr(m, "from_name", ""), getattr(m, "from_addr", "")
    return f"{name} <{addr}>" if name and addr else name or addr


@app.command()
def export(
    ctx: typer.Context,
    address: str,
    thread_id: Annotated[str, typer.Option("--thread", help="A Message-ID in the thread.")] = "",
    output: Annotated[Path | None, typer.Option("-o", help="File to write (default stdout).")]
    = None,
) -> None:
    """Write a list (or one thread) as mboxrd, each message's bytes exactly as received."""
    from moot.reading import export_mbox, find_thread

    moot = open_moot(ctx.obj)
    try:
        row = moot.archive.get_list(address)
        tid = find_thread(moot.archive, row.id, thread_id.strip().strip("<>")) \
            if thread_id else None
    except MootError as exc:
        fail(str(exc))
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in export_mbox(moot.archive, row.id, thread_id=tid):
            out.write(chunk)
    finally:
        if output:
            out.close()
        else:
            out.flush()


# -- serve / demo ------------------------------------------------------------------------------

def _host_port(value: str, what: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        fail(f"{what} must be HOST:PORT, e.g. 127.0.0.1:8000 (got {value!r})")
    return host.strip("[]"), int(port)


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[str, typer.Option(help="HOST:PORT for the web archive.")] = "",
    lmtp: Annotated[str, typer.Option(help="HOST:PORT for the LMTP server.")] = "",
    relay: Annotated[str, typer.Option(
        envvar="MOOT_RELAY", help="HOST:PORT of the SMTP server outbound mail goes to.")] = "",
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Delivery processes sharing the outbound queue.")] = 1,
    log_format: Annotated[str, typer.Option(
        "--log-format", help="text|json: readable lines or one JSON object per line "
        "(default: log_format in moot.toml, or MOOT_LOG_FORMAT).")] = "",
) -> None:
    """Serve the web archive, the LMTP server and delivery (one command, a few processes)."""
    moot = open_moot(ctx.obj, durable=True)
    _start_logging(log_format or moot.settings.log_format)
    try:  # repair a gap an interrupted import may have left in the search index
        _index(moot, show=sys.stderr.isatty())
    except Exception as exc:  # noqa: BLE001 - e.g. an import holds the index: it will finish it
        _say(f"warning: the search index was not brought up to date ({exc}); "
             "run `moot reindex` when no import is running")
    _serve(moot, http or moot.settings.http, lmtp or moot.settings.lmtp,
           relay or moot.settings.relay, workers)


def _start_logging(fmt: str) -> None:
    from moot import logs

    try:
        logs.configure(fmt)
    except ValueError as exc:
        fail(f"{exc} (--log-format, log_format in moot.toml or MOOT_LOG_FORMAT)")


def _serve(moot: Moot, http: str, lmtp: str, relay: str, workers: int = 1) -> None:
    import asyncio

    from moot.app import serve as serve_all

    web = _host_port(http, "--http")
    inbound = _host_port(lmtp, "--lmtp")
    out = _host_port(relay, "--relay")
    try:
        moot.settings.signer()  # a DKIM key that cannot be used stops us here, not each worker
    except ConfigError as exc:
        fail(str(exc))

    def ready() -> None:
        _say(f"moot is serving the archive at http://{web[0]}:{web[1]}/, LMTP on "
             f"{inbound[0]}:{inbound[1]}, sending through {out[0]}:{out[1]}")

    try:
        asyncio.run(serve_all(moot, http=web, lmtp=inbound, relay=out, workers=workers,
                              on_ready=ready))
    except OSError as exc:
        fail(f"cannot listen: {exc}; choose other ports with --http / --lmtp")
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    ctx: typer.Context,
    http: Annotated[str, typer.Option(help="HOST:PORT for the web archive.")] = "127.0.0.1:8000",
    lmtp: Annotated[str, typer.Option(help="HOST:PORT for the LMTP server.")] = "",
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up, do not serve.")] = False,
) -> None:
    """Set up a data folder with a sample list, members and archive, then serve it."""
    from moot.importer.run import import_paths

    data: Path = ctx.obj
    init_data_dir(data)
    moot = open_moot(data)
    address = "demo@moot.example"
    row = moot.archive.find_list(address)
    if row is None:
        moot.store.create_list(address, display_name="moot demo",
                               description="A sample discussion, written for moot's demo.")
        row = moot.archive.get_list(address)
        _demo_members(moot, address)
    with resources.as_file(resources.files("moot.demo") / "sample.mbox") as sample:
        summary = import_paths(moot.store, row.id, [sample], search=moot.search)
    err.print(f"demo list {address}: {summary.imported} new messages", markup=False)
    host, port = _host_port(http, "--http")
    print(f"http://{host}:{port}/l/{address}/", flush=True)
    if not no_serve:
        _start_logging(moot.settings.log_format)
        _serve(moot, http, lmtp or moot.settings.lmtp, moot.settings.relay)


def _say(line: str) -> None:
    """A line for the operator on stderr: a log record when the log is JSON (stderr then holds
    JSON lines only), else plain text."""
    import logging

    from moot.logs import JsonFormatter

    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        level = logging.WARNING if line.startswith("warning: ") else logging.INFO
        logging.getLogger("moot.serve").log(level, line.removeprefix("warning: "))
    else:
        err.print(line, markup=False)


def _demo_members(moot: Moot, address: str) -> None:
    from moot.core.member import Member
    from moot.storage.lists import get_config
    from moot.storage.store import now_utc

    people = [Member("ada@moot.example", role="owner", name="Ada Quill"),
              Member("basil@moot.example", role="moderator", name="Basil Fenn"),
              Member("cora@moot.example", name="Cora Lind"),
              Member("dev@moot.example", delivery="digest", name="Devi Rao")]
    with moot.engine.begin() as conn:
        config = get_config(conn, address)
        assert config is not None
        for p in people:
            moot.membership.subscribe_now(conn, config, p, now_utc(), welcome=False)


# The list server's commands live in their own module; importing it registers them.
import moot.cli.bans  # noqa: E402,F401
import moot.cli.listserver  # noqa: E402,F401
import moot.cli.ops  # noqa: E402,F401
import moot.cli.users  # noqa: E402,F401
from moot.cli.digest import digest_app  # noqa: E402

app.add_typer(digest_app, name="digest")


def main() -> None:
    try:
        app(prog_name="moot")
    except MootError as exc:  # a domain error nobody caught: still one clear line
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    # Run as ``python -m moot.cli.main``: hand over to the module proper, on whose ``app`` the
    # other command modules register their commands.
    from moot.cli import main as _module

    _module.main()
