"""A fast loopback server for refresh benchmarks: Mastodon, Reddit and Bluesky batch endpoints
answering with pre-rendered bodies, in a process of its own (issue 14).

Each platform's item is rendered once by the simulator (the real format) and kept as bytes with
markers for the id and for a "generation" number in the like counter; an answer is the items'
bytes with those replaced and joined, so the server costs a few microseconds a post and is never
the bottleneck. `cpu_seconds` reports the CPU it used, so a benchmark can state its capacity.
`bump` moves every like counter, so each pass stores changed readings, not repeats;
`latency_seconds` delays every answer, as a distant server would.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import time
from typing import Any

import httpx

ID = "zzIDzz"
GEN = 1_234_567_890  # a number no rendered body holds otherwise
CASCADING = "3kcas"
PLATFORMS = ("mastodon", "reddit", "bluesky")


def mastodon_uri(post_id: str) -> str:
    return f"https://bench.example/users/a/statuses/{post_id}"


def bluesky_uri(post_id: str) -> str:
    return f"at://did:plc:benchbenchbenchbenchbench/app.bsky.feed.post/{post_id}"


def templates() -> dict[str, bytes]:
    """One item per platform from the simulator, with the id and like counter as markers."""
    from simulator import bluesky, mastodon, reddit
    from simulator.world import World

    world = World()
    world.clock.advance(30 * 3600)
    now = world.now()
    first = {p: world.model.visible(p, now)[0] for p in PLATFORMS}
    status = mastodon.render_status(first["mastodon"], world)
    status.update(id=ID, uri=mastodon_uri(ID), favourites_count=GEN, card=None)
    thing = reddit.render_thing(first["reddit"], now, {})["data"]
    thing.update(id=ID, name=f"t3_{ID}", score=GEN, ups=GEN, num_crossposts=2)
    thing.pop("crosspost_parent", None)
    thing.pop("crosspost_parent_list", None)
    post = bluesky.render_post(first["bluesky"], world)
    post.update(uri=bluesky_uri(ID), likeCount=GEN)
    # Most posts are never reposted or quoted; ids starting CASCADING are (and never change).
    shared = json.dumps(post).encode()
    post.update(repostCount=0, quoteCount=0)
    thing.update(num_crossposts=0)
    return {
        "mastodon": json.dumps(status).encode(),
        "reddit": json.dumps({"kind": "t3", "data": thing}).encode(),
        "bluesky": json.dumps(post).encode(),
        "bluesky-shared": shared,
    }


def _serve(port: int, bodies: dict[str, bytes], ready: Any, latency_seconds: float) -> None:
    import asyncio

    from aiohttp import web

    generation = [1]

    def items(platform: str, ids: list[str]) -> bytes:
        gen = str(generation[0]).encode()
        template = bodies[platform].replace(str(GEN).encode(), gen)
        shared = bodies.get(f"{platform}-shared", template).replace(str(GEN).encode(), gen)
        return b",".join(
            (shared if i.startswith(CASCADING) else template).replace(ID.encode(), i.encode())
            for i in ids
        )

    def answer(body: bytes) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def statuses(request: web.Request) -> web.Response:
        return answer(b"[" + items("mastodon", request.query.getall("id[]", [])) + b"]")

    async def info(request: web.Request) -> web.Response:
        ids = [f[3:] for f in request.query.get("id", "").split(",") if f]
        return answer(_listing(items("reddit", ids)))

    async def duplicates(request: web.Request) -> web.Response:
        one = items("reddit", [request.match_info["id"]])
        return answer(b"[" + _listing(one) + b"," + _listing(b"") + b"]")

    async def token(request: web.Request) -> web.Response:
        return web.json_response(
            {"access_token": "bench", "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    async def get_posts(request: web.Request) -> web.Response:
        rkeys = [u.rsplit("/", 1)[-1] for u in request.query.getall("uris", [])]
        return answer(b'{"posts":[' + items("bluesky", rkeys) + b"]}")

    async def cascade(request: web.Request) -> web.Response:
        key = "posts" if request.path.endswith("getQuotes") else "repostedBy"
        return web.json_response({"uri": request.query.get("uri"), key: []})

    async def bump(request: web.Request) -> web.Response:
        generation[0] += 1
        return web.json_response({"generation": generation[0]})

    async def cpu(request: web.Request) -> web.Response:
        return web.json_response({"cpu_seconds": time.process_time()})

    @web.middleware
    async def latency(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_bench"):
            await asyncio.sleep(latency_seconds)  # the simulated network, not a synchronisation
        return await handler(request)

    app = web.Application(middlewares=[latency] if latency_seconds else [])
    app.router.add_get("/mastodon/api/v1/statuses", statuses)
    # PRAW joins its paths to the host root (urljoin), so Reddit also answers there.
    for root in ("/reddit", ""):
        app.router.add_get(f"{root}/api/info", info)
        app.router.add_get(f"{root}/api/info/", info)
        app.router.add_post(f"{root}/api/v1/access_token", token)
    app.router.add_get("/reddit/duplicates/{id}", duplicates)
    app.router.add_get("/bluesky/xrpc/app.bsky.feed.getPosts", get_posts)
    app.router.add_get("/bluesky/xrpc/app.bsky.feed.getQuotes", cascade)
    app.router.add_get("/bluesky/xrpc/app.bsky.feed.getRepostedBy", cascade)
    app.router.add_get("/_bench/bump", bump)
    app.router.add_get("/_bench/cpu", cpu)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _listing(children: bytes) -> bytes:
    return (
        b'{"kind":"Listing","data":{"after":null,"dist":null,"modhash":"","geo_filter":"",'
        b'"children":[' + children + b'],"before":null}}'
    )


class FastPlatforms:
    """`with FastPlatforms() as server:` serves the three platforms at `server.url`."""

    def __init__(self, latency_seconds: float = 0.0) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._process = context.Process(
            target=_serve,
            args=(self.port, templates(), self._ready, latency_seconds),
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bump(self) -> None:
        httpx.get(f"{self.url}/_bench/bump")

    def cpu_seconds(self) -> float:
        return float(httpx.get(f"{self.url}/_bench/cpu").json()["cpu_seconds"])

    def __enter__(self) -> FastPlatforms:
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the benchmark server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(10)
