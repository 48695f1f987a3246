"""The process's open-files limit, raised as far as the system allows.

Every connected phone is one socket, so one file descriptor, on the server and on an agent that
runs many simulated phones. Most systems start a process with a soft limit of 1024 open files
and a hard limit far above it: a server that kept the soft limit would refuse the 1 000th phone
(``accept`` failing with EMFILE) although the system would have allowed ten times more. Raising
the soft limit to the hard one needs no privilege; raising the hard limit does, so when that is
too low the operator is told what to change instead.

A leaf module: it imports nothing of simgate, so both the server and the light agent use it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

__all__ = ["SERVER_OPEN_FILES", "OpenFiles", "raise_open_files_limit"]

#: What a server should be able to hold open: thousands of phones, clients and the database.
SERVER_OPEN_FILES = 4096
#: macOS refuses a soft limit above OPEN_MAX even when the hard limit says "unlimited".
_MACOS_OPEN_MAX = 10_240


@dataclass(frozen=True, slots=True)
class OpenFiles:
    """The open-files limits before and after :func:`raise_open_files_limit`."""

    before: int
    soft: int
    hard: int
    needed: int

    @property
    def enough(self) -> bool:
        """Whether the (raised) soft limit covers what the process said it needs."""
        return self.soft >= self.needed

    @property
    def advice(self) -> str:
        """What an operator does about a low limit, in one sentence."""
        return (
            f"open files: hard limit {self.hard} < {self.needed} needed; raise it "
            f"(systemd: LimitNOFILE={self.needed} or more; shell: ulimit -Hn as root; "
            "containers: --ulimit nofile=…)"
        )


def raise_open_files_limit(needed: int) -> OpenFiles | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; None where there is no such limit
    (Windows). ``needed`` is only compared, never forced: see :attr:`OpenFiles.enough`."""
    if sys.platform == "win32":
        return None
    import resource  # noqa: PLC0415 - POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    target = hard
    if target == unlimited:
        target = _MACOS_OPEN_MAX if sys.platform == "darwin" else max(soft, 1 << 20)
    before = soft
    if soft != unlimited and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft  # a kernel cap below the hard limit (nr_open): keep what we have
        soft = target
    as_number = 1 << 62
    return OpenFiles(
        before=as_number if before == unlimited else before,
        soft=as_number if soft == unlimited else soft,
        hard=as_number if hard == unlimited else hard,
        needed=needed,
    )
