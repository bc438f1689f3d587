"""HTML mail, made safe: sanitised markup for display and plain text for the archive.

nh3 (ammonia) does the sanitising; this module only chooses what is allowed.  No scripts, no
styles, no remote images, no forms: an archived letter can neither run code nor tell its sender
that someone read it.
"""

from __future__ import annotations

import html
import re

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl",
    "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol",
    "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"},
                       "th": {"colspan", "rowspan"}, "abbr": {"title"}}
_BLOCK_END = re.compile(r"(?i)<\s*(?:br\s*/?|/p|/div|/tr|/li|/h\d|/blockquote|/pre|hr\s*/?)\s*>")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def sanitize_html(markup: str) -> str:
    """Markup safe to put in our pages: the allowed tags only, links made ``rel=nofollow``.

    >>> sanitize_html('<p onclick="x()">hi<script>alert(1)</script><img src="http://t/x.gif"></p>')
    '<p>hi</p>'
    """
    return nh3.clean(
        markup,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body: tags dropped, block ends turned into line breaks.

    >>> html_to_text("<p>Hello&nbsp;<b>world</b></p><p>again<br>and</p><style>p{}</style>")
    'Hello\\xa0world\\nagain\\nand'
    """
    marked = _BLOCK_END.sub("\n", markup)
    text = html.unescape(nh3.clean(marked, tags=set(), strip_comments=True,
                                   clean_content_tags={"script", "style", "title"}))
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip()
