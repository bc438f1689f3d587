"""A Rich progress bar for imports: messages, megabytes and messages per second."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from moot.app import Moot
from moot.importer.run import ImportSummary, import_paths


def import_with_progress(moot: Moot, list_id: int, paths: list[Path], fmt: str,
                         *, show: bool) -> ImportSummary:
    if not show:
        return import_paths(moot.store, list_id, paths, fmt, search=moot.search)
    total = sum(_size(p) for p in paths)
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]importing"),
        BarColumn(),
        TextColumn("{task.fields[messages]:>9,} messages"),
        TextColumn("{task.fields[mb]:>8.1f} MB"),
        TextColumn("{task.fields[rate]:>7,.0f} msg/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("import", total=total or 1, messages=0, mb=0.0, rate=0.0)

        def progress(summary: ImportSummary, read: int) -> None:
            done = summary.imported + summary.duplicates + summary.rejected
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=read, messages=done, mb=summary.bytes / 1e6,
                       rate=done / elapsed)

        return import_paths(moot.store, list_id, paths, fmt, progress, search=moot.search)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def index_with_progress(moot: Moot, *, show: bool, rebuild: bool = False) -> int:
    """Index what the search index lacks (or everything, for ``rebuild``)."""
    run = moot.search.rebuild if rebuild else moot.search.catch_up
    if not show:
        return run()
    columns = (TextColumn("[bold]indexing"), BarColumn(),
               TextColumn("{task.completed:>9,} / {task.total:,} messages"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run(progress)


def link_with_progress(moot: Moot, *, show: bool, list_id: int | None = None,
                       everything: bool = False) -> int:
    """Link what is not linked yet (or every message of a list, or of all, for
    ``everything``): quotes, references and republications resolved (moot.linking)."""
    from moot.linking import Linker

    linker = Linker(moot)

    def run(progress: object = None) -> int:
        if everything:
            return linker.relink(list_id, progress=progress)  # type: ignore[arg-type]
        return linker.catch_up()

    if not show:
        return run()
    columns = (TextColumn("[bold]linking"), BarColumn(),
               TextColumn("{task.completed:>9,} / {task.total:,} messages"), TimeRemainingColumn())
    from moot import republication

    sketching = (TextColumn("[bold]sketching"), BarColumn(),
                 TextColumn("{task.completed:>9,} / {task.total:,} messages"),
                 TimeRemainingColumn())
    with Progress(*sketching, console=Console(stderr=True)) as bar:
        # Each message's MinHash sketch, for finding republished letters (fast; done first so
        # that every original can be found when its copies are linked).
        task = bar.add_task("sketch", total=None)
        republication.catch_up(moot.engine, progress=lambda done, total: bar.update(
            task, completed=done, total=total))
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("link", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run(progress)
