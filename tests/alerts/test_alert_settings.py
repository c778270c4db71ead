"""The [alerts] section: documented keys, environment overrides for the secret URLs, one-line
errors that never echo a URL (issue 12)."""

from __future__ import annotations

import re
import tomllib

import pytest

from config.settings import AlertRuleSettings, ConfigError
from tests.config.test_settings import EXAMPLE, write
from viralwatch.catalog import load_settings


def test_example_documents_every_rule_key_in_a_commented_rule_that_loads(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r"^# \[\[alerts\.rules\]\]\n((?:#.*\n)+)", text, re.M)
    assert block is not None
    body = re.sub(r"^# ?", "", block.group(1), flags=re.M)
    rule = tomllib.loads(body)
    assert set(rule) == set(AlertRuleSettings.model_fields)
    path = write(
        tmp_path,
        '[alerts]\ntargets = { desk = "json://127.0.0.1:9/x" }\n[[alerts.rules]]\n' + body,
    )
    (loaded,) = load_settings(path).alerts.rules
    assert loaded.name == "million-views" and loaded.targets == ["desk"]


def test_target_urls_come_from_the_environment(tmp_path, monkeypatch):
    path = write(
        tmp_path, '[[alerts.rules]]\nname = "r"\nkind = "new_platform"\ntargets = ["desk"]\n'
    )
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__DESK", "slack://TOKEN-A/TOKEN-B/TOKEN-C")
    settings = load_settings(path)
    assert settings.alerts.targets["desk"].get_secret_value() == "slack://TOKEN-A/TOKEN-B/TOKEN-C"
    assert "TOKEN" not in repr(settings) and "TOKEN" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[alerts]\ntimezone = "Mars/Olympus"\n', "alerts.timezone"),
        ('[alerts]\nquiet_hours = "late"\n', "HH:MM-HH:MM"),
        ('[[alerts.rules]]\nname = "r"\nkind = "sometimes"\ntargets = ["d"]\n', "kind"),
        ('[[alerts.rules]]\nname = "r"\nkind = "digest"\ntargets = []\n', "targets"),
        ('[alerts]\npublic_base_url = "desk.example.org"\n', "alerts.public_base_url"),
    ],
)
def test_bad_alert_settings_name_the_key(tmp_path, body, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings(write(tmp_path, body))
    assert "\n" not in str(caught.value)


def test_a_bad_value_among_targets_is_not_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS", '{"desk": ["json://SECRET-IN-LIST"]}')
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert "SECRET" not in str(caught.value) and "alerts.targets" in str(caught.value)


def test_two_rules_with_one_name_are_rejected(tmp_path):
    rule = '[[alerts.rules]]\nname = "r"\nkind = "digest"\ntargets = ["d"]\n'
    body = '[alerts]\ntargets = { d = "json://127.0.0.1/x" }\n' + rule + rule
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(write(tmp_path, body))
