"""Run the simulator under uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading

import uvicorn

from simulator.app import build_app
from simulator.world import World


class SimulatorServer:
    """`with SimulatorServer() as sim:` serves `sim.url` until the block ends."""

    def __init__(self, world: World | None = None, port: int = 0) -> None:
        self.world = world or World()
        self.port = port or _free_port()
        config = uvicorn.Config(
            build_app(self.world),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, platform: str, instance: str | None = None) -> str:
        """The `base_url` a collector should use for `platform` (and a federated instance)."""
        return f"{self.url}/{platform}" + (f"/{instance}" if instance else "")

    def start(self) -> SimulatorServer:
        self._thread.start()
        started = threading.Event()

        def check() -> None:
            while not self._server.started and self._thread.is_alive():
                started.wait(0.01)

        check()
        if not self._server.started:
            raise RuntimeError(f"simulator failed to start on port {self.port}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
