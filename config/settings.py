"""The one typed Settings object: TOML file, then `VIRALWATCH_<SECTION>__<KEY>` overrides.

Precedence (highest first): environment variables, the TOML file, built-in defaults. The file is
`--config FILE`, else `$VIRALWATCH_CONFIG`, else `./viralwatch.toml` when present. Unknown keys and
invalid values are rejected with one line naming the key (see `ConfigError`).
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SQLITE_URL = "sqlite:///viralwatch.db"
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class ConfigError(Exception):
    """Configuration is invalid; the message is one line naming the key and the fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class StorageSettings(Section):
    url: SecretStr = Field(
        SecretStr(DEFAULT_SQLITE_URL),
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long SQLite waits for a lock before failing (ms)"
    )


class DashboardSettings(Section):
    host: str = Field("127.0.0.1", description="Address the dashboard binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port the dashboard listens on")
    token: SecretStr | None = Field(
        None, description="Access token; required when host is not a loopback address"
    )
    refresh_seconds: int = Field(
        30, ge=5, description="How often open pages refresh their data in place"
    )


class SchedulerSettings(Section):
    misfire_grace_seconds: int = Field(
        60, ge=1, description="How late a scheduled job may still start"
    )
    jitter_seconds: int = Field(10, ge=0, description="Random delay added to each job start")
    http_timeout_seconds: float = Field(20.0, gt=0, description="Timeout for one HTTP request")
    http_deadline_seconds: float = Field(
        60.0, gt=0, description="Longest one request may take, its whole body included"
    )
    max_body_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest answer read, after decompression"
    )
    http_attempts: int = Field(
        3, ge=1, le=10, description="Tries of a request failing transiently (network, 5xx)"
    )
    max_retry_after_seconds: float = Field(
        3600.0, gt=0, description="Longest Retry-After or rate-limit reset honoured (capped)"
    )
    max_concurrent_requests: int = Field(
        8, ge=1, le=32, description="Requests one collector keeps in flight at once"
    )
    user_agent: str = Field(
        "viralwatch/0.1 (+https://github.com/viralwatch/viralwatch)",
        description="User-Agent sent to every platform",
    )


class CollectorSettings(Section):
    """Keys every collector shares."""

    # Which credential fields must be non-empty for the collector to run.
    required_credentials: ClassVar[tuple[str, ...]] = ()

    enabled: bool = Field(True, description="Run this collector")
    interval_seconds: int = Field(900, ge=10, description="How often discovery looks for new posts")
    refresh_interval_seconds: int = Field(
        600, ge=10, description="How often counters of known posts are re-read"
    )
    base_url: str = Field("", description="API root: scheme and host the platform documents")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value) if value else value

    def missing_credentials(self) -> list[str]:
        """Names of required credential keys that are empty."""
        missing = []
        for name in self.required_credentials:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                missing.append(name)
        return missing


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


class MastodonSettings(CollectorSettings):
    base_url: str = Field("https://mastodon.social", description="Unused: see instances")
    instances: list[str] = Field(
        default_factory=lambda: ["https://mastodon.social"],
        description="Mastodon servers to search (each its own API root)",
    )
    access_token: SecretStr | None = Field(
        None, description="Optional user token; full-text status search needs one"
    )

    @field_validator("instances")
    @classmethod
    def _instances(cls, value: list[str]) -> list[str]:
        return [_check_http_url(v) for v in value]


class HackerNewsSettings(CollectorSettings):
    base_url: str = Field("https://hn.algolia.com", description="Algolia HN Search API root")


class RedditSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    base_url: str = Field("https://oauth.reddit.com", description="OAuth API root")
    auth_url: str = Field("https://www.reddit.com", description="Where /api/v1/access_token lives")
    client_id: str = Field("", description="OAuth app client id (script or installed app)")
    client_secret: SecretStr = Field(SecretStr(""), description="OAuth app client secret")
    user_agent: str = Field(
        "python:viralwatch:0.1 (by /u/viralwatch)",
        description="Reddit requires a unique, descriptive User-Agent",
    )

    @field_validator("auth_url")
    @classmethod
    def _auth_url(cls, value: str) -> str:
        return _check_http_url(value)


class YouTubeSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    base_url: str = Field("https://www.googleapis.com", description="Data API v3 root")
    api_key: SecretStr = Field(SecretStr(""), description="YouTube Data API v3 key")
    search_calls_per_day: int = Field(
        90, ge=0, le=100, description="search.list calls allowed per Pacific day (bucket of 100)"
    )
    interval_seconds: int = Field(3600, ge=10, description="How often search.list runs")


class YouTubeRssSettings(CollectorSettings):
    base_url: str = Field("https://www.youtube.com", description="Feed host")
    channels: list[str] = Field(default_factory=list, description="Channel ids (UC…) to watch")


class BlueskySettings(CollectorSettings):
    base_url: str = Field("https://public.api.bsky.app", description="Public AppView root")
    auth_url: str = Field("https://bsky.social", description="PDS used for createSession")
    handle: str = Field("", description="Account handle for search (app-password login)")
    app_password: SecretStr = Field(SecretStr(""), description="App password for that handle")

    @field_validator("auth_url")
    @classmethod
    def _auth_url(cls, value: str) -> str:
        return _check_http_url(value)


class LemmySettings(CollectorSettings):
    base_url: str = Field("https://lemmy.world", description="Unused: see instances")
    instances: list[str] = Field(
        default_factory=lambda: ["https://lemmy.world"], description="Lemmy instances to search"
    )

    @field_validator("instances")
    @classmethod
    def _instances(cls, value: list[str]) -> list[str]:
        return [_check_http_url(v) for v in value]


