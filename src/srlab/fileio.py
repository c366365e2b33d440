"""The one JSONL reader and writer, and atomic writes with unique temporary names.

JSONL is split on ``"\\n"`` only: ``str.splitlines`` also splits on U+2028, U+0085 and other
characters that ``json.dumps(..., ensure_ascii=False)`` writes raw inside strings, so a file
srlab wrote could not be read back. Every atomic write goes to a ``tempfile`` in the target's
folder and is renamed over the target, so two writers of one file never share a temporary.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from srlab.errors import DataFormatError, MissingDataError

__all__ = [
    "atomic_open",
    "dumps_jsonl_line",
    "iter_jsonl_text",
    "read_jsonl_lines",
    "read_text",
    "write_bytes_atomic",
    "write_jsonl",
    "write_text_atomic",
]


def dumps_jsonl_line(row: Any) -> str:
    """One JSONL line, newline included. Non-ASCII stays readable; ``\\n`` inside is escaped by JSON."""
    return json.dumps(row, ensure_ascii=False) + "\n"


def iter_jsonl_text(text: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line)`` for each line of ``text``, split on ``"\\n"`` only."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def read_text(path: str | Path) -> str:
    """A UTF-8 text file (a BOM from spreadsheet exports is dropped); named errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"data file {path} not found")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise DataFormatError(path, None, f"cannot read: {exc.strerror or exc}") from None


def read_jsonl_lines(path: str | Path) -> list[tuple[int, Any]]:
    """``(1-based line number, parsed value)`` per non-blank line; a bad line names file and line."""
    rows: list[tuple[int, Any]] = []
    for number, line in iter_jsonl_text(read_text(path)):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise DataFormatError(path, number, "invalid JSON: nested too deeply") from None
    return rows


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a unique temporary beside ``path``; on a clean exit it replaces ``path`` at once.

    A killed or failing writer leaves ``path`` as it was and removes its temporary.
    """
    target = Path(path)
    if target.is_dir():  # say so now, naming the target, not the temporary at rename time
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file path", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Write ``rows`` as JSONL atomically; returns how many were written."""
    count = 0
    with atomic_open(path, "w") as handle:
        for row in rows:
            handle.write(dumps_jsonl_line(row))
            count += 1
    return count


def _keep_mode(target: Path, tmp: Path) -> None:
    """mkstemp creates 0600 files; give the result the mode a plain ``open`` would have."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)
