"""The CLI end to end: click's CliRunner against the simulator and real databases."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from collectors.base import RunReport, utc_now
from simulator.model import SCENARIO_START, SIM_VIDEO
from simulator.world import Fault
from storage import read
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from tests.conftest import REPO
from tests.helpers import toml_value, write_sim_config
from viralwatch import demo as demo_mode
from viralwatch.cli import cli

SLUG = SIM_VIDEO["slug"]
VIRALWATCH = str(Path(sys.executable).parent / "viralwatch")


def invoke(config, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def assert_one_line_error(result, expected):
    """Issue 10: bad input ends in one line on stderr naming the problem, a non-zero exit and
    no traceback."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("viralwatch: ") and expected in lines[0], lines[0]
    assert "Traceback" not in result.output


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
    assert_one_line_error(bad, "--since")


def test_export_posts_to_a_file(config, sim, tmp_path):
    invoke(config, "collect", "--once")
    out = tmp_path / "posts.csv"
    result = invoke(config, "export", "posts", "--video", SLUG, "-o", str(out))
    assert result.exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["platform"] for r in rows} == {"mastodon", "hackernews"}
    assert all(r["video"] == SLUG and r["matched_by"] for r in rows)
    # Issue 9: the kind and the video's term that matched, in two columns.
    assert all(r["matched_by"] in ("url", "hashtag", "keyword", "cascade") for r in rows)
    assert all(r["matched_term"] for r in rows if r["matched_by"] != "cascade")


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


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://vw:topsecret@127.0.0.1:1/nope",
        "postgresql+psycopg://vw@127.0.0.1:1/nope?password=topsecret",
        "postgresql+psycopg://vw@127.0.0.1:1/nope?sslmode=disable&password=topsecret",
    ],
)
@pytest.mark.parametrize("command", [("videos", "list"), ("db", "upgrade")])
def test_unreachable_database_is_one_line_without_password(tmp_path, url, command):
    # issue 13: a query-string password was printed in the start-up error.
    path = tmp_path / "pg.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n')
    result = invoke(path, *command)
    assert_one_line_error(result, "cannot open database")
    assert "topsecret" not in result.output and "***" in result.output


def test_videos_add_list_remove(tmp_path, db_url):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "{db_url}"\n')
    assert invoke(path, "db", "upgrade").exit_code == 0
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
    again = invoke(path, "videos", "add", "clip-1", "--title", "x", "--hashtag", "x")
    assert again.exit_code == 1 and "already tracked" in again.output
    bad = invoke(path, "videos", "add", "Bad Slug", "--title", "x", "--hashtag", "x")
    assert bad.exit_code == 2 and "lowercase" in bad.output
    assert_one_line_error(bad, "lowercase")
    listed = invoke(path, "videos", "list").output
    assert "clip-1" in listed and "active" in listed
    assert invoke(path, "videos", "remove", "clip-1", "--yes").exit_code == 0
    assert "clip-1" not in invoke(path, "videos", "list").output
    missing = invoke(path, "videos", "remove", "clip-1", "--yes")
    assert missing.exit_code == 1 and "no tracked video" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--title", "Clip", "--keyword", ""), "keywords: an empty keyword would match every post"),
        (
            ("--title", "Clip", "--keyword", "soldier", "--keyword", "  "),
            "keywords: an empty keyword",
        ),
        (("--title", "  ", "--keyword", "soldier"), "title: give the footage a title"),
        (("--title", "Clip"), "give at least one keyword, hashtag or URL"),
        (("--title", "Clip", "--hashtag", "#"), "give at least one keyword, hashtag or URL"),
    ],
)
def test_videos_add_refuses_empty_terms_naming_the_field(tmp_path, args, message):
    # Issue 9: `--keyword ""` was stored and matched every post.
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    result = invoke(path, "videos", "add", "clip-1", *args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
    assert "clip-1" not in invoke(path, "videos", "list").output


def test_posts_add_follows_a_url_for_the_urls_collector(config, db_url):
    assert invoke(config, "db", "upgrade").exit_code == 0
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


def test_collectors_show_budget_use_and_waiting_posts_from_the_database(tmp_path):
    # Issue 8: budget use per platform is visible, and posts a budget cannot cover wait visibly.
    from collectors.base import PostRef, utc_now
    from collectors.youtube import YouTubeCollector
    from storage import budgets
    from storage.write import StorageSink, VideoInput

    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert invoke(path, "db", "upgrade").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    search = YouTubeCollector.spec.quotas[1]
    assert budgets.reserve(engine, "youtube", search, utc_now(), 37) == 37
    sink = StorageSink(engine, utc_now)
    sink.add_video(VideoInput("clip", "Clip", ("clip",), (), ()))
    sink.record_posts("clip", [PostRef("youtube", "a"), PostRef("youtube", "b")])
    engine.dispose()
    lines = invoke(path, "collectors").output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("youtube "))
    assert "budget 0/10,000 API units (all calls but search)" in lines[at + 1]
    assert "budget 37/100 search.list calls, resets" in lines[at + 2]
    assert lines[at + 3].strip() == "posts due 2, overdue 0"


