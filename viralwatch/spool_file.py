"""The outage spool on disk: writes kept during a database outage survive a daemon restart.

One JSON line per kept write, `{"n": seq, "op": "record_run", "args": [...]}`, appended and
fsync'd before the write call returns, and one `{"done": seq}` line once writes up to `seq`
are stored (or dropped by the bound). Writes are replayed in order, so a single watermark says
what is left. A daemon killed during the replay replays the unacknowledged tail again: every
spooled write is idempotent (see `SpoolingSink._replay`), so nothing is stored twice and nothing
acknowledged was not stored. A line cut short by a kill during the append is ignored: its write
call never returned, so no caller counted it as kept.

A lock file beside it (flock) keeps two daemons from replaying one spool. The file is emptied once
everything is stored, and rewritten (a new file renamed over it, so a kill never leaves half a
spool) when acknowledged lines pile up.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from collectors.base import Gone, Observation, PostError, PostRef, RunReport

# The record types a kept write carries; nothing else is ever built from the file.
RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (PostRef, Observation, Gone, PostError, RunReport)
}
# Once this many acknowledged lines sit before the pending ones, the file is rewritten.
COMPACT_AFTER = 1000


class SpoolBusy(Exception):
    """Another process holds this spool file."""


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$record": type(value).__name__, **fields}
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$time" in value:
        return datetime.fromisoformat(value["$time"])
    fields = {k: decode(v) for k, v in value.items() if k != "$record"}
    if "$record" not in value:
        return fields
    cls = RECORDS[value["$record"]]
    tuples = {f.name for f in dataclasses.fields(cls) if isinstance(fields.get(f.name), list)}
    return cls(**{k: tuple(v) if k in tuples else v for k, v in fields.items()})


@dataclasses.dataclass
class SpoolEntry:
    seq: int
    op: str
    args: tuple[Any, ...]
    size: int


class SpoolFile:
    """An append-only, locked JSON-lines file of kept writes (see module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolBusy(f"spool file {path} is in use by another process") from None
        self._file: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        self._acked_lines = 0

    def load(self) -> list[SpoolEntry]:
        """The writes kept by an earlier process and not yet stored, oldest first."""
        self._file.seek(0)
        entries: list[SpoolEntry] = []
        done = 0
        for line in self._file:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by a kill during the append (see module doc)
            if "done" in item:
                done = max(done, int(item["done"]))
            else:
                args = tuple(decode(item["args"]))
                entries.append(SpoolEntry(int(item["n"]), item["op"], args, int(item["size"])))
        self._file.seek(0, os.SEEK_END)
        return [e for e in entries if e.seq > done]

    def append(self, entry: SpoolEntry) -> None:
        self._write(_line(entry))

    def ack(self, seq: int, pending: Collection[SpoolEntry]) -> None:
        """Writes up to `seq` are stored or dropped; `pending` is what is still kept."""
        if not pending:
            self.rewrite([])
            return
        self._write(json.dumps({"done": seq}))
        self._acked_lines += 1
        if self._acked_lines > COMPACT_AFTER:
            self.rewrite(pending)

    def rewrite(self, pending: Collection[SpoolEntry]) -> None:
        """Keep only `pending`: written beside the spool, then renamed over it."""
        fresh = self.path.with_name(self.path.name + ".new")
        with open(fresh, "w", encoding="utf-8") as out:
            out.writelines(_line(entry) + "\n" for entry in pending)
            out.flush()
            os.fsync(out.fileno())
        os.replace(fresh, self.path)
        self._file.close()
        self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        self._acked_lines = 0

    def close(self) -> None:
        self._file.close()
        self._lock.close()

    def _write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._sync()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())


def _line(entry: SpoolEntry) -> str:
    line = {"n": entry.seq, "op": entry.op, "size": entry.size, "args": encode(entry.args)}
    return json.dumps(line, separators=(",", ":"))
