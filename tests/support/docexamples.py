"""The examples of README.md and docs/*.md, read as a reader copies them.

A fenced ``sh`` block holds commands: each ``curl`` one is an example request, each ``simgate``
one an example command. The ``json`` block right after it (only blank lines between) is the
documented answer: one JSON value for every request of the block, or one per request. An HTML
comment ``<!-- example: skip (why) -->`` on the line before a block marks examples that cannot
run here (a real modem, another host), visibly in the doc itself.

Documented answers are compared by shape: the same keys (an object that has the key ``"…"``
only promises the keys it shows), the same JSON types, recursively (lists by their first item);
``null`` on either side matches anything (a nullable field). Values are compared only where
the doc fixes them: booleans, and the fields in :data:`FIXED`.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP = re.compile(r"<!--\s*example:\s*skip\s*\((.+?)\)\s*-->")
#: The keys whose documented value the server must answer exactly.
#: (Outside lists only: a list's first item is a sample row, not a promise.)
FIXED = frozenset({"success", "error", "status", "token_type", "read"})
#: The key that says "and more keys" in a documented object.
MORE = "…"


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None


@dataclass
class Example:
    """One command of a doc, with the answer documented for it (if any)."""

    doc: str
    line: int
    command: str
    answer: Any = None
    skip: str | None = None
    answered: bool = field(default=False)

    @property
    def name(self) -> str:
        return f"{self.doc}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        before = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        skip = _SKIP.search(before)
        found.append(
            Block(
                doc=str(path.relative_to(ROOT)),
                line=start + 1,
                lang=opening.group(1),
                text="\n".join(lines[start + 1 : end]),
                skip=None if skip is None else skip.group(1),
            )
        )
        index = end + 1
    return found


def _next_to(path: Path, first: Block, second: Block) -> bool:
    """Whether only blank lines separate the two blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    closing = first.line + first.text.count("\n") + 1  # 0-based index of the closing fence
    return all(not line.strip() for line in lines[closing + 1 : second.line - 1])


def commands(text: str) -> list[tuple[int, str]]:
    """The commands of a shell block with the offset of their first line: continuation lines
    joined, comment lines dropped."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for offset, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if not pending:
            if not stripped or stripped.startswith("#"):
                continue
            first = offset
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        out.append((first, " ".join(pending)))
        pending = []
    return out


def json_values(text: str) -> list[Any]:
    """Every JSON value of a block (some blocks show two answers, one per line)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    text = text.strip()
    while position < len(text):
        value, end = decoder.raw_decode(text, position)
        values.append(value)
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def examples(program: str) -> list[Example]:
    """Every ``program`` command (``curl``, ``simgate``) in the docs, with its answer."""
    found: list[Example] = []
    for path in documents():
        all_blocks = blocks(path)
        for index, block in enumerate(all_blocks):
            if block.lang not in ("sh", "bash", "shell", "console"):
                continue
            mine = [
                Example(block.doc, block.line + 1 + offset, command, skip=block.skip)
                for offset, command in commands(block.text)
                if command.split(" ", 1)[0] == program
            ]
            if not mine:
                continue
            following = all_blocks[index + 1] if index + 1 < len(all_blocks) else None
            if (
                following is not None
                and following.lang == "json"
                and _next_to(path, block, following)
            ):
                try:
                    values = json_values(following.text)
                except json.JSONDecodeError as exc:
                    raise AssertionError(f"{block.doc}:{following.line}: {exc}") from exc
                if len(values) == 1:
                    for example in mine:
                        example.answer, example.answered = values[0], True
                elif len(values) == len(mine):
                    for example, value in zip(mine, values, strict=True):
                        example.answer, example.answered = value, True
                else:
                    raise AssertionError(
                        f"{block.doc}:{following.line}: {len(values)} answers for "
                        f"{len(mine)} requests (give one, or one per request)"
                    )
            found.extend(mine)
    return found


@dataclass(frozen=True)
class CurlRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    auth: tuple[str, str] | None


def parse_curl(command: str) -> CurlRequest:
    """The request a curl command line makes (the options the docs use: -X, -d, -H, -u)."""
    words = shlex.split(command, comments=True)
    assert words[0] == "curl", command
    method: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    data: list[str] = []
    auth: tuple[str, str] | None = None
    rest = iter(words[1:])
    for word in rest:
        if word in ("-X", "--request"):
            method = next(rest)
        elif word in ("-d", "--data"):
            data.append(next(rest))
        elif word in ("-H", "--header"):
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-u", "--user"):
            user, _, password = next(rest).partition(":")
            auth = (user, password)
        elif word.startswith("-"):
            raise AssertionError(f"curl option {word} is not understood by the docs' test")
        else:
            url = word
    assert url is not None, command
    body = "&".join(data).encode() if data else None
    if body is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl -d sends
    return CurlRequest(
        method=method or ("POST" if data else "GET"),
        url=url,
        headers=headers,
        body=body,
        auth=auth,
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_mismatches(
    documented: Any, real: Any, where: str = "body", *, in_list: bool = False
) -> list[str]:
    """How the real answer differs from the documented one (empty: it has the same shape)."""
    if documented is None or real is None:
        return []
    if _kind(documented) != _kind(real):
        return [f"{where}: documented {_kind(documented)} {documented!r}, answered {real!r}"]
    if isinstance(documented, dict):
        return _object_mismatches(documented, real, where, in_list=in_list)
    if isinstance(documented, list) and documented and real:
        return shape_mismatches(documented[0], real[0], f"{where}[0]", in_list=True)
    if isinstance(documented, bool) and not in_list and documented != real:
        return [f"{where}: documented {documented!r}, answered {real!r}"]
    return []


def _object_mismatches(
    documented: dict[str, Any], real: dict[str, Any], where: str, *, in_list: bool
) -> list[str]:
    problems: list[str] = []
    shown = {key: value for key, value in documented.items() if key != MORE}
    missing = sorted(set(shown) - set(real))
    if missing:
        problems.append(f"{where}: documented but not answered: {missing}")
    extra = sorted(set(real) - set(shown))
    if extra and MORE not in documented:
        problems.append(f"{where}: answered but not documented: {extra}")
    for key in sorted(set(shown) & set(real)):
        value = shown[key]
        fixed = key in FIXED and not in_list and not isinstance(value, dict | list)
        if fixed and value != real[key]:
            problems.append(f"{where}.{key}: documented {value!r}, answered {real[key]!r}")
        problems.extend(shape_mismatches(value, real[key], f"{where}.{key}", in_list=in_list))
    return problems
