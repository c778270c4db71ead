"""Which cascade lookups (reposts, quotes, crossposts) are worth a request this pass.

Issue 14: Bluesky asked for the quotes and reposts of every post on every pass (4,080 requests
per 2,000 posts), and Reddit's `/duplicates` cap applied per 500-post slice. A lookup is now made
only when the post's share or quote counter moved since its last lookup, at most once per post
and pass, within one budget for the whole pass (`begin_pass` is called by the runner).

The counters at each post's last lookup are kept in memory: after a restart every post with a
non-zero counter is looked up once more (within the budget), then only on movement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible lookup: `which` cascade of `post_id`, whose counter reads `count`."""

    post_id: str
    which: str
    count: int
    growth: int

    @property
    def key(self) -> str:
        return f"{self.which} {self.post_id}"


@dataclass(slots=True)
class CascadeGate:
    """A per-pass lookup budget and the counters each post had at its last lookup."""

    per_pass: int
    spent: int = 0
    _seen: dict[str, int] = field(default_factory=dict)

    def begin_pass(self) -> None:
        self.spent = 0

    def candidate(self, post_id: str, which: str, count: int | None) -> Candidate | None:
        """The lookup of `which` for `post_id`, with how far `count` moved since the last one
        (the first sight counts from 0); None when it did not move (most posts, most passes:
        no object is made for them)."""
        if not count:
            return None
        growth = count - self._seen.get(f"{which} {post_id}", 0)
        return Candidate(post_id, which, count, growth) if growth > 0 else None

    def looked_up(self, candidate: Candidate) -> None:
        self._seen[candidate.key] = candidate.count

    def choose(self, candidates: Iterable[Candidate | None]) -> list[Candidate]:
        """The moved `candidates` that fit the rest of this pass's budget: the fastest-moving
        first, at most one lookup per post."""
        chosen: list[Candidate] = []
        taken: set[str] = set()
        moved = [c for c in candidates if c is not None]
        for candidate in sorted(moved, key=lambda c: c.growth, reverse=True):
            if self.spent >= self.per_pass or candidate.growth <= 0:
                break
            if candidate.post_id not in taken:
                taken.add(candidate.post_id)
                chosen.append(candidate)
                self.spent += 1
        return chosen
