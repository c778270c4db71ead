import pytest

from analytics.overperformance import (
    InsufficientBaseline,
    Overperformance,
    age_bucket,
    overperformance,
    value_at_age,
)
from analytics.series import PostHistory
from tests.analytics.curves import at, every


def linear(platform, published_hours, per_hour, until_hours, step=1.0, start=0.0):
    readings = [
        (at(published_hours + age), per_hour * age)
        for age in every(step, until_hours, start_hours=start)
    ]
    return PostHistory(platform, at(published_hours), readings)


def test_post_three_times_the_median_of_its_peers_at_the_same_age():
    post = linear("x", 100, 300, until_hours=5)  # 1,500 at age 5
    # Peers published at other times, read at other instants, but all have an age-5 value.
    peers = [
        linear("x", published, rate, until_hours=30)
        for published, rate in [(0, 50), (7, 100), (20, 100), (33, 120), (41, 500)]
    ]
    result = overperformance(post, peers)
    assert isinstance(result, Overperformance)
    assert result.baseline == pytest.approx(500)  # median of 250, 500, 500, 600, 2500
    assert result.ratio == pytest.approx(3)
    assert result.posts == 5
    assert result.age_hours == pytest.approx(5)
    assert result.age_bucket == (4, 6)


def test_other_platforms_do_not_count_and_too_few_peers_say_so():
    post = linear("x", 100, 300, until_hours=5)
    peers = [linear("x", 0, 100, 30), linear("tiktok", 0, 100, 30), linear("tiktok", 5, 90, 30)]
    result = overperformance(post, peers, minimum_posts=2)
    assert isinstance(result, InsufficientBaseline)
    assert (result.posts, result.minimum_posts) == (1, 2)
    assert "1 comparable posts, 2 needed" in result.reason


def test_peers_too_young_or_read_only_at_other_ages_are_not_comparable():
    post = linear("x", 100, 300, until_hours=30)  # age 30: bucket 24-36 h
    young = linear("x", 90, 100, until_hours=10)
    first_seen_old = linear("x", 0, 100, until_hours=200, start=50)  # nothing before age 50
    close = linear("x", 0, 100, until_hours=200, step=5.0, start=26)  # read at ages 26, 31
    assert value_at_age(young, 30) is None
    assert value_at_age(first_seen_old, 30) is None
    # 26 and 31 are 5 h apart, a gap: no interpolation, the closest reading in the bucket counts.
    assert value_at_age(close, 30) == pytest.approx(3100)
    assert value_at_age(close, 30, max_gap_hours=6) == pytest.approx(3000)
    result = overperformance(post, [young, first_seen_old, close], minimum_posts=1)
    assert isinstance(result, Overperformance)
    assert result.posts == 1
    assert result.baseline == pytest.approx(3100)  # age 31 is the closest in the 24-36 bucket


def test_a_median_of_zero_is_no_baseline():
    post = linear("x", 100, 300, until_hours=5)
    peers = [linear("x", n, 0, until_hours=10) for n in range(6)]
    result = overperformance(post, peers)
    assert isinstance(result, InsufficientBaseline)
    assert "median of zero" in result.reason


def test_age_buckets():
    assert age_bucket(0.5) == (0, 1)
    assert age_bucket(30) == (24, 36)
    assert age_bucket(5000) == (720, None)


def test_at_picks_the_reading_then():
    post = linear("x", 0, 100, until_hours=50)
    peers = [linear("x", 0, 100, 50)] * 5
    result = overperformance(post, peers, at=at(10.5))
    assert isinstance(result, Overperformance)
    assert result.age_hours == 10 and result.ratio == pytest.approx(1)
