"""Text rules for every free-text input: one place, used by the API, the pages and the CLI.

A line of text (a name, a summary, a code) holds no control characters; a multi-line text
(details, reasons) may hold line breaks and tabs (a form's CRLF reads as LF). No text holds
bidirectional override, embedding or isolate characters (they make a name read otherwise
than it is stored), and no text is only blanks and zero-width characters. A handle is
letters, digits and ``. _ -``, starting with a letter or digit: never a path.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

# C0 controls, DEL and C1 controls.
_CONTROL = frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
_LINE_BREAKS = frozenset("\n\t")
# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Characters that show nothing: zero-width space, (non-)joiner, word joiner, BOM.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")

HANDLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
HANDLE_RULE = (
    "a handle is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
)
_HANDLE = re.compile(HANDLE_PATTERN)


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is not acceptable text (None when it is)."""
    allowed = _LINE_BREAKS if multiline else frozenset()
    for char in value:
        if char in _CONTROL and char not in allowed:
            return f"must not contain control characters (U+{ord(char):04X})"
        if char in _BIDI:
            return f"must not contain bidirectional control characters (U+{ord(char):04X})"
    if all(char.isspace() or char in _INVISIBLE for char in value):
        return "must not be blank or only invisible characters"
    return None


def handle_problem(value: str) -> str | None:
    """Why ``value`` is not a handle (None when it is)."""
    return None if _HANDLE.fullmatch(value) else HANDLE_RULE


def _line(value: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _lines(value: str) -> str:
    if (problem := text_problem(value, multiline=True)) is not None:
        raise ValueError(problem)
    return value


def _handle(value: str) -> str:
    if (problem := handle_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _unix_newlines(value: object) -> object:
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _optional_lines(value: str) -> str:
    return _lines(value) if value else value


# Annotated metadata: put SingleLine or MultiLine after the StringConstraints, and
# UnixNewlines before them in a multi-line type.
SingleLine = AfterValidator(_line)
MultiLine = AfterValidator(_lines)
OptionalLines = AfterValidator(_optional_lines)  # "" allowed (an optional comment)
UnixNewlines = BeforeValidator(_unix_newlines)

Handle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_handle),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
