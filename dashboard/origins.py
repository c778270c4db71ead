"""Which host names the dashboard answers to, and whether a request comes from its own pages.

A DNS-rebinding page reaches a loopback dashboard under the attacker's host name, so every
request must name an allowed host; state-changing requests must also come from a page of this
dashboard (their `Origin`, or failing that their `Referer`, names the same host and port).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# Bind-everything addresses are not names anyone browses to.
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (names, not a bind)
_HOST_HEADER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]@/\\\s]+)(?::(\d{1,5}))?$")


def normalise_host(name: str) -> str:
    """A host name as compared: lower case, no IPv6 brackets, no trailing dot."""
    return name.strip().strip("[]").lower().removesuffix(".")


def allowed_host_names(bind_host: str, allowed_hosts: Iterable[str]) -> frozenset[str]:
    """Loopback names, the address the dashboard binds to, and the configured extra names."""
    names = set(LOOPBACK_NAMES) | {normalise_host(h) for h in allowed_hosts}
    if normalise_host(bind_host) not in WILDCARD_BINDS:
        names.add(normalise_host(bind_host))
    return frozenset(names)


def host_name(header: str) -> str | None:
    """The host name in a `Host` header ("[::1]:8000" -> "::1"), or None when it is malformed."""
    found = _HOST_HEADER.match(header.strip())
    if found is None or (found.group(2) and int(found.group(2)) > 65535):
        return None
    return normalise_host(found.group(1)) or None


def is_same_origin(source: str, host_header: str) -> bool:
    """True when `source` (an Origin or Referer value) names the host and port of `host_header`;
    a missing port means the scheme's default."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default_port = 443 if parts.scheme == "https" else 80
    found = _HOST_HEADER.match(host_header.strip())
    if found is None:
        return False
    try:
        source_port = parts.port or default_port
    except ValueError:
        return False
    host_port = int(found.group(2)) if found.group(2) else default_port
    return normalise_host(parts.hostname) == normalise_host(found.group(1)) and (
        source_port == host_port
    )
