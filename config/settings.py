"""The one typed Settings object: TOML file, then `VIRALWATCH_<SECTION>__<KEY>` overrides.

Precedence (highest first): environment variables, the TOML file, built-in defaults. The file is
`--config FILE`, else `$VIRALWATCH_CONFIG`, else `./viralwatch.toml` when present. Unknown keys and
invalid values are rejected with one line naming the key (see `ConfigError`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.redact import mask_url

DEFAULT_SQLITE_URL = "sqlite:///viralwatch.db"
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


def slug_value(value: str) -> str:
    """`value` if it can name a video or rule in URLs and keys, else the one-line reason."""
    if not SLUG_PATTERN.match(value):
        raise ValueError(f"{value!r} must be lowercase letters, digits and dashes")
    return value


Slug = Annotated[str, AfterValidator(slug_value)]


class ConfigError(Exception):
    """Configuration is invalid; the message is one line naming the key and the fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class StorageSettings(Section):
    # SecretStr: a PostgreSQL URL may carry a password; errors print it masked.
    url: SecretStr = Field(
        SecretStr(DEFAULT_SQLITE_URL),
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long SQLite waits for a lock before failing (ms)"
    )
    collector_runs_retention_days: int = Field(
        90, ge=0, description="Days of collector runs kept (each collector's last stay); 0 = all"
    )
    observations_retention_days: int = Field(
        0,
        ge=0,
        description="Days of counter history kept (whole months on PostgreSQL); 0 = keep forever",
    )
    partitions_ahead_months: int = Field(
        2, ge=1, le=24, description="PostgreSQL: monthly observation partitions made in advance"
    )
    maintenance_interval_hours: int = Field(
        6, ge=1, description="How often the daemon applies retention and creates partitions"
    )


class DashboardSettings(Section):
    host: str = Field("127.0.0.1", description="Address the dashboard binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port the dashboard listens on")
    token: SecretStr | None = Field(
        None, description="Access token; required when host is not a loopback address"
    )
    # Pages refresh from the database; faster than collectors write only adds load.
    refresh_seconds: int = Field(
        30, ge=5, description="How often open pages refresh their data in place"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the dashboard answers to besides loopback names and host "
        "(its LAN or reverse-proxy name); requests naming any other Host are refused",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _bare_host_names(cls, names: list[str]) -> list[str]:
        # Scheme, port or path here would never match a Host header: say so at start-up.
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9.-]+|\[?[0-9A-Fa-f:.]+\]?", name):
                raise ValueError(
                    f"allowed_hosts entry {name!r} is not a bare host name; write e.g. "
                    '"viralwatch.lan" (no scheme, port or path)'
                )
        return names


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
    # Bounded per collector: platforms count requests per client, and a burst of them
    # spends a rate window in seconds.
    max_concurrent_requests: int = Field(
        8, ge=1, le=32, description="Requests one collector keeps in flight at once"
    )
    user_agent: str = Field(
        "viralwatch/0.1 (+https://github.com/viralwatch/viralwatch)",
        description="User-Agent sent to every platform",
    )


class DaemonSettings(Section):
    """How the daemon shows it is alive, rides out database outages and stops (issue 13)."""

    heartbeat_seconds: int = Field(
        30, ge=1, description="How often the daemon records that it is alive (dead after two)"
    )
    shutdown_timeout_seconds: float = Field(
        40.0, gt=0, description="Longest SIGTERM waits for running jobs before the daemon exits"
    )
    spool_max_items: int = Field(
        200_000,
        ge=0,
        description="Runs and readings kept in memory while the database is down (oldest dropped)",
    )
    misses_before_gone: int = Field(
        3,
        ge=1,
        description="Answers in a row that may leave a post out before it counts as gone",
    )
    spool_file: str = Field(
        "",
        description="File keeping them across restarts; empty: beside a SQLite file, else memory",
    )


