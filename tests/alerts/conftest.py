"""Alerts fixtures: a loopback webhook receiver (Apprise's json:// target) and rule helpers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from config.settings import AlertRuleSettings, AlertsSettings

# Secrets a receiver URL carries: in the user info, the path and the query.
URL_PASSWORD = "PW-ALERT-SECRET-7"
URL_PATH_TOKEN = "PATH-ALERT-TOKEN-8"
URL_SECRETS = (URL_PASSWORD, URL_PATH_TOKEN)


@dataclass
class Receiver:
    """Records each JSON body posted to it; answers `status` (200 unless a test sets 500)."""

    port: int = 0
    status: int = 200
    messages: list[dict] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"json://alerter:{URL_PASSWORD}@127.0.0.1:{self.port}/{URL_PATH_TOKEN}"

    def bodies(self) -> list[str]:
        with self.lock:
            return [m["message"] for m in self.messages]


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[logging.Logger]:
    """The CLI's logging setup replaces the root handlers and level: put them back after, so
    later tests do not inherit a DEBUG root."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests += 1
                if state.status < 300:
                    state.messages.append(body)
                    state.arrived.set()
            self.send_response(state.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    # serve_forever's default 0.5 s poll made each test's teardown wait up to half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def alerts_settings(
    receiver: Receiver, *rules: AlertRuleSettings, **options: object
) -> AlertsSettings:
    return AlertsSettings(
        public_base_url="https://desk.example.org",
        targets={"hook": SecretStr(receiver.url)},
        rules=list(rules),
        **options,  # type: ignore[arg-type]
    )


def rule(name: str, kind: str, **options: object) -> AlertRuleSettings:
    return AlertRuleSettings(name=name, kind=kind, targets=["hook"], **options)  # type: ignore[arg-type]
