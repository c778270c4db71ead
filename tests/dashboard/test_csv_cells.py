"""CSV cells a spreadsheet could run are neutralised in every disguise (issue 13)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.export import cell

TRIGGERS = [
    "=",
    "+",
    "-",
    "@",
    "＝",  # fullwidth forms
    "＋",
    "－",
    "＠",
    "﹦",  # small forms
    "﹢",
    "﹣",
    "﹫",
    "⁼",  # superscript and subscript signs
    "₌",
    "⁺",
    "₊",
    "⩵",  # '==' as one character
]
INVISIBLE = [
    " ",
    "\t",
    "\r",
    "\n",
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\u200b",  # zero-width space
    "\u200c",
    "\u200d",
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u200e",  # bidi marks and controls
    "\u200f",
    "\u061c",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u034f",  # combining grapheme joiner
    "\u3164",  # Hangul filler
    "\ufe0f",  # variation selector
    "\x00",
]


@pytest.mark.parametrize(
    "value",
    [
        " =1+1",  # issue 13: a space, then =
        '\u200b=HYPERLINK("http://evil")',  # issue 13: a zero-width space, then =
        "＝1+1",  # issue 13: fullwidth =
        "\ufeff@SUM(A1)",
        "\u202e=cmd|' /C calc'!A0",
        "\t\r=x",
        "\r\n-2",
        "  ＋3",
    ],
)
def test_disguised_formulas_are_neutralised(value: str) -> None:
    assert cell(value) == "'" + value


@given(
    prefix=st.lists(st.sampled_from(INVISIBLE), max_size=6).map("".join),
    trigger=st.sampled_from(TRIGGERS),
    rest=st.text(max_size=30),
)
def test_any_invisible_prefix_before_a_formula_sign_is_neutralised(
    prefix: str, trigger: str, rest: str
) -> None:
    value = prefix + trigger + rest
    assert cell(value) == "'" + value  # the text itself is kept intact after the apostrophe


@given(
    prefix=st.lists(st.sampled_from(INVISIBLE[4:]), max_size=6).map("".join),
    first=st.characters(categories=["L", "N"]),
    rest=st.text(max_size=30),
)
def test_text_starting_with_a_letter_or_digit_is_unchanged(
    prefix: str, first: str, rest: str
) -> None:
    value = prefix + first + rest
    assert cell(value) == value


@pytest.mark.parametrize("value", ["", "   ", "\u200b", "a=b", "1-2", "e@mail"])
def test_harmless_text_is_unchanged(value: str) -> None:
    assert cell(value) == value
