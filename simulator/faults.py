"""Fault switches: how a platform misbehaves when `World.faults` says so (see `FaultKind`).

Each fault answers in place of the platform, or changes the platform's real answer on its way
out (rate-limit headers, schema drift), so collectors meet hostile servers over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from functools import cache
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.world import Fault, Mutation

_CHUNK = 64 * 1024
_INF = "__viralwatch_sim_inf__"


async def serve_fault(
    fault: Fault, inner: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer the request as `fault` says (possibly through the platform's own `inner` app)."""
    kind = fault.kind
    if kind == "slow":
        await asyncio.sleep(fault.delay_seconds)
        await inner(scope, receive, send)
    elif kind in ("exhausted", "drift"):
        await inner(scope, receive, _rewriting(fault, send))
    elif kind == "drip":
        await _drip(fault, receive, send)
    elif kind == "oversized":
        await _oversized(fault.size_bytes, send)
    elif kind == "reset":
        await send(_start(200, {"content-length": "1000"}))
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        # Returning before the body is complete makes the server drop the connection.
    else:
        await _fixed_response(fault, scope)(scope, receive, send)


def _fixed_response(fault: Fault, scope: Scope) -> Response:
    if fault.kind == "rate_limit":
        header = fault.retry_header
        header = str(fault.retry_after_seconds) if header is None else header
        headers = {"Retry-After": header} if header else {}
        return PlainTextResponse("Too Many Requests", status_code=429, headers=headers)
    if fault.kind == "error":
        return Response(fault.body, status_code=fault.status, media_type=fault.content_type)
    if fault.kind == "malformed":
        return Response(b'{"truncated": [1, 2', media_type="application/json")
    if fault.kind == "down":
        return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
    if fault.kind == "body":
        return Response(fault.body, media_type=fault.content_type)
    if fault.kind == "gzip_bomb":
        headers = {"content-encoding": "gzip"}
        return Response(_bomb(fault.size_bytes), headers=headers, media_type="application/json")
    if fault.kind == "redirect_loop":
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        location = (path + (b"?" + query if query else b"")).decode()
        return Response(status_code=302, headers={"location": location})
    raise ValueError(f"unknown fault kind {fault.kind!r}")


def _start(status: int, headers: dict[str, str]) -> Message:
    encoded = [(k.encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http.response.start", "status": status, "headers": encoded}


async def _drip(fault: Fault, receive: Receive, send: Send) -> None:
    body = fault.body.encode() or b'{"items": []}'
    await send(_start(200, {"content-type": fault.content_type, "content-length": str(len(body))}))

    async def until_disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    # Stop dripping once the client gives up, or the server's shutdown would wait for it.
    watcher = asyncio.ensure_future(until_disconnected())
    try:
        for byte in body:
            await asyncio.sleep(fault.delay_seconds)
            if watcher.done():
                return
            await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()


async def _oversized(size: int, send: Send) -> None:
    head, tail = b'{"pad": "', b'"}'
    padding = max(0, size - len(head) - len(tail))
    await send(_start(200, {"content-type": "application/json", "content-length": str(size)}))
    await send({"type": "http.response.body", "body": head, "more_body": True})
    for start in range(0, padding, _CHUNK):
        piece = b"x" * min(_CHUNK, padding - start)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": tail})


@cache
def _bomb(size: int) -> bytes:
    """`size` bytes of "0" gzip-compressed: 300 MB inflate from about 300 KB.

    Built fast: after a full flush a deflate stream refers to nothing before it, so every
    further megabyte of zeros compresses to the same bytes, which are repeated.
    """
    block = b"0" * (1024 * 1024)
    count, rest = divmod(size, len(block))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH) if count else b""
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH) if count > 1 else b""
    end = deflate.compress(block[:rest]) + deflate.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest], crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, no name, no mtime
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + first + repeated * max(0, count - 1) + end + trailer


def _rewriting(fault: Fault, send: Send) -> Send:
    """A `send` that changes the platform's answer: headers now, the body once complete."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def rewrite(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        content = bytes(body)
        if fault.kind == "exhausted":
            headers += [
                (b"x-ratelimit-remaining", b"0"),
                (b"x-ratelimit-reset", str(fault.retry_after_seconds).encode()),
            ]
        elif _is_json(headers):
            content = mutate_json(content, fault.mutation)
        headers.append((b"content-length", str(len(content)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return rewrite


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v for k, v in headers)


def mutate_json(content: bytes, mutation: Mutation) -> bytes:
    """The JSON `content` with every integer (not bool) changed by `mutation`."""
    try:
        document = json.loads(content)
    except ValueError:
        return content
    text = json.dumps(_mutate(document, mutation))
    return text.replace(f'"{_INF}"', "1e400").encode()


def _mutate(value: Any, mutation: Mutation) -> Any:
    if isinstance(value, dict):
        if mutation == "renamed_keys":
            return {
                (f"{k}_v2" if _is_int(v) else k): _mutate(v, mutation) for k, v in value.items()
            }
        return {k: _mutate(v, mutation) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, mutation) for v in value]
    if not _is_int(value):
        return value
    return {
        "numbers_as_strings": str(value),
        "nulls": None,
        "huge_numbers": 2**64 + value,
        "inf": _INF,
        "renamed_keys": value,
    }[mutation]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
