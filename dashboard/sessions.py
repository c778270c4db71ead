"""Signed dashboard sessions and the CSRF token bound to each.

The session cookie holds a random session id and whether it signed in, with an HMAC over both.
Its key is derived from the configured access token, so changing the token ends every session
(and a restart with the same token keeps them); an open loopback dashboard uses a key made per
process. The CSRF token is an HMAC of the session id: only a page this server rendered for that
session carries it, so a cookie/field pair planted by an attacker never matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    session_id: str
    is_signed_in: bool


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class SessionSigner:
    """Makes and checks session cookies and CSRF tokens for one dashboard process."""

    def __init__(self, token: str | None) -> None:
        secret = token.encode() if token else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"viralwatch-dashboard-session-v2", hashlib.sha256).digest()

    def new(self, *, is_signed_in: bool) -> Session:
        return Session(secrets.token_urlsafe(24), is_signed_in)

    def cookie(self, session: Session) -> str:
        body = f"{session.session_id}.{'1' if session.is_signed_in else '0'}"
        return f"{body}.{_mac(self._key, 'session:' + body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session in `cookie`, or None when it is missing, malformed or signed with another
        key (an old token, another process)."""
        if not cookie or cookie.count(".") != 2:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac.encode(), _mac(self._key, "session:" + body).encode()):
            return None
        session_id, flag = body.split(".")
        return Session(session_id, flag == "1")

    def csrf_token(self, session: Session) -> str:
        return _mac(self._key, "csrf:" + session.session_id)

    def csrf_matches(self, session: Session, submitted: str | None) -> bool:
        if not submitted:
            return False
        return hmac.compare_digest(submitted.encode(), self.csrf_token(session).encode())
