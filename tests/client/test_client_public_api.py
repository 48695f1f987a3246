"""What ``simgate.client`` promises before any request: its public names, its exception tree,
that it imports with the base install only, and that it keeps the API key to itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import simgate.client
from simgate.client import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    SimgateClientError,
    TransportError,
    UnexpectedResponseError,
)

#: The server extra's packages: none of them may be needed to use the client.
SERVER_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "pydantic",
    "pydantic_settings",
    "orjson",
    "structlog",
    "cryptography",
    "argon2",
    "multipart",
    "python_multipart",
)


class TestPublicNames:
    def test_all_is_pinned(self) -> None:
        """Adding or removing a public name is a decision: this list changes with it."""
        assert simgate.client.__all__ == [
            "ApiError",
            "AsyncClient",
            "AuthenticationError",
            "Client",
            "ConflictError",
            "Conversation",
            "ConversationMessage",
            "Device",
            "FailedMessage",
            "InvalidRequestError",
            "MobileSentSms",
            "NotFoundError",
            "RateLimitError",
            "ReceivedSms",
            "RejectedRecipient",
            "SendResult",
            "SentSms",
            "SimgateClientError",
            "TransportError",
            "UnexpectedResponseError",
        ]

    def test_every_public_name_is_importable_from_the_package(self) -> None:
        for name in simgate.client.__all__:
            assert getattr(simgate.client, name).__module__.startswith("simgate.client")

    @pytest.mark.parametrize(
        ("kind", "parent"),
        [
            (ApiError, SimgateClientError),
            (TransportError, SimgateClientError),
            (InvalidRequestError, ApiError),
            (AuthenticationError, ApiError),
            (NotFoundError, ApiError),
            (ConflictError, ApiError),
            (RateLimitError, ApiError),
            (UnexpectedResponseError, ApiError),
        ],
    )
    def test_the_exception_tree(self, kind: type[Exception], parent: type[Exception]) -> None:
        assert issubclass(kind, parent)

    def test_transport_errors_are_not_api_errors(self) -> None:
        """No answer is not a refusal: callers retry the first and fix the second."""
        assert not issubclass(TransportError, ApiError)


class TestLightInstall:
    def test_the_client_and_its_commands_import_without_the_server_extra(self) -> None:
        """A finder refuses every server-only package, as on a phone without the extra."""
        script = textwrap.dedent(
            f"""
            import sys
            from importlib.abc import MetaPathFinder

            BLOCKED = {SERVER_ONLY!r}

            class Refuse(MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in BLOCKED:
                        raise ImportError(f"{{name}} is not installed (server extra)")
                    return None

            sys.meta_path.insert(0, Refuse())

            from simgate.client import AsyncClient, Client, SendResult
            from simgate.client.commands import inbox_command, log_command, send_command

            Client("http://127.0.0.1:1", "key").close()
            loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
            assert not loaded, loaded
            print("ok")
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
        assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


class TestKeyStaysPrivate:
    def test_repr_shows_the_server_not_the_key(self) -> None:
        with Client("http://user:pw@127.0.0.1:8000/base/", "secret-key-123") as sms:
            assert repr(sms) == "Client(base_url='http://127.0.0.1:8000/base/')"

    @pytest.mark.anyio
    async def test_async_repr_shows_the_server_not_the_key(self) -> None:
        async with AsyncClient("https://gateway.test", "secret-key-123") as sms:
            assert "secret-key-123" not in repr(sms)
            assert "gateway.test" in repr(sms)


class TestBaseUrl:
    @pytest.mark.parametrize("url", ["", "127.0.0.1:8000", "ftp://host", "http://", "not a url"])
    def test_a_base_url_that_is_not_http_is_refused_at_once(self, url: str) -> None:
        with pytest.raises(ValueError, match="http"):
            Client(url, "key")
