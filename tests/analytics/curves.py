"""Constructed series with known answers for the analytics tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def sample(curve: Callable[[float], float], hours: Iterable[float]) -> list[tuple[datetime, float]]:
    return [(at(h), curve(h)) for h in hours]


def every(step_hours: float, until_hours: float, start_hours: float = 0.0) -> list[float]:
    count = round((until_hours - start_hours) / step_hours)
    return [start_hours + n * step_hours for n in range(count + 1)]


def logistic(final: float, mid_hours: float, scale_hours: float) -> Callable[[float], float]:
    return lambda h: final / (1 + math.exp(-(h - mid_hours) / scale_hours))


def exponential(start: float, doubling_hours: float) -> Callable[[float], float]:
    return lambda h: start * 2 ** (h / doubling_hours)
