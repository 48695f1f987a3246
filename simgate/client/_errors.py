"""Errors raised by the simgate client.

The tree, so that callers can catch as broadly or as narrowly as they need::

    SimgateClientError                 anything this client raises on purpose
    ├── ApiError                       the server answered, and the answer is a refusal
    │   ├── InvalidRequestError        400  missing or invalid parameter (``parameter`` names it)
    │   ├── AuthenticationError        403  missing, wrong, revoked or expired API key
    │   ├── NotFoundError              404  no such GUID or SID in this account
    │   ├── ConflictError              409  the current state forbids it (resend of a sent SMS)
    │   ├── RateLimitError             429  too many requests; ``retry_after`` seconds
    │   └── UnexpectedResponseError    a 2xx answer this client cannot read (not JSON, ...)
    └── TransportError                 no answer at all: connection refused, timeout, TLS, ...

Branch on the class or on ``code`` (the server's stable snake_case error code); ``message`` is
for people and may change. httpx's own exceptions never escape: they arrive as
``TransportError`` with the original as ``__cause__``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "SimgateClientError",
    "TransportError",
    "UnexpectedResponseError",
    "error_for_status",
]


class SimgateClientError(Exception):
    """Base of every error the client raises; ``message`` is a sentence for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(SimgateClientError):
    """The server refused the request.

    ``status`` is the HTTP status, ``code`` the error code of the body (``invalid_apikey``,
    ``missing_parameter``, ...), ``body`` the decoded JSON answer (empty when it was not JSON),
    kept so that fields added by newer servers are not lost.
    """

    def __init__(
        self, status: int, code: str, message: str, *, body: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body: Mapping[str, Any] = body if body is not None else {}

    @property
    def parameter(self) -> str | None:
        """The request parameter the server blamed, when it named one."""
        value = self.body.get("parameter")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, HTTP {self.status})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class InvalidRequestError(ApiError):
    """400: a parameter is missing or has a value the server does not accept."""


class AuthenticationError(ApiError):
    """403: the API key is missing, unknown, revoked or expired."""


class NotFoundError(ApiError):
    """404: the GUID or SID does not exist in this account (or is another account's)."""


class ConflictError(ApiError):
    """409: the resource's current state forbids the action."""


class RateLimitError(ApiError):
    """429: too many requests. Wait ``retry_after`` seconds (None when the server gave none)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        body: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message, body=body)
        self.retry_after = retry_after


class UnexpectedResponseError(ApiError):
    """The server answered with success but in a shape this client cannot read.

    Raised instead of a ``KeyError`` deep inside parsing, so that pointing the client at
    something that is not an SMSMobileAPI-compatible server fails with one clear error.
    """


class TransportError(SimgateClientError):
    """The request got no answer: connection refused, DNS, TLS, timeout, broken connection."""


_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")

_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
}


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; its HTTP-date form is not worth a dependency."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_for_status(
    status: int, body: Mapping[str, Any], *, retry_after: str | None = None
) -> ApiError:
    """The exception for a refusal, from its status and (possibly empty) JSON body.

    A body without the documented ``error``/``message`` keys (a proxy's HTML page, say) still
    gives a usable error with the generic code ``http_error``.
    """
    raw_code = body.get("error")
    text = raw_code.strip() if isinstance(raw_code, str) else ""
    # The reference's own examples put a sentence in ``error``; simgate puts a code there and
    # the sentence in ``message``. Either way the caller gets both a code and a sentence.
    is_code = _CODE.fullmatch(text) is not None
    code = text if is_code else "http_error"
    raw_message = body.get("message")
    if isinstance(raw_message, str) and raw_message.strip():
        message = raw_message.strip()
    elif text and not is_code:
        message = text
    else:
        message = f"The server answered HTTP {status}."
    if status == 429:  # noqa: PLR2004 - the one status that carries Retry-After
        return RateLimitError(
            status, code, message, body=body, retry_after=_retry_after(retry_after)
        )
    kind = _BY_STATUS.get(status, ApiError)
    return kind(status, code, message, body=body)
