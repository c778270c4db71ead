"""Bidirectional control characters in untrusted text: shown as `[U+202E]`, never obeyed.

A right-to-left override in a title or an author name reorders the text after it ("Trojan
Source"), so a page could show something other than what is stored. Every `{{ … }}` in the
templates passes through `finalize`, which names the controls visibly; the stored text is left
intact, and form fields opt out with the `as_stored` filter so that saving a form changes
nothing.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

# Embeddings and overrides, isolates, and the implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def show_bidi_controls(text: str) -> str:
    """`text` with each bidi control replaced by its visible name, e.g. "[U+202E]"."""
    if BIDI_CONTROLS.search(text) is None:
        return text
    return BIDI_CONTROLS.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)


def finalize(value: Any) -> Any:
    """Jinja `finalize`: plain strings show their bidi controls; Markup is already final."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return show_bidi_controls(value)
    return value


def as_stored(value: Any) -> Markup:
    """For form fields: escaped, with bidi controls kept as they are stored."""
    return Markup.escape("" if value is None else value)
