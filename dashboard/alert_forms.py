"""The alert-rule form (issue 12): form fields <-> a rule definition, checked by the same
`AlertRuleSettings` model as `[[alerts.rules]]` in the config file, so a rule means the same
wherever it was set. Targets are chosen by name; their Apprise URLs never reach a page.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from config.settings import ALERT_KINDS, COUNTER_NAMES, AlertRuleSettings, AlertsSettings
from dashboard.routes.manage import field_errors

# Fields typed into the form; `targets` (checkboxes) and `during_quiet_hours` (a checkbox) aside.
TEXT_FIELDS = tuple(
    name for name in AlertRuleSettings.model_fields if name not in ("targets", "during_quiet_hours")
)
CHOICES = {
    "kind": ALERT_KINDS,
    "counter": COUNTER_NAMES,
    "measure": ("total", "velocity"),
    "period": ("daily", "hourly"),
}
FIELD_HELP = {
    name: str(field.description) for name, field in AlertRuleSettings.model_fields.items()
}


@dataclass(frozen=True, slots=True)
class Known:
    """What a rule may name: configured targets and rules, tracked videos, platforms."""

    targets: Collection[str]
    config_rules: Collection[str]
    videos: Collection[str]
    platforms: Collection[str]


def known_names(
    settings: AlertsSettings, videos: Collection[str], platforms: Collection[str]
) -> Known:
    return Known(sorted(settings.targets), {r.name for r in settings.rules}, videos, platforms)


def rule_form(definition: dict[str, Any]) -> dict[str, Any]:
    """The form's values for a stored rule, as the form would have sent them."""
    form: dict[str, Any] = {k: _text(definition.get(k, "")) for k in TEXT_FIELDS}
    form["targets"] = list(definition.get("targets", []))
    form["during_quiet_hours"] = bool(definition.get("during_quiet_hours"))
    return form


def defaults_form() -> dict[str, Any]:
    """The add form: every field at its `[[alerts.rules]]` default."""
    defaults = {
        name: field.default
        for name, field in AlertRuleSettings.model_fields.items()
        if not field.is_required()
    }
    return rule_form({**defaults, "name": "", "kind": "threshold", "targets": []})


def validate_rule(
    form: dict[str, Any], known: Known, editing: str | None
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """A rule definition from the form, or one-line errors by field name."""
    values: dict[str, Any] = {k: form[k].strip() for k in TEXT_FIELDS if form[k].strip()}
    values["targets"] = form["targets"]
    values["during_quiet_hours"] = form["during_quiet_hours"]
    if editing is not None:
        values["name"] = editing  # the name keys its alerts' de-duplication: never renamed
    errors: dict[str, str] = {}
    if unknown := [t for t in form["targets"] if t not in known.targets]:
        errors["targets"] = f"{unknown[0][:40]!r} is not in [alerts.targets]"
    if not known.targets:
        errors["targets"] = "no target is configured; add one under [alerts.targets] first"
    if values.get("video") and values["video"] not in known.videos:
        errors["video"] = "pick a tracked video, or none for every video"
    if values.get("platform", "") not in ("", "each", *known.platforms):
        errors["platform"] = f"use each, or one of {', '.join(sorted(known.platforms))}"
    if editing is None and values.get("name") in known.config_rules:
        errors["name"] = "the config file has a rule of that name; pick another"
    try:
        rule = AlertRuleSettings.model_validate(values)
    except ValidationError as err:
        return None, {**field_errors(err), **errors}
    return (None if errors else rule.model_dump()), errors


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
