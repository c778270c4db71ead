"""The `viralwatch` command: thin commands that load settings, build objects, call one function.

Only click is imported up front: each command imports what it uses when it runs, so `--help`
and other light commands start in a few tens of milliseconds (issue 14).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from viralwatch import alerts_cli  # click only until one of its commands runs

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from config.settings import Settings
    from dashboard.serve import RunningServer
    from storage.write import StorageSink


class SetupError(click.ClickException):
    """Bad configuration or unusable database: one line, exit status 2."""

    exit_code = 2


class OneLineGroup(click.Group):
    """Every error, usage errors included, is one line on stderr and a non-zero exit."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        # click's standalone mode prints its own multi-line usage block and exits; we take the
        # exceptions instead and print one line each.
        kwargs.pop("standalone_mode", None)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as err:
            hint = f" (see `{err.ctx.command_path} --help`)" if err.ctx else ""
            fail(err.format_message() + hint, err.exit_code)
        except click.ClickException as err:
            fail(err.format_message(), err.exit_code)
        except click.Abort:
            fail("aborted", 1)
        sys.exit(code if isinstance(code, int) else 0)


def fail(message: str, exit_code: int) -> NoReturn:
    click.echo(f"viralwatch: {message}", err=True)
    sys.exit(exit_code)


class Context:
    def __init__(self, config_file: str | None, log_format: str = "text") -> None:
        self.config_file = config_file
        self.log_format = log_format
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        from config.settings import ConfigError, find_config_file
        from viralwatch import catalog

        if self._settings is None:
            path = find_config_file(self.config_file, dict(os.environ))
            try:
                self._settings = catalog.load_settings(path)
            except ConfigError as err:
                raise SetupError(str(err)) from None  # the message is the one line; no trace
            setup_logging(self._settings.log_level, self.log_format)
        return self._settings

    def storage(self, *, migrate: bool = False) -> tuple[Engine, StorageSink]:
        """Engine and sink; only `migrate=True` (run, collect, db upgrade) changes the schema
        and applies the config file's videos, every other command needs a current schema."""
        from collectors.base import utc_now
        from storage.db import StorageError
        from viralwatch import daemon

        try:
            return daemon.open_storage(self.settings, utc_now, migrate=migrate)
        except StorageError as err:
            raise SetupError(str(err)) from None

    def hold_daemon_lock(self, engine: Engine) -> Any:
        """One daemon per SQLite file (issue 8): a second one stops with one line."""
        from storage.db import StorageError
        from storage.locks import hold_daemon_lock

        try:
            return hold_daemon_lock(engine)
        except StorageError as err:
            raise SetupError(str(err)) from None


