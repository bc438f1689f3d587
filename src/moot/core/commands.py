"""Email commands: what a message to ``LIST-request@`` asks for.

Why: people manage their subscription by mail (``subscribe``, ``unsubscribe``, ``help``,
``who``, ``confirm CODE``), and a reply to a confirmation request must work by itself, so the
subject is read as a command too.  Mail to the request address is messy -- signatures,
quoted replies, "thanks!", whole newsletters -- so the reader is careful about what it runs:
it stops at a signature separator (``-- ``), at quoted text (lines starting with ``>``, never
run) and at ``end``/``stop``/``thanks``, gives up after three lines in a row it does not
understand, and runs at most ``limit`` commands.

What it won't do: execute anything, decide who may do what, or guess.  Commands are matched
exactly (case-insensitive, surrounding whitespace ignored); ``/subscribe`` or
``subscribe please`` are not understood and are reported back as such.  The caller decodes the
message (MIME, charsets) and passes the subject and the text body; it also makes the reply
(see :func:`moot.core.notices.command_results`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moot.core.mailinglist import ListConfig

# Canonical names of the commands, and the other words that mean them.
COMMANDS = ("subscribe", "unsubscribe", "help", "who", "confirm")
_ALIASES = {
    "subscribe": "subscribe",
    "join": "subscribe",
    "unsubscribe": "unsubscribe",
    "leave": "unsubscribe",
    "remove": "unsubscribe",
    "help": "help",
    "who": "who",
    "confirm": "confirm",
}
_STOP_WORDS = ("end", "stop", "thanks", "thank you")
_MAX_UNKNOWN_IN_A_ROW = 3
# "Re:", "RE[2]:", "Fwd:", "AW:", "SV:" ... as mail programs in several languages write them.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|r|ref|enc|rv)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)
_CONFIRM_CODE = re.compile(r"^[A-Za-z0-9._=-]{1,200}$")


@dataclass(frozen=True)
class Command:
    """One understood command.

    ``name`` is one of :data:`COMMANDS` (``join`` is read as ``subscribe``; ``leave`` and
    ``remove`` as ``unsubscribe``); ``args`` are ``("digest",)`` or ``("regular",)`` for
    subscribe (lower-cased), the code for confirm; ``line`` is the text as written, to
    quote it back in the reply.  A confirmation code keeps its case (codes such as
    ``secrets.token_urlsafe()`` depend on it).
    """

    name: str
    args: tuple[str, ...]
    line: str


@dataclass(frozen=True)
class Parsed:
    """The commands to run, in order; the lines not understood; how many lines were not read."""

    commands: tuple[Command, ...]
    unknown: tuple[str, ...]
    ignored: int


def parse_line(line: str) -> Command | None:
    """One line as a command, or None if it is not exactly one.

    >>> parse_line("  Subscribe DIGEST ")
    Command(name='subscribe', args=('digest',), line='Subscribe DIGEST')
    >>> parse_line("leave")
    Command(name='unsubscribe', args=(), line='leave')
    >>> parse_line("CONFIRM 3F9a_0c").args
    ('3F9a_0c',)
    >>> [parse_line(t) for t in ("confirm", "help me", "/help", "subscribe weekly")]
    [None, None, None, None]
    """
    text = line.strip()
    words = text.split()
    if not words or words[0].lower() not in _ALIASES:
        return None
    name, args = _ALIASES[words[0].lower()], tuple(words[1:])
    if name == "subscribe":
        args = tuple(a.lower() for a in args)
        ok = args in ((), ("digest",), ("regular",))
    elif name == "confirm":
        ok = len(args) == 1 and bool(_CONFIRM_CODE.match(args[0]))
    else:
        ok = not args
    return Command(name, args, text) if ok else None


def strip_reply_prefixes(subject: str) -> str:
    """A subject without its leading "Re:"/"Fwd:"-like prefixes.

    >>> strip_reply_prefixes("Re: AW: Fwd:  confirm 3f9a0c")
    'confirm 3f9a0c'
    >>> strip_reply_prefixes("Re[2]: help")
    'help'
    """
    text = subject.strip()
    while True:
        shorter = _REPLY_PREFIX.sub("", text, count=1)
        if shorter == text:
            return text
        text = shorter


def _is_stop(text: str) -> bool:
    return text.lower().rstrip(".!,").strip() in _STOP_WORDS


def _ends_commands(text: str) -> bool:
    """Whether a (stripped) body line ends the part of the body that holds commands."""
    return (
        text.startswith(">")
        or text == "--"  # "-- " once the trailing space is stripped (RFC 3676 4.3)
        or text.lower().startswith("-----original message-----")
        or _is_stop(text)
    )


def parse_commands(subject: str, body: str, *, limit: int = 10) -> Parsed:
    """The commands in a message to the request address.

    The subject counts if, without its "Re:"-like prefixes, it is a command; otherwise it is
    not reported.  Body lines are read until the end of the commands (see the module's
    docstring); blank lines are skipped; a command given twice runs once.  Non-blank lines
    before the end of the commands that were not read (after ``limit`` commands, or after
    three unknown lines in a row) are counted in ``ignored``.

    >>> p = parse_commands("Re: confirm 3f9a0c", "confirm 3f9a0c\\nhelp\\nplease\\n> who\\n")
    >>> [c.name for c in p.commands], p.unknown, p.ignored
    (['confirm', 'help'], ('please',), 0)
    >>> p = parse_commands("", "hi\\nI want out\\nhow?\\nunsubscribe\\nhelp\\n")
    >>> p.commands, p.unknown, p.ignored
    ((), ('hi', 'I want out', 'how?'), 2)
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    commands: list[Command] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    unknown: list[str] = []
    ignored = 0

    def add(command: Command) -> None:
        key = (command.name, command.args)
        if key not in seen:
            seen.add(key)
            commands.append(command)

    from_subject = parse_line(strip_reply_prefixes(subject))
    if from_subject is not None:
        add(from_subject)

    reading = len(commands) < limit
    unknown_in_a_row = 0
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if _ends_commands(text):
            break
        if not reading:
            ignored += 1
            continue
        command = parse_line(text)
        if command is None:
            unknown.append(text)
            unknown_in_a_row += 1
            reading = unknown_in_a_row < _MAX_UNKNOWN_IN_A_ROW
            continue
        unknown_in_a_row = 0
        add(command)
        reading = len(commands) < limit
    return Parsed(tuple(commands), tuple(unknown), ignored)


