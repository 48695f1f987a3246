"""Small SQL helpers shared by the repositories."""

from __future__ import annotations


def like_pattern(text: str) -> str:
    """A ``%text%`` LIKE pattern in which the user's own ``%``, ``_`` and ``\\`` match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
