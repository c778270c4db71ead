"""Telegram channel previews: HTML parser, view abbreviations, collector against the simulator.

No recording of t.me/s pages exists in shared/fixtures (PLATFORMS.md: every public sample was
hand-written), so the parser tests use a page written here in the preview's structure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from collectors.base import (
    KnownPost,
    Observation,
    PostError,
    RateLimited,
    SourceUnavailable,
    TrackedVideo,
)
from collectors.runner import CollectorRunner
from collectors.telegram import (
    TelegramCollector,
    TelegramSettings,
    channel_name,
    parse_page,
    parse_views,
)
from simulator import telegram as sim_telegram
from simulator.model import ORIGIN_TELEGRAM_URL
from simulator.world import Fault
from storage import read

PAGE = """<!DOCTYPE html><html><body><main><section class="tgme_channel_history js-message_history">
<div class="tgme_widget_message_centered js-messages_more_wrap">
  <a href="/s/odesa_daily?before=20087" data-before="20087" class="tme_messages_more js-messages_more"></a>
</div>
<div class="tgme_widget_message_wrap js-widget_message_wrap">
 <div class="tgme_widget_message js-widget_message" data-post="odesa_daily/20087">
  <div class="tgme_widget_message_bubble">
   <div class="tgme_widget_message_author"><a class="tgme_widget_message_owner_name"
      href="https://t.me/odesa_daily"><span dir="auto">Odesa Daily</span></a></div>
   <a class="tgme_widget_message_reply" href="https://t.me/odesa_daily/20001">
     <div class="tgme_widget_message_text js-message_reply_text">An older message</div></a>
   <div class="tgme_widget_message_text js-message_text" dir="auto">Tram &amp; bus times<br/>today</div>
   <div class="tgme_widget_message_info"><span class="tgme_widget_message_views">987</span>
    <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date"
      href="https://t.me/odesa_daily/20087"><time datetime="2022-03-02T10:00:00+00:00"
      class="time">10:00</time></a></span></div>
  </div></div></div>
<div class="tgme_widget_message_wrap js-widget_message_wrap">
 <div class="tgme_widget_message js-widget_message" data-post="odesa_daily/20088">
  <div class="tgme_widget_message_bubble">
   <div class="tgme_widget_message_forwarded_from accent_color">Forwarded from
     <a class="tgme_widget_message_forwarded_from_name" href="https://t.me/kyiv_witness/4182">
     <span dir="auto">Kyiv Witness</span></a></div>
   <div class="tgme_widget_message_text js-message_text" dir="auto">Полонений російський
     солдат дзвонить мамі <a href="https://youtu.be/x" target="_blank">youtu.be/x</a></div>
   <div class="tgme_widget_message_info"><span class="tgme_widget_message_views">1.2M</span>
    <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date"
      href="https://t.me/odesa_daily/20088"><time datetime="2022-03-02T10:19:33+00:00"
      class="time">10:19</time></a></span></div>
  </div></div></div>
