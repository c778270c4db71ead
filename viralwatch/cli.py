"""The `viralwatch` command: thin commands that load settings, build objects, call one function."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collectors.base import PostRef, utc_now
from config.settings import ConfigError, Settings, VideoSettings, find_config_file, load_settings
from dashboard.export import OBSERVATION_COLUMNS, POST_COLUMNS, write_csv
from storage import read
from storage.db import StorageError
from storage.write import KeyTooLong, UnknownVideo, VideoExists, VideoInput
from viralwatch import daemon


class SetupError(click.ClickException):
    """Bad configuration or unusable database: one line, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"viralwatch: {self.message}", err=True)


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = find_config_file(self.config_file, dict(os.environ))
            try:
                self._settings = load_settings(path)
            except ConfigError as err:
                raise SetupError(str(err)) from None
            setup_logging(self._settings.log_level)
        return self._settings

    def storage(self) -> Any:
        try:
            return daemon.open_storage(self.settings, utc_now)
        except StorageError as err:
            raise SetupError(str(err)) from None


def setup_logging(level: str) -> None:
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler()
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "apscheduler", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


PROGRESS_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
)


@contextmanager
def progress_bar(label: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on a terminal; a no-op when output is piped or logged."""
    with Progress(
        *PROGRESS_COLUMNS, console=Console(stderr=True), transient=True, disable=not enabled
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


@click.group()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """viralwatch: follow one piece of footage as it spreads across social media."""
    ctx.obj = Context(config_file)


@cli.command()
@click.option("--no-dashboard", is_flag=True, help="Collect only; do not serve the dashboard")
@click.pass_obj
def run(obj: Context, no_dashboard: bool) -> None:
    """Run the collectors on their schedules (and the dashboard) until Ctrl-C."""
    settings = obj.settings
    engine, sink = obj.storage()
    services = [] if no_dashboard else [dashboard_service(settings, engine, sink)]
    asyncio.run(daemon.run_forever(settings, sink, utc_now, services))


def dashboard_service(settings: Settings, engine: Any, sink: Any, clock: Any = utc_now) -> Any:
    """The dashboard as a daemon service: served from its own thread until stop is set."""
    from dashboard.app import create_app
    from dashboard.security import DashboardConfigError
    from dashboard.serve import start_in_thread

    try:
        app = create_app(engine, settings, sink, clock)
    except DashboardConfigError as err:
        raise SetupError(str(err)) from None
    host, port = settings.dashboard.host, settings.dashboard.port

    async def service(stop: asyncio.Event) -> None:
        try:
            running = start_in_thread(app, host, port)
        except OSError as err:
            logging.getLogger("viralwatch").error(
                "dashboard cannot listen on %s:%d (%s); set dashboard.port",
                host,
                port,
                err.strerror,
            )
            stop.set()
            return
        logging.getLogger("viralwatch").info("dashboard at %s/", running.url)
        await stop.wait()
        await asyncio.to_thread(running.stop)

    return service


@cli.command()
@click.option("--speed", default=120.0, show_default=True, help="Simulated seconds per second")
@click.option("--start-hour", default=0.0, show_default=True, help="Hour of the spread to start at")
@click.option("--database", default="viralwatch-demo.db", show_default=True, help="SQLite file")
@click.option("--port", default=8000, show_default=True, help="Dashboard port")
def demo(speed: float, start_hour: float, database: str, port: int) -> None:
    """Watch the example footage spread across a simulated internet (no network needed)."""
    from viralwatch import demo as demo_mode

    sim = demo_mode.start_simulator(start_hour)
    try:
        settings = demo_mode.demo_settings(sim.url, Path(database), "127.0.0.1", port)
        setup_logging(settings.log_level)
        # Data is stamped with the simulated clock, so charts show the spread over simulated
        # hours; the scheduler still runs on wall-clock time.
        clock = sim.world.clock
        engine, sink = daemon.open_storage(settings, clock)
        logging.getLogger("viralwatch").info("%s", demo_mode.describe(sim, speed))
        services = [
            demo_mode.clock_driver(sim, speed),
            dashboard_service(settings, engine, sink, clock),
        ]
        asyncio.run(daemon.run_forever(settings, sink, clock, services))
    finally:
        sim.stop()


@cli.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Serve the dashboard alone (no collection)."""
    settings = obj.settings
    engine, sink = obj.storage()
    asyncio.run(
        daemon.run_forever(
            settings, sink, utc_now, [dashboard_service(settings, engine, sink)], collect=False
        )
    )


@cli.command()
@click.option("--once", is_flag=True, required=True, help="One discovery and one refresh pass")
@click.option("--collector", "collectors", multiple=True, help="Only this collector (repeatable)")
@click.pass_obj
def collect(obj: Context, once: bool, collectors: tuple[str, ...]) -> None:
    """Run one discovery pass and one refresh pass, then exit."""
    settings = obj.settings
    _engine, sink = obj.storage()
    show = sys.stderr.isatty()
    with Progress(
        *PROGRESS_COLUMNS, console=Console(stderr=True), transient=True, disable=not show
    ) as bar:
        task = bar.add_task("collecting", total=None)

        def on_report(report: Any) -> None:
            bar.update(task, advance=1, description=f"{report.collector} {report.kind}")

        try:
            reports = asyncio.run(
                daemon.collect_once(
                    settings,
                    sink,
                    utc_now,
                    collectors,
                    on_start=lambda total: bar.update(task, total=total),
                    on_report=on_report,
                )
            )
        except ValueError as err:
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
    failed = {r.collector for r in reports if r.status != "ok"}
    if failed == {r.collector for r in reports}:
        raise click.ClickException("every collector failed")


@cli.command("collectors")
@click.pass_obj
def collectors_cmd(obj: Context) -> None:
    """List every collector with its state."""
    for plan in daemon.plan_collectors(obj.settings):
        click.echo(f"{plan.name:<12} {plan.state:<20} {plan.detail}")


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
        sink.add_video(
            VideoInput(
                video.slug,
                video.title,
                tuple(video.keywords),
                tuple(video.hashtags),
                tuple(video.urls),
                video.started_at,
            )
        )
    except VideoExists as err:
        raise click.ClickException(f"{err}; remove it first or pick another slug") from None
    click.echo(f"tracking {slug}")


@videos.command("list")
@click.pass_obj
def videos_list(obj: Context) -> None:
    """List tracked videos."""
    engine, _sink = obj.storage()
    for video in read.list_videos(engine):
        state = "paused" if video.is_paused else "active"
        click.echo(f"{video.slug:<32} {state:<7} {video.posts:>6} posts  {video.title}")


@videos.command("remove")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
@click.pass_obj
def videos_remove(obj: Context, slug: str, yes: bool) -> None:
    """Stop tracking a video and delete its posts and observations."""
    if not yes:
        click.confirm(f"delete {slug} and all its posts and observations?", abort=True)
    _engine, sink = obj.storage()
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
    """Follow a post URL on any site yt-dlp supports (refreshed by the `urls` collector)."""
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="URL")
    _engine, sink = obj.storage()
    ref = PostRef(platform="urls", platform_post_id=url, url=url, matched_by="manual")
    try:
        added = sink.record_posts(slug, [ref])
    except UnknownVideo as err:
        raise click.ClickException(f"{err}; see `viralwatch videos list`") from None
    except KeyTooLong as err:
        raise click.ClickException(str(err)) from None
    click.echo("following " + url if added else f"already following {url}")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create or upgrade the database schema."""
    engine, _sink = obj.storage()
    click.echo(f"database is up to date ({engine.url.render_as_string(hide_password=True)})")


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use ISO 8601, e.g. 2022-03-02T06:00:00Z", param_hint=name
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter("needs a time zone, e.g. ...Z or +02:00", param_hint=name)
    return parsed


@cli.command()
@click.argument("what", type=click.Choice(["posts", "observations"]))
@click.option("--video", help="Only this video (slug)")
@click.option("--platform", help="Only this platform")
@click.option("--since", help="From this ISO 8601 time")
@click.option("--until", help="Before this ISO 8601 time")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File")
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
    flt = read.PostFilter(
        video, platform, _parse_time(since, "--since"), _parse_time(until, "--until")
    )
    engine, _sink = obj.storage()
    rows = read.iter_posts(engine, flt) if what == "posts" else read.iter_observations(engine, flt)
    columns = POST_COLUMNS if what == "posts" else OBSERVATION_COLUMNS
    if output is None:
        write_csv(rows, columns, sys.stdout)
        return
    show = sys.stderr.isatty()
    total = read.count_rows(engine, what, flt) if show else None
    with (
        Path(output).open("w", newline="", encoding="utf-8") as out,
        progress_bar(f"exporting {what}", total, show) as tick,
    ):
        count = write_csv(rows, columns, out, tick)
    click.echo(f"wrote {count} {what} to {output}", err=True)


def _first_error(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        return f"{key}: {first['msg'].removeprefix('Value error, ')}"
    return str(err)


def main() -> None:
    """Console entry point."""
    cli(prog_name="viralwatch")
