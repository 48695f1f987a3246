"""Running the ASGI app under uvicorn, as ``simgate serve`` and ``simgate demo`` do."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn


class Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM/SIGINT that ends in a clean shutdown exits with status 0.

    uvicorn re-raises the captured signal after its graceful shutdown, so the process dies
    "killed by SIGTERM"; service managers and scripts then see a failure for a clean stop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
