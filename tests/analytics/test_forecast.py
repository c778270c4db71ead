import math

import pytest

from analytics.forecast import BAND, Forecast, NoForecast, forecast, growth_ahead
from tests.analytics.curves import at, every, exponential, sample


def test_a_straight_line_is_forecast_to_continue_at_its_rate():
    line = sample(lambda h: 1000 + 250 * h, every(0.5, 12))
    result = forecast(line)
    assert isinstance(result, list)
    six, day = result
    assert (six.horizon_hours, six.at) == (6, at(18))
    assert six.expected == pytest.approx(4000 + 250 * 6)
    assert day.expected == pytest.approx(4000 + 250 * 24)
    assert six.velocity_per_hour == pytest.approx(250)
    assert six.trend_per_hour == pytest.approx(0, abs=1e-9)


def test_the_band_holds_the_forecast_and_never_drops_below_the_latest_reading():
    line = sample(lambda h: 1000 + 250 * h, every(0.5, 12))
    result = forecast(line)
    assert isinstance(result, list)
    for item in result:
        assert item.latest == 4000
        assert item.latest <= item.low <= item.expected <= item.high
        low_ratio, high_ratio = (math.exp(q) for q in BAND[item.horizon_hours])
        growth = item.expected - item.latest
        assert item.high - item.latest == pytest.approx((1 + growth) * high_ratio - 1)
        assert item.low - item.latest == pytest.approx(max(0, (1 + growth) * low_ratio - 1))


def test_a_flat_series_is_forecast_flat():
    result = forecast(sample(lambda h: 777, every(0.5, 12)))
    assert isinstance(result, list)
    assert [(f.expected, f.low) for f in result] == [(777, 777), (777, 777)]


def test_an_exponential_is_forecast_between_a_straight_line_and_its_own_curve():
    curve = exponential(1000, doubling_hours=3)
    result = forecast(sample(curve, every(0.25, 12)), horizons_hours=(6,))
    assert isinstance(result, list)
    (six,) = result
    assert six.trend_per_hour == pytest.approx(math.log(2) / 3, rel=0.02)
    line = curve(12) + six.velocity_per_hour * 6
    assert line < six.expected < curve(18)


def test_damped_growth_matches_its_closed_form():
    # With trend r and damping d, ln v(t) = ln v0 + r (1 - d^t) / -ln d: check at r = 0 and far out.
    assert growth_ahead(100, 0.0, 10) == pytest.approx(1000)
    assert growth_ahead(0, 0.0, 10) == 0
    assert growth_ahead(100, -0.5, 24) < growth_ahead(100, 0.0, 24) < growth_ahead(100, 0.5, 24)


@pytest.mark.parametrize(
    ("readings", "reason"),
    [
        ([], "no readings yet"),
        ([(at(5), 1_000_000)], "no growth measured"),  # a first reading is a baseline only
        (sample(lambda h: 10 * h, every(0.5, 2)), "fewer than 3 measured hours"),
        ([(at(0), 0), (at(0.5), 5), (at(10), 100)], "no growth measured"),  # ends after a gap
    ],
)
def test_too_little_data_gives_no_forecast(readings, reason):
    result = forecast(readings)
    assert isinstance(result, NoForecast)
    assert reason in result.reason


def test_forecast_fields_are_what_a_page_needs():
    result = forecast(sample(lambda h: 10 * h, every(0.5, 6)))
    assert isinstance(result, list) and all(isinstance(f, Forecast) for f in result)
    assert {f.coverage for f in result} == {0.8}
