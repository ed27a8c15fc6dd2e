"""What comes in, checked the same way at every entry (API bodies, query strings, paths,
CSV files).

Ids are positive and fit the database's integer: a path or body id of 2**70 is a 422
naming the field, not an overflow in PostgreSQL.

Text carries no control characters: a newline in a site's name passes into every notice
subject about it and breaks them all; a NUL cannot even be stored.

Two kinds of text field:
- a *line* (names, keys, titles, URLs, query values): no control character at all;
- a *text* (notes, symptoms, remedies, addresses): tab, line feed and carriage return
  are allowed, nothing else.

Control characters are Unicode's Cc: U+0000-U+001F, U+007F and U+0080-U+009F.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, WithJsonSchema

# The largest id of an INTEGER column (ids of BIGINT tables stay far below it).
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _describe(char: str, position: int) -> str:
    name = unicodedata.name(char, None) or {
        "\n": "LINE FEED",
        "\r": "CARRIAGE RETURN",
        "\t": "TAB",
        "\x00": "NUL",
    }.get(char, "control character")
    return f"U+{ord(char):04X} {name.lower()} at character {position + 1}"


def line_problem(value: str) -> str | None:
    """Why ``value`` is not one line of text, or None."""
    found = _LINE_BAD.search(value)
    if found is None:
        return None
    where = _describe(found.group(), found.start())
    return f"contains a control character ({where}); one line of text is expected"


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable free text (tabs and line breaks allowed), or None."""
    found = _TEXT_BAD.search(value)
    if found is None:
        return None
    return f"contains a control character ({_describe(found.group(), found.start())})"


def _check_line(value: str) -> str:
    problem = line_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# Pydantic field types for request bodies; the pattern is declared in the OpenAPI
# document, the check itself gives the readable reason.
Line = Annotated[
    str, AfterValidator(_check_line), Field(json_schema_extra={"pattern": LINE_PATTERN})
]
Text = Annotated[
    str, AfterValidator(_check_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})
]


def _naive(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a time of day is local (HH:MM[:SS]), without a zone or offset")
    return value


# A local time of day ("08:30:00"). JSON Schema's "time" format is RFC 3339's, which
# requires an offset: declared as "partial-time" instead, and an offset is refused.
LocalTime = Annotated[
    time,
    AfterValidator(_naive),
    WithJsonSchema({"type": "string", "format": "partial-time", "example": "08:30:00"}),
]
