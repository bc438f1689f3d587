"""Message text as HTML: escaped, links made clickable, quoted passages folded.

Folding uses <details>, so it works without JavaScript.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from moot.core.address import obfuscate

_URL = re.compile(r"\bhttps?://[^\s<>\"'()\[\]]+[^\s<>\"'()\[\].,;:!?]")
_FOLD_AT = 4  # quoted runs longer than this are folded


_EMAIL = re.compile(r"\b([\w.+\-=]+)@([\w\-]+(?:\.[\w\-]+)+)\b")


def _plain(text: str) -> Markup:
    """Escaped text with email addresses obfuscated (harvesters read archives).

    >>> str(_plain("Signed-off-by: Ada <ada@example.org>"))
    'Signed-off-by: Ada &lt;ada@e...&gt;'
    """
    return escape(_EMAIL.sub(lambda m: obfuscate(m.group(0)), text))


def obfuscate_addresses(markup: str) -> str:
    """Email addresses in sanitised HTML obfuscated, in text and in links alike.

    >>> obfuscate_addresses('<a href="mailto:ada@example.org">ada@example.org</a>')
    '<a href="mailto:ada@e...">ada@e...</a>'
    """
    return _EMAIL.sub(lambda m: obfuscate(m.group(0)), markup)


def linkify(text: str) -> Markup:
    """Escape text and turn http(s) URLs into links.

    >>> str(linkify("see <https://example.org/a?b=1&c=2>."))
    'see &lt;<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener">https://example.org/a?b=1&amp;c=2</a>&gt;.'
    """
    out, pos = [], 0
    for m in _URL.finditer(text):
        out.append(_plain(text[pos : m.start()]))
        url = escape(m.group(0))
        out.append(Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(url))
        pos = m.end()
    out.append(_plain(text[pos:]))
    return Markup("").join(out)


def render_body(text: str) -> Markup:
    """A message body as <pre> blocks; long runs of quoted lines folded.

    >>> "<details" in render_body("hi\\n" + "> q\\n" * 6 + "answer")
    True
    """
    lines = text.split("\n")
    blocks: list[tuple[bool, list[str]]] = []
    for line in lines:
        quoted = line.startswith(">")
        if blocks and blocks[-1][0] == quoted:
            blocks[-1][1].append(line)
        else:
            blocks.append((quoted, [line]))
    parts = []
    for quoted, block in blocks:
        body = linkify("\n".join(block))
        if quoted and len(block) > _FOLD_AT:
            parts.append(Markup(
                '<details class="quote"><summary>{} quoted lines</summary>'
                '<pre class="q">{}</pre></details>').format(len(block), body))
        elif quoted:
            parts.append(Markup('<pre class="q">{}</pre>').format(body))
        else:
            parts.append(Markup("<pre>{}</pre>").format(body))
    return Markup("").join(parts)


def highlight(text: str, spans: list[tuple[int, int]]) -> Markup:
    """Escape text and wrap the matched spans in <mark>.

    >>> str(highlight("a <b> c", [(2, 5)]))
    'a <mark>&lt;b&gt;</mark> c'
    """
    out, pos = [], 0
    for a, b in spans:
        out.append(_plain(text[pos:a]))
        out.append(Markup("<mark>{}</mark>").format(_plain(text[a:b])))
        pos = b
    out.append(_plain(text[pos:]))
    return Markup("").join(out)
