"""Human-labelled responses: the calibration sets judges are measured against.

A labels file is JSONL with ``prompt``, ``response`` (optionally ``id``, ``reasoning``,
``category``) and a label field. Labels are booleans in the judge's own sense (True = what the
judge's True means, e.g. refusal), written as true/false/1/0/yes/no, or class names mapped to
True with ``positive`` (e.g. XSTest-style ``refusal`` and ``partial_refusal`` against
``compliance``). null marks an item the humans left unlabelled; it is counted, never scored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srlab.benchmarks.files import read_jsonl_lines
from srlab.errors import DataFormatError
from srlab.schema import Generation, Sample

LABEL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
NULL_WORDS = {"", "null", "none"}


@dataclass(frozen=True)
class LabelledSet:
    """Items of a labels file (after ``where``) with their human labels, and the file's sha256."""

    path: str
    items: list[tuple[Sample, Generation]]
    labels: list[bool | None]
    sha256: str


def parse_label(
    value: Any, path: str, line: int, field: str, positive: Collection[str] | None = None
) -> bool | None:
    """One human label as True/False/None; ``positive`` names the class values that mean True."""
    if value is None:
        return None
    if positive is not None:
        if isinstance(value, str) and value.strip().lower() in NULL_WORDS:
            return None
        return str(value) in positive
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in LABEL_WORDS:
        return LABEL_WORDS[value.strip().lower()]
    if isinstance(value, str) and value.strip().lower() in NULL_WORDS:
        return None
    raise DataFormatError(
        path, line,
        f"field {field!r} must be true/false/1/0/null, got {value!r} (name the classes that mean True with 'positive')",
    )


def _generation(row: dict[str, Any]) -> Generation:
    from srlab.models.reasoning import make_generation

    reasoning = row.get("reasoning")
    return make_generation(row["response"], reasoning_field=reasoning if isinstance(reasoning, str) else None)


def read_labelled(
    path: str | Path,
    label_field: str | None = "label",
    *,
    positive: Collection[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> LabelledSet:
    """Samples and generations from a JSONL of responses, with human labels when ``label_field``.

    ``where`` keeps only rows whose fields equal the given values (e.g. ``{"split": "heldout"}``).
    Every format error names the file and line.
    """
    path = str(path)
    items: list[tuple[Sample, Generation]] = []
    labels: list[bool | None] = []
    required = ("prompt", "response", label_field) if label_field else ("prompt", "response")
    for line_no, row in read_jsonl_lines(path):
        if where and any(row.get(key) != value for key, value in where.items()):
            continue
        for name in ("prompt", "response"):
            if not isinstance(row.get(name), str):
                raise DataFormatError(path, line_no, f"field {name!r} must be a string")
        if label_field:
            if label_field not in row:
                raise DataFormatError(path, line_no, f"missing field {label_field!r} (fields needed: {', '.join(required)})")
            labels.append(parse_label(row[label_field], path, line_no, label_field, positive))
        sample = Sample(id=str(row.get("id", line_no)), prompt=row["prompt"], benchmark=Path(path).stem,
                        category=row.get("category"))
        items.append((sample, _generation(row)))
    if not items:
        detail = f" matching {dict(where)}" if where else ""
        raise DataFormatError(path, None, f"no rows{detail}")
    if label_field and positive is not None and not any(labels):
        raise DataFormatError(
            path, None, f"no row's {label_field!r} is one of {sorted(positive)}: check 'positive' against the file's classes"
        )
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LabelledSet(path=path, items=items, labels=labels, sha256=sha)
