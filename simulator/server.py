"""Serve an ASGI app under uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

from simulator.app import build_app
from simulator.world import World


class LoopbackServer:
    """`with LoopbackServer(app) as server:` serves `app` at `server.url` until the block ends."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.port = port or _free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        started = threading.Event()
        while not self._server.started and self._thread.is_alive():
            started.wait(0.01)  # uvicorn offers no start event; poll its flag
        if not self._server.started:
            raise RuntimeError(f"server failed to start on port {self.port}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorServer(LoopbackServer):
    """The simulated internet on a loopback port; `world` is its state."""

    def __init__(self, world: World | None = None, port: int = 0) -> None:
        self.world = world or World()
        super().__init__(build_app(self.world), port)

    def base_url(self, platform: str, instance: str | None = None) -> str:
        """The `base_url` a collector should use for `platform` (and a federated instance)."""
        return f"{self.url}/{platform}" + (f"/{instance}" if instance else "")

    def start(self) -> SimulatorServer:
        super().start()
        return self

    def __enter__(self) -> SimulatorServer:
        return self.start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
