"""Masking secrets in URLs and DSNs before anything prints them (issue 13).

One function for every place that shows a database or API address: log lines, error messages,
`db upgrade`'s confirmation. It masks the password of `user:password@host`, and the value of any
query-string or libpq keyword parameter that carries a secret (`?password=`, `&sslpassword=`,
`password=… host=…` in a keyword DSN, `?api_key=`, `?token=`).
"""

from __future__ import annotations

import re

MASK = "***"

# Parameter names whose value is a secret, as query-string keys or libpq keywords.
SECRET_KEYS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "sslpassword",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
)

# `name=value` after the start, `?`, `&`, `;` or white space; a value runs to the next separator
# (or, quoted in a keyword DSN, to the closing quote).
_SECRET_PARAM = re.compile(
    r"(?P<lead>(?:^|[?&;\s]))(?P<name>" + "|".join(SECRET_KEYS) + r")(?P<eq>\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|[^&;\s#]*)",
    re.IGNORECASE,
)
# scheme://user:password@host, also inside a longer message: masked up to the last `@` before
# white space, so a password holding an unescaped `@` (or `/`) is hidden whole, at worst with
# part of the host.
_USERINFO_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.\-]*://[^:/@\s]*:)(?P<password>\S*)@")


def mask_url(url: str) -> str:
    """`url` (or a message holding URLs) with every secret in it replaced by `***`; other parts
    are kept as they are."""
    masked = _USERINFO_PASSWORD.sub(rf"\g<head>{MASK}@", url)
    return _SECRET_PARAM.sub(
        lambda m: f"{m['lead']}{m['name']}{m['eq']}{MASK if m['value'] else ''}", masked
    )
