"""CSV export for the CLI: streamed, fixed columns, ISO 8601 UTC, spreadsheet-safe cells."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

POST_COLUMNS = (
    "video",
    "platform",
    "platform_post_id",
    "url",
    "author",
    "text",
    "published_at",
    "first_seen_at",
    "matched_by",
    "parent_platform",
    "parent_platform_post_id",
    "relation",
    "is_gone",
    "gone_at",
    "latest_observed_at",
    "views",
    "likes",
    "shares",
    "comments",
    "quotes",
)
OBSERVATION_COLUMNS = (
    "video",
    "platform",
    "platform_post_id",
    "url",
    "observed_at",
    "views",
    "likes",
    "shares",
    "comments",
    "quotes",
)
# A spreadsheet runs a cell starting with these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> str:
    """One CSV cell: '' for NULL, ISO UTC for datetimes, text with formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(
    rows: Iterable[Any],
    columns: tuple[str, ...],
    out: TextIO,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Write a header and one line per row (attributes named by `columns`); returns row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(getattr(row, column)) for column in columns])
        count += 1
        if on_row is not None:
            on_row()
    return count
