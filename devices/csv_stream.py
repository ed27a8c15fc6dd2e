"""Reading an uploaded CSV file as a stream, in chunks of a megabyte, so that memory does not
grow with the file: what Excel, Windows and Python's ``csv`` module write (RFC 4180) and
what COPY then reads without surprises.

- A UTF-8 byte order mark is dropped. Every other byte is checked as UTF-8 on the way (a
  NUL or a malformed byte is reported with its line and character).
- Line ends are made uniform: CRLF and a lone CR become LF, inside quoted fields too
  (COPY refuses a file that mixes them). Quoted fields may span lines.
- The delimiter is a comma, or a semicolon as Excel writes CSV under European locales:
  whichever makes more of the format's columns appear in the header row.
- Trailing blank lines and whitespace at the very end are dropped.

The file must be seekable (an upload spooled to disk, a file on disk, bytes in memory):
when something is wrong, it is read again to report every bad row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from core.errors import ImportRejected

CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";")
_TRAILING = b"\r\n\t "


@dataclass(frozen=True)
class CsvFile:
    """A checked file: its header (lower-cased, trimmed) and delimiter."""

    source: BinaryIO
    filename: str
    header: list[str]
    delimiter: str

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes as COPY takes them (from the start, header row included):
        UTF-8 checked, line ends uniform, no BOM, no trailing blank lines."""
        self.source.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        line, column = 1, 1
        carry = b""
        pending_cr = False
        first = True
        while True:
            block = self.source.read(CHUNK)
            final = not block
            if first:
                block = block.removeprefix(BOM)
                first = False
            _check_utf8(decoder, block, final, line, column, self.filename)
            line, column = _advance(block, line, column)
            if pending_cr and block.startswith(b"\n"):
                block = block[1:]
            pending_cr = block.endswith(b"\r")
            block = carry + block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if final:
                if block.rstrip(_TRAILING):
                    yield block.rstrip(_TRAILING)
                return
            # Hold back trailing whitespace: it is only data if something follows it.
            kept = block.rstrip(_TRAILING)
            carry = block[len(kept) :]
            if kept:
                yield kept

    def lines(self) -> io.TextIOWrapper:
        """The file again as text for Python's csv reader (line ends left to it); closing
        it leaves the source open."""
        self.source.seek(0)
        buffered = io.BufferedReader(_Unclosable(self.source), CHUNK)
        return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")

    def records(self, *, strict: bool = False) -> Iterator[tuple[int, list[str]]]:
        """Each record after the header with the line it starts on, from Python's csv
        reader (lenient, as Excel is, unless ``strict``)."""
        reader = csv.reader(self.lines(), delimiter=self.delimiter, strict=strict)
        next(reader, None)
        start = reader.line_num + 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1

    def record_lines(self, wanted: set[int]) -> dict[int, int]:
        """The line each wanted record (1-based) starts on: quoted fields span lines."""
        lines: dict[int, int] = {}
        for number, (start, _) in enumerate(self.records(), start=1):
            if number in wanted:
                lines[number] = start
                if len(lines) == len(wanted):
                    break
        return lines

    def misshapen_records(self, *, strict: bool = False) -> Iterator[tuple[int, str]]:
        """(line, reason) for each record without as many fields as the header, and for
        a malformed one (which ends the reading)."""
        width = len(self.header)
        reader = csv.reader(self.lines(), delimiter=self.delimiter, strict=strict)
        next(reader, None)
        start = reader.line_num + 1
        try:
            for row in reader:
                if len(row) != width:
                    found = "a blank line" if not row else f"{len(row)} fields"
                    yield start, f"expected {width} fields, found {found}"
                start = reader.line_num + 1
        except csv.Error as exc:
            yield start, f"malformed CSV: {exc}"


class _Unclosable(io.RawIOBase):
    """A view of the source that the text reader may close without closing the source."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _advance(block: bytes, line: int, column: int) -> tuple[int, int]:
    newlines = block.count(b"\n") + block.replace(b"\r\n", b"").count(b"\r")
    if not newlines:
        return line, column + len(block)
    last = max(block.rfind(b"\n"), block.rfind(b"\r"))
    return line + newlines, len(block) - last


def _check_utf8(
    decoder: codecs.IncrementalDecoder,
    block: bytes,
    final: bool,
    line: int,
    column: int,
    filename: str,
) -> None:
    nul = block.find(b"\x00")
    bad_at = nul
    try:
        decoder.decode(block, final)
    except UnicodeDecodeError as exc:
        start = max(0, exc.start - len(exc.object) + len(block))
        bad_at = start if nul < 0 else min(nul, start)
    if bad_at < 0:
        return
    before = block[:bad_at]
    bad_line, bad_column = _advance(before, line, column)
    raise ImportRejected(
        {
            "file": filename,
            "message": f"not UTF-8 text: byte {block[bad_at]:#04x} at line {bad_line}, "
            f"character {bad_column} (save the file as UTF-8)",
            "errors": [{"line": bad_line, "column": None, "reason": "invalid UTF-8 byte"}],
        }
    )


def open_csv(source: BinaryIO, filename: str, known_columns: tuple[str, ...]) -> CsvFile:
    """Read the header row and choose the delimiter; ImportRejected for an empty file or
    one without a header line."""
    source.seek(0)
    head = source.read(CHUNK).removeprefix(BOM)
    if not head.strip():
        raise ImportRejected({"file": filename, "message": "the file is empty"})
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=len(head))
    first_line = head[:end].decode("utf-8", errors="replace")
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        header = [h.strip().lower() for h in next(csv.reader([first_line], delimiter=delimiter))]
        known = sum(1 for h in header if h in known_columns)
        if best is None or known > best[0]:
            best = (known, delimiter, header)
    assert best is not None
    return CsvFile(source=source, filename=filename, header=best[2], delimiter=best[1])
