"""The forecast backtest on recorded series (issue 11): Mastodon hashtags' daily history, read
from ../shared/fixtures where present and skipped, saying so, where not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from benchmarks import backtest_forecast, backtest_recorded

DAY = 86_400
TODAY = 1_775_865_600


def _tag(name: str, uses: list[int]) -> dict[str, object]:
    """A hashtag as Mastodon sends it: history newest first, today (so far) at the front."""
    days = [
        {"day": str(TODAY - i * DAY), "uses": str(u), "accounts": str(u)}
        for i, u in enumerate(uses)
    ]
    return {"name": name, "url": f"https://example.test/tags/{name}", "history": days}


def _write_bodies(root):
    folder = root / "mastodon"
    folder.mkdir()
    trends = [_tag("Growing", [99, 8, 4, 2, 1, 1, 0]), _tag("new", [50, 0, 0, 0, 0, 0, 0])]
    (folder / "trends.json").write_text(json.dumps(trends))
    # The same tag again in a later body (other case) counts once, as first read.
    search = {"accounts": [], "statuses": [], "hashtags": [_tag("growing", [1] * 7)]}
    (folder / "trends_z_search.json").write_text(json.dumps(search))
    (folder / "status.json").write_text(json.dumps({"id": "1", "content": "no tags"}))


def test_daily_history_becomes_cumulative_series_of_complete_days(tmp_path):
    _write_bodies(tmp_path)
    series, bodies = backtest_recorded.recorded_series(tmp_path)
    assert bodies == 2
    growing = next(s for s in series if s.tag == "growing" and s.counter == "uses")
    # Oldest first, today's partial 99 left out.
    assert growing.per_day == (0, 1, 1, 2, 4, 8)
    assert growing.first_day == datetime.fromtimestamp(TODAY - 6 * DAY, UTC)
    readings = growing.readings(timedelta(hours=1))
    assert [v for _, v in readings] == [0, 0, 1, 2, 4, 8, 16]
    assert readings[-1][0] - readings[0][0] == timedelta(hours=6)
    assert len(series) == 4  # two tags x (uses, accounts)


def test_cases_hold_out_the_last_days_and_score_the_final_total(tmp_path):
    _write_bodies(tmp_path)
    series, _ = backtest_recorded.recorded_series(tmp_path)
    (one,) = backtest_recorded.cases(series[:1], timedelta(hours=1), hold_out=2)
    assert [v for _, v in one.seen] == [0, 0, 1, 2, 4]
    assert (one.horizon_hours, one.actual) == (2.0, 16)


def test_run_skips_tags_with_nothing_to_extrapolate_and_declines_daily_cadence(tmp_path):
    _write_bodies(tmp_path)
    result = backtest_recorded.run(tmp_path)
    assert result is not None
    assert (result.recorded, result.series) == (4, 2)  # "new" was not used before today
    daily = result.scores["real cadence, 1 day ahead"]
    assert daily.declined == daily.cases == 2  # a day between readings is a gap to it
    assert result.scores["day as hour, all"].cases == 4


def test_without_recordings_the_doc_says_it_skipped_them(tmp_path):
    assert backtest_recorded.run(tmp_path) is None
    text = backtest_recorded.render(None)
    assert text.startswith(backtest_forecast.RECORDED_HEADING) and "Skipped" in text


def test_each_command_rewrites_only_its_part_of_the_doc(tmp_path):
    doc = tmp_path / "FORECAST.md"
    backtest_forecast.write_doc(simulated="# Forecast backtest\n\nsimulated 1\n", doc=doc)
    assert backtest_forecast.RECORDED_HEADING not in doc.read_text()
    recorded = backtest_recorded.render(None)
    backtest_forecast.write_doc(recorded=recorded, doc=doc)
    backtest_forecast.write_doc(simulated="# Forecast backtest\n\nsimulated 2\n", doc=doc)
    text = doc.read_text()
    assert "simulated 2" in text and "simulated 1" not in text
    assert text.count(backtest_forecast.RECORDED_HEADING) == 1 and "Skipped" in text


def test_the_recorded_hashtags_are_scored(shared_fixtures):
    result = backtest_recorded.run(shared_fixtures)
    assert result is not None and result.series >= 2
    one_ahead = result.scores["day as hour, 1 ahead"]
    assert one_ahead.cases == result.series and one_ahead.declined == 0
    assert 0 < one_ahead.mape < 100
