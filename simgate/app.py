"""Assembling the server: ``create_app(settings)`` wires store, services, dispatch and adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from simgate import __version__
from simgate.api import (
    conversations,
    docs,
    errors,
    frommobile,
    gateway,
    links,
    oauth,
    ops,
    soap,
    webhooks,
)
from simgate.api import inbox as inbox_api
from simgate.api import sms as sms_api
from simgate.api.guard import Guard
from simgate.api.lane import Gateway
from simgate.config import Settings
from simgate.context import Context
from simgate.devices.endpoint import device_route
from simgate.devices.longpoll import longpoll_routes
from simgate.dispatch.dispatcher import Dispatcher
from simgate.dispatch.scheduler import Scheduler
from simgate.pgbus import new_bus
from simgate.services.access import Authenticator
from simgate.store.database import Database
from simgate.store.migrate import upgrade_async
from simgate.web import app as dashboard
from simgate.webhooks.worker import DeliveryWorker, new_client


def create_app(settings: Settings, *, migrate: bool = False) -> Gateway:
    """The ASGI application. With ``migrate``, the schema is brought up to date at start-up.

    Logging is left to the entry point (``simgate serve``, ``simgate demo``): an application
    that embeds this one keeps its own logging configuration.
    """
    events = new_bus(settings.database_url, settings.bus_url)
    ctx = Context(settings=settings, db=Database(settings.database_url), bus=events)
    dispatcher = Dispatcher(ctx)
    scheduler = Scheduler(ctx)
    poll_hub, poll_routes = longpoll_routes(ctx, dispatcher)
    # One HTTP client for every webhook POST of this process (pooled, explicit timeout).
    webhook_client = new_client(settings.webhook_timeout_seconds)
    webhook_worker = DeliveryWorker(ctx, webhook_client)
    authenticator = Authenticator(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await upgrade_async(settings.database_url)
        events.start()
        scheduler.start()
        webhook_worker.start()
        authenticator.start()
        try:
            yield
        finally:
            await authenticator.close()
            await webhook_worker.close()
            await webhook_client.aclose()
            await scheduler.close()
            await poll_hub.close()
            await dispatcher.close()
            await ctx.heartbeats.close()  # after the sessions ended, before the engine goes
            await events.close()  # last: what the shutdown published still goes out
            await ctx.db.dispose()

    app = Gateway(
        access_log=settings.access_log,
        title="simgate",
        version=__version__,
        summary="Self-hosted SMS gateway, compatible with the SMSMobileAPI HTTP API.",
        lifespan=lifespan,
        redirect_slashes=False,
        # Served by api.docs from simgate's own assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.dispatcher = dispatcher
    app.state.webhook_worker = webhook_worker
    # The one authenticator of this app: its cache of checked credentials is what any other
    # adapter (dashboard, future APIs) should use too, so a revocation reaches all of them.
    app.state.guard = Guard(settings, authenticator)
    errors.install(app)
    routers = (
        sms_api.router,
        inbox_api.router,
        frommobile.router,
        conversations.router,
        gateway.router,
        links.router,
        webhooks.router,
        oauth.router,
        soap.router,
        ops.router,
    )
    for router in routers:
        app.include_router(router)
    # The compatible endpoints and the phones' WebSocket skip FastAPI's whole stack (api.lane);
    # the observer in front of both sees the status every answer really had.
    devices = device_route(ctx, dispatcher)
    app.open_front([route for router in routers for route in router.routes], sockets=[devices])
    docs.install(app)
    dashboard.install(app, ctx, app.state.guard)
    app.router.routes.append(devices)
    app.router.routes.extend(poll_routes)
    return app
