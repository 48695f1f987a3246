"""Secrets never reach a log line: query strings, tokens and keys are masked."""

from __future__ import annotations

import logging

import pytest

from simgate.logs import SecretMask, mask_secrets

KEY = "9e6fb09515362f5f4d6cf905ca5ec264bd3903ddd0a15512"
GUID = "a" * 40


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"GET /sendsms/?apikey={KEY}&recipients=%2B32470 HTTP/1.1", KEY),
        (f"/getsms?APIKEY={KEY}", KEY),
        ("/oauth2/token?client_secret=sgcs_abcDEF-123", "sgcs_abcDEF-123"),
        ("Authorization: Bearer sgat_abcdefghijklmnop", "sgat_abcdefghijklmnop"),
        ("token=sgd_Zm9vYmFy", "sgd_Zm9vYmFy"),
        (f"a key in a path /x/{KEY}/y", KEY),
        ("apikey%3Dsecretvalue", "secretvalue"),
    ],
)
def test_secrets_are_masked(line: str, secret: str) -> None:
    masked = mask_secrets(line)
    assert secret not in masked
    assert "***" in masked


def test_guids_and_ordinary_parameters_stay_readable() -> None:
    line = f"GET /log/sent/sms/?guid_message={GUID}&limit=10"
    assert mask_secrets(line) == line


def test_the_filter_masks_uvicorn_access_log_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/sendsms/?apikey={KEY}", "1.1", 200),
        None,
    )
    assert SecretMask().filter(record)
    assert KEY not in record.getMessage()
    assert "apikey=***" in record.getMessage()
