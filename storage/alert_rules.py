"""Alert rules set on the dashboard (issue 12), stored beside the alerts they fire.

A rule is stored as its definition: the keys of one `[[alerts.rules]]` entry, checked by the
same settings model before they get here (the dashboard's forms) and again when read (alerts/).
Rules name targets, never their Apprise URLs, which stay in the settings' secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class AlertRule(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("name", name="uq_alert_rules_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Kept beside the definition (which also holds it) so a video's rules are one indexed read.
    video_slug: Mapped[str] = mapped_column(String(80), default="")
    """The one video it watches ("" for every video): listed with the video."""
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RuleExists(ValueError):
    """A stored rule already has that name."""


class UnknownRule(LookupError):
    """No stored rule has that name."""


@dataclass(frozen=True, slots=True)
class StoredRule:
    name: str
    video: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def list_rules(engine: Engine, video: str | None = None) -> list[StoredRule]:
    """Stored rules by name; with `video`, only that video's."""
    query = select(
        AlertRule.name,
        AlertRule.video_slug,
        AlertRule.definition,
        AlertRule.created_at,
        AlertRule.updated_at,
    ).order_by(AlertRule.name)
    if video is not None:
        query = query.where(AlertRule.video_slug == video)
    with engine.connect() as conn:
        return [StoredRule(*row) for row in conn.execute(query)]


def get_rule(engine: Engine, name: str) -> StoredRule | None:
    # Rules are a handful per installation: one listing serves, and keeps one row mapping.
    return next((r for r in list_rules(engine) if r.name == name), None)


def add_rule(engine: Engine, definition: dict[str, Any], now: datetime) -> None:
    """Store a new rule; raises RuleExists when its name is taken."""
    row = {"name": definition["name"], "video_slug": definition.get("video", "")}
    # The unique name decides, not a prior lookup: two tabs adding one name race safely.
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(AlertRule).values(
                    **row, definition=definition, created_at=now, updated_at=now
                )
            )
    except IntegrityError as err:
        raise RuleExists(definition["name"]) from err


def replace_rule(engine: Engine, definition: dict[str, Any], now: datetime) -> None:
    """Replace the stored rule of the same name; raises UnknownRule when there is none."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(AlertRule)
            .where(AlertRule.name == definition["name"])
            .values(video_slug=definition.get("video", ""), definition=definition, updated_at=now)
        ).rowcount
    # No row changed: the rule was deleted meanwhile (in another tab); say so, do not recreate it.
    if not changed:
        raise UnknownRule(definition["name"])


def delete_rule(engine: Engine, name: str) -> None:
    """Delete a stored rule (its alerts stay listed); raises UnknownRule when there is none."""
    with engine.begin() as conn:
        if not conn.execute(delete(AlertRule).where(AlertRule.name == name)).rowcount:
            raise UnknownRule(name)
