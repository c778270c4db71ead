"""CSV for `viralwatch export`: cells: NULL stays empty, times are ISO UTC, formulas are neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboard.export import cell as csv_cell
from dashboard.export import write_csv


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain title", "plain title"),
        ("", ""),
        (-2, "-2"),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected


def test_datetimes_are_written_in_utc_with_z():
    kyiv = timezone(timedelta(hours=2))
    assert csv_cell(datetime(2022, 3, 2, 8, 0, tzinfo=kyiv)) == "2022-03-02T06:00:00Z"
    assert csv_cell(datetime(2022, 3, 2, 6, 0, 1, 5, tzinfo=UTC)) == "2022-03-02T06:00:01.000005Z"


def test_write_csv_has_a_header_and_empty_cells_for_null():
    class Row:
        a, b, c = "=cmd", None, 7

    out = io.StringIO()
    assert write_csv([Row(), Row()], ("a", "b", "c"), out) == 2
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["a", "b", "c"],
        ["'=cmd", "", "7"],
        ["'=cmd", "", "7"],
    ]
