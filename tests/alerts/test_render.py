"""Alert texts escape untrusted post text for each target's format; target labels hide
secrets (issue 12)."""

from __future__ import annotations

import pytest

from alerts.deliver import secret_fragments, target_format
from alerts.render import mask_target, render

HOSTILE = "<script>alert(1)</script> **bold** [click](https://evil.example) &amp;\nFAKE LINE"


def payload(text: str = HOSTILE) -> dict:
    return {
        "rule": "spread",
        "video": "clip",
        "headline": "the footage reached a new platform",
        "numbers": {"posts": 3},
        "items": [
            {
                "label": "youtube post by <b>mallory</b>",
                "numbers": {"views": 1_200_000},
                "detail": text,
                "url": "https://youtube.example/watch?v=1&x=<y>",
            }
        ],
        "fired_at_utc": "2026-03-01 12:00:00 UTC",
        "link": "https://desk.example.org/videos/clip",
    }


def test_html_targets_get_entities_not_markup():
    _title, body = render(payload(), "html")
    assert "<script>" not in body and "<b>mallory</b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&amp;amp;" in body  # an entity in the post stays text
    assert '<a href="https://desk.example.org/videos/clip">' in body
    assert "views 1,200,000" in body and "2026-03-01 12:00:00 UTC" in body


def test_markdown_targets_get_backslash_escapes():
    _title, body = render(payload(), "markdown")
    assert r"\*\*bold\*\*" in body
    assert r"\[click\]\(https://evil\.example\)" in body
    assert "[click](" not in body
    assert "**the footage reached a new platform**" in body


def test_untrusted_text_cannot_add_lines():
    _title, body = render(payload(), "text")
    (item_line,) = [line for line in body.splitlines() if line.startswith("- ")]
    assert "FAKE LINE" in item_line
    assert not any(line.startswith("FAKE") for line in body.splitlines())


def test_long_post_text_is_shortened():
    _title, body = render(payload("x" * 5000), "text")
    assert "x" * 199 + "…" in body and "x" * 201 not in body


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("json://user:pw@127.0.0.1:8080/hook?token=abc", "t (json://127.0.0.1)"),
        ("ntfy://ntfy.example.org/topic-secret", "t (ntfy://ntfy.example.org)"),
        ("tgram://123456789:AAbbCCdd/-1001234", "t (tgram://…)"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "t (discord://…)"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "t (slack://…)"),
    ],
)
def test_target_labels_show_scheme_and_address_only(url, label):
    assert mask_target("t", url) == label


def test_every_secret_part_of_a_url_is_redacted():
    fragments = secret_fragments("json://user:PW@127.0.0.1:8080/PATH?token=TOK")
    assert {"PW", "PATH", "TOK", "user:PW"} <= fragments
    assert "127.0.0.1" not in fragments
    assert "1234567890:SECRET" in secret_fragments("tgram://1234567890:SECRET@x/1")
    assert "BOTTOKEN" in secret_fragments("tgram://BOTTOKEN/1")


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("json://127.0.0.1/x", "text"),
        ("tgram://123456789:AAbbCCdd/-1001234", "html"),
        ("nope://whatever", "text"),
    ],
)
def test_each_target_gets_its_plugins_format(url, fmt):
    assert target_format(url) == fmt
