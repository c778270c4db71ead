"""A loopback TCP proxy between the daemon and PostgreSQL that a test can cut or freeze.

Stopping or SIGSTOP-ing the shared PostgreSQL server is not ours to do, so outages are made here:
- `forward`: bytes pass both ways;
- `down`: every connection is closed and new ones are reset (PostgreSQL stopped);
- `blackhole`: connections stay open and are accepted, but nothing is ever answered
  (PostgreSQL frozen: the kernel still ACKs, the server never replies).
`swallowed` is set once a byte has been eaten in blackhole mode: proof that a caller is now stuck.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from contextlib import suppress
from typing import Literal

Mode = Literal["forward", "down", "blackhole"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "forward"
        self.swallowed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "down":
            with self._lock:
                pairs, self._pairs = self._pairs, []
            for pair in pairs:
                for sock in pair:
                    if sock is not None:
                        with suppress(OSError):
                            sock.close()

    def close(self) -> None:
        self._closed = True
        self.set_mode("down")
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "down":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            upstream = None
            if self.mode == "forward":
                try:
                    upstream = socket.create_connection(self.target)
                except OSError:
                    client.close()
                    continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket | None) -> None:
        peers = {client: upstream, **({upstream: client} if upstream else {})}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                try:
                    events = selector.select(timeout=0.2)
                    for key, _ in events:
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        data = sock.recv(65536)
                        if not data:
                            raise OSError("closed")
                        peer = peers[sock]
                        if self.mode == "forward" and peer is not None:
                            peer.sendall(data)
                        else:
                            self.swallowed.set()
                except (OSError, ValueError):
                    for sock in peers:
                        with suppress(OSError):
                            sock.close()
                    return
