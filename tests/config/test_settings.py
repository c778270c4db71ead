"""Settings: TOML file, environment overrides, one-line errors that never echo secrets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from collectors.registry import collector_classes
from config.settings import ConfigError, VideoSettings, find_config_file
from viralwatch.catalog import (
    EXAMPLE_BEGIN,
    EXAMPLE_END,
    collectors_example,
    load_settings,
    settings_model,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "viralwatch.example.toml"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "viralwatch.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_a_file_use_a_local_sqlite_database():
    settings = load_settings(None)
    assert settings.storage.url.get_secret_value() == "sqlite:///viralwatch.db"
    assert settings.collectors.mastodon.enabled is True
    assert settings.dashboard.host == "127.0.0.1" and settings.dashboard.port == 8000


def test_example_config_loads_and_tracks_the_example_footage():
    settings = load_settings(EXAMPLE)
    (video,) = settings.videos
    assert video.slug == "captured-soldier-calls-mother"
    assert "captured Russian soldier" in video.keywords
    assert any("солдат" in k for k in video.keywords)  # Ukrainian and Russian phrases
    assert video.started_at is not None


def test_example_config_documents_every_setting():
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)

    def check(model: type[BaseModel], values: dict, where: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                check(annotation, values.get(name, {}), f"{where}{name}.")
            elif name == "videos":
                check(VideoSettings, values["videos"][0], "videos.0.")
            elif not (field.description or "").startswith("Unused"):
                commented = re.search(rf"^# {name} = ", text, re.M)
                assert name in values or commented, f"{where}{name} is not in the example config"

    check(settings_model(), data, "")


def test_every_setting_has_a_description():
    def check(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                check(field.annotation)

    check(settings_model())


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[collectors.hackernews]\ninterval_seconds = 600\n")
    monkeypatch.setenv("VIRALWATCH_COLLECTORS__HACKERNEWS__INTERVAL_SECONDS", "1200")
    monkeypatch.setenv("VIRALWATCH_STORAGE__URL", "postgresql+psycopg://u@h/db")
    settings = load_settings(path)
    assert settings.collectors.hackernews.interval_seconds == 1200
    assert settings.storage.url.get_secret_value() == "postgresql+psycopg://u@h/db"


def test_secret_from_environment_enables_a_collector(monkeypatch):
    monkeypatch.setenv("VIRALWATCH_COLLECTORS__REDDIT__CLIENT_ID", "abc")
    assert load_settings(None).collectors.reddit.missing_credentials() == ["client_secret"]
    monkeypatch.setenv("VIRALWATCH_COLLECTORS__REDDIT__CLIENT_SECRET", "s3cret")
    assert load_settings(None).collectors.reddit.missing_credentials() == []


def test_unknown_key_names_the_key(tmp_path):
    path = write(tmp_path, "[collectors.mastodon]\ninstance = ['https://a.example']\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "collectors.mastodon.instance" in message and "not a known setting" in message
    assert "\n" not in message


def test_invalid_value_names_key_and_problem(tmp_path):
    path = write(tmp_path, "[collectors.hackernews]\ninterval_seconds = 'often'\n")
    with pytest.raises(ConfigError, match=r"collectors\.hackernews\.interval_seconds"):
        load_settings(path)


def test_invalid_value_error_does_not_echo_secrets(monkeypatch):
    monkeypatch.setenv("VIRALWATCH_DASHBOARD__PORT", "hunter2-not-a-port")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert "hunter2" not in str(caught.value)
    assert "dashboard.port" in str(caught.value)


def test_bad_video_slug_and_naive_start_are_rejected(tmp_path):
    path = write(tmp_path, "[[videos]]\nslug = 'Bad Slug'\ntitle = 't'\nhashtags = ['t']\n")
    with pytest.raises(ConfigError, match=r"videos\.0\.slug"):
        load_settings(path)
    path = write(
        tmp_path,
        "[[videos]]\nslug = 'ok'\ntitle = 't'\nhashtags = ['t']\nstarted_at = 2022-03-02T00:00:00\n",
    )
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(path)


def test_broken_toml_and_missing_file_are_one_line_errors(tmp_path):
    path = write(tmp_path, "[storage\nurl = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_config_file_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config_file(None, {}) is None
    (tmp_path / "viralwatch.toml").write_text("")
    assert find_config_file(None, {}) == Path("viralwatch.toml")
    assert find_config_file(None, {"VIRALWATCH_CONFIG": "/etc/vw.toml"}) == Path("/etc/vw.toml")
    assert find_config_file("given.toml", {"VIRALWATCH_CONFIG": "/etc/vw.toml"}) == Path(
        "given.toml"
    )


def test_example_config_collectors_are_generated_from_the_registry():
    # Issue 15: a new collector reaches the example by `python -m viralwatch.catalog`, not by hand.
    text = EXAMPLE.read_text(encoding="utf-8")
    generated = text.split(EXAMPLE_BEGIN + "\n", 1)[1].split(EXAMPLE_END, 1)[0].strip()
    assert generated == collectors_example().strip(), "run: python -m viralwatch.catalog"


def test_example_config_shows_each_collector_at_its_declared_cadence():
    settings = load_settings(EXAMPLE)
    for name, cls in collector_classes().items():
        section = settings.collectors.sections()[name]
        assert section.interval_seconds == cls.spec.default_interval.total_seconds(), name
        assert section.refresh_interval_seconds == cls.spec.default_refresh_interval.total_seconds()


@pytest.mark.parametrize(
    ("video", "where", "message"),
    [
        ("title = 'Clip'\nkeywords = ['']", "videos.0.keywords", "an empty keyword"),
        ("title = 'Clip'\nkeywords = ['soldier', ' ']", "videos.0.keywords", "an empty keyword"),
        ("title = ''\nkeywords = ['soldier']", "videos.0.title", "give the footage a title"),
        ("title = 'Clip'", "videos.0", "give at least one keyword, hashtag or URL"),
        ("title = 'Clip'\nhashtags = ['#']", "videos.0", "give at least one keyword, hashtag"),
    ],
)
def test_empty_video_terms_are_refused_in_one_line_naming_the_field(
    tmp_path, video, where, message
):
    # Issue 9: an empty keyword matched every post; a video with nothing to look for was kept.
    path = write(tmp_path, f"[[videos]]\nslug = 'clip'\n{video}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert f"invalid setting {where} in" in text and message in text and "\n" not in text


def test_keywords_are_kept_with_single_spaces():
    video = VideoSettings(slug="clip", title=" Clip ", keywords=["  ukraine   war "])
    assert (video.title, video.keywords) == ("Clip", ["ukraine war"])
