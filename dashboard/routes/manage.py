"""Manage videos: add, edit, pause a tracked video; follow a post URL by hand.

The one place the dashboard writes, through the `StorageSink` handed to `create_app`, and only
behind the CSRF check. Form values are checked by the same `VideoSettings` model the config file
uses, so a video means the same wherever it was entered.
"""

import re
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from config.settings import VideoSettings, search_terms_problem
from dashboard import pages, security
from dashboard.context import Dashboard, DashDep, check_csrf, http_url
from dashboard.errors import BadParameter
from dashboard.params import parse_time
from storage import read
from storage.write import UnknownVideo, VideoExists, VideoInput

NOTICES = {
    "added": "Video added. Collectors will look for it on their next run.",
    "updated": "Video updated.",
    "paused": "Collection paused.",
    "resumed": "Collection resumed.",
    "url-added": "Post URL added; it will be read on the next run of the urls collector.",
    "url-known": "That post URL is already followed.",
    "removed": "Video removed, with its posts and readings.",
}
VIDEO_FIELDS = ("slug", "title", "keywords", "hashtags", "urls", "started_at")


router = APIRouter(prefix="/manage", include_in_schema=False)


def manage_page(
    dash: Dashboard,
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: str | None = None,
    url_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": "Manage videos" if editing is None else f"Edit {editing}",
        "videos": read.list_videos(dash.engine),
        "manual_posts": pages.manual_posts_by_video(dash.engine),
        "counts": pages.post_counts(dash.engine),
        "form": form or {},
        "errors": errors or {},
        "url_errors": url_errors or {},
        "editing": editing,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    return dash.render(request, "manage.html", context, status_code)


@router.get("", response_class=HTMLResponse)
def manage(dash: DashDep, request: Request) -> Response:
    return manage_page(dash, request)


@router.get("/videos/{slug}/edit", response_class=HTMLResponse)
def edit_video_form(dash: DashDep, request: Request, slug: str) -> Response:
    return manage_page(dash, request, form=video_form(dash.video_or_404(slug)), editing=slug)


@router.post("/videos")
async def add_video(dash: DashDep, request: Request) -> Response:
    return await save_video(dash, request, editing=None)


@router.post("/videos/{slug}")
async def edit_video(dash: DashDep, request: Request, slug: str) -> Response:
    dash.video_or_404(slug)
    return await save_video(dash, request, editing=slug)


async def save_video(dash: Dashboard, request: Request, editing: str | None) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    form = {k: str(raw.get(k) or "") for k in VIDEO_FIELDS}
    if editing is not None:
        form["slug"] = editing  # the slug names the video's URLs: never renamed
    video, errors = validate_video(form)
    if video is not None:
        try:
            dash.sink.add_video(video, replace=editing is not None)
        except VideoExists:
            errors["slug"] = f"a video with slug {form['slug']!r} is already tracked; pick another"
    if errors or video is None:
        return manage_page(
            dash, request, form=form, errors=errors, editing=editing, status_code=400
        )
    return _back("updated" if editing else "added", video.slug)


@router.post("/videos/{slug}/pause")
async def pause_video(dash: DashDep, request: Request, slug: str) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    is_paused = raw.get("paused") == "true"
    try:
        dash.sink.set_video_paused(slug, is_paused)
    except UnknownVideo as err:
        raise HTTPException(404, f"no tracked video {slug!r}") from err
    return _back("paused" if is_paused else "resumed", slug)


@router.get("/videos/{slug}/remove", response_class=HTMLResponse)
def confirm_remove_video(dash: DashDep, request: Request, slug: str) -> Response:
    """Removing deletes data: a page says what goes, and only its form's POST removes."""
    video = dash.video_or_404(slug)
    posts, reshares = pages.post_counts(dash.engine).get(slug, (0, 0))
    context = {"title": f"Remove {video.title}?", "video": video, "posts": posts}
    return dash.render(request, "remove.html", {**context, "reshares": reshares})


@router.post("/videos/{slug}/remove")
async def remove_video(dash: DashDep, request: Request, slug: str) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    try:
        dash.sink.remove_video(slug)
    except UnknownVideo as err:
        raise HTTPException(404, f"no tracked video {slug!r}") from err
    return RedirectResponse("/manage?notice=removed", 303)


@router.post("/videos/{slug}/posts")
async def follow_post_url(dash: DashDep, request: Request, slug: str) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    dash.video_or_404(slug)
    url = str(raw.get("url") or "").strip()
    error = validate_post_url(url)
    if error:
        # The error shows under this video's own URL box, with what was typed kept.
        return manage_page(
            dash, request, url_errors={slug: error}, form={"post_url": url}, status_code=400
        )
    added = dash.sink.follow_post_url(slug, url)
    return _back("url-added" if added else "url-known", slug)


def _back(notice: str, slug: str) -> Response:
    # Post/redirect/get: a reload does not submit the form twice.
    return RedirectResponse(f"/manage?notice={notice}#video-{quote(slug)}", 303)


def video_form(video: read.VideoRow) -> dict[str, str]:
    """The edit form's fields, as the add form would have sent them."""
    return {
        "slug": video.slug,
        "title": video.title,
        "keywords": "\n".join(video.keywords),
        "hashtags": " ".join(video.hashtags),
        "urls": "\n".join(video.urls),
        "started_at": video.started_at.strftime("%Y-%m-%dT%H:%M") if video.started_at else "",
    }


def validate_video(form: dict[str, str]) -> tuple[VideoInput | None, dict[str, str]]:
    """A VideoInput from the manage form, or per-field error messages."""
    # Empty title, empty keyword, no search term: VideoSettings' rules, shared with CLI and config.
    errors: dict[str, str] = {}
    title = form["title"].strip()
    if len(title) > 300:
        errors["title"] = "keep the title under 300 characters"
    # Keywords are phrases (split on lines and commas); hashtags and URLs hold no spaces.
    keywords = _split(form["keywords"], r"[\n,]")
    hashtags = _split(form["hashtags"], r"[\s,]")
    urls = _split(form["urls"], r"\s")
    if problem := search_terms_problem(keywords, hashtags, urls):
        errors["keywords"] = problem
    # Each keyword becomes a search on every platform: a cap keeps a pass inside the quotas.
    if any(len(k) > 200 for k in keywords) or len(keywords) > 50:
        errors["keywords"] = "at most 50 keywords of up to 200 characters"
    started_at = None
    if form["started_at"].strip():
        try:
            started_at = parse_time("started_at", form["started_at"])
        except BadParameter as err:
            errors["started_at"] = str(err).split(": ", 1)[1]  # the field is named already
    try:
        settings_video = VideoSettings(
            slug=form["slug"].strip(),
            title=title,
            keywords=keywords,
            hashtags=hashtags,
            urls=urls,
            started_at=started_at,
        )
    except ValidationError as err:
        return None, {**field_errors(err), **errors}
    if errors:
        return None, errors
    return VideoInput.of(settings_video, source="dashboard"), errors


def field_errors(err: ValidationError) -> dict[str, str]:
    """Field -> the first problem pydantic found with it, on one line."""
    found: dict[str, str] = {}
    for problem in err.errors():
        # The one model-level rule is "no search term": shown under keywords.
        field = str(problem["loc"][0]) if problem["loc"] else "keywords"
        message = problem["msg"].removeprefix("Value error, ")
        if field == "slug":
            message = (
                "use 1-80 lowercase letters, digits and dashes, starting with a letter or digit"
            )
        found.setdefault(field, message)
    return found


def validate_post_url(url: str) -> str | None:
    """Why `url` cannot be followed, or None when it is fine."""
    if not url:
        return "paste the post's address"
    if len(url) > 2048:
        return "that address is too long"
    if http_url(url) is None or not urlsplit(url).hostname:
        return "use a full http:// or https:// address of the post"
    return None


def _split(text: str, pattern: str) -> list[str]:
    return [part.strip() for part in re.split(pattern, text) if part.strip()]
