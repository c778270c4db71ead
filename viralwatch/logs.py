"""Log output: readable lines on a terminal, one JSON object per line with `--log-format json`.

The JSON form (for journald, Loki, CloudWatch…) is the stdlib formatter below rather than a
library: it is a dozen lines, and every record already is one event (issue 8). A traceback, when
there is one, travels inside its event's line as `exc_info`, so one event stays one line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"[, "exc_info"]}`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            event["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)
