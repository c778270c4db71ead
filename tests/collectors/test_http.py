"""Every request is bounded and every failure translated (issue 13), against the simulator's
fault switches over real loopback HTTP."""

from __future__ import annotations

import json
import logging
import socket
import time
import tracemalloc
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.aiohttp_transport import AiohttpTransport
from collectors.base import AuthFailed, RateLimited, SourceUnavailable, utc_now
from collectors.http import (
    BARE_CLIENT_POLICY as BARE,
)
from collectors.http import (
    LARGE_BODY_BYTES,
    PARSED_JSON,
    RequestPolicy,
    build_client,
    decode_json,
    fetch,
    query_url,
    use_policy,
)
from simulator.world import Fault


class RecordingSleep:
    """Backoff waits, recorded instead of slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(params=["aiohttp", "httpx"])
async def bounded_client(request):
    """A client as collectors get one (redirects followed), with tight limits for tests; every
    hostile answer is met through the aiohttp transport the daemon uses and httpx's own."""
    transport = AiohttpTransport(8) if request.param == "aiohttp" else None
    async with httpx.AsyncClient(timeout=10, follow_redirects=True, transport=transport) as client:
        policy = RequestPolicy(
            deadline_seconds=1.0, max_body_bytes=1_000_000, sleep=RecordingSleep()
        )
        yield use_policy(client, policy)


def hn(sim) -> str:
    return sim.base_url("hackernews") + "/api/v1/search?tags=story"


async def test_drip_fed_body_ends_at_the_overall_deadline(sim, bounded_client, clock):
    # Issue 13: one byte every 5 s never tripped the per-read timeout; the job hung.
    sim.world.set_fault("hackernews", Fault("drip", body='{"hits": []}' * 10, delay_seconds=0.2))
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="no complete answer within 1s"):
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
    assert time.monotonic() - started < 3


async def test_gzip_bomb_stops_at_the_byte_cap_without_inflating(sim, bounded_client, clock):
    # Issue 13: a 300 KB gzip bomb took the daemon to 1.23 GB.
    sim.world.set_fault("hackernews", Fault("gzip_bomb", size_bytes=300 * 1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(SourceUnavailable, match="larger than 1000000 bytes"):
            await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


@pytest.mark.slow
async def test_50_mb_body_is_refused_at_the_default_cap(sim, clock):
    # Issue 13: a 50 MB body took the daemon to 695 MB.
    sim.world.set_fault("hackernews", Fault("oversized", size_bytes=50 * 1024 * 1024))
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(SourceUnavailable, match="larger than 20971520 bytes"):
            await fetch(client, "hackernews", hn(sim), clock=clock)


async def test_oversized_body_is_refused(sim, bounded_client, clock):
    sim.world.set_fault("hackernews", Fault("oversized", size_bytes=3_000_000))
    with pytest.raises(SourceUnavailable, match="larger than"):
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)


async def test_gzip_answer_within_the_cap_is_decoded(sim, bounded_client, clock):
    sim.world.set_fault("hackernews", Fault("gzip_bomb", size_bytes=1000))
    response = await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
    assert response.content == b"0" * 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("999999999", 3600.0),
        ("Thu, 01 Jan 2099 00:00:00 GMT", 3600.0),
        ("", 60.0),
        ("soon", 60.0),
    ],
)
async def test_retry_after_is_honoured_and_capped(
    sim, bounded_client, clock, caplog, header, expected
):
    # Issue 13: `Retry-After: 999999999` parked a collector for decades.
    sim.world.set_fault("hackernews", Fault("rate_limit", retry_header=header))
    with pytest.raises(RateLimited) as caught:
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
    assert caught.value.retry_after_seconds == expected
    capped = [r for r in caplog.records if "waiting 3600 s instead" in r.getMessage()]
    assert bool(capped) == (expected == 3600.0)


