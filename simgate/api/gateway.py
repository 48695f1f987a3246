"""``/gateway/mobile/list|update|delete/``: the phones and modems of an account."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start, start_as
from simgate.domain import timefmt
from simgate.domain.errors import invalid, missing
from simgate.services import devices
from simgate.services.devices import (
    MAX_LIMIT,
    DeviceChange,
    DeviceList,
    DeviceQuery,
    DeviceRemoved,
    DeviceView,
    Pacing,
)

router = APIRouter(tags=["Devices"])

#: A SID is at most this long (the width of the stored column): a longer one cannot exist.
MAX_SID = 40


def _sid(params: Params) -> str | None:
    sid = params.text("sid")
    if sid is not None and len(sid) > MAX_SID:
        raise invalid("sid", f"at most {MAX_SID} characters")
    return sid


def _presence(request: Request) -> devices.Presence:
    """The dispatcher of this process, which knows the devices connected to it."""
    presence: devices.Presence = request.app.state.dispatcher
    return presence


# ------------------------------------------------------------------------------------ shapes


def _mobile(mobile: DeviceView, zone: ZoneInfo) -> dict[str, Any]:
    seen = mobile.last_seen_ms
    return {
        "sid": mobile.sid,
        "sIdentifiant": mobile.sid,
        "label": mobile.label,
        "phone_number": mobile.phone_number,
        "online": mobile.online,
        "last_seen": None if seen is None else timefmt.datetime_str(seen, zone),
        "last_seen_unix": None if seen is None else timefmt.unix_seconds(seen),
        "battery": mobile.battery,
        "signal": mobile.signal,
        "version": mobile.version,
        "driver": mobile.driver,
        "sims": [{"port": port} for port in mobile.sims],
        "capabilities": mobile.capabilities,
        "sent_today": mobile.sent_today,
        "received_today": mobile.received_today,
        "charging": mobile.charging,
        "online_since": _time(mobile.online_since_ms, zone),
        "offline_since": _time(mobile.offline_since_ms, zone),
        "pacing": _pacing(mobile.pacing),
        "reported_rate": (
            None
            if mobile.reported_rate is None
            else {"count": mobile.reported_rate[0], "seconds": mobile.reported_rate[1]}
        ),
    }


def _time(ms: int | None, zone: ZoneInfo) -> str | None:
    return None if ms is None else timefmt.datetime_str(ms, zone)


def _pacing(pacing: Pacing) -> dict[str, int | None]:
    return {
        "rate_per_minute": pacing.rate_per_minute,
        "rate_per_hour": pacing.rate_per_hour,
        "daily_cap": pacing.daily_cap,
    }


def _listing(listing: DeviceList, query: DeviceQuery, zone: ZoneInfo) -> dict[str, Any]:
    note = (
        f"online: connected to this server now, or heard from within the last "
        f"{listing.online_seconds} s. connected_limit: the devices paired with this account "
        f"(no plan limit). sent_today/received_today: since midnight ({zone.key})."
    )
    return {
        "success": True,
        "connected_available": listing.paired - listing.online,
        "connected_limit": listing.paired,
        "connected_now": listing.online,
        "filters": {"sid": query.sid, "search": query.search},
        "items": [_mobile(mobile, zone) for mobile in listing.items],
        "note": note,
    }


def _removed(removed: DeviceRemoved) -> dict[str, Any]:
    return {
        "success": True,
        "sid": removed.sid,
        "deleted": {
            "received": removed.received,
            "mobile_sent": removed.mobile_sent,
            "failed_queued": removed.failed_queued,
        },
        "requeued": removed.requeued,
    }


# ------------------------------------------------------------------------------------ routes


async def mobile_list(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    query = DeviceQuery(sid=_sid(params), search=params.search("search"))
    listing = await devices.list_devices(ctx, account_id, query, _presence(request))
    return json(_listing(listing, query, ctx.settings.zone))


async def mobile_update(request: Request) -> Response:
    ctx, params, principal = await start_as(request)
    sid = _sid(params)
    if sid is None:
        raise missing("sid")
    # Documented: "label is required but can be empty (label=)". So present-and-empty clears
    # the label, and only an absent label is a missing parameter.
    label = params.raw("label")
    if label is None:
        raise missing("label")
    change = DeviceChange(
        sid=sid,
        label=label,
        phone_number=params.text("phone_number"),
        pacing=Pacing(
            rate_per_minute=params.integer("rate_per_minute", minimum=0, maximum=MAX_LIMIT),
            rate_per_hour=params.integer("rate_per_hour", minimum=0, maximum=MAX_LIMIT),
            daily_cap=params.integer("daily_cap", minimum=0, maximum=MAX_LIMIT),
        ),
    )
    updated = await devices.update_device(
        ctx, principal.account_id, change, region=principal.region
    )
    return json(
        {
            "success": True,
            "sid": updated.sid,
            "label": updated.label,
            "phone_number": updated.phone_number,
            "pacing": _pacing(updated.pacing),
        }
    )


async def mobile_delete(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    sid = _sid(params)
    if sid is None:
        raise missing("sid")
    removed = await devices.delete_device(ctx, account_id, sid)
    return json(_removed(removed))


compat_route(
    router,
    "/gateway/mobile/list/",
    mobile_list,
    summary="List your phones and modems, with presence and today's traffic",
    description="Filter by exact SID (`sid`) or by a text search over the listed fields.",
    params=[
        Doc("sid", "Only the device with this SID."),
        Doc("search", "Only devices whose SID, label, number, version, battery... contain this."),
    ],
)
compat_route(
    router,
    "/gateway/mobile/update/",
    mobile_update,
    summary="Set a device's label (required, may be empty) and phone number",
    params=[
        Doc("sid", "The device's SID.", True),
        Doc("label", "The new label; required, but may be empty (`label=`).", True),
        Doc("phone_number", "The SIM's phone number; empty leaves it unchanged."),
        Doc(
            "rate_per_minute",
            "At most this many sends a minute, evenly spaced; 0: none.",
            type="integer",
        ),
        Doc(
            "rate_per_hour",
            "At most this many sends an hour, evenly spaced; 0: none.",
            type="integer",
        ),
        Doc("daily_cap", "At most this many sends a day (local day); 0: none.", type="integer"),
    ],
)
compat_route(
    router,
    "/gateway/mobile/delete/",
    mobile_delete,
    summary="Delete a device, its received SMS and its sent-from-phone log",
    description="Messages waiting for this device fail with error_api 'device deleted'; "
    "its token stops working and a live connection is closed.",
    params=[Doc("sid", "The device's SID.", True)],
)
