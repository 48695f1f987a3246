"""The dashboard's top navigation: the link names people look for, and where they go."""

from __future__ import annotations

from typing import Final

#: (name, path) in menu order. A page module adds its link here and its router in ``web.app``.
NAV: Final[tuple[tuple[str, str], ...]] = (
    ("Overview", "/dashboard/"),
    ("Devices", "/dashboard/devices"),
    ("Compose", "/dashboard/compose"),
    ("Sent", "/dashboard/sent"),
    ("Inbox", "/dashboard/inbox"),
    ("Webhooks", "/dashboard/webhooks"),
    ("API access", "/dashboard/access"),
)


def current(path: str) -> str:
    """The menu entry a page belongs to (its longest matching path), for ``aria-current``."""
    if path.startswith("/dashboard/messages/"):
        return "/dashboard/sent"
    best = ""
    for _, href in NAV:
        if (path == href or path.startswith(href.rstrip("/") + "/")) and len(href) > len(best):
            best = href
    return best
