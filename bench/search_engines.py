"""Compare full-text search engines on a real moot archive, to choose the engines of issue 3.

Reads every message of a moot data folder (its SQLite database), builds one index per engine
configuration in a scratch folder (and a scratch schema in PostgreSQL), and measures:

* indexing speed (docs/s over all messages, index built in one pass, committed/merged);
* index size on disk against the plain text indexed (UTF-8 bytes of subject + from + body);
* latency of 200 queries generated from the archive with a fixed seed (one, two and three
  words, phrases, prefixes, ``from:`` filters, date ranges): median, p95, max;
* recall: 50 phrases of 4-6 consecutive words from random messages; is the message in the
  first 10 hits?
* CJK words from real messages, accent-insensitivity on real accented words, case-insensitivity,
  and the "ones" over-stemming probe.

Every engine gets the same parsed queries; each translates them through its own API (no
engine query syntax is ever built from user text without quoting).

    python bench/search_engines.py --data /tmp/search-data
        [--engines tantivy-default,fts5-porter,...] [--pg postgresql://postgres@127.0.0.1:5432/test]
        [--seed 3] [--work DIR] [--json results.json]

Needs ``pip install tantivy`` (optional: its engines are skipped without it) and, for the
PostgreSQL engines, a server (``--pg``; skipped when it does not answer).  Not a test: pytest
does not collect it.  Run it when the machine is otherwise idle; the load average is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

BOOST = {"subject": 10.0, "from": 4.0, "body": 1.0}  # same ratios as PostgreSQL's A : B : D


# --------------------------------------------------------------------------- documents

@dataclass
class Doc:
    pk: int
    list: str
    date: dt.datetime
    subject: str
    from_name: str
    from_addr: str
    body: str


def parse_date(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text[:19])


def load_docs(data: Path) -> list[Doc]:
    db = data / "moot.sqlite3"
    if not db.exists():
        sys.exit(f"no {db}: build the archive with `moot --data {data} init` and `moot import`")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT m.id, l.address, m.sort_date, m.subject, m.from_name, m.from_addr, m.body_text"
        " FROM messages m JOIN mailing_lists l ON l.id = m.list_id ORDER BY m.id")
    docs = [Doc(r[0], r[1], parse_date(str(r[2])), r[3] or "", r[4] or "", r[5] or "",
                (r[6] or "").replace("\x00", "")) for r in rows]
    con.close()
    return docs


def text_bytes(docs: list[Doc]) -> int:
    return sum(len((d.subject + d.from_name + d.from_addr + d.body).encode()) for d in docs)


# --------------------------------------------------------------------------- queries

@dataclass(frozen=True)
class Q:
    """A parsed query: every part must match (AND)."""
    kind: str
    words: tuple[str, ...] = ()
    phrase: tuple[str, ...] = ()
    prefix: str | None = None
    from_: str | None = None
    after: dt.datetime | None = None
    before: dt.datetime | None = None

    def text(self) -> str:
        parts = list(self.words)
        if self.phrase:
            parts.append('"' + " ".join(self.phrase) + '"')
        if self.prefix:
            parts.append(self.prefix + "*")
        if self.from_:
            parts.append("from:" + self.from_)
        if self.after:
            parts.append("after:" + self.after.date().isoformat())
        if self.before:
            parts.append("before:" + self.before.date().isoformat())
        return " ".join(parts)


WORD = re.compile(r"^[A-Za-z]+$")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
HANGUL = re.compile(r"^[\uac00-\ud7af]+$")
ACCENTED = re.compile(r"(?<!\w)[A-Za-zÀ-ÖØ-öø-ÿ]*[À-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ]*(?!\w)")


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def body_words(body: str, min_len: int = 4) -> list[str]:
    return [w.lower() for w in body.split() if min_len <= len(w) <= 15 and WORD.match(w)]


def runs(body: str, n: int) -> list[list[str]]:
    """Runs of ``n`` consecutive purely alphabetic words separated by single spaces, outside
    quoted ('>') lines: what a reader who remembers a sentence would type."""
    out = []
    for line in body.splitlines():
        if line.lstrip().startswith(">"):
            continue
        chunks = line.strip().split(" ")
        run: list[str] = []
        for c in chunks:
            if c and WORD.match(c):
                run.append(c)
                if len(run) >= n:
                    out.append(run[-n:])
            else:
                run = []
    return out


def make_queries(docs: list[Doc], rng: random.Random) -> list[Q]:
    plan = [("1 word", 40), ("2 words", 30), ("3 words", 30), ("phrase", 30), ("prefix", 25),
            ("from", 25), ("date", 20)]
    queries: list[Q] = []
    for kind, count in plan:
        made = 0
        while made < count:
            d = rng.choice(docs)
            words = body_words(d.body)
            if len(words) < 3:
                continue
            if kind.endswith("word") or kind.endswith("words"):
                n = int(kind[0])
                q = Q(kind, words=tuple(rng.sample(words, n)))
            elif kind == "phrase":
                n = rng.choice([2, 3])
                cands = runs(d.body, n)
                if not cands:
                    continue
                q = Q(kind, phrase=tuple(w.lower() for w in rng.choice(cands)))
            elif kind == "prefix":
                long = [w for w in words if len(w) >= 6]
                if not long:
                    continue
                w = rng.choice(long)
                q = Q(kind, prefix=w[: rng.choice([4, 5])])
            elif kind == "from":
                names = [w.lower() for w in re.findall(r"[A-Za-z]{3,}", d.from_name)]
                if not names:
                    local = d.from_addr.split("@")[0]
                    names = [w.lower() for w in re.findall(r"[A-Za-z]{3,}", local)]
                if not names:
                    continue
                q = Q(kind, words=(rng.choice(words),), from_=rng.choice(names))
            else:  # date
                day = d.date.replace(hour=0, minute=0, second=0, microsecond=0)
                q = Q(kind, words=(rng.choice(words),), after=day - dt.timedelta(days=30),
                      before=day + dt.timedelta(days=31))
            queries.append(q)
            made += 1
    return queries


def make_recall(docs: list[Doc], rng: random.Random) -> list[tuple[int, Q]]:
    out = []
    while len(out) < 50:
        d = rng.choice(docs)
        n = rng.randint(4, 6)
        cands = runs(d.body, n)
        if cands:
            out.append((d.pk, Q("recall", phrase=tuple(rng.choice(cands)))))
    return out


def recall_truth(docs: list[Doc], hay: list[str], recall: list[tuple[int, Q]]) -> list[set[int]]:
    """For each recall phrase, the messages whose subject or body hold it (case-insensitive,
    whitespace-normalised): a phrase quoted in many replies cannot put its source first."""
    return [containing(docs, hay, " ".join(q.phrase)) for _, q in recall]


def haystacks(docs: list[Doc]) -> list[str]:
    return [" ".join(f"{d.subject} {d.body}".split()).lower() for d in docs]


def containing(docs: list[Doc], hay: list[str], needle: str) -> set[int]:
    needle = needle.lower()
    return {d.pk for d, h in zip(docs, hay, strict=True) if needle in h}


@dataclass
class Probe:
    label: str
    query: Q
    expect: set[int]          # a hit counts when one of these is in the first 10
    same_as: Q | None = None  # ... or, when given: the same first 10 as this query


def make_probes(docs: list[Doc], hay: list[str], rng: random.Random) -> dict[str, list[Probe]]:
    probes: dict[str, list[Probe]] = {"cjk": [], "accent": [], "case": []}

    # CJK: a whole Chinese run, a two-character word inside a longer run, a Korean word.
    found: dict[str, set[int]] = {}
    for d in docs:
        for m in set(CJK.findall(d.subject + " " + d.body)):
            found.setdefault(m, set()).add(d.pk)
    han = sorted((r for r in found if len(r) >= 6 and not HANGUL.match(r)),
                 key=lambda r: (len(found[r]), r))
    kor = sorted((r for r in found if len(r) >= 2 and HANGUL.match(r)),
                 key=lambda r: (len(found[r]), r))
    if han:
        whole = han[-1] if len(found[han[-1]]) > 1 else han[0]
        probes["cjk"].append(Probe(f"Chinese run {whole}", Q("cjk", words=(whole,)),
                                   containing(docs, hay, whole)))
        inner = whole[2:4]
        probes["cjk"].append(Probe(f"Chinese word {inner} inside {whole}",
                                   Q("cjk", words=(inner,)), containing(docs, hay, inner)))
    if kor:
        k = kor[0]
        probes["cjk"].append(Probe(f"Korean {k}", Q("cjk", words=(k,)), found[k]))
    if not probes["cjk"]:
        print("no CJK text in this archive: CJK probes skipped")

    # Accents: real accented words (rare ones), searched without their accents.
    acc: dict[str, set[int]] = {}
    for d in docs:
        for w in set(ACCENTED.findall(d.body)):
            # not the mojibake of UTF-8 read as windows-1252 ("Ã©", "â€™" -> "callerâ")
            if (5 <= len(w) <= 15 and fold(w).isascii() and fold(w).isalpha()
                    and not re.search(r"[ÃÂâ]", w) and not unicodedata.combining(
                        unicodedata.normalize("NFKD", w[-1])[-1])):
                acc.setdefault(w, set()).add(d.pk)
    plain = set()
    for h in hay:
        plain.update(re.findall(r"[a-z]{5,15}", h))
    for d in docs:
        plain.update(re.findall(r"[a-z]{5,15}", f"{d.from_name} {d.from_addr}".lower()))
    rare = sorted(w for w, s in acc.items() if len(s) <= 3 and fold(w).lower() not in plain)
    for w in rng.sample(rare, min(3, len(rare))):
        plain_w = fold(w).lower()
        probes["accent"].append(Probe(f"{plain_w} -> {w}", Q("accent", words=(plain_w,)), acc[w]))

    # Case: rare words searched with their case swapped give the same first 10 as lower case.
    while len(probes["case"]) < 5:
        d = rng.choice(docs)
        ws = [w for w in d.body.split() if 5 <= len(w) <= 12 and WORD.match(w)]
        if not ws:
            continue
        w = rng.choice(ws)
        pks = containing(docs, hay, w)
        if len(pks) > 5:
            continue
        probes["case"].append(Probe(f"{w.swapcase()} -> {w}", Q("case", words=(w.swapcase(),)), pks,
                                    same_as=Q("case", words=(w.lower(),))))
    return probes


def literal_word_count(docs: list[Doc], word: str) -> int:
    pat = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
    return sum(1 for d in docs if pat.search(d.subject) or pat.search(d.body))


# --------------------------------------------------------------------------- engines

class Engine:
    name = ""
    notes = ""

    def build(self, docs: list[Doc]) -> None: ...
    def size(self) -> tuple[int, str]: ...
    def search(self, q: Q) -> tuple[int, list[int]]: ...
    def close(self) -> None: ...


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Tantivy(Engine):
    """tantivy (PyPI ``tantivy``); fields subject, from, body (positions), list (raw), date
    (indexed + fast), pk (stored + fast).  Nothing else is stored: snippets would be made from
    the store's text."""

    CJK_RE = (r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"
              r"|[^\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\W]+")

    def __init__(self, variant: str, work: Path):
        import tantivy
        self.t = tantivy
        self.variant = variant
        self.name = f"tantivy-{variant}"
        self.path = work / self.name
        T, F = tantivy.Tokenizer, tantivy.Filter

        def analyzer(tok, *filters):
            b = tantivy.TextAnalyzerBuilder(tok)
            for f in filters:
                b = b.filter(f)
            return b.build()

        if variant == "default":   # tantivy's "default": simple + remove_long(40) + lowercase
            self.analyzer = analyzer(T.simple(), F.remove_long(40), F.lowercase())
            self.prefix_analyzer = self.analyzer
            self.notes = "tokenizer 'default' (simple, lowercase)"
        elif variant == "en_stem":  # tantivy's "en_stem": default + English Snowball stemmer
            self.analyzer = analyzer(T.simple(), F.remove_long(40), F.lowercase(),
                                     F.stemmer("english"))
            self.prefix_analyzer = analyzer(T.simple(), F.remove_long(40), F.lowercase())
            self.notes = "tokenizer 'en_stem' (Snowball English)"
        else:                       # fold-cjk: Unicode words, CJK one character a token, folded
            self.analyzer = analyzer(T.regex(self.CJK_RE), F.remove_long(40), F.lowercase(),
                                     F.ascii_fold())
            self.prefix_analyzer = self.analyzer
            self.notes = "regex tokenizer (CJK unigrams) + lowercase + ascii_fold"
        sb = tantivy.SchemaBuilder()
        for f in ("subject", "from", "body"):
            sb.add_text_field(f, tokenizer_name="moot", index_option="position")
        sb.add_text_field("list", tokenizer_name="raw")
        sb.add_date_field("date", indexed=True, fast=True)
        sb.add_integer_field("pk", stored=True, indexed=True, fast=True)
        self.schema = sb.build()

    def build(self, docs: list[Doc]) -> None:
        t = self.t
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self.index = t.Index(self.schema, path=str(self.path))
        self.index.register_tokenizer("moot", self.analyzer)
        writer = self.index.writer(heap_size=256_000_000, num_threads=2)
        for d in docs:
            writer.add_document(t.Document(**{
                "pk": d.pk, "list": d.list, "date": d.date, "subject": d.subject,
                "from": f"{d.from_name} {d.from_addr}", "body": d.body}))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def size(self) -> tuple[int, str]:
        return dir_size(self.path), "index directory"

    def _field(self, fname: str, toks: list[str]):
        t = self.t
        if len(toks) == 1:   # phrase_query panics (PanicException) on a single term
            return t.Query.term_query(self.schema, fname, toks[0])
        return t.Query.phrase_query(self.schema, fname, toks)

    def _fields(self, toks: list[str], fields=("subject", "from", "body")):
        t = self.t
        return t.Query.boolean_query([
            (t.Occur.Should, t.Query.boost_query(self._field(f, toks), BOOST[f])) for f in fields])

    def _tokens(self, text: str, analyzer=None) -> list[str]:
        return (analyzer or self.analyzer).analyze(text)

    def query(self, q: Q):
        t = self.t
        must = []
        for w in q.words:
            toks = self._tokens(w)
            if toks:
                must.append(self._fields(toks))
        if q.phrase:
            toks = self._tokens(" ".join(q.phrase))
            if toks:
                must.append(self._fields(toks, ("subject", "body")))
        if q.prefix:
            toks = self._tokens(q.prefix, self.prefix_analyzer)
            if toks:
                pattern = re.sub(r"([\\.+*?()|\[\]{}^$#&\-~])", r"\\\1", toks[-1]) + ".*"
                must.append(t.Query.boolean_query([
                    (t.Occur.Should, t.Query.boost_query(
                        t.Query.regex_query(self.schema, f, pattern), BOOST[f]))
                    for f in ("subject", "from", "body")]))
        if q.from_:
            toks = self._tokens(q.from_)
            if toks:
                must.append(self._field("from", toks))
        if q.after or q.before:
            must.append(t.Query.range_query(self.schema, "date", t.FieldType.Date, q.after,
                                            q.before, include_upper=q.before is None))
        if not must:
            return None
        return t.Query.boolean_query([(t.Occur.Must, m) for m in must])

    def search(self, q: Q) -> tuple[int, list[int]]:
        query = self.query(q)
        if query is None:
            return 0, []
        r = self.searcher.search(query, 10, count=True)
        return r.count, [self.searcher.doc(a)["pk"][0] for _, a in r.hits]

    def close(self) -> None:
        self.searcher = self.index = None
        shutil.rmtree(self.path, ignore_errors=True)


