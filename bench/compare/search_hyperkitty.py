"""HyperKitty's search child (see base.py): run with the HyperKitty virtualenv's Python and
DJANGO_SETTINGS_MODULE pointing at the settings hyperkitty_system.py wrote.

    python search_hyperkitty.py LIST QUERIES.json OUT.json ROUNDS

Does what HyperKitty's search view does before it renders the page: Haystack's SearchForm
(``auto_query``) over a RelatedSearchQuerySet filtered to the list, ``load_all`` so the page's
Email rows come from the database with the hits; here the first 20 hits and the hit count.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import django
from timing import time_queries


def main() -> None:
    address, qfile, ofile, rounds = sys.argv[1:5]
    django.setup()
    from haystack.forms import SearchForm
    from haystack.query import RelatedSearchQuerySet

    queries = json.loads(Path(qfile).read_text())

    def once(q: str) -> tuple[float, int, list[str]]:
        started = time.perf_counter()
        sqs = RelatedSearchQuerySet().filter(mailinglist__exact=address)
        form = SearchForm({"q": q}, searchqueryset=sqs, load_all=True)
        if not form.is_valid():
            raise SystemExit(f"HyperKitty's search form refused {q!r}: {form.errors}")
        results = form.search()
        total = results.count()
        mids = [r.object.message_id for r in results[:20] if r.object is not None]
        return (time.perf_counter() - started) * 1000, total, mids

    time_queries(once, queries, int(rounds), ofile)


if __name__ == "__main__":
    main()
