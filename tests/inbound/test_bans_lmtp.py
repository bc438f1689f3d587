"""A banned sender over a real LMTP conversation with `moot serve`: refused at RCPT when the
list says refuse (the mail server bounces it; nothing is stored), held when it says hold."""

from __future__ import annotations

from tests.inbound.test_end_to_end import LIST, Server, post, server  # noqa: F401 - fixture


def test_a_banned_sender_is_refused_at_rcpt(server: Server) -> None:  # noqa: F811
    assert server.cli("ban", LIST, "*@spam.example", "--reason", "spam").returncode == 0
    refused = server.lmtp("eve@spam.example", [LIST, "dev-request@example.org"],
                          post("ban1@spam.example", sender="eve@spam.example"))
    code, text = refused[LIST]
    assert code == 550 and b"banned" in text
    # Only posts are refused here: the request address still answers (help, unsubscribe).
    assert refused["dev-request@example.org"][0] == 250
    # Someone else is not affected.
    ok = server.lmtp("bob@example.org", [LIST], post("ban2@example.org"))
    assert ok[LIST][0] == 250


def test_a_banned_sender_is_held_when_the_list_says_so(server: Server) -> None:  # noqa: F811
    assert server.cli("ban", LIST, "eve@spam.example").returncode == 0
    assert server.cli("list", "set", LIST, "ban_action=hold").returncode == 0
    got = server.lmtp("eve@spam.example", [LIST],
                      post("ban3@spam.example", sender="eve@spam.example"))
    assert got[LIST][0] == 250 and b"held" in got[LIST][1]
