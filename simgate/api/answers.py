"""The shapes of the compatible API's answers, as the OpenAPI document declares them.

The handlers build their bodies in ``api/sms.py``, ``api/inbox.py``...; these models describe
those bodies for ``/openapi.json`` (and so for ``/docs``), and ``tests/api/test_openapi.py``
checks live answers against the document, so a change to a body that forgets its model fails
a test. Every model allows extra keys, as the bodies may grow.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GUID = Field(pattern="^[0-9a-f]{40}$", description="40 lowercase hex characters.")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Open):
    """Every error: a stable code to branch on and a sentence for a person."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "success": False,
                    "error": "invalid_apikey",
                    "message": "The API key is not valid.",
                }
            ]
        },
    )
    success: Literal[False]
    error: str = Field(description="Stable snake_case code, e.g. missing_apikey, rate_limited.")
    message: str


class SendErrorResult(_Open):
    error: str
    sent: Literal["0"]


class SendErrorBody(ErrorBody):
    """/sendsms/ errors also carry ``result``, which its clients read."""

    result: SendErrorResult


class Encrypted(_Open):
    status: Literal["0", "1"]


class SendResult(_Open):
    error: Literal[0]
    sent: Literal["1"]
    id: str = GUID
    ids: list[str] | None = Field(default=None, description="Every GUID, with several recipients.")
    note: str
    datetime: str = Field(description="UTC, ISO 8601.")
    datetimeLocal: str = Field(description="In SIMGATE_TIMEZONE.")
    port: Literal[1, 2] | None
    send_with_whatsapp: Literal["0", "1"]
    encrypted: Encrypted


class SendAnswer(_Open):
    """/sendsms/ accepted the message(s); delivery is asynchronous (see /log/sent/sms/)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "result": {
                        "error": 0,
                        "sent": "1",
                        "id": "3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
                        "note": "Message queued",
                        "datetime": "2026-01-05T10:00:00Z",
                        "datetimeLocal": "2026-01-05 11:00:00",
                        "port": None,
                        "send_with_whatsapp": "0",
                        "encrypted": {"status": "0"},
                    }
                }
            ]
        },
    )
    result: SendResult


class SentSms(_Open):
    guid: str = GUID
    recipients: str
    message: str
    date: str
    timestamp_unix: int
    status: str = Field(description="scheduled, queued, dispatched, sent, failed, expired...")
    error_api: str
    send_from_mobile: Literal["0", "1"]
    send_from_mobile_erreur: str
    send_from_mobile_sIdentifiant: str
    port: int | None
    send_with_whatsapp: Literal["0", "1"]
    schedule_timestamp: int | None
    retries: int = Field(ge=0)
    parts: int = Field(ge=1)
    encoding: Literal["GSM-7", "UCS-2"]


class SentLogResult(_Open):
    error: str = Field(description='"" or a short code such as "no_result".')
    sms: list[SentSms]


class SentLogAnswer(_Open):
    """The sent log, newest first."""

    result: SentLogResult


class ReceivedSms(_Open):
    id: int
    sIdentifiantPhone: str
    timestamp_unix: int
    message: str
    number: str
    guid: str = GUID
    alias: str | None
    date: str = Field(description="YYYY-MM-DD")
    hour: str = Field(description="HH:MM:SS")
    time_received: str = Field(description="YYYY-MM-DD HH:MM:SS")
    read: Literal[0, 1]


class ReceivedResult(_Open):
    error: str
    sms: list[ReceivedSms]


class ReceivedAnswer(_Open):
    """SMS your phones received."""

    result: ReceivedResult


class Answer(_Open):
    """A JSON object (see the endpoint's description and docs/ for its fields)."""


#: Why each documented error status happens, for the OpenAPI document.
ERROR_STATUSES: dict[int, str] = {
    400: "A parameter is missing or not valid (`missing_apikey`, `invalid_parameter`...).",
    403: "The API key or token is not valid, revoked or expired.",
    404: "No such message, device or resource in your account.",
    409: "The resource is not in a state that allows this (`state_conflict`...).",
    413: "The request body is too large.",
    429: "Too many requests for this key, or failed authentications: see `Retry-After`.",
    503: "The gateway could not store the request; nothing was sent. Retry later.",
}
