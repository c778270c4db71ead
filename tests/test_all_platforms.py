"""One `collect --once` with every collector on: the footage from every platform, with cascades."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner

from collectors.registry import collector_classes
from simulator.model import SIM_VIDEO
from simulator.pages import page_path
from storage import read
from storage.db import make_engine
from tests.helpers import write_sim_config
from viralwatch.cli import cli

pytestmark = pytest.mark.slow

# Platforms whose footage posts the simulator spreads (urls and youtube_rss read other
# platforms' posts: hand-added pages and YouTube channel feeds).
SPREAD = (
    "telegram",
    "x",
    "reddit",
    "youtube",
    "mastodon",
    "lemmy",
    "bluesky",
    "hackernews",
    "rss",
    "dailymotion",
    "tiktok",
)


def test_every_collector_stores_the_footage_with_cascade_parents(tmp_path, sim, db_url):
    everything = list(collector_classes())
    config = write_sim_config(tmp_path / "all.toml", sim, db_url, everything)
    runner = CliRunner()
    tip = sim.world.model.visible("tiktok", sim.world.now())[0]
    # Only run, collect and db upgrade create the schema and apply the config's videos.
    assert runner.invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    added = runner.invoke(
        cli,
        [
            "--config",
            str(config),
            "posts",
            "add",
            sim.base_url("pages") + page_path(tip),
            "--video",
            SIM_VIDEO["slug"],
        ],
    )
    assert added.exit_code == 0, added.output

    result = runner.invoke(cli, ["--config", str(config), "collect", "--once"])
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        assert " ok " in line, line  # every collector, both passes
    # youtube_rss finds the same videos as the Data API: stored once, refreshed by the API only.
    lines = result.output.splitlines()
    (rss_refresh,) = [line for line in lines if line.startswith("youtube_rss  refresh")]
    assert rss_refresh.endswith("requests=0")

    engine = make_engine(db_url)
    posts = list(read.iter_posts(engine, read.PostFilter()))
    engine.dispose()
    by_platform = Counter(p.platform for p in posts)
    assert "youtube_rss" not in by_platform
    for platform in (*SPREAD, "urls"):
        assert by_platform[platform] > 0, f"nothing stored from {platform}"

    now = sim.world.now()
    for platform in ("telegram", "reddit", "hackernews", "x", "dailymotion", "tiktok"):
        expected = {
            p.id.split("/")[-1]
            for p in sim.world.model.footage_posts(now)
            if p.platform == platform
        }
        stored = {p.platform_post_id.split("/")[-1] for p in posts if p.platform == platform}
        assert expected <= stored, f"{platform}: missing {expected - stored}"

    keys = {(p.platform, p.platform_post_id) for p in posts}
    relations = Counter((p.platform, p.relation) for p in posts if p.relation)
    for platform, relation in [
        ("reddit", "crosspost"),
        ("telegram", "forward"),
        ("x", "quote"),
        ("mastodon", "quote"),
        ("mastodon", "reshare"),
        ("bluesky", "quote"),
        ("bluesky", "reshare"),
    ]:
        assert relations[(platform, relation)] > 0, f"no {relation} edges on {platform}"
    for post in posts:
        if post.relation in ("crosspost", "forward", "quote", "reshare"):
            assert (post.parent_platform, post.parent_platform_post_id) in keys, post

    hand_added = [p for p in posts if p.platform == "urls"]
    assert hand_added[0].views == tip.counters(sim.world.now())["views"]
