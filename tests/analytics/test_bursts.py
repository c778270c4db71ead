import random

import pytest

from analytics.bursts import find_bursts
from analytics.velocity import hourly_rates
from tests.analytics.curves import at, every, sample


def rates(curve, hours=48, step=0.25):
    return hourly_rates(sample(curve, every(step, hours)), at(0), at(hours))


def test_flat_series_has_no_burst():
    assert find_bursts(rates(lambda h: 12_000)) == []


def test_steady_growth_has_no_burst():
    assert find_bursts(rates(lambda h: 100 + 40 * h)) == []


def test_a_step_is_exactly_one_burst_at_the_step():
    # 50 views an hour, then 20,000 views arrive between 30:00 and 31:00.
    def stepped(h):
        return 50 * h + 20_000 * min(1.0, max(0.0, h - 30))

    bursts = find_bursts(rates(stepped))
    assert len(bursts) == 1
    (burst,) = bursts
    assert (burst.start, burst.end) == (at(30), at(31))
    assert burst.excess == pytest.approx(20_000)
    assert burst.growth == pytest.approx(20_050)


def test_a_step_up_in_rate_is_one_burst_starting_at_the_step():
    # The rate jumps from 100 to 2,000 an hour at hour 20 and stays: one burst until the
    # baseline has caught up with the new normal.
    bursts = find_bursts(rates(lambda h: 100 * h + 1_900 * max(0.0, h - 20)))
    assert len(bursts) == 1
    assert bursts[0].start == at(20)
    assert at(21) < bursts[0].end <= at(28)


def test_noise_does_not_burst_but_a_spike_in_noise_does():
    rng = random.Random(7)
    total, readings = 0.0, []
    for hour in range(48):
        total += rng.gauss(1000, 100) + (8000 if hour == 40 else 0)
        readings.append((at(hour + 1), total))
    bursts = find_bursts(hourly_rates([(at(0), 0.0), *readings], at(0), at(48)))
    assert [b.start for b in bursts] == [at(40)]


def test_a_gap_ends_a_burst_and_is_not_a_burst():
    readings = [(at(h), 10.0 * h) for h in range(0, 20)]
    readings += [(at(20), 5000.0), (at(21), 10000.0), (at(30), 10090.0), (at(31), 10100.0)]
    bursts = find_bursts(hourly_rates(readings, at(0), at(32), max_gap_hours=3))
    assert [(b.start, b.end) for b in bursts] == [(at(19), at(21))]


def test_no_burst_without_enough_history():
    readings = [(at(0), 0.0), (at(1), 10.0), (at(2), 5000.0)]
    assert find_bursts(hourly_rates(readings, at(0), at(2))) == []