async def test_transient_errors_are_retried_with_growing_jittered_backoff(sim, clock):
    sleep = RecordingSleep()
    policy = RequestPolicy(
        attempts=4, backoff_initial_seconds=1, backoff_max_seconds=30, sleep=sleep
    )
    sim.world.set_fault("hackernews", Fault("error", status=503, count=3))
    async with httpx.AsyncClient(timeout=10) as client:
        response = await fetch(use_policy(client, policy), "hackernews", hn(sim), clock=clock)
    assert response.status_code == 200
    assert len(sleep.waits) == 3
    assert [round(w) >= 2**i for i, w in enumerate(sleep.waits)] == [True] * 3
    assert all(w <= 2**i + 1 for i, w in enumerate(sleep.waits))  # jitter adds at most 1 s


async def test_retries_end_with_the_last_error(sim, clock):
    sleep = RecordingSleep()
    sim.world.set_fault("hackernews", Fault("error", status=502))
    async with httpx.AsyncClient(timeout=10) as client:
        use_policy(client, RequestPolicy(attempts=3, sleep=sleep))
        with pytest.raises(SourceUnavailable, match="server error HTTP 502"):
            await fetch(client, "hackernews", hn(sim), clock=clock)
    assert len(sleep.waits) == 2
    assert len(sim.world.requests_to("hackernews")) == 3


async def test_rate_limits_are_not_retried_at_once(sim, clock):
    sleep = RecordingSleep()
    sim.world.set_fault("hackernews", Fault("rate_limit", count=1))
    async with httpx.AsyncClient(timeout=10) as client:
        use_policy(client, RequestPolicy(attempts=3, sleep=sleep))
        with pytest.raises(RateLimited):
            await fetch(client, "hackernews", hn(sim), clock=clock)
    assert sleep.waits == []


async def test_connection_reset_mid_body_is_source_unavailable(sim, bounded_client, clock):
    sim.world.set_fault("hackernews", Fault("reset"))
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)


async def test_redirect_loop_is_source_unavailable(sim, bounded_client, clock):
    sim.world.set_fault("hackernews", Fault("redirect_loop"))
    with pytest.raises(SourceUnavailable, match="too many redirects"):
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)


@pytest.mark.parametrize("status", [401, 403])
async def test_keyless_refusal_is_unavailable_not_auth_failed(sim, bounded_client, clock, status):
    # Issue 8: a CDN or bot wall in front of a keyless source paused it until restart.
    sim.world.set_fault("hackernews", Fault("error", status=status, body="<html>blocked</html>"))
    with pytest.raises(SourceUnavailable, match=f"refused an anonymous request \\(HTTP {status}"):
        await fetch(bounded_client, "hackernews", hn(sim), clock=clock)


async def test_refusal_of_credentials_is_auth_failed(sim, bounded_client, clock):
    sim.world.set_fault("hackernews", Fault("error", status=401))
    with pytest.raises(AuthFailed):
        await fetch(
            bounded_client, "hackernews", hn(sim), clock=clock, headers={"Authorization": "x"}
        )
    sim.world.set_fault("hackernews", Fault("error", status=403))
    with pytest.raises(AuthFailed) as caught:
        await fetch(bounded_client, "youtube", hn(sim) + "&key=SECRET-KEY", clock=clock)
    assert "SECRET-KEY" not in str(caught.value)


async def test_answer_that_used_the_last_request_of_its_window_is_returned(
    sim, bounded_client, clock
):
    # Issue 8: a page that spent the window's last request raised RateLimited; posts were lost.
    sim.world.set_fault("hackernews", Fault("exhausted", retry_after_seconds=300))
    response = await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
    assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "0"


