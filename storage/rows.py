"""Result rows to the plain dataclasses `read.py` and `alert_store.py` return, and back.

A query names its columns after the record's fields, so one mapper serves every record; only
the columns that carry another name are spelt out. Imports nothing from the project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def row_mapper(cls: type[T], **columns: str) -> Callable[[Any], T]:
    """A function from a result row to `cls`: each field without a default from the column of
    its name, or from the column `columns` names for it (video="video_slug"). Fields with a
    default keep it. The getter is built once: exports map rows by the hundred thousand."""
    required = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    ]
    # Dataclass fields without a default come first, so they can be passed by position.
    getter = attrgetter(*(columns.get(name, name) for name in required))
    make: Callable[..., T] = cls
    if len(required) == 1:
        return lambda row: make(getter(row))
    return lambda row: make(*getter(row))


def values_of(record: Any, *names: str, **columns: str) -> dict[str, Any]:
    """Column values for an insert: each of `names` from the record's attribute of that name,
    and each column in `columns` from the attribute it names (video_slug="video")."""
    return {name: getattr(record, name) for name in names} | {
        column: getattr(record, attr) for column, attr in columns.items()
    }
