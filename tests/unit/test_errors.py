"""The error tree: codes and statuses are public API, so they are pinned here."""

from __future__ import annotations

import pytest

from simgate.domain import errors
from simgate.domain.errors import (
    ApiExpired,
    CsrfRejected,
    DeviceAuthError,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidApiKey,
    InvalidClient,
    InvalidParameter,
    MetricsForbidden,
    MissingApiKey,
    MissingParameter,
    NotFound,
    OAuthError,
    PayloadTooLarge,
    RateLimited,
    SecretUnreadable,
    SignInRequired,
    SimgateError,
    StateConflict,
    StoreUnavailable,
    UnknownRegion,
    UnsupportedGrantType,
    invalid,
    missing,
)

EXPECTED: list[tuple[type[SimgateError], str, int]] = [
    (SimgateError, "internal_error", 500),
    (MissingApiKey, "missing_apikey", 400),
    (MissingParameter, "missing_parameter", 400),
    (InvalidParameter, "invalid_parameter", 400),
    (UnknownRegion, "unknown_region", 400),
    (PayloadTooLarge, "payload_too_large", 413),
    (InvalidApiKey, "invalid_apikey", 403),
    (ApiExpired, "api_expired", 403),
    (NotFound, "not_found", 404),
    (StateConflict, "state_conflict", 409),
    (RateLimited, "rate_limited", 429),
    (IllegalTransition, "illegal_transition", 409),
    (IdempotencyKeyReused, "idempotency_key_reused", 409),
    (DeviceAuthError, "invalid_device_token", 403),
    (SecretUnreadable, "secret_unreadable", 500),
    (SignInRequired, "sign_in_required", 401),
    (CsrfRejected, "csrf_rejected", 403),
    (StoreUnavailable, "unavailable", 503),
    (MetricsForbidden, "metrics_forbidden", 403),
    (OAuthError, "invalid_request", 400),
    (InvalidClient, "invalid_client", 401),
    (UnsupportedGrantType, "unsupported_grant_type", 400),
]


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED)
def test_each_error_has_its_code_and_status(
    cls: type[SimgateError], code: str, status: int
) -> None:
    """Clients branch on ``code`` and adapters map ``status``: both are fixed per class."""
    assert cls.code == code
    assert cls.status == status
    err = cls()
    assert err.code == code
    assert err.status == status


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED)
def test_every_error_is_a_simgate_error_and_an_exception(
    cls: type[SimgateError], code: str, status: int
) -> None:
    """One ``except SimgateError`` in the adapter catches the whole tree."""
    assert issubclass(cls, SimgateError)
    assert issubclass(cls, Exception)


def test_codes_are_unique() -> None:
    """Two classes sharing a code would be indistinguishable to clients."""
    codes = [code for _, code, _ in EXPECTED]
    assert len(codes) == len(set(codes))


def test_the_expected_list_covers_every_error_class() -> None:
    """A new error class must be added to the pinned list (and so get a reviewed code)."""
    classes = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, SimgateError)
    }
    assert classes == {cls for cls, _, _ in EXPECTED}


def test_illegal_transition_is_a_state_conflict() -> None:
    """Code that handles any 409 conflict also handles illegal state changes."""
    assert issubclass(IllegalTransition, StateConflict)
    with pytest.raises(StateConflict):
        raise IllegalTransition("nope")


def test_message_defaults_to_class_default_message() -> None:
    """Raising without a message still yields a readable one."""
    err = NotFound()
    assert err.message == NotFound.default_message
    assert str(err) == NotFound.default_message
    assert err.extra == {}


def test_explicit_message_and_extra_are_kept() -> None:
    """The message is shown as-is and extra keys are available to the adapter."""
    err = InvalidParameter("bad thing", parameter="type", allowed=["a", "b"])
    assert err.message == "bad thing"
    assert str(err) == "bad thing"
    assert err.extra == {"parameter": "type", "allowed": ["a", "b"]}


def test_extra_is_a_per_instance_dict() -> None:
    """Mutating one error's extra must not leak into another's."""
    a = NotFound()
    b = NotFound()
    a.extra["x"] = 1
    assert b.extra == {}


def test_rate_limited_defaults_retry_after_to_one_second() -> None:
    """Without a hint the client is told to wait one second."""
    err = RateLimited()
    assert err.retry_after == 1
    assert err.extra == {}


def test_rate_limited_keeps_retry_after_out_of_extra() -> None:
    """retry_after goes to the Retry-After header, other kwargs to the body."""
    err = RateLimited("slow down", retry_after=30, scope="apikey")
    assert err.retry_after == 30
    assert err.message == "slow down"
    assert err.extra == {"scope": "apikey"}


def test_missing_helper_names_the_parameter() -> None:
    """missing() gives the standard message and points at the parameter."""
    err = missing("recipients")
    assert isinstance(err, MissingParameter)
    assert err.message == "Missing required parameter: recipients"
    assert err.extra == {"parameter": "recipients"}


def test_invalid_helper_names_the_parameter_and_reason() -> None:
    """invalid() gives the standard message with the reason and points at the parameter."""
    err = invalid("recipients", "too many")
    assert isinstance(err, InvalidParameter)
    assert err.message == "Invalid parameter recipients: too many"
    assert err.extra == {"parameter": "recipients"}


def test_repr_shows_code_and_message() -> None:
    """Logs of a repr'd error show what the client saw."""
    assert repr(NotFound("gone")) == "NotFound(code='not_found', message='gone')"
