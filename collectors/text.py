"""Plain text from what platforms send: HTML bodies, feed fields and feed dates.

- `html_to_text` keeps the shape a reader sees: paragraphs and headings become blank-line
  separated blocks, `<br>` a line break, each `<li>` a "- " line, each `<blockquote>` line is
  prefixed with "> ", `<pre>` keeps its spaces and line breaks; entities are decoded and
  `<script>`/`<style>` dropped. It also returns the `href` of every link.
- `feed_text` decodes a feedparser field by its declared type: `text/html` (RSS titles, Atom
  `type="html"`, YouTube's `media:description`) through `html_to_text` (entities only, line
  breaks kept, when it holds no markup), plain text as is.
- `feed_date` reads a feed date leniently where the instant is still unambiguous (a weekday
  name in another language, `Sex, 03 Jan 2025 23:47:02 -0300`) and returns None, never a
  guess, where it is not (no time zone, unknown month name).
"""

from __future__ import annotations

import calendar
import html
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "h1", "h2", "h3", "h4", "h5",
        "h6", "ul", "ol", "dl", "dt", "dd", "table", "tr", "figure", "figcaption", "hr",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "template", "head"})
_MAX_DEPTH = 200  # deeper nesting is flattened rather than recursed into


def html_to_text(content: str | None) -> tuple[str, list[str]]:
    """Readable plain text and link targets of an HTML fragment (see module docstring)."""
    if not content:
        return "", []
    tree = LexborHTMLParser(content)
    root = tree.body or tree.root
    if root is None:
        return "", []
    links = [a.attributes.get("href") or "" for a in root.css("a[href]")]
    parts: list[str] = []
    _walk(root, parts, depth=0, is_pre=False)
    return _tidy("".join(parts)), [link for link in links if link]


def _walk(node: LexborNode, out: list[str], depth: int, is_pre: bool) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag or ""
        if tag == "-text":
            text = child.text_content or ""
            out.append(text if is_pre else re.sub(r"\s+", " ", text))
        elif tag == "br":
            out.append("\n")
        elif tag in _SKIPPED or tag.startswith("-"):
            continue
        elif depth >= _MAX_DEPTH:
            out.append(child.text(separator=" "))
        elif tag == "pre":
            out.append("\n\n\x00")  # \x00 marks where preformatted text begins and ends
            _walk(child, out, depth + 1, is_pre=True)
            out.append("\x00\n\n")
        elif tag == "li":
            out.append("\n- ")
            _walk(child, out, depth + 1, is_pre)
        elif tag == "blockquote":
            inner: list[str] = []
            _walk(child, inner, depth + 1, is_pre)
            quoted = "\n".join("> " + line for line in _tidy("".join(inner)).splitlines())
            out.append(f"\n\n{quoted}\n\n")
        elif tag in _BLOCKS:
            out.append("\n\n")
            _walk(child, out, depth + 1, is_pre)
            out.append("\n\n")
        else:
            _walk(child, out, depth + 1, is_pre)


def _tidy(text: str) -> str:
    """Trim spaces around line breaks and collapse blank lines, outside preformatted parts."""
    pieces = text.split("\x00")
    for index in range(0, len(pieces), 2):
        piece = re.sub(r"[ \t\u00a0]*\n[ \t\u00a0]*", "\n", pieces[index])
        pieces[index] = re.sub(r"\n{3,}", "\n\n", piece)
    joined = "".join(pieces)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


# --- feeds --------------------------------------------------------------------------------

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TAG = re.compile(r"<[a-zA-Z/!]")


def feed_text(entry: Any, name: str) -> tuple[str, list[str]]:
    """Field `name` of a feedparser entry as plain text (and its links), by declared type."""
    value = entry.get(name) or ""
    detail = entry.get(f"{name}_detail") or {}
    if detail.get("type") not in _HTML_TYPES:
        return str(value).strip(), []
    if _TAG.search(value):
        return html_to_text(value)
    # Declared HTML without markup (YouTube's media:description): entities only, lines kept.
    return html.unescape(value).strip(), []


_WEEKDAY_PREFIX = re.compile(r"^\s*[^\W\d_]+\.?\s*,\s*")


def feed_date(entry: Any, *names: str) -> datetime | None:
    """The first of `names` (e.g. "published", "updated") feedparser or we can read, as UTC."""
    for name in names:
        # dict.get: feedparser's own get() maps "updated" to "published" with a warning.
        parsed = dict.get(entry, f"{name}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        when = lenient_date(dict.get(entry, name))
        if when is not None:
            return when
    return None


def lenient_date(value: Any) -> datetime | None:
    """An RFC 822 date whose weekday may be in any language, or ISO 8601; None if ambiguous."""
    if not isinstance(value, str) or not value.strip():
        return None
    # The weekday adds nothing to the instant; feedparser rejects names it does not know.
    text = _WEEKDAY_PREFIX.sub("", value.strip())
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    # No time zone (or RFC 822's "-0000", unknown zone): the instant would be a guess.
    return None if when.tzinfo is None else when.astimezone(UTC)
