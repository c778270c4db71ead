"""What the Collector protocol asks a class to declare, for hand-written test collectors."""

from __future__ import annotations

from datetime import timedelta

from collectors.base import CollectorSpec, PassHooks
from collectors.hackernews import HackerNewsSettings


class Declared(PassHooks):
    """What the Collector protocol asks a class to declare, for the test collectors below."""

    spec = CollectorSpec(
        "Test",
        "#FF0000",
        HackerNewsSettings,
        counters=("views",),
        default_interval=timedelta(minutes=1),
        default_refresh_interval=timedelta(minutes=1),
        batch_size=1,
    )
    notice = None
