"""A JSON response rendered by orjson: the fastest encoder, and strict about what it encodes.

A subclass of Starlette's ``JSONResponse`` (only rendering differs) so that FastAPI documents
the routes answering with it as JSON, with their models, rather than as strings.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
