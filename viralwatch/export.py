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
    "last_error",
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
FORMULA_FIRST_CHARS = frozenset("=+-@\t\r\n")


def csv_cell(value: Any) -> Any:
    """One CSV cell: None stays None (csv writes ''), datetimes become ISO UTC with Z, text
    that a spreadsheet would run as a formula gets a leading apostrophe. Numbers pass through."""
    kind = value.__class__
    if kind is str:
        return "'" + value if value[:1] in FORMULA_FIRST_CHARS else value
    if kind is datetime:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if kind is bool:
        return "true" if value else "false"
    return value


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
