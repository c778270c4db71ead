"""Access token, CSRF and security headers for the dashboard.

The token is required whenever one is configured, and must be configured when the dashboard
binds anything but loopback. It is accepted as `Authorization: Bearer <token>`, as `?token=`
(which sets a cookie and redirects to the same URL without it) or through the login form. The
cookie holds an HMAC of the token, never the token itself.

State-changing requests carry a CSRF token: a random value in a SameSite=Strict cookie that the
form must echo (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlencode

from starlette.requests import Request

AUTH_COOKIE = "viralwatch_session"
CSRF_COOKIE = "viralwatch_csrf"
CSRF_FIELD = "csrf_token"
OPEN_PATHS = ("/login", "/static/", "/healthz")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


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


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"viralwatch-dashboard-session", hashlib.sha256).hexdigest()


def token_matches(candidate: str | None, token: str) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), token.encode())


def is_authorised(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and token_matches(header[7:].strip(), token):
        return True
    cookie = request.cookies.get(AUTH_COOKIE)
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, //evil) becomes "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def url_without_token(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
