"""Access: the token guard (middleware), the CSRF cookie, security headers, sign in and out."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from dashboard import security
from dashboard.context import DashDep, check_csrf

# Paths that answer a missing token with 401 JSON rather than a redirect to the login page.
MACHINE_PATHS = ("/api/", "/export/", "/live/", "/openapi.json", "/metrics")


def install_guard(app: FastAPI, token: str | None) -> None:
    """Every request: the token check (when one is set), a CSRF cookie, security headers."""

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is not None and not request.url.path.startswith(security.OPEN_PATHS):
            refused = _refuse_or_sign_in(request, token)
            if refused is not None:
                return secure(refused)
        csrf = request.cookies.get(security.CSRF_COOKIE)
        request.state.csrf = csrf or security.new_csrf_token()
        response = await call_next(request)
        if not csrf:
            response.set_cookie(
                security.CSRF_COOKIE,
                request.state.csrf,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return secure(response)


def _refuse_or_sign_in(request: Request, token: str) -> Response | None:
    """None when the request may go on; else the redirect or 401 to answer with."""
    path = request.url.path
    if security.token_matches(request.query_params.get("token"), token):
        # A ?token= link signs in once and is dropped from the URL (and the history).
        response: Response = RedirectResponse(security.url_without_token(request), 303)
        set_session(response, request, token)
        return response
    if security.is_authorised(request, token):
        return None
    if path.startswith(MACHINE_PATHS):
        return JSONResponse(
            {"detail": "access token required: send Authorization: Bearer <token>"},
            401,
            headers={"www-authenticate": "Bearer"},
        )
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", 303)


router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(dash: DashDep, request: Request, next: str | None = None) -> Response:
    context = {"title": "Sign in", "next": security.safe_next(next), "error": None}
    return dash.render(request, "login.html", context)


@router.post("/login")
async def login(dash: DashDep, request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get(security.CSRF_FIELD))
    target = security.safe_next(str(form.get("next") or "/"))
    if dash.token is None:
        return RedirectResponse(target, 303)
    if not security.token_matches(str(form.get("token") or ""), dash.token):
        context = {"title": "Sign in", "next": target, "error": "That token is not right."}
        return dash.render(request, "login.html", context, 401)
    response = RedirectResponse(target, 303)
    set_session(response, request, dash.token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get(security.CSRF_FIELD))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(security.AUTH_COOKIE)
    return response


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        security.AUTH_COOKIE,
        security.session_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(timedelta(days=30).total_seconds()),
    )


def secure(response: Response) -> Response:
    for name, value in security.SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
