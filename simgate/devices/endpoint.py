"""The WebSocket endpoint devices connect to: ``/device/ws``."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from simgate.context import Context
from simgate.devices.session import GONE, DeviceSession, HandshakeError
from simgate.dispatch.dispatcher import Dispatcher
from simgate.domain.errors import DeviceAuthError
from simgate.protocol import (
    CLOSE_INVALID_TOKEN,
    CLOSE_INVALID_TOKEN_REASON,
    CLOSE_PROTOCOL_ERROR,
    DEVICE_WS_PATH,
)
from simgate.services import devices as device_service

log = structlog.get_logger(__name__)


def _token(websocket: WebSocket) -> str:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.query_params.get("token", "")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(*GONE):
            await websocket.close(code=code, reason=reason[:120])


def device_route(ctx: Context, dispatcher: Dispatcher) -> WebSocketRoute:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            device = await device_service.authenticate(ctx, _token(websocket))
        except DeviceAuthError:
            await _close(websocket, CLOSE_INVALID_TOKEN, CLOSE_INVALID_TOKEN_REASON)
            return
        session = DeviceSession(ctx, dispatcher, websocket, device)
        try:
            await session.run()
        except GONE:
            pass  # the device went away: an everyday event, logged by the session
        except HandshakeError as exc:
            session.log.info("device_handshake_failed", error=str(exc))
            await _close(websocket, CLOSE_PROTOCOL_ERROR, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            session.log.exception("device_session_failed")
            await _close(websocket, 1011, "internal error")

    return WebSocketRoute(DEVICE_WS_PATH, endpoint)