def json_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"points": 1e400}', {"points": 2**63}),
        (b'{"points": -1e400}', {"points": -(2**63)}),
        (b'{"points": NaN, "n": Infinity}', {"points": None, "n": None}),
        (b'{"points": 18446744073709551616}', {"points": 2**64}),
        (b'{"points": 1.5}', {"points": 1.5}),
    ],
)
def test_decode_json_reads_absurd_numbers_without_overflow(body, expected):
    assert decode_json("hackernews", json_response(body)) == expected


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"n": ' + b"9" * 5000 + b"}", b'{"hits": [', b"<html>", b"", b"\xff\xfe"],
)
def test_decode_json_turns_hostile_bodies_into_one_line_errors(body):
    with pytest.raises(SourceUnavailable, match="malformed response") as caught:
        decode_json("hackernews", json_response(body))
    assert "\n" not in str(caught.value)


def test_capped_wait_logs_once_per_cap(caplog):
    from collectors.http import capped_wait

    caplog.set_level(logging.WARNING, logger="viralwatch.http")
    assert capped_wait("x", float("inf"), 3600) == 3600
    assert capped_wait("x", 10, 3600) == 10
    assert len(caplog.records) == 1


async def test_large_json_answer_is_parsed_in_a_worker_thread(sim, bounded_client, clock):
    # Issue 13: parsing of large bodies runs off the event loop.
    hits = [{"objectID": str(n), "points": n, "title": "x" * 40} for n in range(8000)]
    body = json.dumps({"hits": hits})
    assert len(body) > LARGE_BODY_BYTES
    sim.world.set_fault("hackernews", Fault("body", body=body))
    response = await fetch(bounded_client, "hackernews", hn(sim), clock=clock)
    assert PARSED_JSON in response.extensions  # parsed by fetch, in asyncio.to_thread
    assert decode_json("hackernews", response)["hits"][7999]["points"] == 7999


# --- the hot path (issue 14) ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@given(json_values)
def test_decode_json_reads_every_document_as_the_standard_library_does(value):
    body = json.dumps(value).encode()
    assert decode_json("x", json_response(body)) == json.loads(body)


@given(
    st.lists(
        st.tuples(st.sampled_from(["id[]", "uris", "id", "q"]), st.text(max_size=40)),
        max_size=30,
    )
)
def test_query_url_reads_back_as_the_pairs_httpx_would_send(pairs):
    base = httpx.URL("http://127.0.0.1:9/mastodon/social-a/api/v1/statuses")
    built = query_url(base, pairs)
    # httpx groups repeated keys; the order within each key, which servers read, is the same.
    expected = base.copy_merge_params(pairs)
    assert built.params == expected.params and built.path == expected.path
    assert parse_qsl(built.query.decode(), keep_blank_values=True) == pairs
    assert httpx.URL(str(built)) == built  # what goes on the wire parses back to itself


async def test_httpcore_finds_the_async_library_without_a_failing_import():
    # Issue 14: with sniffio missing, httpcore's lookup raised ImportError inside every request
    # (7-13 % of a refresh pass); the dependency makes it a dictionary read.
    from httpcore._synchronization import current_async_library

    assert current_async_library() == "asyncio"


async def test_the_daemons_client_reads_answers_and_reports_unreachable_hosts(sim, clock):
    client = build_client(timeout_seconds=5, user_agent="viralwatch-test", policy=BARE)
    async with client:
        assert isinstance(client._transport, AiohttpTransport)
        body = decode_json("hackernews", await fetch(client, "hackernews", hn(sim), clock=clock))
        assert body["hits"] and sim.world.requests_to("hackernews")[-1].query == "tags=story"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        with pytest.raises(SourceUnavailable, match="cannot reach"):
            await fetch(client, "hackernews", closed, clock=clock)


@given(st.text())
def test_query_values_are_quoted_as_quote_plus_quotes_them(text):
    from urllib.parse import quote_plus

    from collectors.http import _quote

    assert _quote(text) == quote_plus(text)


async def test_the_daemons_client_keeps_cookies_answers_set():
    # Answers without Set-Cookie skip httpx's cookie jar (issue 14); those with one still reach it.
    from aiohttp import web

    async def set_cookie(request: web.Request) -> web.Response:
        response = web.json_response({})
        response.set_cookie("session", "s1")
        return response

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"cookie": request.headers.get("Cookie")})

    app = web.Application()
    app.router.add_get("/set", set_cookie)
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with build_client(timeout_seconds=5, user_agent="t", policy=BARE) as client:
            url = f"http://127.0.0.1:{port}"
            await fetch(client, "test", f"{url}/echo", clock=utc_now)
            await fetch(client, "test", f"{url}/set", clock=utc_now)
            echoed = await fetch(client, "test", f"{url}/echo", clock=utc_now)
            assert decode_json("test", echoed) == {"cookie": "session=s1"}
            assert client.cookies.get("session") == "s1"
    finally:
        await runner.cleanup()
