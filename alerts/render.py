"""Alert texts for each target format, and target labels that never show a secret.

Post text, authors and post URLs are untrusted: they are collapsed to one line, shortened, and
escaped for the target's format (HTML entities, Markdown backslashes), so a post cannot inject
markup, links or fake lines into a message. Headlines and numbers are our own words.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

FORMATS = ("text", "markdown", "html")
DETAIL_CHARS = 200
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=])")
_SPACE = re.compile(r"\s+")
# Hosts that look like an address (dotted, IPv6 or localhost); any other "host" in an Apprise URL
# is often a token (tgram://BOTTOKEN/…, discord://ID/TOKEN) and is not shown.
_ADDRESS_HOST = re.compile(r"^(localhost|[^.]+(\.[^.]+)+|\[[0-9a-f:]+\])$", re.I)


def mask_target(name: str, url: str) -> str:
    """`name (scheme://host)`: the scheme and, where it is an address, the host; never the
    user, password, path or query, which is where Apprise URLs keep their secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"{name} (unreadable URL)"
    scheme = parts.scheme or "?"
    if host and _ADDRESS_HOST.match(host):
        return f"{name} ({scheme}://{host})"
    return f"{name} ({scheme}://…)"


def untrusted(value: Any, fmt: str, limit: int = DETAIL_CHARS) -> str:
    """Untrusted text on one line, at most `limit` characters, escaped for `fmt`."""
    # Newlines first: a post text holding "\nRule: x" must not pass for a line of ours.
    text = _SPACE.sub(" ", str(value)).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if fmt == "html":
        return html.escape(text)
    if fmt == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def render(payload: dict[str, Any], fmt: str) -> tuple[str, str]:
    """(title, body) of a stored alert payload in `fmt` (text, markdown or html)."""
    title = f"viralwatch: {payload['video'] or 'collection'}: {payload['headline']}"
    lines = [_bold(payload["headline"], fmt)]
    if payload.get("numbers"):
        lines.append(_numbers(payload["numbers"], fmt))
    for item in payload.get("items", []):
        parts = [untrusted(item["label"], fmt, 120)]
        if item.get("numbers"):
            parts.append(_numbers(item["numbers"], fmt))
        if item.get("detail"):
            parts.append(untrusted(item["detail"], fmt))
        if item.get("url"):
            parts.append(untrusted(item["url"], fmt, 300))
        lines.append("- " + " — ".join(parts))
    lines.append(f"Time: {payload['fired_at_utc']}")
    lines.append(f"Dashboard: {_link(payload['link'], fmt)}")
    lines.append(f"Rule: {_plain(payload['rule'], fmt)}")
    # Markdown joins lines with a hard break (two spaces), or chat clients run them together.
    separator = "<br>\n" if fmt == "html" else "\n"
    return (
        untrusted(title, "text", 250),
        separator.join(lines) if fmt != "markdown" else "  \n".join(lines),
    )


def _numbers(numbers: dict[str, Any], fmt: str) -> str:
    return _plain(", ".join(f"{key} {_format_number(v)}" for key, v in numbers.items()), fmt)


def _format_number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _plain(text: str, fmt: str) -> str:
    return untrusted(text, fmt, 1000)


def _bold(text: str, fmt: str) -> str:
    if fmt == "html":
        return f"<b>{html.escape(text)}</b>"
    if fmt == "markdown":
        return f"**{_plain(text, fmt)}**"
    return text


def _link(url: str, fmt: str) -> str:
    if fmt == "html":
        return f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'
    if fmt == "markdown":
        # An autolink ends at ">" or a space: encode both so the link cannot be cut short.
        return f"<{url.replace('>', '%3E').replace(' ', '%20')}>"
    return url
