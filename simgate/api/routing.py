"""Routing and authentication shared by every compatible endpoint: registration (GET and POST,
with and without the trailing slash), the request context, parameters, the API key, JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.answers import ERROR_STATUSES, Answer, ErrorBody
from simgate.api.guard import Guard
from simgate.api.jsonresponse import JsonResponse
from simgate.api.params import Params, read_params
from simgate.context import Context
from simgate.services.access import Principal

Handler = Callable[[Request], Awaitable[Response]]


class CompatRoute(APIRoute):
    """A compatible endpoint: FastAPI documents it, ``api.lane.CompatLane`` serves it."""


@dataclass(frozen=True)
class Doc:
    """One documented parameter of a compatible endpoint, for the OpenAPI document."""

    name: str
    description: str
    required: bool = False
    type: str = "string"
    enum: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema


APIKEY = Doc(
    "apikey",
    "Your API key (or send `Authorization: Bearer <key or OAuth2 access token>`).",
    required=True,
)


def _openapi(method: str, docs: Sequence[Doc]) -> dict[str, Any]:
    if method == "GET":
        return {
            "parameters": [
                {
                    "name": doc.name,
                    "in": "query",
                    "required": doc.required,
                    "description": doc.description,
                    "schema": doc.schema(),
                }
                for doc in docs
            ]
        }
    body_schema = {
        "type": "object",
        "properties": {doc.name: {**doc.schema(), "description": doc.description} for doc in docs},
        "required": [doc.name for doc in docs if doc.required],
    }
    return {
        "requestBody": {
            "description": "Parameters as a form, a multipart form or a JSON object; "
            "they may also be sent in the query string.",
            "content": {
                media: {"schema": body_schema}
                for media in (
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                    "application/json",
                )
            },
        }
    }


#: The security requirement of an authenticated endpoint: the ``apikey`` parameter, or a
#: bearer header (an API key or an OAuth2 access token); the schemes are in ``api.docs``.
SECURITY: list[dict[str, list[str]]] = [{"apikey": []}, {"bearer": []}]
#: Errors any endpoint may answer: bad parameters, a body too large, a database that could not
#: commit; authenticated ones also refuse credentials (403) and throttle (429).
COMMON_ERRORS = (400, 413, 503)
AUTH_ERRORS = (403, 429)


def _responses(
    answer: type[BaseModel],
    error: type[BaseModel],
    statuses: Sequence[int],
) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": answer, "description": (answer.__doc__ or "OK").strip()}
    }
    for status in sorted(set(statuses)):
        responses[status] = {"model": error, "description": ERROR_STATUSES[status]}
    return responses


def compat_route(
    router: APIRouter,
    path: str,
    handler: Handler,
    *,
    summary: str,
    description: str = "",
    params: Sequence[Doc] = (),
    authenticated: bool = True,
    answer: type[BaseModel] = Answer,
    error: type[BaseModel] = ErrorBody,
    errors: Sequence[int] = (),
) -> None:
    """Serve ``path`` with and without its trailing slash, GET and POST, never redirecting.

    A redirect would turn a client's POST into a GET and drop its body, so both spellings are
    real routes; only the documented one (with the slash) appears in the OpenAPI document,
    with its ``answer`` model, its ``errors`` beyond the common ones, and its security.
    """
    base = path.rstrip("/")
    docs = [APIKEY, *params] if authenticated else list(params)
    statuses = [*COMMON_ERRORS, *(AUTH_ERRORS if authenticated else ()), *errors]
    extra_security = {"security": SECURITY} if authenticated else {}
    for method in ("GET", "POST"):
        router.add_api_route(
            base + "/",
            handler,
            methods=[method],
            summary=summary,
            description=description,
            response_class=JsonResponse,
            response_model=None,
            responses=_responses(answer, error, statuses),
            operation_id=f"{handler.__name__}_{method.lower()}",
            openapi_extra={**_openapi(method, docs), **extra_security},
            route_class_override=CompatRoute,
        )
        router.add_api_route(
            base,
            handler,
            methods=[method],
            include_in_schema=False,
            response_class=JsonResponse,
            route_class_override=CompatRoute,
        )


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def params_of(request: Request) -> Params:
    return await read_params(request, context(request).settings.max_body_bytes)


def guard(request: Request) -> Guard:
    found: Guard = request.app.state.guard
    return found


async def caller(request: Request, params: Params) -> Principal:
    """Who the request's API key or OAuth2 access token speaks for.

    The ``apikey`` parameter wins; a Bearer header (an API key or an access token) is read only
    when it is absent, so a valid key is never refused because of an unrelated Authorization
    header sent beside it.
    """
    secret = params.text("apikey")
    if secret is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            secret = value.strip()
    return await guard(request).authenticate(request.scope, secret)


async def start_as(request: Request) -> tuple[Context, Params, Principal]:
    """Parse parameters and authenticate: the first two lines of every endpoint that needs more
    of its caller than the account id (the account's region, for phone numbers)."""
    params = await params_of(request)
    principal = await caller(request, params)
    return context(request), params, principal


async def start(request: Request) -> tuple[Context, Params, int]:
    """``start_as`` for the endpoints that need only the caller's account id."""
    ctx, params, principal = await start_as(request)
    return ctx, params, principal.account_id


def json(body: dict[str, Any], status_code: int = 200) -> Response:
    return JsonResponse(body, status_code=status_code)