</section></main></body></html>"""


@pytest.mark.parametrize(
    ("text", "count"),
    [("987", 987), ("1.2K", 1200), ("12.3K", 12300), ("125K", 125000), ("3.4M", 3400000),
     ("1M", 1000000), ("2.1B", 2100000000), (" 5.6k ", 5600), ("1,234", 1234), ("", None),
     ("views", None), (None, None)],
)  # fmt: skip
def test_parse_views_reads_abbreviated_counts(text, count):
    assert parse_views(text) == count


@pytest.mark.parametrize("count", [0, 7, 999, 1000, 1099, 1250, 99_999, 100_000, 2_399_984])
def test_abbreviations_the_simulator_prints_read_back_within_their_precision(count):
    value = parse_views(sim_telegram.abbreviate(count))
    assert value is not None and value <= count < value * 1.1 + 1


@pytest.mark.parametrize(
    "value",
    ["kyiv_witness", "@kyiv_witness", "https://t.me/kyiv_witness", "https://t.me/s/kyiv_witness/"],
)
def test_channel_names_accept_handles_and_links(value):
    assert channel_name(value) == "kyiv_witness"


def test_parse_page_reads_messages_views_forwards_and_skips_reply_quotes():
    page = parse_page(PAGE)
    assert page.has_history and page.older_before == 20087
    plain, forward = page.messages
    assert (plain.post, plain.views, plain.author) == ("odesa_daily/20087", 987, "Odesa Daily")
    assert plain.text == "Tram & bus times\ntoday"
    assert plain.forwarded_from is None
    assert forward.forwarded_from == "kyiv_witness/4182"
    assert forward.views == 1_200_000
    assert forward.published_at == datetime(2022, 3, 2, 10, 19, 33, tzinfo=UTC)
    assert "https://youtu.be/x" in forward.links and ORIGIN_TELEGRAM_URL in forward.links


def test_from_payload_makes_a_forward_edge_and_observation_has_views_only(sim_video):
    forward = parse_page(PAGE).messages[1]
    ref = TelegramCollector.from_payload(forward, sim_video)
    assert ref is not None
    assert (ref.parent_platform_post_id, ref.relation) == ("kyiv_witness/4182", "forward")
    assert (
        ref.url == "https://t.me/odesa_daily/20088"
        and ref.matched_by == f"url:{ORIGIN_TELEGRAM_URL}"
    )
    assert TelegramCollector.from_payload(parse_page(PAGE).messages[0], sim_video) is None
    obs = TelegramCollector.observation_from_payload(forward, datetime(2026, 1, 1, tzinfo=UTC))
    assert obs.views == 1_200_000
    assert (obs.likes, obs.shares, obs.comments, obs.quotes) == (None, None, None, None)


def test_a_page_without_history_is_no_channel_preview():
    page = parse_page("<html><body><div class='tgme_page'>Contact @x</div></body></html>")
    assert not page.has_history and page.messages == []


# --- against the simulator ----------------------------------------------------------------


def channels(sim) -> list[str]:
    return sorted({p.channel for p in sim.world.model.posts["telegram"] if p.channel})


def collector(sim, client, clock, names=None):
    config = TelegramSettings(base_url=sim.base_url("telegram"), channels=names or channels(sim))
    return TelegramCollector(client, clock, config)


def footage(sim):
    return [p for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "telegram"]


def known(refs):
    return [KnownPost(r.platform, r.platform_post_id, r.url, r.extra) for r in refs]


async def test_discover_finds_every_footage_message_with_forward_edges(
    sim, http_client, clock, sim_video
):
    found = {
        r.platform_post_id: r for r in await collector(sim, http_client, clock).discover(sim_video)
    }
    assert set(found) == {p.id for p in footage(sim)}
    for post in footage(sim):
        assert found[post.id].parent_platform_post_id == post.parent_id
        assert found[post.id].relation == post.relation
        assert found[post.id].published_at == post.created_at.replace(microsecond=0)


async def test_discover_reads_the_forward_source_from_its_own_channel(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock, ["lviv_live"]).discover(sim_video)
    assert {r.platform_post_id for r in found} == {
        p.id for p in footage(sim) if p.channel == "lviv_live"
    } | {"kyiv_witness/4182"}
    origin = sim.world.requests_to("telegram", "/s/kyiv_witness")
    assert [parse_qs(r.query) for r in origin] == [{"before": ["4183"]}]


async def test_discover_searches_each_phrase_inside_the_channel(sim, http_client, clock, sim_video):
    await collector(sim, http_client, clock, ["odesa_daily"]).discover(sim_video)
    queries = [parse_qs(r.query).get("q", [""])[0] for r in sim.world.requests_to("telegram")]
    assert set(sim_video.keywords) <= set(queries)


async def test_refresh_returns_the_views_the_preview_shows(sim, http_client, clock, sim_video):
    c = collector(sim, http_client, clock)
    refs = await c.discover(sim_video)
    before = len(sim.world.requests)
    items = await c.refresh(known(refs))
    assert len(sim.world.requests) - before == len(channels(sim))  # one page per channel here
    assert {i.platform_post_id for i in items} == {r.platform_post_id for r in refs}
    for obs in items:
        assert isinstance(obs, Observation)
        views = sim.world.model.get("telegram", obs.platform_post_id).counters(sim.world.now())[
            "views"
        ]
        assert obs.views == parse_views(sim_telegram.abbreviate(views))
        assert obs.likes is None and obs.shares is None


async def test_refresh_walks_older_pages_for_ids_far_apart(sim, http_client, clock):
    messages = sim_telegram.channel_messages(sim.world, "odesa_daily")
    newest, oldest = messages[-1], messages[0]
    posts = [KnownPost("telegram", f"odesa_daily/{m.number}") for m in (newest, oldest)]
    items = await collector(sim, http_client, clock).refresh(posts)
    assert [type(i) for i in items] == [Observation, Observation]
    pages = [
        parse_qs(r.query)["before"] for r in sim.world.requests_to("telegram", "/s/odesa_daily")
    ]
    assert pages == [[str(newest.number + 1)], [str(oldest.number + 1)]]


async def test_refresh_reports_a_message_missing_from_its_covering_page_as_a_miss(
    sim, http_client, clock
):
    doomed = next(p for p in footage(sim) if p.channel == "odesa_daily")
    doomed.gone_at = sim.world.now() - timedelta(minutes=1)
    gap = next(m.number for m in sim_telegram.channel_messages(sim.world, "odesa_daily")) + 1
    items = await collector(sim, http_client, clock).refresh(
        [KnownPost("telegram", doomed.id), KnownPost("telegram", f"odesa_daily/{gap}")]
    )
    assert {i.platform_post_id for i in items} == {doomed.id, f"odesa_daily/{gap}"}
    assert all(isinstance(i, PostError) and i.is_miss for i in items)


async def test_refresh_reports_a_miss_when_nothing_is_left_below_the_id(sim, http_client, clock):
    lowest = sim_telegram.channel_messages(sim.world, "kyiv_witness")[0].number
    items = await collector(sim, http_client, clock).refresh(
        [KnownPost("telegram", f"kyiv_witness/{lowest - 1}")]
    )
    # Issue 8: one empty page never marks messages gone on its own.
    assert [(type(i), i.is_miss) for i in items] == [(PostError, True)]


async def test_unknown_channel_is_skipped_and_its_posts_are_never_marked_gone(
    sim, http_client, clock, sim_video, caplog
):
    c = collector(sim, http_client, clock, ["no_such_channel"])
    # Not one channel readable: the run fails visibly (issue 13) rather than finding nothing.
    with pytest.raises(SourceUnavailable, match="no configured channel shows"):
        await c.discover(sim_video)
    assert await c.refresh([KnownPost("telegram", "no_such_channel/5")]) == []
    assert sum("no_such_channel" in r.message for r in caplog.records) == 1
    assert len(sim.world.requests_to("telegram")) == 2  # no searches in a channel that isn't there


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("telegram", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


@pytest.mark.parametrize("kind", ["error", "down"])
async def test_server_errors_become_source_unavailable(sim, http_client, clock, kind):
    sim.world.set_fault("telegram", Fault(kind))
    with pytest.raises(SourceUnavailable):
        await collector(sim, http_client, clock).refresh(
            [KnownPost("telegram", "odesa_daily/20088")]
        )


async def test_a_malformed_body_marks_nothing_gone(sim, http_client, clock):
    sim.world.set_fault("telegram", Fault("malformed"))
    assert (
        await collector(sim, http_client, clock).refresh(
            [KnownPost("telegram", "odesa_daily/20088")]
        )
        == []
    )


async def test_runner_stores_messages_forward_parents_and_views(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(collector(sim, http_client, clock), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    clock.advance(minutes=15)
    report = await runner.refresh()
    assert report.status == "ok" and report.observations_written == len(footage(sim))
    stored = {
        p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter(platform="telegram"))
    }
    assert set(stored) == {p.id for p in footage(sim)}
    forwards = [p for p in stored.values() if p.relation == "forward"]
    assert forwards and {p.parent_platform_post_id for p in forwards} == {"kyiv_witness/4182"}
    assert all(p.views and p.likes is None for p in stored.values())


# Issue 9: the preview's HTML keeps its line breaks and entities decoded; URLs match exactly.
MESSAGE_PAGE = """<html><body><section class="tgme_channel_history js-message_history">
<div class="tgme_widget_message_wrap js-widget_message_wrap">
 <div class="tgme_widget_message js-widget_message" data-post="odesa_daily/20090">
  <div class="tgme_widget_message_bubble">
   <div class="tgme_widget_message_text js-message_text" dir="auto"><b>Update</b> &#8212; the
     &quot;captured soldier&quot; clip:<br/><br/>source <a href="https://t.me/kyiv_witness/41821"
     target="_blank">t.me/kyiv_witness/41821</a><br/>mirror <a
     href="https://youtu.be/Qm7cTs2vXa0?si=F3x" target="_blank">youtu.be/Qm7cTs2vXa0</a></div>
   <div class="tgme_widget_message_info"><span class="tgme_widget_message_views">4.1K</span>
    <time datetime="2022-03-02T11:00:00+00:00" class="time">11:00</time></div>
  </div></div></div>
</section></body></html>"""


def test_message_text_keeps_line_breaks_and_links_match_exactly():
    (message,) = parse_page(MESSAGE_PAGE).messages
    assert message.text == (
        'Update — the "captured soldier" clip:\n\nsource t.me/kyiv_witness/41821\n'
        "mirror youtu.be/Qm7cTs2vXa0"
    )
    prefix = TrackedVideo(slug="v", title="v", urls=("https://t.me/kyiv_witness/418",))
    assert TelegramCollector.from_payload(message, prefix) is None
    youtube = TrackedVideo(
        slug="v", title="v", urls=("https://www.youtube.com/watch?v=Qm7cTs2vXa0",)
    )
    ref = TelegramCollector.from_payload(message, youtube)
    assert ref is not None and ref.matched_by.startswith("url:")
