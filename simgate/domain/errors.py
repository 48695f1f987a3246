"""The single error tree of simgate.

Every layer raises these and only the HTTP adapter turns them into responses, so the
``code`` (machine readable, stable, part of the public API) and the ``status`` (HTTP status
code) live on the class and a handler needs no lookup table::

    SimgateError                      internal_error        500
    ├── MissingApiKey                 missing_apikey        400
    ├── MissingParameter              missing_parameter     400
    ├── InvalidParameter              invalid_parameter     400
    │   └── UnknownRegion             unknown_region        400
    ├── PayloadTooLarge               payload_too_large     413
    ├── InvalidApiKey                 invalid_apikey        403
    ├── ApiExpired                    api_expired           403
    ├── NotFound                      not_found             404
    ├── StateConflict                 state_conflict        409
    │   ├── IllegalTransition         illegal_transition    409
    │   └── IdempotencyKeyReused      idempotency_key_reused 409
    ├── RateLimited                   rate_limited          429  (+ retry_after seconds)
    ├── OAuthError                    invalid_request       400  (RFC 6749 §5.2 body)
    │   ├── InvalidClient             invalid_client        401
    │   └── UnsupportedGrantType      unsupported_grant_type 400
    ├── StoreUnavailable              unavailable           503
    ├── DeviceAuthError               invalid_device_token  403
    ├── SignInRequired                sign_in_required      401  (dashboard: to the sign-in page)
    ├── CsrfRejected                  csrf_rejected         403
    └── SecretUnreadable              secret_unreadable     500
"""

from __future__ import annotations

__all__ = [
    "ApiExpired",
    "CsrfRejected",
    "DeviceAuthError",
    "IdempotencyKeyReused",
    "IllegalTransition",
    "InvalidApiKey",
    "InvalidClient",
    "InvalidParameter",
    "MetricsForbidden",
    "MissingApiKey",
    "MissingParameter",
    "NotFound",
    "OAuthError",
    "PayloadTooLarge",
    "RateLimited",
    "SecretUnreadable",
    "SignInRequired",
    "SimgateError",
    "StateConflict",
    "StoreUnavailable",
    "UnknownRegion",
    "UnsupportedGrantType",
    "invalid",
    "missing",
]


class SimgateError(Exception):
    """Base of every error simgate reports to a caller.

    ``message`` is human readable and may change between versions; ``code`` is what clients
    should branch on. ``extra`` carries additional, already JSON-friendly fields an adapter
    may merge into the error body (for example ``parameter="recipients"``) so that callers
    can point at the offending input without parsing the message.
    """

    code: str = "internal_error"
    status: int = 500
    default_message: str = "Internal error"

    def __init__(self, message: str | None = None, **extra: object) -> None:
        self.message: str = message if message is not None else self.default_message
        self.extra: dict[str, object] = dict(extra)
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class MissingApiKey(SimgateError):
    """The request carried no API key at all (distinct from a wrong key, which is 403)."""

    code = "missing_apikey"
    status = 400
    default_message = "Missing API key"


class MissingParameter(SimgateError):
    """A required request parameter is absent or empty."""

    code = "missing_parameter"
    status = 400
    default_message = "Missing required parameter"


class InvalidParameter(SimgateError):
    """A request parameter is present but unusable (bad number, bad enum value, too long...)."""

    code = "invalid_parameter"
    status = 400
    default_message = "Invalid parameter"


class UnknownRegion(InvalidParameter):
    """A region code phone numbers are not known for (``account region ZZ``): refused, since
    with it every number written without + would be unreadable."""

    code = "unknown_region"
    status = 400
    default_message = "Unknown region"

    def __init__(self, message: str | None = None, **extra: object) -> None:
        super().__init__(message, **{"parameter": "region", **extra})


class PayloadTooLarge(SimgateError):
    """The request body exceeds what the server is willing to read."""

    code = "payload_too_large"
    status = 413
    default_message = "Payload too large"


class InvalidApiKey(SimgateError):
    """An API key was given but matches no account (or was revoked)."""

    code = "invalid_apikey"
    status = 403
    default_message = "Invalid API key"


class ApiExpired(SimgateError):
    """The API key is known but its validity period is over."""

    code = "api_expired"
    status = 403
    default_message = "API key expired"


class NotFound(SimgateError):
    """The addressed resource does not exist or is not visible to this caller."""

    code = "not_found"
    status = 404
    default_message = "Not found"