class Fts5(Engine):
    """SQLite FTS5, external content over a copy of the messages (columns subject, from_name,
    from_addr, body); bm25 weights 10 / 4 / 4 / 1; rebuilt in one pass, then optimized."""

    TOKENIZE = {
        "unicode61": "unicode61 remove_diacritics 2",
        "porter": "porter unicode61 remove_diacritics 2",
        "trigram": "trigram",
    }

    def __init__(self, variant: str, work: Path):
        self.variant = variant
        self.name = f"fts5-{variant}"
        self.notes = f"tokenize='{self.TOKENIZE[variant]}', external content, detail=full"
        self.path = work / f"{self.name}.sqlite3"

    def build(self, docs: list[Doc]) -> None:
        self.path.unlink(missing_ok=True)
        con = sqlite3.connect(self.path, isolation_level=None)
        con.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, list TEXT, sort_date TEXT,"
                    " subject TEXT, from_name TEXT, from_addr TEXT, body TEXT)")
        con.execute("BEGIN")
        con.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?)",
                        ((d.pk, d.list, d.date.isoformat(" "), d.subject, d.from_name,
                          d.from_addr, d.body) for d in docs))
        con.execute("COMMIT")
        tokenize = self.TOKENIZE[self.variant]
        con.execute("CREATE VIRTUAL TABLE fts USING fts5(subject, from_name, from_addr, body,"
                    f" content='docs', content_rowid='id', tokenize='{tokenize}')")
        self.before = self.path.stat().st_size
        started = time.perf_counter()
        con.execute("BEGIN")
        con.execute("INSERT INTO fts(fts) VALUES ('rebuild')")
        con.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        con.execute("COMMIT")
        self.build_seconds = time.perf_counter() - started
        self.con = con

    def size(self) -> tuple[int, str]:
        (n,) = self.con.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fts%'").fetchone()
        grown = self.path.stat().st_size - self.before
        return n, f"fts shadow tables (dbstat); file grew {grown / 1e6:.0f} MB"

    @staticmethod
    def quote(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    def match(self, q: Q) -> str:
        parts = [self.quote(w) for w in q.words]
        if q.phrase:
            parts.append(self.quote(" ".join(q.phrase)))
        if q.prefix:
            # trigram: every term already matches as a substring; '*' is accepted too
            parts.append(self.quote(q.prefix) + "*")
        if q.from_:
            parts.append("{from_name from_addr} : " + self.quote(q.from_))
        return " AND ".join(parts)

    def search(self, q: Q) -> tuple[int, list[int]]:
        # bm25() is refused inside a join or beside a window function: rank in a CTE first
        sql = ("WITH f AS MATERIALIZED (SELECT rowid AS id, bm25(fts, 10.0, 4.0, 4.0, 1.0) AS r"
               " FROM fts WHERE fts MATCH ?)"
               " SELECT f.id, count(*) OVER () FROM f JOIN docs d ON d.id = f.id WHERE 1")
        args: list = [self.match(q)]
        if q.after:
            sql += " AND d.sort_date >= ?"
            args.append(q.after.isoformat(" "))
        if q.before:
            sql += " AND d.sort_date < ?"
            args.append(q.before.isoformat(" "))
        sql += " ORDER BY f.r LIMIT 10"
        rows = self.con.execute(sql, args).fetchall()
        return (rows[0][1] if rows else 0), [r[0] for r in rows]

    def close(self) -> None:
        self.con.close()
        self.path.unlink(missing_ok=True)


class Postgres(Engine):
    """PostgreSQL tsvector GENERATED column (A subject, B from, D body) + GIN index;
    ts_rank_cd with the default weights; websearch_to_tsquery / to_tsquery with bound
    parameters (never SQL or tsquery text built from user input)."""

    SCHEMA = "bench_search"

    def __init__(self, variant: str, url: str):
        self.variant = variant
        self.url = url
        self.name = f"pg-{variant}"
        self.notes = f"config '{variant}', GENERATED STORED tsvector + GIN, ts_rank_cd"

    def build(self, docs: list[Doc]) -> None:
        import psycopg
        self.con = con = psycopg.connect(self.url, autocommit=True)
        con.execute("SET client_min_messages = warning")
        s = self.SCHEMA
        con.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
        con.execute(f"CREATE SCHEMA {s}")
        con.execute(f"CREATE TABLE {s}.docs (id integer PRIMARY KEY, list text,"
                    " sort_date timestamp, subject text, from_name text, from_addr text,"
                    " body text)")
        with con.cursor() as cur, cur.copy(f"COPY {s}.docs FROM STDIN") as cp:
            for d in docs:
                cp.write_row((d.pk, d.list, d.date, d.subject, d.from_name, d.from_addr, d.body))
        con.execute(f"CREATE INDEX ON {s}.docs (sort_date)")
        con.execute(f"VACUUM ANALYZE {s}.docs")
        cfg = self.variant
        # the address's punctuation becomes spaces: the default parser keeps 'x@y.org' as one
        # token, so from:x would never match it
        expr = (f"setweight(to_tsvector('{cfg}', subject), 'A') ||"
                f" setweight(to_tsvector('{cfg}', from_name || ' ' ||"
                f" regexp_replace(from_addr, '[^[:alnum:]]+', ' ', 'g')), 'B') ||"
                f" setweight(to_tsvector('{cfg}', body), 'D')")
        con.execute("SET maintenance_work_mem = '256MB'")
        started = time.perf_counter()
        con.execute(f"ALTER TABLE {s}.docs ADD COLUMN tsv tsvector"
                    f" GENERATED ALWAYS AS ({expr}) STORED")
        con.execute(f"CREATE INDEX docs_tsv ON {s}.docs USING gin (tsv)")
        self.build_seconds = time.perf_counter() - started
        con.execute(f"VACUUM ANALYZE {s}.docs")

    def size(self) -> tuple[int, str]:
        s = self.SCHEMA
        gin = self.con.execute(f"SELECT pg_relation_size('{s}.docs_tsv')").fetchone()[0]
        col = self.con.execute(f"SELECT sum(pg_column_size(tsv)) FROM {s}.docs").fetchone()[0]
        return gin + col, f"GIN {gin / 1e6:.0f} MB + stored tsvector {col / 1e6:.0f} MB"

    @staticmethod
    def lexeme(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"

    def search(self, q: Q) -> tuple[int, list[int]]:
        parts, args = [], []
        cfg = self.variant
        if q.words:
            parts.append("websearch_to_tsquery(%s::regconfig, %s)")
            args += [cfg, " ".join(q.words)]
        if q.phrase:
            parts.append("phraseto_tsquery(%s::regconfig, %s)")
            args += [cfg, " ".join(q.phrase)]
        if q.prefix:
            parts.append("to_tsquery(%s::regconfig, %s)")
            args += [cfg, self.lexeme(q.prefix) + ":*"]
        if q.from_:
            parts.append("to_tsquery(%s::regconfig, %s)")
            args += [cfg, self.lexeme(q.from_) + ":B"]
        where = ""
        if q.after:
            where += " AND sort_date >= %s"
        if q.before:
            where += " AND sort_date < %s"
        tsquery = " && ".join(parts)
        sql = (f"SELECT id, count(*) OVER () FROM {self.SCHEMA}.docs, (SELECT {tsquery} AS q) s"
               f" WHERE tsv @@ q{where} ORDER BY ts_rank_cd(tsv, q) DESC LIMIT 10")
        args += [x for x in (q.after, q.before) if x]
        rows = self.con.execute(sql, args).fetchall()
        return (rows[0][1] if rows else 0), [r[0] for r in rows]

    def close(self) -> None:
        self.con.execute(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE")
        self.con.close()


ALL = ["tantivy-default", "tantivy-en_stem", "tantivy-fold_cjk", "fts5-unicode61", "fts5-porter",
       "fts5-trigram", "pg-simple", "pg-english"]


def make_engine(name: str, work: Path, pg: str) -> Engine:
    family, variant = name.split("-", 1)
    if family == "tantivy":
        return Tantivy(variant.replace("fold_cjk", "fold-cjk"), work)
    if family == "fts5":
        return Fts5(variant, work)
    return Postgres(variant, pg)


# --------------------------------------------------------------------------- measuring

def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def measure(engine: Engine, docs: list[Doc], tbytes: int, queries: list[Q],
            recall: list[tuple[int, Q]], truth_sets: list[set[int]], probes: dict[str, list[Probe]],
            ones_literal: int) -> dict:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    engine.build(docs)
    seconds = getattr(engine, "build_seconds", None) or (time.perf_counter() - started)
    size, size_note = engine.size()
    res: dict = {"engine": engine.name, "notes": engine.notes, "load_before": round(load, 2),
                 "docs": len(docs), "build_s": round(seconds, 1),
                 "docs_per_s": round(len(docs) / seconds), "size_mb": round(size / 1e6, 1),
                 "size_ratio": round(size / tbytes, 2), "size_note": size_note}
    # latency: one warm-up pass, then the measured pass
    errors = []
    for q in queries:
        try:
            engine.search(q)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            errors.append(f"{q.text()}: {type(e).__name__}: {str(e).splitlines()[0][:100]}")
    times, by_kind, slow, zero = [], {}, (0.0, ""), 0
    for q in queries:
        t0 = time.perf_counter()
        try:
            total, _ = engine.search(q)
        except Exception:  # noqa: BLE001
            total = 0
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        by_kind.setdefault(q.kind, []).append(ms)
        zero += total == 0
        if ms > slow[0]:
            slow = (ms, q.text())
    res.update(median_ms=round(statistics.median(times), 2), p95_ms=round(pct(times, 95), 2),
               max_ms=round(max(times), 1), slowest=slow[1], no_hits=zero, errors=errors[:5],
               n_errors=len(errors),
               kind_median_ms={k: round(statistics.median(v), 2) for k, v in by_kind.items()})
    # recall
    hit, fair = [], []
    for (pk, q), truth in zip(recall, truth_sets, strict=True):
        try:
            top = engine.search(q)[1]
        except Exception:  # noqa: BLE001
            top = []
        hit.append(pk in top)
        fair.append(pk in top or (len(truth) > 10 and len(top) == 10 and set(top) <= truth))
    res["recall"] = sum(hit)
    res["recall_fair"] = sum(fair)
    missed = [" ".join(q.phrase) for (_, q), h in zip(recall, hit, strict=True) if not h]
    res["recall_missed"] = missed[:5]
    for key, plist in probes.items():
        ok = []
        for p in plist:
            try:
                top = engine.search(p.query)[1]
                if p.same_as is not None:
                    ok.append(bool(top) and top == engine.search(p.same_as)[1])
                else:
                    ok.append(bool(p.expect & set(top)))
            except Exception:  # noqa: BLE001
                ok.append(False)
        res[key] = f"{sum(ok)}/{len(ok)}"
        res[key + "_detail"] = {p.label: o for p, o in zip(plist, ok, strict=True)}
    res["ones_hits"] = engine.search(Q("ones", words=("ones",)))[0]
    res["ones_literal"] = ones_literal
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="moot data folder")
    ap.add_argument("--engines", default=",".join(ALL), help=f"comma-separated, of {','.join(ALL)}")
    ap.add_argument("--pg", default=os.environ.get("MOOT_TEST_POSTGRES",
                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--limit", type=int, help="only the first N messages (a quick trial)")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()},"
          f" python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}")
    t0 = time.perf_counter()
    docs = load_docs(args.data)[: args.limit]
    tbytes = text_bytes(docs)
    hay = haystacks(docs)
    rng = random.Random(args.seed)
    queries = make_queries(docs, rng)
    recall = make_recall(docs, rng)
    probes = make_probes(docs, hay, rng)
    truth_sets = recall_truth(docs, hay, recall)
    ambiguous = sum(len(t) > 10 for t in truth_sets)
    ones_literal = literal_word_count(docs, "ones")
    print(f"{len(docs)} messages, {tbytes / 1e6:.1f} MB of text (subject+from+body, UTF-8);"
          f" workload made in {time.perf_counter() - t0:.0f}s; seed {args.seed}")
    print(f"{len(queries)} queries, e.g.: " + " | ".join(q.text() for q in queries[::29]))
    print(f"recall phrases: 50 ({ambiguous} occur in more than 10 messages)")
    for k, plist in probes.items():
        print(f"{k} probes: " + "; ".join(f"{p.label} ({len(p.expect)} msg)" for p in plist))
    del hay

    work = Path(args.work or tempfile.mkdtemp(prefix="moot-search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for name in args.engines.split(","):
            name = name.strip()
            try:
                engine = make_engine(name, work, args.pg)
            except ImportError as e:
                print(f"\n{name}: skipped ({e})")
                continue
            print(f"\n== {name}: {engine.notes}", flush=True)
            try:
                r = measure(engine, docs, tbytes, queries, recall, truth_sets, probes, ones_literal)
            except Exception as e:  # noqa: BLE001 - one engine failing must not hide the others
                print(f"   failed: {type(e).__name__}: {e}")
                continue
            finally:
                try:
                    engine.close()
                except Exception:  # noqa: BLE001
                    pass
            results.append(r)
            print(f"   load before {r['load_before']}; indexed {r['docs']} in {r['build_s']} s"
                  f" = {r['docs_per_s']} docs/s; size {r['size_mb']} MB = {r['size_ratio']}x text"
                  f" ({r['size_note']})")
            print(f"   latency median {r['median_ms']} ms, p95 {r['p95_ms']} ms,"
                  f" max {r['max_ms']} ms ({r['slowest']}); queries without hits {r['no_hits']};"
                  f" errors {r['n_errors']}")
            kinds = r["kind_median_ms"].items()
            print("   median by kind: " + ", ".join(f"{k} {v}" for k, v in kinds))
            for e in r["errors"]:
                print(f"   error: {e}")
            print(f"   recall {r['recall']}/50 (source or 10 true hits: {r['recall_fair']}/50);"
                  f" CJK {r['cjk']}, accents {r['accent']}, case {r['case']};"
                  f" 'ones' hits {r['ones_hits']} (messages with the word: {r['ones_literal']})")
            for key in ("cjk", "accent", "case"):
                detail = r[key + "_detail"].items()
                print(f"   {key}: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in detail))
            if r["recall_missed"]:
                print("   recall missed e.g.: " + " | ".join(r["recall_missed"][:3]))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    print("\n| engine | docs/s | index MB | x text | median ms | p95 ms | max ms"
          " | recall /50 (fair) | CJK | accents | case | 'ones' hits |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|")
    for r in results:
        print(f"| {r['engine']} | {r['docs_per_s']:,} | {r['size_mb']:.0f} | {r['size_ratio']}"
              f" | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']}"
              f" | {r['recall']} ({r['recall_fair']}) | {r['cjk']} | {r['accent']} | {r['case']}"
              f" | {r['ones_hits']:,} |")
    print(f"\ntext indexed: {tbytes / 1e6:.1f} MB in {len(docs)} messages; messages containing"
          f" the word 'ones': {ones_literal}; load average at the end {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"text_bytes": tbytes, "messages": len(docs),
                                         "results": results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
