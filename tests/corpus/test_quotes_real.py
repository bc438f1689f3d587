"""Quote finding on real mail: the first 2,000 messages of alsa-devel (mboxrd, full MIME) and of
r-devel's pipermail archive (oldest months first).  Nothing may raise; the counts printed here
(run with ``-s``) show what is recognised, and a few rates must hold."""

from __future__ import annotations

import email
import email.policy
import gzip
import re
from collections import Counter
from pathlib import Path

import pytest

from moot.core.quotes import find_quotes, is_code_prompt, unquoted_text

LIMIT = 2000
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_ENVELOPE = re.compile(rb"(?m)^From [^\n]* \w{3} \w{3} [ \d]?\d \d\d:\d\d:\d\d \d{4}\r?\nFrom:")


def _alsa(shared: Path) -> list[tuple[bool, str]]:
    """``(is a reply, text/plain body)`` of the first messages of the mboxrd file."""
    raws: list[bytes] = []
    current: list[bytes] = []
    with gzip.open(shared / "alsa-devel-25k.mbox.gz", "rb") as f:
        for line in f:
            if line.startswith(b"From ") and current:
                raws.append(b"".join(current[1:]))
                current = []
                if len(raws) == LIMIT:
                    break
            current.append(re.sub(rb"^>(>*From )", rb"\1", line))
    out = []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        body = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    body = payload.decode(part.get_content_charset() or "utf-8", "replace")
                    break
        out.append((msg["In-Reply-To"] is not None, body))
    return out


def _rdevel(shared: Path) -> list[tuple[bool, str]]:
    """``(is a reply, body)`` of the oldest pipermail messages."""
    def month_key(p: Path) -> tuple[int, int]:
        year, month = p.name.split(".")[0].split("-")
        return int(year), _MONTHS.index(month)

    out: list[tuple[bool, str]] = []
    for path in sorted((shared / "r-devel-pipermail").glob("*.txt.gz"), key=month_key):
        data = gzip.open(path, "rb").read()
        starts = [m.start() for m in _ENVELOPE.finditer(data)] + [len(data)]
        for a, b in zip(starts, starts[1:], strict=False):
            head, _, body = data[a:b].partition(b"\n\n")
            out.append((b"\nIn-Reply-To:" in head, body.decode("latin-1")))
            if len(out) == LIMIT:
                return out
    return out


def _survey(messages: list[tuple[bool, str]]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for reply, body in messages:
        quotes = find_quotes(body)
        unquoted_text(body)
        marked = [q for q in quotes if q.kind == "marked"]
        seen["messages"] += 1
        seen["replies"] += reply
        seen["replies quoting"] += reply and bool(marked)
        seen["marked"] += len(marked)
        seen["original blocks"] += len(quotes) - len(marked)
        seen["attributed"] += sum(q.attribution is not None for q in quotes)
        seen["dated"] += sum(q.attribution is not None and q.attribution.date is not None
                             for q in quotes)
        seen["code prompts"] += sum(is_code_prompt(q) for q in marked)
    return seen


def test_alsa_devel_quotes(shared_data: Path) -> None:
    seen = _survey(_alsa(shared_data))
    print("\nalsa-devel:", dict(seen))
    assert seen["messages"] == LIMIT
    assert seen["replies quoting"] >= 0.4 * seen["replies"]
    assert seen["attributed"] >= 0.3 * seen["replies quoting"]
    assert seen["code prompts"] <= 0.02 * seen["marked"]  # kernel mail quotes mail, not R


def test_rdevel_quotes_and_console_transcripts(shared_data: Path) -> None:
    messages = _rdevel(shared_data)
    seen = _survey(messages)
    print("\nr-devel:", dict(seen))
    assert seen["messages"] == LIMIT
    assert seen["replies quoting"] >= 0.3 * seen["replies"]
    # "> x <- ..." in a message that answers nobody can only be a console transcript
    sampled = flagged = 0
    for reply, body in messages:
        if reply:
            continue
        for q in find_quotes(body):
            if q.kind == "marked" and re.match(r"[\w.]+ *<- ", q.text):
                sampled += 1
                flagged += is_code_prompt(q)
    print(f"r-devel transcripts in new threads: {flagged} of {sampled} flagged")
    assert sampled >= 10
    assert flagged >= 0.8 * sampled


@pytest.mark.corpus
def test_talon_reply_formats_do_not_raise(shared_data: Path) -> None:
    """Real mail clients' reply formats (the talon fixtures): nothing raises, and most of the
    files that hold a ">" line give at least one quote."""
    files = [p for p in (shared_data / "torture" / "talon").rglob("*") if p.is_file()]
    with_marks = quoted = 0
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        quotes = find_quotes(text)
        unquoted_text(text)
        if re.search(r"(?m)^>", text):
            with_marks += 1
            quoted += bool(quotes)
    print(f"\ntalon: {len(files)} files, {quoted} of {with_marks} with '>' lines give quotes")
    assert quoted == with_marks
