"""The WebSocket endpoint devices connect to: ``/device/ws``."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from simgate.context import Context
from simgate.devices.session import DeviceSession, ProtocolError
from simgate.dispatch.dispatcher import Dispatcher
from simgate.domain.errors import DeviceAuthError
from simgate.services import devices as device_service

log = structlog.get_logger(__name__)

#: Close code for a refused token: the agent stops retrying instead of looping forever.
CLOSE_INVALID_TOKEN = 4401
#: Close code for a device that broke the protocol.
CLOSE_PROTOCOL_ERROR = 4400


def _token(websocket: WebSocket) -> str:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.query_params.get("token", "")


def device_route(ctx: Context, dispatcher: Dispatcher) -> WebSocketRoute:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            device = await device_service.authenticate(ctx, _token(websocket))
        except DeviceAuthError:
            await websocket.close(code=CLOSE_INVALID_TOKEN, reason="invalid device token")
            return
        session = DeviceSession(ctx, dispatcher, websocket, device)
        try:
            await session.run()
        except WebSocketDisconnect:
            pass
        except (ProtocolError, TimeoutError) as exc:
            session.log.info("device_protocol_error", error=str(exc))
            if websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, OSError):
                    await websocket.close(code=CLOSE_PROTOCOL_ERROR, reason=str(exc)[:120])
        except asyncio.CancelledError:
            raise
        except Exception:
            session.log.exception("device_session_failed")
            if websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, OSError):
                    await websocket.close(code=1011)

    return WebSocketRoute("/device/ws", endpoint)