class TelegramSettings(CollectorSettings):
    base_url: str = Field("https://t.me", description="Public channel preview host")
    channels: list[str] = Field(default_factory=list, description="Public channel names")


class DailymotionSettings(CollectorSettings):
    base_url: str = Field("https://api.dailymotion.com", description="Public API root")


class RssSettings(CollectorSettings):
    base_url: str = Field("https://news.google.com", description="Unused: see feeds")
    feeds: list[str] = Field(default_factory=list, description="RSS/Atom feed URLs to read")
    google_news_url: str = Field(
        "https://news.google.com", description="Google News host; empty turns it off"
    )

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, value: list[str]) -> list[str]:
        return [_check_http_url(v) for v in value]

    @field_validator("google_news_url")
    @classmethod
    def _google(cls, value: str) -> str:
        return _check_http_url(value) if value else value


class XSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("bearer_token",)
    base_url: str = Field("https://api.x.com", description="API v2 root")
    bearer_token: SecretStr = Field(SecretStr(""), description="App bearer token")


class TikTokSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("client_key", "client_secret")
    base_url: str = Field("https://open.tiktokapis.com", description="Research API root")
    client_key: str = Field("", description="Research API client key")
    client_secret: SecretStr = Field(SecretStr(""), description="Research API client secret")


class UrlsSettings(CollectorSettings):
    base_url: str = Field("", description="Unused: each post URL is read directly by yt-dlp")
    refresh_interval_seconds: int = Field(
        1800, ge=10, description="How often hand-added URLs are re-read through yt-dlp"
    )


class CollectorsSettings(Section):
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings, description="Mastodon")
    hackernews: HackerNewsSettings = Field(
        default_factory=HackerNewsSettings, description="Hacker News (Algolia)"
    )
    reddit: RedditSettings = Field(default_factory=RedditSettings, description="Reddit")
    youtube: YouTubeSettings = Field(default_factory=YouTubeSettings, description="YouTube API")
    youtube_rss: YouTubeRssSettings = Field(
        default_factory=YouTubeRssSettings, description="YouTube channel feeds"
    )
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings, description="Bluesky")
    lemmy: LemmySettings = Field(default_factory=LemmySettings, description="Lemmy")
    telegram: TelegramSettings = Field(
        default_factory=TelegramSettings, description="Telegram channels"
    )
    dailymotion: DailymotionSettings = Field(
        default_factory=DailymotionSettings, description="Dailymotion"
    )
    rss: RssSettings = Field(default_factory=RssSettings, description="News feeds")
    x: XSettings = Field(default_factory=XSettings, description="X (Twitter) API v2")
    tiktok: TikTokSettings = Field(default_factory=TikTokSettings, description="TikTok Research")
    urls: UrlsSettings = Field(default_factory=UrlsSettings, description="Hand-added post URLs")

    def sections(self) -> dict[str, CollectorSettings]:
        """Every collector section by collector name."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class VideoSettings(Section):
    slug: str = Field(description="Short id used in URLs, CLI and exports (a-z, 0-9, -)")
    title: str = Field(description="Human title of the footage")
    keywords: list[str] = Field(default_factory=list, description="Phrases that identify it")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags, without #")
    urls: list[str] = Field(default_factory=list, description="Known uploads or links of it")
    started_at: datetime | None = Field(None, description="When the footage first appeared")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"{value!r} must be lowercase letters, digits and dashes")
        return value

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: list[str]) -> list[str]:
        return [v.lstrip("#") for v in value if v.strip("# ")]

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_http_url(url)
        return value

    @field_validator("started_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2022-03-02T00:00:00Z")
        return value


class Settings(BaseSettings):
    """Everything viralwatch can be told, in one place."""

    model_config = SettingsConfigDict(
        env_prefix="VIRALWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    storage: StorageSettings = Field(default_factory=StorageSettings, description="Database")
    dashboard: DashboardSettings = Field(
        default_factory=DashboardSettings, description="Web dashboard"
    )
    scheduler: SchedulerSettings = Field(
        default_factory=SchedulerSettings, description="Scheduling and HTTP"
    )
    collectors: CollectorsSettings = Field(
        default_factory=CollectorsSettings, description="Per-collector options"
    )
    videos: list[VideoSettings] = Field(
        default_factory=list, description="Footage tracked from the config file"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    # Set per load by `load_settings`; pydantic-settings reads it in customise_sources.
    _toml_file: ClassVar[Path | None] = None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)


def find_config_file(explicit: str | None, environ: dict[str, str]) -> Path | None:
    """The config file to read: explicit path, else $VIRALWATCH_CONFIG, else ./viralwatch.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("VIRALWATCH_CONFIG"):
        return Path(environ["VIRALWATCH_CONFIG"])
    local = Path("viralwatch.toml")
    return local if local.exists() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise ConfigError with one readable line on any problem."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} not found; pass an existing --config")
        try:
            with config_file.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {config_file} is not valid TOML: {err}") from err
    Settings._toml_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, config_file)) from None
    finally:
        Settings._toml_file = None


def describe_validation_error(err: ValidationError, config_file: Path | None) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    where = f" in {config_file}" if config_file else ""
    if first["type"] == "extra_forbidden":
        problem = "is not a known setting; check the spelling against viralwatch.example.toml"
    elif first["type"] == "missing":
        problem = "is required"
    else:
        # Never echo the offending value: it may be a secret.
        problem = first["msg"].removeprefix("Value error, ")
    more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
    return f"invalid setting {key}{where}: {problem}{more}"
