"""The CLI end to end: click's CliRunner against the simulator and real databases."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from simulator.model import SIM_VIDEO
from simulator.world import Fault
from storage import read
from storage.db import make_engine
from tests.helpers import write_sim_config
from viralwatch.cli import cli

SLUG = SIM_VIDEO["slug"]


def invoke(config, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def config(tmp_path, sim, db_url):
    return write_sim_config(tmp_path / "viralwatch.toml", sim, db_url, ["mastodon", "hackernews"])


def sim_key(post):
    """The key viralwatch stores a simulated post under."""
    if post.platform == "mastodon":
        return (
            "mastodon",
            f"https://{post.instance}.example/users/{post.author}/statuses/{post.id}",
        )
    return (post.platform, post.id)


def test_collect_once_twice_stores_each_post_once_with_two_exact_observations(config, sim, db_url):
    world = sim.world
    expected = {}
    for _ in range(2):
        result = invoke(config, "collect", "--once")
        assert result.exit_code == 0, result.output
        for post in world.model.footage_posts(world.now()):
            if post.platform in ("mastodon", "hackernews"):
                expected.setdefault(sim_key(post), []).append(post.counters(world.now()))
        world.clock.advance(3600)
    engine = make_engine(db_url)
    posts = list(read.iter_posts(engine, read.PostFilter()))
    # Boosts are stored as reshare edges without counters of their own.
    edges = [p for p in posts if p.relation == "reshare"]
    assert edges and all(p.latest_observed_at is None for p in edges)
    posts = [p for p in posts if p.relation != "reshare"]
    assert sorted((p.platform, p.platform_post_id) for p in posts) == sorted(expected)
    rows = list(read.iter_observations(engine, read.PostFilter()))
    by_post = {}
    for row in rows:
        # An unchanged second reading confirms the first row instead of adding one (issue 7).
        readings = by_post.setdefault((row.platform, row.platform_post_id), [])
        readings += [row] * (2 if row.confirmed_until else 1)
    for key, counters in expected.items():
        stored = by_post[key]
        assert len(stored) == 2
        for row, sim_counters in zip(stored, counters, strict=True):
            assert row.likes == sim_counters["likes"]
            assert row.comments == sim_counters["comments"]
            if key[0] == "mastodon":
                assert (row.shares, row.quotes) == (sim_counters["shares"], sim_counters["quotes"])
            assert row.views is None

    exported = invoke(config, "export", "observations")
    assert exported.exit_code == 0
    lines = list(csv.DictReader(io.StringIO(exported.output)))
    assert len(lines) == len(rows) < sum(len(r) for r in by_post.values())
    assert list(lines[0])[:10] == [
        "video",
        "platform",
        "platform_post_id",
        "url",
        "observed_at",
        "views",
        "likes",
        "shares",
        "comments",
        "quotes",
    ]
    for line, row in zip(lines, rows, strict=True):
        assert line["platform_post_id"] == row.platform_post_id
        assert line["likes"] == str(row.likes) and line["views"] == ""
        assert line["observed_at"].endswith("Z")
    engine.dispose()


def test_export_filters_by_platform_and_time(config, sim):
    invoke(config, "collect", "--once")
    everything = invoke(config, "export", "observations", "--platform", "hackernews").output
    assert {row["platform"] for row in csv.DictReader(io.StringIO(everything))} == {"hackernews"}
    future = invoke(config, "export", "observations", "--since", "2999-01-01T00:00:00Z").output
    assert future.strip().count("\n") == 0  # header only
    bad = invoke(config, "export", "observations", "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_export_posts_to_a_file(config, sim, tmp_path):
    invoke(config, "collect", "--once")
    out = tmp_path / "posts.csv"
    result = invoke(config, "export", "posts", "--video", SLUG, "-o", str(out))
    assert result.exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["platform"] for r in rows} == {"mastodon", "hackernews"}
    assert all(r["video"] == SLUG and r["matched_by"] for r in rows)
    assert all(
        r["matched_by"].startswith(("url:", "hashtag:", "keyword:", "cascade")) for r in rows
    )


def test_one_collector_down_does_not_stop_the_others(config, sim):
    sim.world.set_fault("hackernews", Fault("down"))
    result = invoke(config, "collect", "--once")
    assert result.exit_code == 0
    assert "hackernews   discover failed" in result.output
    assert "mastodon     discover ok" in result.output


def test_every_collector_failing_exits_non_zero(config, sim):
    sim.world.set_fault("hackernews", Fault("down"))
    sim.world.set_fault("mastodon", Fault("down"))
    result = invoke(config, "collect", "--once")
    assert result.exit_code == 1
    assert "every collector failed" in result.output


def test_collect_only_one_collector_and_unknown_name(config, sim):
    result = invoke(config, "collect", "--once", "--collector", "hackernews")
    assert "mastodon" not in result.output and "hackernews" in result.output
    unknown = invoke(config, "collect", "--once", "--collector", "myspace")
    assert unknown.exit_code == 2 and "unknown collector 'myspace'; known:" in unknown.output


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[collectors.hackernews]\ninterval_seconds = -5\n")
    result = invoke(path, "collect", "--once")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith(
        "viralwatch: invalid setting collectors.hackernews.interval_seconds"
    )


def test_unreachable_database_is_one_line_without_password(tmp_path):
    path = tmp_path / "pg.toml"
    path.write_text('[storage]\nurl = "postgresql+psycopg://vw:topsecret@127.0.0.1:1/nope"\n')
    result = invoke(path, "videos", "list")
    assert result.exit_code == 2
    assert "cannot open database" in result.output and "topsecret" not in result.output
    assert result.output.strip().count("\n") == 0


def test_videos_add_list_remove(tmp_path, db_url):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "{db_url}"\n')
    added = invoke(
        path,
        "videos",
        "add",
        "clip-1",
        "--title",
        "A <b>clip</b>",
        "--keyword",
        "soldier calls mom",
        "--hashtag",
        "#Tag",
        "--url",
        "https://t.me/a/1",
    )
    assert added.exit_code == 0, added.output
    again = invoke(path, "videos", "add", "clip-1", "--title", "x")
    assert again.exit_code == 1 and "already tracked" in again.output
    bad = invoke(path, "videos", "add", "Bad Slug", "--title", "x")
    assert bad.exit_code == 2 and "lowercase" in bad.output
    listed = invoke(path, "videos", "list").output
    assert "clip-1" in listed and "active" in listed
    assert invoke(path, "videos", "remove", "clip-1", "--yes").exit_code == 0
    assert "clip-1" not in invoke(path, "videos", "list").output
    missing = invoke(path, "videos", "remove", "clip-1", "--yes")
    assert missing.exit_code == 1 and "no tracked video" in missing.output


def test_posts_add_follows_a_url_for_the_urls_collector(config, db_url):
    result = invoke(config, "posts", "add", "https://vimeo.example/123", "--video", SLUG)
    assert result.exit_code == 0 and "following" in result.output
    again = invoke(config, "posts", "add", "https://vimeo.example/123", "--video", SLUG)
    assert "already following" in again.output
    assert invoke(config, "posts", "add", "ftp://x", "--video", SLUG).exit_code == 2
    engine = make_engine(db_url)
    (post,) = read.iter_posts(engine, read.PostFilter(platform="urls"))
    assert (post.url, post.matched_by) == ("https://vimeo.example/123", "manual")
    engine.dispose()


def test_collectors_lists_every_collector_with_its_state(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[collectors.hackernews]\nenabled = false\n")
    output = invoke(path, "collectors").output
    assert "hackernews   disabled" in output
    assert "mastodon     enabled" in output


def test_db_upgrade_is_idempotent(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert "up to date" in invoke(path, "db", "upgrade").output


def run_on_terminal(args):
    """Run the CLI with stderr on a pseudo-terminal; returns what the terminal showed."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", "from viralwatch.cli import main; main()", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(timeout=60)
    os.close(leader)
    return process.returncode, shown.decode(errors="replace")


@pytest.mark.slow
def test_long_work_shows_progress_on_a_terminal_only(config, sim, tmp_path):
    code, shown = run_on_terminal(["--config", str(config), "collect", "--once"])
    assert code == 0 and "hackernews" in shown and "━" in shown
    out = tmp_path / "obs.csv"
    code, shown = run_on_terminal(
        ["--config", str(config), "export", "observations", "-o", str(out)]
    )
    assert code == 0 and "exporting observations" in shown
    piped = invoke(config, "export", "observations", "-o", str(out))
    assert "exporting" not in piped.output and "━" not in piped.output


def test_dashboard_on_a_public_address_without_token_refuses_to_start(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n[dashboard]\nhost = "0.0.0.0"\n'
    )
    result = invoke(path, "serve")
    assert result.exit_code == 2
    assert "token" in result.output and result.output.strip().count("\n") == 0