class StateConflict(SimgateError):
    """The request is well formed but conflicts with the current state of the resource."""

    code = "state_conflict"
    status = 409
    default_message = "State conflict"


class IllegalTransition(StateConflict):
    """A message state change that the transition table forbids.

    It is a :class:`StateConflict` so that callers that only care about "409, try something
    else" need not know about the state machine.
    """

    code = "illegal_transition"
    status = 409
    default_message = "Illegal state transition"


class IdempotencyKeyReused(StateConflict):
    """An ``Idempotency-Key`` already used, within its 24 hours, for a different request.

    Answering the first request's result would tell the client its new request succeeded;
    sending would defeat the key. Only a 409 is honest: use a new key for a new request.
    """

    code = "idempotency_key_reused"
    status = 409
    default_message = "This idempotency key was already used for a different request"


class RateLimited(SimgateError):
    """The caller exceeded a rate limit.

    ``retry_after`` (seconds) is kept as an attribute rather than in ``extra`` because the
    HTTP adapter puts it in the ``Retry-After`` header, not only in the body.
    """

    code = "rate_limited"
    status = 429
    default_message = "Rate limit exceeded"

    def __init__(
        self, message: str | None = None, *, retry_after: int = 1, **extra: object
    ) -> None:
        super().__init__(message, **extra)
        self.retry_after: int = retry_after


class StoreUnavailable(SimgateError):
    """The database could not commit: nothing of the request was stored; the client may retry."""

    code = "unavailable"
    status = 503
    default_message = "The gateway could not store the request; nothing was sent. Retry later."


class MetricsForbidden(SimgateError):
    """``/metrics`` asked without its token (or, with none set, from another host)."""

    code = "metrics_forbidden"
    status = 403
    default_message = (
        "Metrics need 'Authorization: Bearer <SIMGATE_METRICS_TOKEN>'; without a token set, "
        "only loopback clients may read them."
    )


class OAuthError(SimgateError):
    """A token request the OAuth2 token endpoint refuses (RFC 6749 §5.2).

    Its answer is the RFC's, not the compatible API's: ``{"error", "error_description"}``, so
    OAuth2 client libraries understand it. This base class is ``invalid_request``: a missing or
    repeated parameter, an unsupported content type, two ways of authenticating at once.
    """

    code = "invalid_request"
    status = 400
    default_message = "The token request is malformed"


class InvalidClient(OAuthError):
    """Client authentication failed: unknown client, wrong secret, revoked client, none sent."""

    code = "invalid_client"
    status = 401
    default_message = "Client authentication failed"


class UnsupportedGrantType(OAuthError):
    """A grant other than ``client_credentials``, the only one a machine client needs."""

    code = "unsupported_grant_type"
    status = 400
    default_message = "Only grant_type=client_credentials is supported"


class DeviceAuthError(SimgateError):
    """A device (phone or modem agent) presented a missing, unknown or revoked token."""

    code = "invalid_device_token"
    status = 403
    default_message = "Invalid device token"


class SignInRequired(SimgateError):
    """A dashboard page asked without a valid session (none, expired, or signed out).

    The dashboard answers it with a redirect to its sign-in page; ``next`` is where to return.
    """

    code = "sign_in_required"
    status = 401
    default_message = "Sign in to continue"

    def __init__(self, message: str | None = None, *, next_url: str = "", **extra: object) -> None:
        super().__init__(message, **extra)
        self.next_url: str = next_url


class CsrfRejected(SimgateError):
    """A state-changing dashboard request without the session's anti-forgery token.

    A page of another site can make the browser POST here with the user's cookie; only our own
    pages know the token, so a request without it is refused whatever it asks.
    """

    code = "csrf_rejected"
    status = 403
    default_message = "The form is out of date or did not come from this dashboard; reload it."


class SecretUnreadable(SimgateError):
    """A secret stored sealed cannot be opened: the server's key is not the one that sealed it."""

    code = "secret_unreadable"
    status = 500
    default_message = "A stored secret cannot be read with this server's key"


def missing(parameter: str) -> MissingParameter:
    """Build the error for an absent parameter, naming it in both message and ``extra``."""
    return MissingParameter(f"Missing required parameter: {parameter}", parameter=parameter)


def invalid(parameter: str, why: str) -> InvalidParameter:
    """Build the error for an unusable parameter, naming it in both message and ``extra``."""
    return InvalidParameter(f"Invalid parameter {parameter}: {why}", parameter=parameter)