def help_text(config: ListConfig) -> str:
    """The text of the reply to ``help``: what the list is and the commands it understands.

    No line of it is itself a command, so a reply that quotes it without ``>`` runs nothing.
    """
    lines = [f"Help for the list {config.name} <{config.address}>", ""]
    if config.description.strip():
        lines += [config.description.strip(), ""]
    lines += [
        f"To post, write to {config.address}.",
        "",
        f"Send commands to {config.request_address}, in the subject or one per",
        "line in the body:",
        "",
        "  subscribe           join the list (also: join)",
        "  subscribe digest    join, getting the posts bundled in digests",
        "  subscribe regular   join, getting each post as it is sent (the default)",
        "  unsubscribe         leave the list (also: leave, remove)",
        "  confirm CODE        confirm a request with the code we sent you",
        "  who                 list the members (if you may see them)",
        "  help                this text",
        "",
        "The body is read up to a line saying 'end', up to your signature, or up to",
        "quoted text.",
        "",
        f"Shortcuts: any message to {config.sub_address('join')} joins the list,",
        f"any message to {config.sub_address('leave')} leaves it.",
        f"To reach the people who run the list, write to {config.owner_address}.",
    ]
    return "\n".join(lines) + "\n"


HELP_TEXT = help_text
"""The name the design notes use for :func:`help_text`."""