class ScheduleSettings(Section):
    """Each post's refresh policy (issue 8): young and fast-growing posts are read at their
    collector's `refresh_interval_seconds`, older or still ones ever less often, down to
    `max_interval_seconds`; gone posts and reshare edges are never refreshed."""

    tick_seconds: int = Field(
        60, ge=1, description="How often each refresh job looks for posts that are due"
    )
    max_interval_seconds: int = Field(
        86_400, ge=60, description="Longest wait between two readings of a post (daily)"
    )
    young_hours: float = Field(
        6.0, ge=0, description="Posts younger than this are read at the collector's interval"
    )
    age_doubling_hours: float = Field(
        12.0, gt=0, description="Past young_hours, the interval doubles every this many hours"
    )
    fast_growth_percent_per_hour: float = Field(
        5.0, gt=0, description="Growth (% per hour) at which a post is read at the fastest rate"
    )
    max_posts_per_pass: int = Field(
        5_000, ge=1, description="Most due posts one refresh pass reads (most-moving first)"
    )
    lease_seconds: int = Field(
        600,
        ge=10,
        description="How long a daemon's claim on a post or query lasts (longer than any pass)",
    )


def check_http_url(value: str) -> str:
    """`value` without a trailing slash when it is an http(s) URL; raises ValueError if not."""
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


# Validated per item in lists of URLs, so an error names the bad entry (instances.1).
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
"""An http(s) URL setting."""
OptionalHttpUrl = Annotated[str, AfterValidator(lambda v: check_http_url(v) if v else v)]
"""An http(s) URL setting where an empty string turns the feature off."""


class CollectorSettings(Section):
    """Keys every collector shares. Each collector module subclasses it with its own keys."""

    # Which credential fields must be non-empty for the collector to run.
    required_credentials: ClassVar[tuple[str, ...]] = ()

    enabled: bool = Field(True, description="Run this collector")
    interval_seconds: int | None = Field(
        None, ge=10, description="How often discovery looks for new posts (unset: its cadence)"
    )
    refresh_interval_seconds: int | None = Field(
        None,
        ge=10,
        description="How often counters of known posts are re-read (unset: its cadence)",
    )
    base_url: str = Field("", description="API root: scheme and host the platform documents")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value) if value else value

    def idle_reason(self) -> str | None:
        """Why the collector has nothing to do with these settings (e.g. "no channels
        configured"), or None when it has work. Collectors that read only a configured list
        say so in their settings model."""
        return None

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


class CollectorsSettings(Section):
    """`[collectors.<name>]` sections. This base has none: `settings_class` adds one field per
    registered collector, so this module needs to know no collector."""

    def sections(self) -> dict[str, CollectorSettings]:
        """Every collector section by collector name."""
        return {name: getattr(self, name) for name in type(self).model_fields}


NO_SEARCH_TERM = (
    "give at least one keyword, hashtag or URL to look for (keywords, hashtags and urls are "
    "all empty)"
)


