"""public-inbox: a v2 inbox with full Xapian indexing (``public-inbox-init -V2 -L full``), filled
from the mbox through public-inbox's own writer (V2Writable indexes each message as it stores
it, so that step is import and indexing), then ``public-inbox-compact``, which its
documentation advises after a first import; searched in process through its Perl API.

public-inbox comes from Debian's package (``apt-get install public-inbox``, which brings the
Xapian Perl bindings): it is installed system-wide, not into the temporary folder; its inbox,
configuration and HOME are in the temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from base import Imported, NotRun, check, combine, search_child
from measure import du, run

# Reads an mboxrd on stdin into the inbox named by $ARGV[0] (what public-inbox's own
# scripts/import_vger_from_mbox does).
IMPORT_PL = r"""
use strict; use v5.10.1;
use PublicInbox::Config; use PublicInbox::InboxWritable; use PublicInbox::MboxReader;
my $cfg = PublicInbox::Config->new;
my $ibx = $cfg->lookup_name($ARGV[0]) or die "no inbox $ARGV[0] in $ENV{PI_CONFIG}\n";
$ibx = PublicInbox::InboxWritable->new($ibx);
my $im = $ibx->importer(1);
my ($n, $skipped) = (0, 0);
PublicInbox::MboxReader->mboxrd(\*STDIN, sub { $im->add($_[0]) ? $n++ : $skipped++ });
$im->done;
say "imported $n skipped $skipped";
"""

# The search child (see base.py): Xapian through public-inbox's Search (AND by default, English
# stemming, ranked by relevance as the web's &r), the page's Message-IDs from over.sqlite3.
SEARCH_PL = r"""
use strict; use v5.10.1;
use JSON::PP; use Time::HiRes ();
use PublicInbox::Config;
my ($name, $qfile, $ofile, $rounds) = @ARGV;
my $ibx = PublicInbox::Config->new->lookup_name($name) or die "no inbox $name\n";
my $srch = $ibx->isrch or die "inbox $name has no Xapian index\n";
open(my $in, '<', $qfile) or die; my $qs = decode_json(do { local $/; <$in> });
sub once {
    my ($q) = @_;
    my $t = Time::HiRes::time();
    my $mset = $srch->mset($q, { limit => 20, relevance => 1 });
    my $total = $mset->get_matches_estimated;
    my @nums = @{$srch->mset_to_artnums($mset)};
    my %mid = map { $_->{num} => $_->{mid} } @{$ibx->over->get_all(@nums)};
    my @mids = map { $mid{$_} } @nums;
    return ((Time::HiRes::time() - $t) * 1000, $total, \@mids);
}
once($_->{q}) for @$qs;
my %out = map { $_->{id} => { id => $_->{id}, ms => [] } } @$qs;
for (1 .. $rounds) {
    for my $item (@$qs) {
        my ($ms, $total, $mids) = once($item->{q});
        push @{$out{$item->{id}}{ms}}, $ms;
        $out{$item->{id}}{total} = $total + 0;
        $out{$item->{id}}{mids} = $mids;
    }
}
open(my $o, '>', $ofile) or die;
print $o JSON::PP->new->ascii->encode([map { $out{$_->{id}} } @$qs]);
"""

TOOLS = ("public-inbox-init", "public-inbox-compact", "perl", "git", "xapian-compact")


class PublicInbox:
    name = syntax = "public-inbox"

    def __init__(self, work: Path, address: str) -> None:
        self.work, self.address = work / "public-inbox", address
        self.list = address.split("@")[0]
        self.inbox = self.work / self.list
        self.env = dict(os.environ, PI_CONFIG=str(self.work / "config"), HOME=str(self.work))
        self.env.pop("PI_DIR", None)

    def version(self) -> str:
        pkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "public-inbox"],
                             capture_output=True, text=True).stdout.strip()
        xap = subprocess.run(["perl", "-MPublicInbox::Search", "-e",
                              "PublicInbox::Search::load_xapian() or die;"
                              " print $PublicInbox::Search::Xap->can('version_string')->()"],
                             capture_output=True, text=True).stdout.strip()
        return f"public-inbox {pkg or '?'} (Debian package), Xapian {xap or '?'}"

    def setup(self) -> None:
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if missing:
            raise NotRun(f"{', '.join(missing)} missing: run `apt-get install -y public-inbox`"
                         " as root (Debian), or pass --install")
        probe = subprocess.run(["perl", "-MPublicInbox::V2Writable", "-MPublicInbox::Search",
                                "-e", "exit(PublicInbox::Search::load_xapian() ? 0 : 1)"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            raise NotRun("public-inbox's Perl modules cannot load Xapian: "
                         + (probe.stderr.strip() or "load_xapian() failed"))
        self.work.mkdir(parents=True, exist_ok=True)
        check("public-inbox-init", run(
            ["public-inbox-init", "-V2", "-L", "full", self.list, str(self.inbox),
             f"http://127.0.0.1/{self.list}", self.address], env=self.env))

    def load(self, mbox: Path) -> Imported:
        imp = check("public-inbox import", run(["perl", "-e", IMPORT_PL, self.list],
                                                env=self.env, stdin=mbox))
        m = re.search(r"imported (\d+) skipped (\d+)", imp.stdout)
        if not m:
            raise NotRun(f"public-inbox import said {imp.stdout[-300:]!r}")
        compact = check("public-inbox-compact", run(["public-inbox-compact", str(self.inbox)],
                                                     env=self.env))
        shards = len([p for p in self.inbox.glob("xap*/*") if p.name.isdigit()])
        return combine({"import (+ Xapian)": imp, "public-inbox-compact": compact},
                       int(m.group(1)), [f"{m.group(2)} skipped (duplicates)",
                                         f"{shards} Xapian shard(s)"])

    def size(self) -> int:
        return du(self.inbox)

    def search(self, queries: list[tuple[int, str]], rounds: int) -> list[dict]:
        return search_child(["perl", "-e", SEARCH_PL, self.list], self.work, queries, rounds,
                            env=self.env, label="public-inbox")
