"""Code identifiers in patches: found whole, and by their parts, on every engine."""

from __future__ import annotations

from pathlib import Path

from moot.app import Moot
from moot.importer.run import import_paths
from tests.helpers import make_message, write_mbox


def test_identifiers_are_found_whole_and_by_their_parts(moot: Moot, tmp_path: Path) -> None:
    list_id = moot.store.create_list("dev@example.org")
    raw = make_message("ident@example.org", subject="[PATCH] ASoC: fix the dai",
                       body="Call snd_soc_codec_init() before snd_soc_dai_link_probe.\n")
    other = make_message("other@example.org", subject="unrelated", body="nothing here\n")
    import_paths(moot.store, list_id, [write_mbox(tmp_path / "p.mbox", [raw, other])],
                 search=moot.search)

    def ids(q: str) -> list[str]:
        return [h.message_id for h in moot.search.search(q, list_ids=None).hits]

    assert ids("snd_soc_codec_init") == ["ident@example.org"]
    assert ids("codec") == ["ident@example.org"]
    assert ids('"dai link probe"') == ["ident@example.org"]
    assert ids("snd_soc_dai_link_pro*") == ["ident@example.org"]
    assert ids("snd_soc_codec_exit") == []
