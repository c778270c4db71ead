"""Invariants of the growth accounting on arbitrary uneven, gappy series (hypothesis)."""

from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.bursts import find_bursts
from analytics.series import measure
from analytics.velocity import hourly_rates, velocity
from tests.analytics.curves import at

MAX_GAP = 3.0

steps = st.lists(
    st.tuples(st.floats(0.01, 6.0), st.floats(-50, 10_000), st.booleans()),
    min_size=1,
    max_size=60,
)


def build(start_value, parts):
    """Readings from (hours since previous, rise, counter hidden?) steps."""
    hour, value, readings = 0.0, start_value, [(at(0), start_value)]
    for gap, rise, hidden in parts:
        hour += gap
        value += rise
        readings.append((at(hour), None if hidden else value))
    return readings


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1e7), steps)
def test_hourly_growth_adds_up_to_the_growth_between_readings_outside_gaps(start_value, parts):
    readings = build(start_value, parts)
    shown = [(t, v) for t, v in readings if v is not None]
    expected = sum(
        v1 - v0
        for (t0, v0), (t1, v1) in pairwise(shown)
        if (t1 - t0).total_seconds() <= MAX_GAP * 3600
    )
    end = shown[-1][0] + timedelta(hours=1)
    buckets = hourly_rates(readings, at(0), end, max_gap_hours=MAX_GAP)
    total = sum(b.per_hour * b.measured_hours for b in buckets if b.per_hour is not None)
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-6)
    # The first reading is a baseline: before it, and with it alone, nothing was measured.
    assert measure(readings[:1]).window(at(-5), at(5)).measured_hours == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.05, 2.0), min_size=2, max_size=80), st.floats(0, 5000))
def test_any_spacing_gives_the_slope_of_a_straight_line_and_no_burst(gaps, slope):
    hours = [sum(gaps[:n]) for n in range(len(gaps) + 1)]
    readings = [(at(h), 1000 + slope * h) for h in hours]
    window = velocity(readings, at(hours[-1]), window_hours=hours[-1])
    assert window.per_hour == pytest.approx(slope, abs=1e-6)
    assert find_bursts(hourly_rates(readings, at(0), at(hours[-1]))) == []