def setup_logging(level: str, log_format: str = "text") -> None:
    import logging

    handler: logging.Handler
    if log_format == "json":
        from viralwatch.logs import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    # Rich only on a terminal: under systemd or a pipe its wrapping would split log lines.
    elif sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request and APScheduler every job at INFO: thousands of lines an hour.
    for noisy in ("httpx", "apscheduler", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def progress_bar(label: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on a terminal; a no-op when output is piped or logged.

    Yields `update(advance=1, description=None, total=None)`.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns,
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda **changes: bar.update(task, **{"advance": 1, **changes})


@click.group(cls=OneLineGroup)
@click.version_option(package_name="viralwatch", prog_name="viralwatch")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or one JSON object per line",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, log_format: str) -> None:
    """viralwatch: follow one piece of footage as it spreads across social media."""
    ctx.obj = Context(config_file, log_format)


@cli.command()
@click.option("--no-dashboard", is_flag=True, help="Collect only; do not serve the dashboard")
@click.pass_obj
def run(obj: Context, no_dashboard: bool) -> None:
    """Run the collectors on their schedules (and the dashboard) until Ctrl-C.

    Migrates the database and applies the config file's [[videos]] that changed.
    """
    import asyncio

    from collectors.base import utc_now
    from viralwatch import daemon
    from viralwatch.malloc_tuning import tune_malloc
    from viralwatch.metrics import Metrics

    tune_malloc(os.environ)  # before any thread starts (issue 13)
    settings = obj.settings
    engine, sink = obj.storage(migrate=True)
    lock = obj.hold_daemon_lock(engine)
    metrics = Metrics()
    dashboard = None
    if not no_dashboard:
        dashboard = start_dashboard(settings, engine, sink, utc_now, metrics.registry)
    services = [] if dashboard is None else [serving(dashboard)]
    asyncio.run(daemon.run_forever(settings, sink, utc_now, services, metrics=metrics))
    if lock is not None:  # None on PostgreSQL: several daemons share one database by leases
        lock.close()


def start_dashboard(
    settings: Settings, engine: Engine, sink: StorageSink, clock: Any, registry: Any = None
) -> Any:
    """The dashboard listening on its port (bound before anything else starts, so a busy port
    is one line and a non-zero exit, issue 10); `/metrics` renders `registry`."""
    import logging

    from dashboard.app import create_app
    from dashboard.security import DashboardConfigError
    from dashboard.serve import start_in_thread
    from storage.db import make_engine
    from storage.write import StorageSink
    from viralwatch import catalog

    # Its own pool (issue 8): slow pages never wait for a collector's connection, nor it for them.
    own = make_engine(
        engine.url.render_as_string(hide_password=False),
        sqlite_busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms,
    )
    sink = StorageSink(own, clock, sink.identify_url)
    try:
        app = create_app(own, settings, sink, clock, catalog.dashboard_platforms())
    except DashboardConfigError as err:
        raise SetupError(str(err)) from None
    app.state.metrics_registry = registry
    host, port = settings.dashboard.host, settings.dashboard.port
    try:
        running = start_in_thread(app, host, port)
    except OSError as err:
        raise SetupError(
            f"dashboard cannot listen on {host}:{port} ({err.strerror}); "
            "stop what uses it or choose another port"
        ) from None
    logging.getLogger("viralwatch").info("dashboard at %s/", running.url)
    return running


def serving(running: RunningServer) -> Any:
    """A daemon service that keeps the started dashboard up until stop is set."""
    import asyncio

    async def service(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.to_thread(running.stop)

    return service


@cli.command()
@click.option(
    "--speed",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated seconds per second",
)
@click.option(
    "--start-hour",
    type=click.FloatRange(min=0),
    help="Hour of the spread to start at  [default: 0]",
)
@click.option("--database", default="viralwatch-demo.db", show_default=True, help="SQLite file")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Dashboard port"
)
@click.option(
    "--continue",
    "resume",
    is_flag=True,
    help="Keep the demo database and carry on from where the last demo stopped",
)
@click.pass_obj
def demo(
    obj: Context, speed: float, start_hour: float | None, database: str, port: int, resume: bool
) -> None:
    """Watch the example footage spread across a simulated internet (no network needed).

    Each demo starts from a fresh database at hour 0 unless --continue is given.
    """
    import asyncio
    import logging

    from viralwatch import daemon
    from viralwatch import demo as demo_mode
    from viralwatch.malloc_tuning import tune_malloc
    from viralwatch.metrics import Metrics

    tune_malloc(os.environ)  # before the simulator's and the dashboard's threads start (issue 13)
    if resume and start_hour is not None:
        raise click.UsageError("--continue carries on from the last demo; drop --start-hour")
    path = Path(database)
    try:
        start = demo_mode.prepare_database(path, resume, start_hour or 0.0)
    except demo_mode.DemoError as err:
        raise SetupError(str(err)) from None
    sim = demo_mode.start_simulator(start)
    try:
        settings = demo_mode.demo_settings(sim.url, path, "127.0.0.1", port)
        setup_logging(settings.log_level, obj.log_format)
        # Data is stamped with the simulated clock, so charts show the spread over simulated
        # hours; the scheduler still runs on wall-clock time.
        clock = sim.world.clock
        engine, sink = daemon.open_storage(settings, clock, migrate=True)
        metrics = Metrics()
        dashboard = start_dashboard(settings, engine, sink, clock, metrics.registry)
        logging.getLogger("viralwatch").info("%s", demo_mode.describe(sim, speed))
        services = [demo_mode.clock_driver(sim, speed), serving(dashboard)]
        asyncio.run(daemon.run_forever(settings, sink, clock, services, metrics=metrics))
    finally:
        sim.stop()


@cli.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Serve the dashboard alone (no collection)."""
    import asyncio

    from collectors.base import utc_now
    from viralwatch import daemon
    from viralwatch.malloc_tuning import tune_malloc

    tune_malloc(os.environ)  # before the dashboard's threads start (issue 13)
    settings = obj.settings
    engine, sink = obj.storage()
    dashboard = start_dashboard(settings, engine, sink, utc_now)
    asyncio.run(daemon.run_forever(settings, sink, utc_now, [serving(dashboard)], collect=False))


@cli.command()
@click.option("--once", is_flag=True, required=True, help="One discovery and one refresh pass")
@click.option("--collector", "collectors", multiple=True, help="Only this collector (repeatable)")
@click.pass_obj
def collect(obj: Context, once: bool, collectors: tuple[str, ...]) -> None:
    """Run one discovery pass and one refresh pass, then exit.

    Migrates the database and applies the config file's [[videos]] that changed.
    """
    import asyncio

    from collectors.base import utc_now
    from viralwatch import daemon

    settings = obj.settings
    _engine, sink = obj.storage(migrate=True)
    with progress_bar("collecting", None, sys.stderr.isatty()) as update:
        try:
            reports = asyncio.run(
                daemon.collect_once(
                    settings,
                    sink,
                    utc_now,
                    collectors,
                    on_start=lambda total: update(advance=0, total=total),
                    on_report=lambda r: update(description=f"{r.collector} {r.kind}"),
                )
            )
        except ValueError as err:  # an unknown --collector: the message lists the known ones
            raise click.UsageError(str(err)) from None
    for report in reports:
        line = (
            f"{report.collector:<12} {report.kind:<8} {report.status:<12} "
            f"posts+{report.posts_found} obs+{report.observations_written} "
            f"requests={report.requests}"
        )
        click.echo(line + (f"  {report.error_message}" if report.error_message else ""))
    if not reports:
        raise click.ClickException("no collector is enabled; see `viralwatch collectors`")
    # Exit non-zero only when nothing worked: one platform down is normal for a monitor, and
    # cron would mail every run otherwise.
    failed = {r.collector for r in reports if r.status != "ok"}
    if failed == {r.collector for r in reports}:
        raise click.ClickException("every collector failed")


@cli.command("collectors")
@click.pass_obj
def collectors_cmd(obj: Context) -> None:
    """List every collector with its state, and (from the database, when it can be read) its
    budget use and waiting posts."""
    from viralwatch.plan import plan_collectors

    usage = collector_usage(obj)
    for plan in plan_collectors(obj.settings):
        click.echo(f"{plan.name:<12} {plan.state:<20} {plan.detail}".rstrip())
        for line in usage.get(plan.name, []):
            click.echo(f"{'':<12} {line}")


def collector_usage(obj: Context) -> dict[str, list[str]]:
    """Budget and backlog lines per collector; none when the database cannot be read."""
    from collectors.base import utc_now

    # `collectors` must work before the first `run` (no database yet): the states alone then.
    try:
        engine, _ = obj.storage()
    except SetupError:
        return {}
    from viralwatch.budget_report import usage_lines

    try:
        return usage_lines(engine, utc_now())
    finally:
        engine.dispose()


@cli.group()
def videos() -> None:
    """Manage tracked videos."""


@videos.command("add")
@click.argument("slug")
@click.option("--title", required=True)
@click.option("--keyword", "keywords", multiple=True, help="Phrase that identifies it")
@click.option("--hashtag", "hashtags", multiple=True, help="Hashtag, with or without #")
@click.option("--url", "urls", multiple=True, help="A known upload or link of it")
@click.option("--started-at", help="ISO 8601 time the footage first appeared")
@click.pass_obj
def videos_add(
    obj: Context,
    slug: str,
    title: str,
    keywords: tuple[str, ...],
    hashtags: tuple[str, ...],
    urls: tuple[str, ...],
    started_at: str | None,
) -> None:
    """Track a new video."""
    from config.settings import VideoSettings
    from storage.write import VideoExists, VideoInput

    try:
        video = VideoSettings(
            slug=slug,
            title=title,
            keywords=list(keywords),
            hashtags=list(hashtags),
            urls=list(urls),
            started_at=started_at,
        )
    except ValueError as err:
        raise click.BadParameter(_first_error(err)) from None
    _engine, sink = obj.storage()
    try:
        sink.add_video(VideoInput.of(video, source="cli"))
    except VideoExists as err:
        raise click.ClickException(f"{err}; remove it first or pick another slug") from None
    click.echo(f"tracking {slug}")


@videos.command("list")
@click.pass_obj
def videos_list(obj: Context) -> None:
    """List tracked videos (posts counted without reshares, which carry no counters)."""
    from storage import read

    engine, _sink = obj.storage()
    listed = read.list_videos(engine)
    if not listed:
        click.echo(
            "no tracked videos yet; add one with `viralwatch videos add SLUG --title TITLE` "
            "or a [[videos]] entry in the config file (applied by `run` or `collect`)"
        )
    for video in listed:
        state = "paused" if video.is_paused else "active"
        click.echo(f"{video.slug:<32} {state:<7} {video.posts:>6} posts  {video.title}")


@videos.command("remove")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
@click.pass_obj
def videos_remove(obj: Context, slug: str, yes: bool) -> None:
    """Stop tracking a video and delete its posts and observations (posts another tracked
    video also matched stay with that video).

    A video from the config file stays removed until its [[videos]] entry changes.
    """
    from storage.write import UnknownVideo

    _engine, sink = obj.storage()
    if not yes:
        click.confirm(f"delete {slug} and all its posts and observations?", abort=True)
    try:
        sink.remove_video(slug)
    except UnknownVideo as err:
        raise click.ClickException(f"{err}; see `viralwatch videos list`") from None
    click.echo(f"removed {slug}")


@cli.group()
def posts() -> None:
    """Follow individual posts by hand."""


@posts.command("add")
@click.argument("url")
@click.option("--video", "slug", required=True, help="Slug of the tracked video it carries")
@click.pass_obj
def posts_add(obj: Context, url: str, slug: str) -> None:
    """Follow a post URL: a collected platform's post is refreshed by its collector, any
    other site yt-dlp supports by the `urls` collector."""
    from storage.write import KeyTooLong, UnknownVideo

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="URL")
    _engine, sink = obj.storage()
    try:
        ref = sink.follow_post_url(slug, url)
    except UnknownVideo as err:
        raise click.ClickException(f"{err}; see `viralwatch videos list`") from None
    except KeyTooLong as err:
        raise click.ClickException(str(err)) from None
    if ref is None:
        click.echo(f"already following {url}")
    else:
        click.echo(f"following {url} ({ref.platform} post {ref.platform_post_id})")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create or upgrade the database schema (and apply the config file's changed videos)."""
    from storage.db import describe_url

    engine, _sink = obj.storage(migrate=True)
    click.echo(f"database is up to date ({describe_url(engine)})")


def parse_time(value: str | None, name: str) -> datetime | None:
    """An aware instant from ISO 8601: a plain date means 00:00 UTC that day."""
    if value is None:
        return None
    try:
        if len(value) == len("2022-03-02"):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use an ISO 8601 date or time, e.g. 2022-03-02 or 2022-03-02T06:00:00Z",
            param_hint=name,
        ) from None
    # A naive time would be read in the machine's zone: an export differing by host.
    if parsed.tzinfo is None:
        raise click.BadParameter("needs a time zone, e.g. ...Z or +02:00", param_hint=name)
    return parsed


@cli.command()
@click.argument("what", type=click.Choice(["posts", "observations"]))
@click.option("--video", help="Only this video (slug)")
@click.option("--platform", help="Only this platform")
@click.option("--since", help="From this ISO 8601 date or time (a date means 00:00 UTC)")
@click.option("--until", help="Before this ISO 8601 date or time (exclusive)")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout)")
@click.pass_obj
def export(
    obj: Context,
    what: str,
    video: str | None,
    platform: str | None,
    since: str | None,
    until: str | None,
    output: str | None,
) -> None:
    """Export posts or observations as CSV (stdout by default)."""
    from viralwatch import export as exporting

    flt = exporting.Filter(
        video, platform, parse_time(since, "--since"), parse_time(until, "--until")
    )
    if flt.since and flt.until and flt.since >= flt.until:
        raise click.BadParameter("must be before --until", param_hint="--since")
    engine, _sink = obj.storage()
    try:
        exporting.check_filter(engine, flt)
        if output is None:
            exporting.export_csv(engine, what, flt, sys.stdout)
            return
        show = sys.stderr.isatty()
        total = exporting.count(engine, what, flt) if show else None
        with (
            open_output(Path(output)) as out,
            progress_bar(f"exporting {what}", total, show) as update,
        ):
            count = exporting.export_csv(engine, what, flt, out, lambda: update())
    except exporting.UnknownFilter as err:
        raise click.BadParameter(str(err), param_hint=err.option) from None
    click.echo(f"wrote {count} {what} to {output}", err=True)


@contextmanager
def open_output(path: Path) -> Iterator[Any]:
    try:
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as err:
        raise click.ClickException(f"cannot write {path}: {err.strerror}") from None
    with handle:
        yield handle


def _first_error(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{key}: {message}" if key else message
    return str(err)


cli.add_command(alerts_cli.alerts)


def main() -> None:
    """Console entry point."""
    cli(prog_name="viralwatch")
