import pytest

from analytics.series import PostHistory
from analytics.spread import combine_rates, growth_shares, pickup_order
from analytics.velocity import hourly_rates
from tests.analytics.curves import at, every


def post(platform, published, per_hour, first_read, until=10.0):
    readings = [(at(h), per_hour * (h - published)) for h in every(0.5, until, first_read)]
    return PostHistory(platform, at(published), readings)


SPREAD = [
    post("telegram", 0, 100, first_read=0),
    post("youtube", 2.5, 300, first_read=3),  # first seen half an hour after publication
    post("youtube", 4, 100, first_read=5),
    post("x", 6, 0, first_read=6),
]


def test_platforms_in_pickup_order_with_their_delays():
    order = pickup_order(SPREAD)
    assert [(p.platform, p.order, p.delay_hours, p.posts) for p in order] == [
        ("telegram", 1, 0, 1),
        ("youtube", 2, 2.5, 2),
        ("x", 3, 6, 1),
    ]
    assert pickup_order([]) == []


def test_share_of_growth_per_platform_per_hour():
    hours = growth_shares(SPREAD, at(0), at(8))
    assert [h.start for h in hours] == [at(n) for n in range(8)]
    # Hours 0-2: only telegram was measured growing (youtube's first reading is a baseline).
    for hour in hours[:3]:
        assert hour.shares == {"telegram": 1.0} and hour.total_per_hour == 100
    # Hour 3-4: youtube 300/h against telegram's 100/h.
    assert hours[3].shares == {"telegram": 0.25, "youtube": 0.75}
    # From hour 5 the second youtube post adds 100/h; x is measured but does not grow.
    assert hours[6].total_per_hour == pytest.approx(500)
    assert hours[6].shares == {"telegram": 0.2, "youtube": 0.8, "x": 0.0}


def test_an_hour_nobody_measured_has_no_shares():
    hours = growth_shares([post("telegram", 0, 100, first_read=5)], at(0), at(7))
    assert (hours[0].total_per_hour, hours[0].shares) == (None, {})
    assert hours[6].shares == {"telegram": 1.0}


def test_combined_rates_are_none_only_where_no_series_was_measured():
    early = hourly_rates([(at(0), 0), (at(2), 20)], at(0), at(4))
    late = hourly_rates([(at(3), 0), (at(4), 5)], at(0), at(4))
    assert [b.per_hour for b in combine_rates([early, late])] == [10, 10, None, 5]
