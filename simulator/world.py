"""The simulated internet's state: spread model, clock, fault switches and a request log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from simulator.model import SCENARIO_START, SimClock, SpreadModel

FaultKind = Literal["rate_limit", "error", "slow", "malformed", "down"]


@dataclass(slots=True)
class Fault:
    """A switch that makes one platform misbehave for its next `count` requests (None: all)."""

    kind: FaultKind
    count: int | None = None
    retry_after_seconds: int = 30
    delay_seconds: float = 0.0
    status: int = 500


@dataclass(slots=True)
class LoggedRequest:
    platform: str
    method: str
    path: str
    query: str


@dataclass
class World:
    """Everything the simulator serves; shared by every platform app."""

    model: SpreadModel = field(default_factory=SpreadModel)
    clock: SimClock = field(default_factory=lambda: SimClock(SCENARIO_START))
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def set_fault(self, platform: str, fault: Fault | None) -> None:
        if fault is None:
            self.faults.pop(platform, None)
        else:
            self.faults[platform] = fault

    def take_fault(self, platform: str) -> Fault | None:
        """The fault to apply to this request, counting it down."""
        fault = self.faults.get(platform)
        if fault is None:
            return None
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                del self.faults[platform]
        return fault

    def requests_to(self, platform: str, path_contains: str = "") -> list[LoggedRequest]:
        return [r for r in self.requests if r.platform == platform and path_contains in r.path]
