"""Strict readers for JSONL and CSV data files: a malformed row names its file and line."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srlab.errors import DataFormatError
from srlab.fileio import read_jsonl_lines as _read_json_values
from srlab.fileio import read_text as _read_text

Row = dict[str, Any]


def read_jsonl(path: str | Path, required: Sequence[str] = ()) -> list[Row]:
    """One JSON object per line; blank lines are skipped. ``required`` fields must be present."""
    return [row for _, row in read_jsonl_lines(path, required)]


def read_jsonl_lines(path: str | Path, required: Sequence[str] = ()) -> list[tuple[int, Row]]:
    """Like ``read_jsonl`` with each row's 1-based line number, so later checks can name the line."""
    path = Path(path)
    rows: list[tuple[int, Row]] = []
    for line_number, row in _read_json_values(path):  # split on "\n" only: U+2028 stays in strings
        if not isinstance(row, dict):
            raise DataFormatError(
                path, line_number, f"expected a JSON object, got {type(row).__name__}"
            )
        missing = [name for name in required if name not in row]
        if missing:
            raise DataFormatError(
                path,
                line_number,
                f"missing required field {_names(missing)}; present: {', '.join(sorted(row))}",
            )
        rows.append((line_number, row))
    return rows


def read_csv(path: str | Path, required: Sequence[str] = ()) -> list[Row]:
    """A CSV file with a header row. Every row must have exactly as many fields as the header.

    Line numbers are physical lines, so a quoted field spanning lines still points at the
    line where its record starts.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))  # \r and \n only end lines
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError(path, 1, "empty file: expected a header row") from None
    except csv.Error as exc:
        raise DataFormatError(path, 1, f"unreadable header: {exc}") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise DataFormatError(
            path, 1, f"missing required column {_names(missing)}; header: {', '.join(header)}"
        )
    rows: list[Row] = []
    start_line = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataFormatError(path, start_line, f"unreadable CSV row: {exc}") from None
        if fields:  # the csv module yields [] for a blank line
            if len(fields) != len(header):
                raise DataFormatError(
                    path,
                    start_line,
                    f"expected {len(header)} fields ({', '.join(header)}), got {len(fields)}",
                )
            rows.append(dict(zip(header, fields, strict=True)))
        start_line = reader.line_num + 1
    return rows


def read_rows(path: str | Path, required: Sequence[str] = ()) -> list[Row]:
    """JSONL or CSV, chosen by the file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path, required)
    if suffix == ".csv":
        return read_csv(path, required)
    raise DataFormatError(
        path, None, f"unsupported file type {suffix!r}; valid: .jsonl, .ndjson, .csv"
    )


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)