class VideoSettings(Section):
    slug: Slug = Field(description="Short id used in URLs, CLI and exports (a-z, 0-9, -)")
    title: str = Field(description="Human title of the footage")
    keywords: list[str] = Field(default_factory=list, description="Phrases that identify it")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags, without #")
    urls: list[str] = Field(default_factory=list, description="Known uploads or links of it")
    started_at: datetime | None = Field(None, description="When the footage first appeared")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give the footage a title (it is empty)")
        return value.strip()

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        phrases = [" ".join(v.split()) for v in value]
        if not all(phrases):
            # An empty phrase is contained in every text: it would match every post.
            raise ValueError("an empty keyword would match every post: remove it or give a phrase")
        return phrases

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: list[str]) -> list[str]:
        return [v.lstrip("#") for v in value if v.strip("# ")]

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            check_http_url(url)
        return value

    @field_validator("started_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2022-03-02T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _has_search_term(self) -> VideoSettings:
        problem = search_terms_problem(self.keywords, self.hashtags, self.urls)
        if problem:
            raise ValueError(problem)
        return self


def search_terms_problem(
    keywords: Sequence[str], hashtags: Sequence[str], urls: Sequence[str]
) -> str | None:
    """Why a video with these terms could find nothing, or None (forms check it early, beside
    their other field errors)."""
    if any(tag.strip("# ") for tag in hashtags) or any(k.strip() for k in keywords) or urls:
        return None
    return NO_SEARCH_TERM


# --- alerts (issue 12) ---------------------------------------------------------------------------

ALERT_KINDS = (
    "threshold",
    "new_platform",
    "new_account",
    "new_language",
    "overperform",
    "burst",
    "health",
    "budget",
    "digest",
)
# A copy of collectors.base.COUNTERS: config imports nothing from the project (STYLE.md §1);
# tests/test_house_rules.py checks the two agree.
COUNTER_NAMES = ("views", "likes", "shares", "comments", "quotes")
CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class AlertRuleSettings(Section):
    """One `[[alerts.rules]]` entry; keys a kind does not use are ignored by it."""

    name: Slug = Field(description="Rule id for the CLI, the alert list and dedupe (a-z, 0-9, -)")
    kind: str = Field(description=f"What fires it: {', '.join(ALERT_KINDS)}")
    targets: list[str] = Field(description="Names of [alerts.targets] entries to send to")
    video: str = Field("", description="Only this video (slug); empty means every video")
    platform: str = Field("", description="threshold: only this platform; empty means overall")
    counter: str = Field("views", description=f"Counter measured: {', '.join(COUNTER_NAMES)}")
    measure: str = Field(
        "total", description="threshold: 'total' (sum of latest) or 'velocity' (growth per hour)"
    )
    threshold: float = Field(
        0, ge=0, description="threshold: fire at or above this value; burst: least growth"
    )
    window_minutes: int = Field(
        60,
        ge=5,
        description="velocity, overperform: how far back growth is measured; budget: over "
        "how long the spend rate is taken; new_account, new_language: how far back new posts "
        "are looked at",
    )
    factor: float = Field(
        3.0, gt=1, description="overperform: how many times the median of comparable posts"
    )
    min_followers: int = Field(
        10_000, ge=0, description="new_account: followers an account needs to be reported"
    )
    minutes: int = Field(
        30, ge=1, description="health: how long a collector must be failing or paused"
    )
    period: str = Field("daily", description="digest: 'hourly' or 'daily'")
    top: int = Field(5, ge=1, le=50, description="digest, overperform: how many posts to list")
    cooldown_minutes: int = Field(
        60, ge=0, description="Quiet time after an alert of this rule and video fires"
    )
    during_quiet_hours: bool = Field(
        False, description="Send even during alerts.quiet_hours (e.g. for health rules)"
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return _one_of(value, ALERT_KINDS)

    @field_validator("counter")
    @classmethod
    def _counter(cls, value: str) -> str:
        return _one_of(value, COUNTER_NAMES)

    @field_validator("measure")
    @classmethod
    def _measure(cls, value: str) -> str:
        return _one_of(value, ("total", "velocity"))

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        return _one_of(value, ("hourly", "daily"))

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one [alerts.targets] entry")
        return value


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)}")
    return value


