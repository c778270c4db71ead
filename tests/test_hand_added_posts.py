"""Issue 9: a hand-added URL of a collected platform is that platform's post, counted once."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from simulator.model import SIM_VIDEO
from storage import read
from storage.db import make_engine
from storage.models import Observation, Post
from tests.helpers import write_sim_config
from viralwatch.cli import cli

PLATFORMS = ("youtube", "reddit", "x", "bluesky")
SLUG = SIM_VIDEO["slug"]


def pasted_forms(sim) -> dict[str, tuple[str, str]]:
    """platform -> (a URL as a person pastes it, the key the collector stores), one footage
    post per platform."""
    first = {}
    for post in sim.world.model.footage_posts(sim.world.now()):
        first.setdefault(post.platform, post)
    youtube, reddit, x, bluesky = (first[p] for p in PLATFORMS)
    did, rkey = bluesky.id.removeprefix("at://").split("/app.bsky.feed.post/")
    return {
        "youtube": (f"https://youtu.be/{youtube.id}?si=Jq8fW2xYbK1&t=4", youtube.id),
        "reddit": (
            f"https://old.reddit.com/r/{reddit.channel}/comments/{reddit.id}/x/?utm_source=share",
            reddit.id,
        ),
        "x": (f"https://mobile.twitter.com/{x.author}/status/{x.id}?s=20", x.id),
        "bluesky": (f"https://bsky.app/profile/{did}/post/{rkey}", bluesky.id),
    }


def canonical_form(platform: str, key: str) -> str:
    if platform == "bluesky":
        did, rkey = key.removeprefix("at://").split("/app.bsky.feed.post/")
        return f"https://bsky.app/profile/{did}/post/{rkey}#replies"
    return {
        "youtube": f"https://www.youtube.com/watch?v={key}",
        "reddit": f"https://redd.it/{key}",
        "x": f"https://x.com/i/web/status/{key}",
    }[platform]


def invoke(config, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def histories(db_url: str, keys: dict[str, str]) -> dict[str, tuple[int, int]]:
    """platform -> (posts with that key, observations of them)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            result = {}
            for platform, key in keys.items():
                ids = conn.scalars(
                    select(Post.id).where(Post.platform == platform, Post.platform_post_id == key)
                ).all()
                observed = conn.scalar(
                    select(func.count())
                    .select_from(Observation)
                    .where(Observation.post_id.in_(ids))
                )
                result[platform] = (len(ids), observed or 0)
        counts = Counter(p.platform for p in read.iter_posts(engine, read.PostFilter()))
    finally:
        engine.dispose()
    assert counts["urls"] == 0, "a platform post was stored a second time as a urls post"
    return result


@pytest.mark.slow
def test_hand_added_urls_and_collector_finds_leave_one_post_with_one_history(tmp_path, sim, db_url):
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, [*PLATFORMS, "urls"])
    invoke(config, "db", "upgrade")
    forms = pasted_forms(sim)
    keys = {platform: key for platform, (_, key) in forms.items()}
    # Added by hand before any collector ran: stored under the platform's own key.
    for platform, (url, key) in forms.items():
        assert f"({platform} post {key})" in invoke(config, "posts", "add", url, "--video", SLUG)
    invoke(config, "collect", "--once")
    assert histories(db_url, keys) == {platform: (1, 1) for platform in PLATFORMS}
    # The same posts again, in their canonical forms: nothing changes.
    for platform, key in keys.items():
        url = canonical_form(platform, key)
        assert "already following" in invoke(config, "posts", "add", url, "--video", SLUG)
    assert histories(db_url, keys) == {platform: (1, 1) for platform in PLATFORMS}


@pytest.mark.slow
def test_a_url_a_collector_already_found_changes_nothing(tmp_path, sim, db_url):
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, PLATFORMS)
    invoke(config, "db", "upgrade")
    invoke(config, "collect", "--once")
    forms = pasted_forms(sim)
    before = histories(db_url, {platform: key for platform, (_, key) in forms.items()})
    assert before == {platform: (1, 1) for platform in PLATFORMS}
    for url, _ in forms.values():
        assert "already following" in invoke(config, "posts", "add", url, "--video", SLUG)
    assert histories(db_url, {platform: key for platform, (_, key) in forms.items()}) == before


def test_a_platform_without_its_collector_stays_with_yt_dlp(tmp_path, sim, db_url):
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, ["urls"])
    invoke(config, "db", "upgrade")
    output = invoke(config, "posts", "add", "https://youtu.be/Qm7cTs2vXa0?si=x", "--video", SLUG)
    assert "(urls post https://youtube.com/watch?v=Qm7cTs2vXa0)" in output
    again = invoke(
        config, "posts", "add", "https://m.youtube.com/watch?v=Qm7cTs2vXa0", "--video", SLUG
    )
    assert "already following" in again


def test_a_bluesky_handle_url_and_the_collector_leave_one_post_with_one_history(
    tmp_path, sim, db_url
):
    # Issue 9: the handle form names the same post as the DID form the collector stores.
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, ["bluesky", "urls"])
    invoke(config, "db", "upgrade")
    url, key = pasted_forms(sim)["bluesky"]
    handle = next(p.author for p in sim.world.model.footage_posts(sim.world.now()) if p.id == key)
    handle_url = url.replace(key.removeprefix("at://").split("/")[0], handle.upper())
    assert f"(bluesky post {key})" in invoke(config, "posts", "add", handle_url, "--video", SLUG)
    invoke(config, "collect", "--once")
    assert histories(db_url, {"bluesky": key}) == {"bluesky": (1, 1)}
    for again in (url, handle_url.lower()):
        assert "already following" in invoke(config, "posts", "add", again, "--video", SLUG)
    assert histories(db_url, {"bluesky": key}) == {"bluesky": (1, 1)}
