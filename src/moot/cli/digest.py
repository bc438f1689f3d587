"""``moot digest send``: a list's digest now, due or not, through the same service the
server's housekeeping uses (:mod:`moot.digests`).  It queues the digest in the outbound queue;
``moot serve`` (or whichever server runs delivery) hands it to the relay."""

from __future__ import annotations

import typer

from moot.cli.main import JsonOpt, emit_json, err, fail, open_moot
from moot.digests import MAX_DIGEST_BYTES, Digests
from moot.storage.lists import get_config
from moot.storage.store import now_utc

digest_app = typer.Typer(no_args_is_help=True, help="Send digests to digest members.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@digest_app.command("send")
def digest_send(ctx: typer.Context, address: str, as_json: JsonOpt = False) -> None:
    """Send ADDRESS's digest now, even if it is not due: every post since the last digest
    (up to 10 MB a digest; the rest waits for the next)."""
    moot = open_moot(ctx.obj)
    with moot.engine.connect() as conn:
        config = get_config(conn, address)
    if config is None:
        fail(f"no list {address!r}: see `moot list ls`")
    digests = Digests(moot.engine, moot.membership.urls)
    with moot.engine.begin() as conn:
        result = digests.send_digest(conn, config, now_utc(), force=True)
    if as_json:
        emit_json({"sent": result.sent, "volume": result.volume, "issue": result.issue,
                   "recipients": result.recipients})
    elif result.sent:
        print(f"sent digest Vol {result.volume}, Issue {result.issue} to "
              f"{_plural(result.recipients, 'member')}")
    elif result.dropped:
        print(f"nothing to send: {config.address} has no digest members to receive it; "
              f"dropped {_plural(result.dropped, 'waiting post')}")
    else:
        print("nothing to send: no posts since the last digest")
    if result.left and not as_json:
        err.print(f"note: {_plural(result.left, 'more post')} did not fit in one digest "
                  f"({MAX_DIGEST_BYTES // 1_000_000} MB) and wait for the next; run "
                  f"`moot digest send {config.address}` again to send them now", markup=False)
