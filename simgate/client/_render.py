"""Output of the client's commands: compact tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["plain", "print_json", "print_table"]

#: The Message column never gets narrower than this, even in a narrow terminal.
MIN_MESSAGE_WIDTH = 20
_GAP = 2  # between columns: one space of padding on each side


def plain(value: Any) -> Any:
    """A result as JSON-ready data: dataclass fields (not ``raw``), datetimes in ISO 8601."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name))
            for field in fields(value)
            if field.name != "raw"
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(plain(value), ensure_ascii=False, indent=2))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> None:
    """One line per row, every cell whole except ``Message``, which is cut to fit a terminal.

    GUIDs, numbers and SIDs are never cut (they are meant to be copied into the next command);
    a message is a preview, whitespace folded to single spaces, and ``--json`` has it whole.
    Piped output is never cut. Cells are :class:`Text`, so an SMS that contains ``[red]`` is
    shown as typed, not read as rich markup.
    """
    console = Console()
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    flexible = columns.index("Message") if "Message" in columns else None
    if flexible is not None:
        for row in cells:
            row[flexible] = Text(" ".join(row[flexible].plain.split()))
    widths = [
        max([len(name), *(row[index].cell_len for row in cells)])
        for index, name in enumerate(columns)
    ]
    gaps = _GAP * (len(columns) - 1)
    if flexible is not None and console.is_terminal:
        fixed = sum(widths) - widths[flexible] + gaps
        room = max(MIN_MESSAGE_WIDTH, console.width - fixed)
        if widths[flexible] > room:
            for row in cells:
                row[flexible].truncate(room, overflow="ellipsis")
            widths[flexible] = room
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in columns:
        table.add_column(name, no_wrap=True)
    for row in cells:
        table.add_row(*row)
    # Wide enough for every row: a terminal that is too narrow wraps lines, losing nothing.
    wide = Console(width=max(console.width, sum(widths) + gaps))
    with wide.capture() as captured:
        wide.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
