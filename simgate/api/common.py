"""Deprecated: the old name of :mod:`simgate.api.routing`.

Kept only because ``api/gateway.py`` is being merged by another change and still imports from
here; delete this module once it imports ``simgate.api.routing``.
"""

from simgate.api.routing import Doc, compat_route, json, start

__all__ = ["Doc", "compat_route", "json", "start"]