class AlertsSettings(Section):
    enabled: bool = Field(True, description="Evaluate the rules after each write of the daemon")
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Dashboard address used for links in alerts"
    )
    timezone: str = Field("UTC", description="IANA time zone of quiet_hours and digest days")
    quiet_hours: str = Field(
        "", description="'22:00-07:00': hold alerts back in these hours; empty means never"
    )
    delivery_attempts: int = Field(
        4, ge=1, le=10, description="Tries per target before a delivery is marked failed"
    )
    retry_backoff_seconds: float = Field(
        5.0, ge=0, description="Wait before the 2nd try; doubled before each further try"
    )
    targets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Apprise URLs by name (secrets: prefer VIRALWATCH_ALERTS__TARGETS__<NAME>)",
    )
    rules: list[AlertRuleSettings] = Field(default_factory=list, description="[[alerts.rules]]")

    @field_validator("public_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as Europe/Kyiv") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parts = value.split("-") if value else []
        if value and (len(parts) != 2 or not all(CLOCK_TIME.match(p) for p in parts)):
            raise ValueError("use HH:MM-HH:MM, e.g. 22:00-07:00")
        return value

    @model_validator(mode="after")
    def _rules_name_known_targets(self) -> AlertsSettings:
        names = set()
        for index, rule in enumerate(self.rules):
            if rule.name in names:
                raise ValueError(f"rules.{index}.name {rule.name!r} is used twice")
            names.add(rule.name)
            for target in rule.targets:
                if target not in self.targets:
                    raise ValueError(
                        f"rules.{index}.targets names {target!r}; add it under [alerts.targets]"
                    )
        return self


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
    schedule: ScheduleSettings = Field(
        default_factory=ScheduleSettings, description="Per-post refresh policy"
    )
    collectors: CollectorsSettings = Field(
        default_factory=CollectorsSettings, description="Per-collector options"
    )
    videos: list[VideoSettings] = Field(
        default_factory=list, description="Footage tracked from the config file"
    )
    alerts: AlertsSettings = Field(
        default_factory=AlertsSettings, description="Alert rules and where they are sent"
    )
    daemon: DaemonSettings = Field(
        default_factory=DaemonSettings, description="Heartbeat, outages and shutdown"
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


@cache
def settings_class(
    collectors: tuple[tuple[str, type[CollectorSettings], str], ...],
) -> type[Settings]:
    """A `Settings` class with one `[collectors.<name>]` section per `(name, model, label)`.

    The collector registry lives in `collectors/`, which this module may not import: the
    composition root (viralwatch/) hands the collectors in. Cached, so one registry gives one
    class and its validators are built once.
    """
    # default_factory, not an instance: every Settings gets its own section objects.
    fields: dict[str, Any] = {
        name: (model, Field(default_factory=model, description=label))
        for name, model, label in collectors
    }
    sections = create_model("CollectorsSettings", __base__=CollectorsSettings, **fields)
    return create_model(
        "Settings",
        __base__=Settings,
        collectors=(
            sections,
            Field(default_factory=sections, description="Per-collector options"),
        ),
    )


def find_config_file(explicit: str | None, environ: dict[str, str]) -> Path | None:
    """The config file to read: explicit path, else $VIRALWATCH_CONFIG, else ./viralwatch.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("VIRALWATCH_CONFIG"):
        return Path(environ["VIRALWATCH_CONFIG"])
    local = Path("viralwatch.toml")
    return local if local.exists() else None


def load_settings(
    config_file: Path | None = None, model: type[Settings] = Settings, **overrides: Any
) -> Settings:
    """Load and validate settings of `model` (see `settings_class`); raise ConfigError with one
    readable line on any problem."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} not found; pass an existing --config")
        try:
            with config_file.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {config_file} is not valid TOML: {err}") from err
    # A class attribute, because pydantic-settings asks the class for its sources; reset in
    # `finally` so one load's file never leaks into the next.
    model._toml_file = config_file
    try:
        return model(**overrides)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, config_file)) from None
    finally:
        model._toml_file = None


def describe_validation_error(err: ValidationError, config_file: Path | None) -> str:
    # One line: the first problem names the key; the rest are counted, not listed.
    # A misspelt key also makes the key it was meant to be "missing": name the misspelling.
    errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    where = f" in {config_file}" if config_file else ""
    if first["type"] == "extra_forbidden":
        problem = "is not a known setting; check the spelling against viralwatch.example.toml"
    elif first["type"] == "missing":
        problem = "is required"
    else:
        # Never echo the offending value unmasked: it may be or hold a secret.
        problem = mask_url(first["msg"].removeprefix("Value error, "))
    more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
    return f"invalid setting {key}{where}: {problem}{more}"
