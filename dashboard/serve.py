"""Run the dashboard under uvicorn: in the current event loop, or in a thread (tests, demos)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


def _config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


async def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info") -> None:
    """Serve `app` on host:port until cancelled (or SIGINT/SIGTERM when in the main thread).

    Meant to be awaited next to the daemon's other tasks in one event loop; raises OSError when
    the address is in use.
    """
    server = uvicorn.Server(_config(app, host, port, log_level))
    await server.serve()


@dataclass
class RunningServer:
    """A dashboard served from a background thread; `stop()` shuts it down and waits."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_seconds: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_seconds)


def start_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
) -> RunningServer:
    """Serve `app` from a daemon thread. The socket is bound and listening before this returns,
    so requests can be made at once (port 0 picks a free port; see `url`)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, bound_port, log_level))
    # uvicorn only captures signals in the main thread, so this thread leaves them alone.

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="viralwatch-dashboard", daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    return RunningServer(url=f"http://{shown}:{bound_port}", server=server, thread=thread)
