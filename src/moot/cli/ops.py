"""``moot backup FILE`` and ``moot restore FILE``: thin wrappers over :mod:`moot.backup`, with
a Rich progress bar on a terminal (a big archive's database is gigabytes)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from moot.backup import BackupError, backup, pg_commands, restore
from moot.cli.main import JsonOpt, app, emit_json, err, fail, open_moot

LABELS = {"index": "search index", "database": "database", "archive": "writing",
          "restore": "unpacking"}


@contextmanager
def _bar(show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback: one bar per step, or nothing when stderr is not a terminal."""
    if not show:
        yield lambda what, done, total: None
        return
    columns = (TextColumn("[bold]{task.description:<13}"), BarColumn(),
               TextColumn("{task.fields[amount]}"), TimeRemainingColumn())
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=Console(stderr=True)) as bar:
        def report(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(LABELS.get(what, what), total=total or 1, amount="")
            amount = (f"{done:,} / {total:,} pages" if what == "database"
                      else f"{done:,} / {total:,} messages" if what == "index" and total > 1
                      else f"{done / 1e6:,.1f} / {total / 1e6:,.1f} MB"
                      if what in ("archive", "restore") else "")
            bar.update(tasks[what], completed=done, total=total or 1, amount=amount)

        yield report


@app.command("backup")
def backup_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The backup to write: FILE.tar or FILE.tar.gz.")],
    pg_dump: Annotated[bool, typer.Option(
        "--pg-dump", help="PostgreSQL: run pg_dump (must be on PATH) and put its output in "
        "the backup too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A consistent backup of the data folder and database, taken while the server runs."""
    moot = open_moot(ctx.obj)
    settings = moot.settings
    try:
        with _bar(not as_json and sys.stderr.isatty()) as report:
            done = backup(settings, file, pg_dump=pg_dump, progress=report)
    except BackupError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"file": str(done.path), "database": done.database,
                   "messages": done.messages, "index": done.index, "pg_dump": done.pg_dump,
                   "bytes": done.bytes})
    else:
        what = (f"{done.messages:,} messages" if done.messages is not None
                else "the data folder's files")
        print(f"backed up {what} to {done.path} ({done.bytes / 1e6:,.1f} MB)")
    if done.database == "postgresql" and not done.pg_dump:
        dump, again = pg_commands(settings)
        err.print("The database is PostgreSQL's: back it up with\n"
                  f"  {dump}\nand restore it with\n  {again}", markup=False)


@app.command("restore")
def restore_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A file `moot backup` wrote.")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="The data folder to restore into (new or empty); default: moot's "
        "--data.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into an empty data folder (the search index is brought up to date)."""
    target: Path = data or ctx.obj
    try:
        with _bar(not as_json and sys.stderr.isatty()) as report:
            done = restore(file, target, progress=report)
    except BackupError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"data": str(target), "database": done.manifest["database"],
                   "messages": done.manifest.get("messages"), "indexed": done.indexed,
                   "index_rebuilt": done.index_rebuilt, "pg_restore": done.pg_restore})
        return
    if done.pg_restore:
        print(f"restored the data folder's files into {target}")
        err.print(f"Now restore the PostgreSQL database:\n  {done.pg_restore}", markup=False)
        return
    how = "rebuilt" if done.index_rebuilt else "brought up to date"
    print(f"restored {done.manifest.get('messages', 0):,} messages into {target} "
          f"(search index {how}: {done.indexed:,} messages indexed)")
