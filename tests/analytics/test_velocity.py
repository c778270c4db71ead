import math

import pytest

from analytics.series import combined_growth, measure
from analytics.velocity import acceleration, doubling_time, hourly_rates, inflection, velocity
from tests.analytics.curves import at, every, exponential, logistic, sample


def test_flat_series_has_zero_velocity_and_acceleration():
    flat = sample(lambda h: 5000, every(0.25, 12))
    assert velocity(flat, at(12)).per_hour == 0
    assert acceleration(flat, at(12)) == 0
    assert doubling_time(flat, at(12)).hours is None


def test_unevenly_spaced_readings_give_the_exact_rate():
    readings = [(at(0), 100), (at(0.1), 130), (at(1.7), 610), (at(2.0), 700)]
    # 600 views over the real 2 hours, however the readings fell.
    assert velocity(readings, at(2), window_hours=2).per_hour == pytest.approx(300)
    # The last hour holds 0.7 h of the 0.1-1.7 interval (480 over 1.6 h) and the 0.3 h to 2.0.
    assert velocity(readings, at(2)).per_hour == pytest.approx(480 * 0.7 / 1.6 + 90)


def test_a_first_reading_contributes_no_growth():
    # An old post first seen with a million views: that is its baseline, not growth.
    first = [(at(5), 1_000_000)]
    window = velocity(first, at(5.5))
    assert window.growth == 0 and window.measured_hours == 0 and window.per_hour is None
    second = [*first, (at(5.5), 1_000_040)]
    assert velocity(second, at(5.5)).per_hour == pytest.approx(80)
    assert velocity(second, at(5.5)).growth == pytest.approx(40)


def test_a_gap_in_collection_is_a_gap_not_a_zero():
    readings = [(at(0), 0), (at(1), 100), (at(9), 900), (at(10), 1000)]
    window = velocity(readings, at(10), window_hours=10, max_gap_hours=3)
    assert window.gap_hours == pytest.approx(8)
    assert window.measured_hours == pytest.approx(2)
    assert window.per_hour == pytest.approx(100)
    assert velocity(readings, at(5), window_hours=1, max_gap_hours=3).per_hour is None
    totals = measure(readings, 3).totals([at(0), at(1), at(9), at(10)])
    assert list(totals.growth) == [100, 0, 100]
    assert list(totals.gap_hours) == [0, 8, 0]


def test_hidden_counters_are_skipped_not_zero():
    readings = [(at(0), 10), (at(1), None), (at(2), 30)]
    assert velocity(readings, at(2), window_hours=2).per_hour == pytest.approx(10)


def test_velocity_of_a_straight_line_is_its_slope_and_acceleration_zero():
    line = sample(lambda h: 200 + 75 * h, every(0.4, 10))
    assert velocity(line, at(10), window_hours=3).per_hour == pytest.approx(75)
    assert acceleration(line, at(10)) == pytest.approx(0, abs=1e-9)


def test_acceleration_of_a_parabola_is_exact():
    parabola = sample(lambda h: 3 * h * h, every(0.5, 10))  # velocity 6h, acceleration 6
    assert acceleration(parabola, at(10), window_hours=2) == pytest.approx(6)


def test_exponential_has_constant_doubling_time():
    curve = sample(exponential(50, doubling_hours=2.5), every(0.3, 30))
    for end in (6, 12, 20, 30):
        assert doubling_time(curve, at(end)).hours == pytest.approx(2.5)


def test_logistic_doubles_every_scale_ln2_early_and_inflects_at_its_midpoint():
    curve = logistic(1_000_000, mid_hours=20, scale_hours=2)
    readings = sample(curve, every(0.25, 40))
    early = doubling_time(readings, at(6), window_hours=4).hours
    assert early == pytest.approx(2 * math.log(2), rel=0.01)
    # Past the midpoint growth slows: over 20-24 h the counter grows by N(24)/N(20) only.
    late = doubling_time(readings, at(24), window_hours=4).hours
    assert late == pytest.approx(4 * math.log(2) / math.log(curve(24) / curve(20)))
    assert late > 3 * early
    peak = inflection(readings)
    assert peak is not None
    assert abs((peak - at(20)).total_seconds()) < 5 * 60


def test_inflection_is_unknown_while_growth_still_speeds_up():
    readings = sample(logistic(1000, mid_hours=20, scale_hours=2), every(0.5, 15))
    assert inflection(readings) is None


def test_hourly_rates_mark_unmeasured_hours_as_none():
    readings = [(at(1.5), 10), (at(2.5), 20), (at(7), 25), (at(8), 45)]
    rates = hourly_rates(readings, at(0), at(8), max_gap_hours=3)
    assert [b.per_hour for b in rates] == [None, 10, 10, None, None, None, None, 20]
    assert rates[1].measured_hours == pytest.approx(0.5)


def test_naive_datetimes_are_refused_with_a_clear_message():
    naive = at(0).replace(tzinfo=None)
    with pytest.raises(ValueError, match="no timezone"):
        velocity([(naive, 1)], at(1))


def test_combined_growth_does_not_count_a_new_posts_history():
    old = [(at(h), 100.0 * h) for h in range(0, 11)]
    found_late = [(at(h), 1_000_000 + 50.0 * (h - 6)) for h in range(6, 11)]  # first seen at 6
    combined = combined_growth([old, found_late], [at(h) for h in range(0, 11)])
    assert [v for _, v in combined] == [100.0 * h + 50.0 * max(0, h - 6) for h in range(0, 11)]
    assert velocity(combined, at(10)).per_hour == pytest.approx(150)