def test_a_second_daemon_on_one_sqlite_file_stops_with_one_line(tmp_path):
    from storage.locks import hold_daemon_lock

    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert invoke(path, "db", "upgrade").exit_code == 0
    first = hold_daemon_lock(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    result = invoke(path, "run", "--no-dashboard")
    assert_one_line_error(result, "another viralwatch daemon is running on")
    first.close()


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
    assert invoke(path, "db", "upgrade").exit_code == 0
    result = invoke(path, "serve")
    assert_one_line_error(result, "token")


# --- issue 10: the first hour as a user ------------------------------------------------------


@pytest.fixture
def busy_port():
    """A loopback port something else is already listening on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def sqlite_config(tmp_path, extra=""):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n{extra}')
    return path


@pytest.mark.parametrize("command", ["serve", "run"])
def test_busy_port_is_one_line_and_non_zero(tmp_path, busy_port, command):
    path = sqlite_config(tmp_path, f"[dashboard]\nport = {busy_port}\n")
    assert invoke(path, "db", "upgrade").exit_code == 0
    result = invoke(path, command)
    assert_one_line_error(result, f"dashboard cannot listen on 127.0.0.1:{busy_port}")
    assert "CancelledError" not in result.output


@pytest.mark.slow
def test_demo_on_a_busy_port_is_one_line_in_a_real_process(tmp_path, busy_port):
    demo = subprocess.run(
        [VIRALWATCH, "demo", "--port", str(busy_port), "--database", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 2
    assert (
        demo.stderr.strip()
        .splitlines()[-1]
        .startswith(f"viralwatch: dashboard cannot listen on 127.0.0.1:{busy_port}")
    )
    assert "Traceback" not in demo.stderr and "CancelledError" not in demo.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["demo", "--port", "99999"], "Invalid value for '--port'"),
        (["demo", "--speed", "0"], "Invalid value for '--speed'"),
        (["demo", "--speed", "-1"], "Invalid value for '--speed'"),
        (["demo", "--start-hour", "-5"], "Invalid value for '--start-hour'"),
        (["demo", "--continue", "--start-hour", "3"], "drop --start-hour"),
        (["demo", "--database", "/nonexistent/d.db"], "folder /nonexistent does not exist"),
        (["--config", "/nonexistent/c.toml", "videos", "list"], "config file /nonexistent/c.toml"),
        (["export", "posts", "-o", "/nonexistent/dir/x.csv"], "cannot write /nonexistent/dir"),
        (["export", "posts", "--since", "2023-02-01", "--until", "2023-01-01"], "--since"),
        (["export", "posts", "--video", "no-such-clip"], "no tracked video 'no-such-clip'"),
        (["export", "posts", "--platform", "myspace"], "unknown platform 'myspace'; known:"),
        (["videos", "remove", "no-such-clip", "--yes"], "no tracked video"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path, args, expected):
    path = sqlite_config(tmp_path)
    assert invoke(path, "db", "upgrade").exit_code == 0
    result = invoke(path, *args)
    assert_one_line_error(result, expected)
    assert not Path("/nonexistent").exists()


def test_export_takes_plain_dates_as_midnight_utc(config, sim):
    assert invoke(config, "collect", "--once").exit_code == 0
    day = sim.world.now().date().isoformat()
    by_date = invoke(config, "export", "posts", "--since", day)
    by_instant = invoke(config, "export", "posts", "--since", f"{day}T00:00:00Z")
    assert by_date.exit_code == 0 and by_date.output == by_instant.output
    assert by_date.output.count("\n") > 1
    before = invoke(config, "export", "posts", "--until", day)
    assert before.exit_code == 0 and before.output.count("\n") < by_date.output.count("\n")


def tables_in(db_url):
    engine = make_engine(db_url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


READ_ONLY_COMMANDS = [
    ("videos", "list"),
    ("export", "posts"),
    ("export", "observations", "--video", SLUG),
    ("videos", "add", "clip", "--title", "x", "--keyword", "soldier"),
    ("videos", "remove", SLUG, "--yes"),
    ("posts", "add", "https://vimeo.example/1", "--video", SLUG),
    ("serve",),
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
def test_commands_other_than_run_collect_and_upgrade_never_create_the_schema(
    tmp_path, db_url, command
):
    # issue 10: every command used to migrate, so `videos list` created tables in PostgreSQL.
    path = tmp_path / "c.toml"
    video = "".join(f"{k} = {toml_value(v)}\n" for k, v in SIM_VIDEO.items())
    path.write_text(f'[storage]\nurl = "{db_url}"\n[[videos]]\n{video}')
    result = invoke(path, *command)
    assert_one_line_error(result, "viralwatch db upgrade")
    if db_url.startswith("sqlite"):
        assert not (tmp_path / "viralwatch.db").exists()
    else:
        assert tables_in(db_url) == []


def test_an_older_schema_is_named_not_migrated(tmp_path, db_url):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "{db_url}"\n')
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    engine.dispose()
    result = invoke(path, "videos", "list")
    assert_one_line_error(result, "has schema 0002, older than this viralwatch")
    assert "video_5min" not in tables_in(db_url)
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert invoke(path, "videos", "list").exit_code == 0


def config_with_video(tmp_path, db_url, **changes):
    path = tmp_path / "c.toml"
    video = "".join(f"{k} = {toml_value(v)}\n" for k, v in {**SIM_VIDEO, **changes}.items())
    path.write_text(f'[storage]\nurl = "{db_url}"\n[[videos]]\n{video}')
    return path


def test_a_removed_config_video_stays_removed_until_its_entry_changes(tmp_path, db_url):
    path = config_with_video(tmp_path, db_url)
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert SLUG in invoke(path, "videos", "list").output
    assert invoke(path, "videos", "remove", SLUG, "--yes").exit_code == 0
    # Neither a later `db upgrade` nor `collect` brings it back (issue 10).
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert invoke(path, "collect", "--once", "--collector", "urls").exit_code in (0, 1)
    assert SLUG not in invoke(path, "videos", "list").output
    # Editing its entry in the file is a new edit: the last one wins.
    path = config_with_video(tmp_path, db_url, title="Retitled in the file")
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert "Retitled in the file" in invoke(path, "videos", "list").output


def test_an_edit_made_at_run_time_survives_a_restart(tmp_path, db_url):
    path = config_with_video(tmp_path, db_url)
    assert invoke(path, "db", "upgrade").exit_code == 0
    engine = make_engine(db_url)
    sink = StorageSink(engine, utc_now)
    sink.add_video(VideoInput(SLUG, "Edited in the dashboard"), replace=True)
    engine.dispose()
    assert invoke(path, "db", "upgrade").exit_code == 0
    assert "Edited in the dashboard" in invoke(path, "videos", "list").output


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
@pytest.mark.parametrize("command", [("run",), ("collect", "--once"), ("videos", "list")])
def test_an_in_memory_database_is_refused(tmp_path, url, command):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n')
    assert_one_line_error(invoke(path, *command), "in-memory SQLite database, lost at exit")


def test_a_database_folder_that_does_not_exist_is_refused_not_created(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "nope" / "x.db"}"\n')
    result = invoke(path, "db", "upgrade")
    assert_one_line_error(result, f"folder {tmp_path / 'nope'} for the SQLite database")
    assert not (tmp_path / "nope").exists()


def demo_database_with_runs(path, last_run_at):
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sink = StorageSink(engine, lambda: last_run_at)
    sink.add_video(VideoInput(SLUG, SIM_VIDEO["title"]))
    sink.record_run(
        RunReport("hackernews", "discover", last_run_at, last_run_at, status="ok"),
    )
    engine.dispose()


def test_a_new_demo_starts_fresh_and_continue_resumes_the_clock(tmp_path):
    path = tmp_path / "demo.db"
    last = SCENARIO_START + timedelta(hours=7, minutes=30)
    demo_database_with_runs(path, last)
    assert demo_mode.prepare_database(path, True, 0) == last
    assert path.exists()
    assert demo_mode.prepare_database(path, False, 2) == SCENARIO_START + timedelta(hours=2)
    assert not path.exists() and not Path(f"{path}-wal").exists()


def test_a_demo_never_deletes_a_database_that_is_not_a_demo_one(tmp_path):
    path = tmp_path / "real.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    StorageSink(engine, utc_now).add_video(VideoInput("my-clip", "Mine"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["demo", "--database", str(path)])
    assert_one_line_error(result, "tracks videos other than the demo's")
    assert path.exists()
    other = tmp_path / "notes.txt"
    other.write_text("not a database at all, but precious")
    assert_one_line_error(
        CliRunner().invoke(cli, ["demo", "--database", str(other)]), "is not a demo database"
    )
    assert other.read_text() == "not a database at all, but precious"


def test_make_demo_takes_a_port():
    dry = subprocess.run(
        ["make", "-n", "demo", "PORT=8080"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "viralwatch demo --port 8080" in dry.stdout


def test_version_is_printed():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert (
        result.output.strip() == f"viralwatch, version {importlib.metadata.version('viralwatch')}"
    )


def test_videos_list_says_when_empty_and_counts_posts_without_reshares(tmp_path, sim, db_url):
    empty_config = tmp_path / "empty.toml"
    empty_config.write_text(f'[storage]\nurl = "{db_url}"\n')
    assert invoke(empty_config, "db", "upgrade").exit_code == 0
    empty = invoke(empty_config, "videos", "list")
    assert empty.exit_code == 0 and empty.output.startswith("no tracked videos yet; add one")
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, ["mastodon"])
    assert invoke(config, "collect", "--once").exit_code == 0
    engine = make_engine(db_url)
    posts = list(read.iter_posts(engine, read.PostFilter(video=SLUG)))
    engine.dispose()
    reshares = [p for p in posts if p.relation == "reshare"]
    assert reshares, "the simulated spread has boosts"
    (line,) = invoke(config, "videos", "list").output.splitlines()
    assert f" {len(posts) - len(reshares)} posts " in line


def test_a_typo_in_a_video_entry_names_the_unknown_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[videos]]\nslug = "clip"\ntitl = "x"\n')
    result = invoke(path, "videos", "list")
    assert_one_line_error(result, "invalid setting videos.0.titl")
    assert "not a known setting" in result.output


def test_help_imports_only_click():
    # issue 14: `viralwatch --help` imported the dashboard, alembic and the settings first.
    probe = (
        "import sys\n"
        "from viralwatch.cli import main\n"
        "sys.argv = ['viralwatch', '--help']\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'pydantic', 'httpx', 'rich', 'alembic', 'apscheduler', 'fastapi',"
        " 'plotly', 'storage', 'dashboard', 'collectors', 'config')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert shown.stdout.strip().splitlines()[-1] == "[]"


def test_screenshots_say_when_chromium_is_missing(tmp_path):
    missing = tmp_path / "no-chromium"
    shown = subprocess.run(
        [sys.executable, "scripts/screenshots.py", str(missing)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 1
    assert shown.stderr.strip() == (
        f"screenshots: {missing} is missing; install Debian's chromium package "
        "(apt-get install chromium), then run `make screenshots` again"
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_until(args, needle, timeout=90):
    """Run `viralwatch demo ARGS` until it logs `needle`, then Ctrl-C it; returns its log."""
    process = subprocess.Popen(
        [VIRALWATCH, "demo", "--port", str(free_port()), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if needle in line:
                break
        process.send_signal(signal.SIGINT)
        lines += process.stderr.readlines()
        assert process.wait(timeout=60) == 0, "".join(lines)
    finally:
        timer.cancel()
    return "".join(lines)


def hour_of_spread(log):
    return float(re.search(r"\(hour ([\d.]+) of the spread", log)[1])


@pytest.mark.slow
def test_demo_restarts_fresh_and_continue_carries_on_in_real_processes(tmp_path):
    database = str(tmp_path / "demo.db")
    # Started at hour 2 so the recorded runs are past hour 0 whatever the machine's speed (the
    # simulated clock moves with real seconds, which a loaded machine may not give it).
    first = demo_until(["--database", database, "--start-hour", "2"], "refresh: ok")
    assert hour_of_spread(first) == 2
    # Stopped while its first jobs run: they finish, none is cancelled mid-request (issue 10).
    resumed = demo_until(["--database", database, "--continue"], "collecting with")
    assert hour_of_spread(resumed) >= 2
    fresh = demo_until(["--database", database], "collecting with")
    assert hour_of_spread(fresh) == 0
    for log in (first, resumed, fresh):
        assert "Traceback" not in log and "CancelledError" not in log, log


@pytest.mark.parametrize("command", [("videos", "list"), ("db", "upgrade")])
def test_a_schema_from_a_newer_viralwatch_is_one_line(tmp_path, command):
    path = sqlite_config(tmp_path)
    assert invoke(path, "db", "upgrade").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    assert_one_line_error(invoke(path, *command), "upgrade viralwatch")
