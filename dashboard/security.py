"""Host names, Origin checks, access token, sessions, CSRF and security headers (issue 13).

`Guard` runs before every request:
- the `Host` header must name the dashboard (loopback names, `[dashboard] host`,
  `[dashboard] allowed_hosts`), which stops DNS rebinding: 400 otherwise;
- a state-changing request (POST, PUT, PATCH, DELETE) must come from the dashboard's own pages:
  its `Origin`, or failing that its `Referer`, names the same host and port: 403 otherwise;
- the access token is required whenever one is configured, and must be configured when the
  dashboard binds anything but loopback. It is accepted as `Authorization: Bearer <token>`, as
  `?token=` (which signs in and redirects to the same URL without it) or through the login form;
- every browser gets a signed session cookie (see sessions.py); forms echo the CSRF token bound
  to that session, and handlers check it with `csrf_ok`.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlencode

from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.requests import Request

from config.settings import DashboardSettings
from dashboard.origins import allowed_host_names, host_name, is_same_origin
from dashboard.sessions import Session, SessionSigner

AUTH_COOKIE = "viralwatch_session"
CSRF_FIELD = "csrf_token"
OPEN_PATHS = ("/login", "/static/", "/healthz")
MACHINE_PATHS = ("/api/", "/export/", "/live/", "/openapi.json", "/metrics")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_MAX_AGE_SECONDS = int(timedelta(days=30).total_seconds())
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on our own
    # form posts. Other sites still get no Referer.
    "referrer-policy": "same-origin",
}

CallNext = Callable[[Request], Awaitable[Response]]


class DashboardConfigError(ValueError):
    """The dashboard settings are unsafe or inconsistent; the message says what to set."""


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def required_token(host: str, token: str | None) -> str | None:
    """The token requests must carry (None: open). Raises DashboardConfigError when the host is
    reachable from other machines and no token is configured."""
    if token:
        return token
    if not is_loopback(host):
        raise DashboardConfigError(
            f"dashboard.host is {host!r}, reachable from other machines, but no access token "
            "is set; set [dashboard] token (or VIRALWATCH_DASHBOARD__TOKEN), or bind 127.0.0.1"
        )
    return None


def token_matches(candidate: str | None, token: str) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), token.encode())


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, //evil) becomes "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def url_without_token(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """True when `submitted` is the CSRF token of this request's session."""
    signer: SessionSigner = request.state.signer
    return signer.csrf_matches(request.state.session, submitted)


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class Guard:
    """The dashboard's request guard; install with `app.middleware("http")(guard)`."""

    def __init__(self, settings: DashboardSettings) -> None:
        secret = settings.token
        self.token = required_token(settings.host, secret.get_secret_value() if secret else None)
        self.host_names = allowed_host_names(settings.host, settings.allowed_hosts)
        self.signer = SessionSigner(self.token)

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return secure(refused)
        session = self.signer.read(request.cookies.get(AUTH_COOKIE))
        if self.token is not None and not request.url.path.startswith(OPEN_PATHS):
            if token_matches(request.query_params.get("token"), self.token):
                response: Response = RedirectResponse(url_without_token(request), 303)
                self.sign_in(response, request)
                return secure(response)
            if not (self._has_bearer(request) or (session and session.is_signed_in)):
                return secure(self._sign_in_first(request))
        is_new = session is None
        request.state.session = session or self.signer.new(is_signed_in=False)
        request.state.signer = self.signer
        request.state.csrf = self.signer.csrf_token(request.state.session)
        response = await call_next(request)
        if is_new:
            self._set_cookie(response, request, request.state.session)
        return secure(response)

    def sign_in(self, response: Response, request: Request) -> None:
        """Start a new signed-in session (a new id: a session fixed before sign-in stays out)."""
        self._set_cookie(response, request, self.signer.new(is_signed_in=True))

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(AUTH_COOKIE)

    def _refusal(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if host_name(host) not in self.host_names:
            return PlainTextResponse(
                f"Host {host[:100]!r} is not a name of this dashboard; add it to "
                "[dashboard] allowed_hosts",
                400,
            )
        if request.method in STATE_CHANGING and not self._has_bearer(request):
            source = request.headers.get("origin") or request.headers.get("referer") or ""
            if not is_same_origin(source, host):
                return PlainTextResponse(
                    "refused: this request's Origin (or Referer) is not this dashboard; "
                    "submit the form from the dashboard's own page",
                    403,
                )
        return None

    def _has_bearer(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return (
            self.token is not None
            and header[:7].lower() == "bearer "
            and token_matches(header[7:].strip(), self.token)
        )

    def _sign_in_first(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith(MACHINE_PATHS):
            return JSONResponse(
                {"detail": "access token required: send Authorization: Bearer <token>"},
                401,
                headers={"www-authenticate": "Bearer"},
            )
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", 303)

    def _set_cookie(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            AUTH_COOKIE,
            self.signer.cookie(session),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=SESSION_MAX_AGE_SECONDS,
        )
