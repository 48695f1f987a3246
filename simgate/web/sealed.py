"""The encrypted-message page: one self-contained HTML document and its security headers.

The script (``sealed.js``) is inlined into ``sealed.html`` so the page needs no other request
than the ciphertext download; nothing comes from a CDN. Inline code is allowed by its SHA-256
hash in the Content-Security-Policy, not by ``'unsafe-inline'``: an injected script could not
run, and the page may only talk to its own origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SCRIPT_MARKER = "/*sealed.js*/"


@dataclass(frozen=True)
class Page:
    html: str
    headers: dict[str, str]


def _source_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _inline(html: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    if match is None:
        raise RuntimeError(f"sealed.html has no <{tag}> element")
    return match.group(1)


@cache
def sealed_page() -> Page:
    """The page, read from the package once; it is the same for every code."""
    folder = resources.files("simgate.web")
    html = (folder / "sealed.html").read_text("utf-8")
    script = (folder / "sealed.js").read_text("utf-8")
    html = html.replace(SCRIPT_MARKER, script, 1)
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_source_hash(_inline(html, 'script'))}",
            f"style-src {_source_hash(_inline(html, 'style'))}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return Page(
        html=html,
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )
