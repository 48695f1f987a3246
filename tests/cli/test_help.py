"""Every ``--help`` of the ``simgate`` commands names values as people do (``EMAIL``, ``URL``,
``SECONDS``), never as Python types (``<str>``, ``<int range>``), and shows no value at all
beside flags (typer writes ``<bool>``, which reads like a value to give)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simgate.cli import command

#: What typer writes when it knows only the type, or a name less precise than ours.
UNREADABLE = re.compile(r"<\w+(?: range)?>|\b(?:TEXT|INTEGER|FLOAT|BOOLEAN|PATH)\b(?!\w)")
#: Options whose value is free text, where TEXT is the right name.
TEXT_VALUES = {"--message"}


def command_paths(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(node, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


ROOT = command()
PATHS = list(command_paths(ROOT))


def help_of(path: tuple[str, ...]) -> str:
    out = io.StringIO()
    os.environ.setdefault("COLUMNS", "120")
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        ROOT.main([*path, "--help"], prog_name="simgate", standalone_mode=True)
    return out.getvalue()


def option_rows(text: str) -> list[str]:
    """The rows of the help's option and argument panels that name a parameter."""
    return [
        line for line in text.splitlines() if re.search(r"│\s*\*?\s*(--[\w-]+|[A-Z_]+)\s", line)
    ]


def test_every_command_has_help() -> None:
    assert len(PATHS) > 30
    assert ("account", "region") in PATHS
    assert ("agent",) in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "simgate")
def test_help_names_values_readably(path: tuple[str, ...]) -> None:
    text = help_of(path)
    assert "Usage: simgate" in text, text
    for row in option_rows(text):
        found = UNREADABLE.findall(row)
        if found == ["TEXT"] and any(name in row for name in TEXT_VALUES):
            continue
        assert not found, f"simgate {' '.join(path)} --help: {row.strip()}"


def test_every_option_has_a_name_for_its_value() -> None:
    """A new option without a metavar (its own or in simgate.cli_help.METAVARS) fails here,
    before its help shows a type name."""
    nameless = []
    for path in PATHS:
        node = ROOT
        for name in path:
            node = node.commands[name]
        for param in node.params:
            if param.metavar is None:
                nameless.append(
                    f"simgate {' '.join(path)} {param.opts[0] if param.opts else param.name}"
                )
    assert nameless == []


def test_flags_show_no_value() -> None:
    text = help_of(("send",))
    [wait] = [line for line in text.splitlines() if re.search(r"│\s+--wait\s", line)]
    assert re.search(r"--wait\s{2,}Wait until", wait), wait
    assert "<bool>" not in help_of(())


def test_the_installed_command_shows_the_same_help(tmp_path: Path) -> None:
    """As a user runs it: the console script, through ``simgate.cli.main``."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "simgate"), "device", "add", "--help"],
        env={**os.environ, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--account" in done.stdout
    assert "EMAIL" in done.stdout
    assert not UNREADABLE.search(done.stdout), done.stdout
