"""Make feed bodies safe for feedparser: it is quadratic in the length of person fields.

feedparser matches an e-mail regular expression against every author, creator and publisher
(`_sync_author_detail`), which backtracks over the whole value at each start position: a 100 KB
`<author>` froze the event loop for 77 s (issue 13), a 40 KB `<dc:publisher>` takes 28 s. No
real name is that long, so the text of those elements is cut to `PERSON_CHARS` before parsing;
everything else (titles, descriptions, links) parses in linear time and is left alone.
"""

from __future__ import annotations

import re

PERSON_CHARS = 256
"""Bytes kept of a person field: one regex match costs O(n^2), so this bounds it to ~1 ms."""

# A person element's start tag, then its text (up to the next tag) or one CDATA section.
# Linear: each alternative scans forward once and never backtracks into the tag.
_PERSON = re.compile(
    rb"(<(?:[\w.-]+:)?(?:author|creator|publisher|contributor|name|email|managingEditor"
    rb"|webMaster)(?:\s[^>]*)?>)(<!\[CDATA\[.*?\]\]>|[^<]*)",
    re.DOTALL,
)


def cap_person_fields(content: bytes) -> bytes:
    """`content` with every person field's text cut to PERSON_CHARS bytes."""
    return _PERSON.sub(_cut, content)


def _cut(match: re.Match[bytes]) -> bytes:
    tag, text = match.group(1), match.group(2)
    if len(text) <= PERSON_CHARS:
        return match.group(0)
    if text.startswith(b"<![CDATA["):
        return tag + b"<![CDATA[" + _prefix(text[9:-3]) + b"]]>"
    return tag + _prefix(text)


def _prefix(text: bytes) -> bytes:
    """The first PERSON_CHARS bytes, never ending inside a UTF-8 character or an entity."""
    cut = PERSON_CHARS
    while cut > 0 and text[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        cut -= 1
    head = text[:cut]
    amp = head.rfind(b"&")
    return head[:amp] if amp > head.rfind(b";") else head
