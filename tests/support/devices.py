"""Real device agents for tests: the simulator driver behind the real agent runner, talking to
the server over a real WebSocket, each in its own thread and event loop (as a phone would be)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simgate.agent.drivers.base import Driver
from simgate.agent.drivers.simulator import SimulatorDriver
from simgate.agent.runner import AgentConfig, AgentRunner


class RunningAgent:
    """``driver``: another driver than the simulator (then ``driver_options`` must be empty)."""

    def __init__(
        self,
        server_url: str,
        token: str,
        state_dir: Path,
        driver: Driver | None = None,
        **driver_options: Any,
    ) -> None:
        # Any: most tests reach into the simulator (inject_received, transmitted).
        self.driver: Any = driver if driver is not None else SimulatorDriver(**driver_options)
        self.runner = AgentRunner(
            AgentConfig(server=server_url, token=token, state_dir=state_dir, driver=self.driver)
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self._ready.set()
            await self.runner.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test through .error
            self.error = exc
        finally:
            self._ready.set()

    def start(self, wait_connected: bool = True, timeout: float = 10) -> RunningAgent:
        self._thread.start()
        self._ready.wait(timeout)
        if wait_connected:
            self.call(self.runner.wait_connected(), timeout)
        return self

    def call(self, coro: Any, timeout: float = 10) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def do(self, action: Callable[[], Any], timeout: float = 10) -> Any:
        """Run a plain callable on the agent's loop (driver methods are not thread-safe)."""

        async def run() -> Any:
            return action()

        return self.call(run(), timeout)

    @property
    def running(self) -> bool:
        """Whether the agent is still running (it stops by itself when its token is refused)."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10) -> None:
        if self.loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.runner.stop)
        self._thread.join(timeout)


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
