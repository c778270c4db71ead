"""An httpx transport that sends requests through aiohttp (issue 14).

httpx's own connection pool costs about three times aiohttp's per request and degrades past ten
requests in flight (/work/shared/PERFORMANCE.md: 930 against 3,160 requests/s at one in flight,
64 against 4,880 at 200). Collectors keep the httpx API (`fetch`, event hooks, redirects,
`follow_redirects`); only the wire goes through aiohttp. Bodies arrive raw (aiohttp's own
decompression is off), so `collectors.http` still inflates them within its byte cap, and
cookies stay httpx's business (aiohttp's jar is a dummy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

_CHUNK_BYTES = 64 * 1024


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp as it arrives; closing releases the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK_BYTES):
                yield chunk
        except TimeoutError as err:
            raise httpx.ReadTimeout(str(err) or "read timed out") from err
        except aiohttp.ClientError as err:
            raise httpx.ReadError(str(err) or type(err).__name__) from err

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, created in the running loop."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        try:
            response = await self._open().request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
                ),
            )
        except TimeoutError as err:
            raise httpx.ConnectTimeout(str(err) or "timed out", request=request) from err
        except aiohttp.ClientConnectionError as err:
            raise httpx.ConnectError(str(err) or type(err).__name__, request=request) from err
        except aiohttp.ClientError as err:
            raise httpx.RemoteProtocolError(str(err), request=request) from err
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        return httpx.Response(
            response.status,
            headers=headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
