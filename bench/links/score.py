"""Precision and recall of moot's links against the labelled set (bench/links/labels.jsonl).

    python bench/links/score.py                 # imports both real archives into a temporary
                                                # folder, links them, scores (several minutes)
    python bench/links/score.py --data DIR      # a data folder that already holds them

A republication case is found when source and target are linked to the same first
appearance (or one to the other), whichever way round; one labelled false counts against
precision when they are.  For the other kinds, over the labelled sources only: a case
labelled true (source -> target) is found when the linker reports that link; a case labelled
false with a target counts against precision when the linker reports that pair from that
passage (its words hold 60% of the passage's, and at least three); one labelled false with
no target (a passage that is no quote or reference of anything in the archive) counts against
precision when the linker reports a found link of that kind made from the case's passage.
Prints the linking speed (messages/s) and a table per kind and archive.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data"
ARCHIVES = {"alsa-devel": ("alsa-devel@alsa-project.org", [DATA / "alsa-devel-25k.mbox.gz"]),
            "r-devel": ("r-devel@r-project.org",
                        sorted((DATA / "r-devel-pipermail").glob("*.txt.gz")))}


# The words every URL of an archive shares: two links to different messages of one archive
# must not count as the same passage because of them.
URL_WORDS = {"http", "https", "www", "html", "htm", "pipermail", "hyperkitty", "list", "message",
             "thread", "org", "com", "net", "stat", "ethz", "lore", "kernel", "msgid", "link"}


def words(text: str) -> set[str]:
    found = {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}
    return found - URL_WORDS if "://" in text else found


def from_passage(passage: set[str], linked: str) -> bool:
    """Whether a link whose words (excerpt or text) are ``linked`` was made from the labelled
    passage: it holds three of its words and at least 60% of them (a message quotes several
    passages; a link made from another one shares a few common words by chance)."""
    common = len(passage & words(linked))
    return common >= 3 and common >= 0.6 * len(passage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a data folder holding both archives")
    parser.add_argument("--keep", type=Path,
                        help="import into this new folder and keep it (for --data next time)")
    parser.add_argument("--quick", action="store_true",
                        help="relink only the labelled sources (seconds, not minutes; the "
                             "speed printed is then not the archive's)")
    args = parser.parse_args()
    from moot.app import build, init_data_dir
    from moot.config import load_settings
    from moot.importer.run import import_paths
    from moot.linking import Linker
    from moot.storage import schema as s

    folder = args.data or args.keep or Path(tempfile.mkdtemp(prefix="moot-links-")) / "data"
    fresh = args.data is None
    if fresh:
        init_data_dir(folder)
    moot = build(load_settings(folder, env={}))
    if not fresh:  # a folder kept from an earlier run: bring its schema up to date
        from moot.storage.db import migrate

        migrate(moot.engine)
    if fresh:
        for name, (address, paths) in ARCHIVES.items():
            moot.store.create_list(address)
            t = time.perf_counter()
            summary = import_paths(moot.store, moot.archive.get_list(address).id, paths, "auto",
                                   search=moot.search)
            print(f"imported {name}: {summary.imported:,} in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
    moot.search.catch_up()
    cases = [json.loads(line) for line in (HERE / "labels.jsonl").read_text().splitlines()
             if line.strip()]
    t = time.perf_counter()
    linker = Linker(moot)
    if args.quick:
        n = linker.relink_messages({c["source"] for c in cases} | {
            c["target"] for c in cases if c["kind"] == "republication" and c["target"]})
    else:
        n = linker.relink()
    took = time.perf_counter() - t
    print(f"linked {n:,} messages in {took:.0f} s = {n / took:,.0f} messages/s")
    tally: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with moot.engine.connect() as conn:
        def reported(source: str, kind: str) -> list[tuple[str, str]]:
            """(target Message-ID, words of the passage) of the found links of one kind."""
            m, lk = s.messages, s.links
            target = m.alias("target")
            q = (select(target.c.message_id, lk.c.detail)
                 .select_from(lk.join(m, m.c.id == lk.c.source_pk)
                              .join(target, target.c.id == lk.c.target_pk))
                 .where(m.c.message_id == source, lk.c.kind == kind, lk.c.status == "found"))
            out = []
            for mid, detail in conn.execute(q):
                d = json.loads(detail or "{}")
                out.append((mid, str(d.get("excerpt") or d.get("text") or "")))
            return out

        def original(mid: str) -> str:
            """The first appearance of the letter ``mid`` is (itself when none before)."""
            found = reported(mid, "republication")
            return found[0][0] if found else mid

        for c in cases:
            if c["kind"] == "republication":
                # One letter, found as such whichever copy each is linked to and whichever
                # way round (two copies minutes apart may carry dates in the wrong order).
                row = tally[(c["kind"], c["archive"])]
                same = original(c["source"]) == original(c["target"])
                row[("tp" if same else "fn") if c["label"] else ("fp" if same else "tn")] += 1
                continue
            got = reported(c["source"], c["kind"])
            targets = {t for t, _ in got}
            row = tally[(c["kind"], c["archive"])]
            if c["label"]:
                row["tp" if c["target"] in targets else "fn"] += 1
            elif c["target"]:
                # The same source may rightly link to this target by another passage (the
                # parent's own words around a deeper quote): only a link made from the
                # labelled passage counts against precision.
                passage = words(c.get("passage", ""))
                wrong = [w for t, w in got if t == c["target"]
                         and (not passage or from_passage(passage, w))]
                row["fp" if wrong else "tn"] += 1
            else:
                passage = words(c.get("passage", ""))
                hit = any(from_passage(passage, w) for _, w in got) if passage else False
                row["fp" if hit else "tn"] += 1
    print(f"\n{'kind':14} {'archive':11} {'cases':>5} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4} "
          f"{'precision':>9} {'recall':>7}")
    for kind in ("quote", "reference", "republication"):
        total: dict[str, int] = defaultdict(int)
        for archive in ("alsa-devel", "r-devel", "all"):
            if archive == "all":
                row = total
            else:
                row = tally[(kind, archive)]
                for k, v in row.items():
                    total[k] += v
            tp, fn, fp, tn = row["tp"], row["fn"], row["fp"], row["tn"]
            prec = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
            rec = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
            print(f"{kind:14} {archive:11} {tp + fn + fp + tn:5} {tp:4} {fn:4} {fp:4} {tn:4} "
                  f"{prec:>9} {rec:>7}")
    moot.close()


if __name__ == "__main__":
    main()
