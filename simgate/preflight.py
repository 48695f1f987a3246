"""Checks the server commands run before they touch anything, so that a mistake an operator can
fix (a bad setting, a database folder that does not exist, a port another process holds) ends in
one or two lines that name the setting and the fix, instead of a traceback from deep inside
pydantic, SQLAlchemy or uvicorn.

Every problem is a :class:`StartupError`; the CLI maps it to its message and exit status 2 in one
place (``simgate.cli_support``).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from simgate.store.migrate import upgrade

if TYPE_CHECKING:
    from pydantic import ValidationError

#: Exit status of a command stopped by a :class:`StartupError` (as for a usage error).
EXIT_STARTUP = 2


class StartupError(Exception):
    """A problem the operator fixes in the configuration or on the machine, not a bug."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def lines(self) -> list[str]:
        return [f"error: {self.message}", *([f"  fix: {self.fix}"] if self.fix else [])]


def env_name(field: str) -> str:
    return f"SIMGATE_{field.upper()}"


def settings_error(exc: ValidationError) -> StartupError:
    """The first invalid setting of ``exc``, named as the operator sets it (its variable)."""
    problems: list[str] = []
    names: list[str] = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        reason = str(error["msg"]).removeprefix("Value error, ")
        if loc:
            name = env_name(loc[0])
            names.append(name)
            problems.append(f"{name}={error['input']!r} is not valid: {reason}")
        else:
            problems.append(f"invalid settings: {reason}")
    fix = (
        f"correct {', '.join(names)} (or unset it to use the default)"
        if names
        else "correct the settings named above"
    )
    return StartupError("; ".join(problems), fix)


def redacted_url(database_url: str) -> str:
    """``database_url`` with its password hidden, for logs and messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def check_database_url(database_url: str) -> None:
    """Refuse a URL SQLAlchemy cannot parse, and a SQLite file whose folder is missing or not
    writable (SQLite itself only says "unable to open database file")."""
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise StartupError(
            f"SIMGATE_DATABASE_URL={database_url!r} is not a database URL",
            "use sqlite+aiosqlite:///./simgate.db or postgresql+asyncpg://user:pass@host/db",
        ) from exc
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    folder = Path(str(url.database)).expanduser().absolute().parent
    if not folder.is_dir():
        raise StartupError(
            f"the database folder {folder} does not exist (SIMGATE_DATABASE_URL)",
            f"create it (mkdir -p {folder}) or point SIMGATE_DATABASE_URL to another folder",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StartupError(
            f"the database folder {folder} is not writable (SIMGATE_DATABASE_URL)",
            "give this user write access to it or point SIMGATE_DATABASE_URL elsewhere",
        )


def check_workers(database_url: str, workers: int) -> None:
    """Refuse several server processes on SQLite: one file has one writer, and processes on
    it could not wake each other (the cross-process bus is PostgreSQL's LISTEN/NOTIFY)."""
    if workers > 1 and not database_url.startswith("postgresql"):
        raise StartupError(
            f"--workers {workers} needs PostgreSQL, and SIMGATE_DATABASE_URL is "
            f"{redacted_url(database_url)}: run one process (--workers 1) or use "
            "postgresql+asyncpg://user:pass@host/db"
        )


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, before anything else happens.

    Bound with ``SO_REUSEADDR`` as uvicorn binds, so a port left in TIME_WAIT by a server that
    just stopped is not mistaken for a busy one.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use (another simgate, or another "
                    "program, is listening there)",
                    f"stop it, or choose another port: --port {port + 1}, SIMGATE_PORT={port + 1}"
                    f" or make run PORT={port + 1}",
                ) from exc
            raise StartupError(
                f"cannot listen on {host}:{port}: {exc.strerror} (SIMGATE_HOST, SIMGATE_PORT)",
                "use an address of this machine and a port this user may open",
            ) from exc


def migrate(database_url: str) -> None:
    """Check the URL, then bring the schema to head; a database that cannot be opened (server
    down, wrong password, read-only file) is a :class:`StartupError` naming the setting."""
    check_database_url(database_url)
    try:
        upgrade(database_url)
    except (SQLAlchemyError, OSError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise StartupError(
            f"cannot open the database {redacted_url(database_url)}: {reason}",
            "check SIMGATE_DATABASE_URL (address, user, password, file permissions) and that "
            "the database server is running",
        ) from exc
