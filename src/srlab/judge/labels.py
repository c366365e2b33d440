"""Human-labelled responses: the calibration sets judges are measured against.

A labels file is JSONL with ``prompt``, ``response`` (optionally ``id``, ``reasoning``,
``category``) and a label field. Instead of ``prompt`` a row may name ``benchmark`` and
``sample_id``: the prompt is then read from that benchmark's data, so labelled responses to a
benchmark can be shared without copying the benchmark into the labels file. Labels are booleans in the judge's own sense (True = what the
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

from pydantic import BaseModel, ConfigDict, Field

from srlab.benchmarks.files import read_jsonl_lines
from srlab.errors import DataFormatError
from srlab.schema import Generation, Sample

LABEL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
NULL_WORDS = {"", "null", "none"}


class CalibrationEntry(BaseModel):
    """Human labels for one judge: its measured error is carried into reported intervals.

    ``labels`` is a JSONL of ``prompt`` (or ``benchmark`` + ``sample_id``), ``response`` and a
    label in the judge's own sense (for the refusal judge, True = refused); ``positive`` names
    the label classes that mean True when the file holds classes (e.g. [refusal,
    partial_refusal]); ``where`` keeps matching rows only.
    """

    model_config = ConfigDict(extra="forbid")

    labels: str
    label_field: str = "label"
    positive: list[str] | None = Field(None, min_length=1)
    where: dict[str, Any] = Field(default_factory=dict)


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
    if value is None or isinstance(value, bool):  # booleans mean the same with or without classes
        return value
    if positive is not None:
        if isinstance(value, str) and value.strip().lower() in NULL_WORDS:
            return None
        return str(value) in positive
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


def _benchmark_sample(
    row: dict[str, Any], cache: dict[str, dict[str, Sample]], data_dir: Path | None, path: str, line: int
) -> Sample:
    """The sample a row points at by ``benchmark`` and ``sample_id``, loaded once per benchmark."""
    from srlab.benchmarks import get_benchmark
    from srlab.errors import SrlabError

    name, sample_id = str(row["benchmark"]), row.get("sample_id")
    if not isinstance(sample_id, str):
        raise DataFormatError(path, line, "field 'sample_id' must be a string when 'benchmark' names the prompt")
    if name not in cache:
        try:
            cache[name] = {s.id: s for s in get_benchmark(name).load(data_dir)}
        except SrlabError as exc:
            raise DataFormatError(path, line, f"benchmark {name!r}: {exc}") from exc
    sample = cache[name].get(sample_id)
    if sample is None:
        raise DataFormatError(path, line, f"benchmark {name!r} has no sample {sample_id!r}")
    return sample


def read_labelled(
    path: str | Path,
    label_field: str | None = "label",
    *,
    positive: Collection[str] | None = None,
    where: Mapping[str, Any] | None = None,
    data_dir: Path | None = None,
) -> LabelledSet:
    """Samples and generations from a JSONL of responses, with human labels when ``label_field``.

    ``where`` keeps only rows whose fields equal the given values (e.g. ``{"split": "heldout"}``).
    Every format error names the file and line.
    """
    path = str(path)
    items: list[tuple[Sample, Generation]] = []
    labels: list[bool | None] = []
    required = ("prompt", "response", label_field) if label_field else ("prompt", "response")
    benchmarks: dict[str, dict[str, Sample]] = {}
    classes: set[str] = set()  # label values written as class names, to check ``positive`` against
    for line_no, row in read_jsonl_lines(path):
        if where and any(row.get(key) != value for key, value in where.items()):
            continue
        if not isinstance(row.get("response"), str):
            raise DataFormatError(path, line_no, "field 'response' must be a string")
        if label_field:
            if label_field not in row:
                raise DataFormatError(path, line_no, f"missing field {label_field!r} (fields needed: {', '.join(required)})")
            labels.append(parse_label(row[label_field], path, line_no, label_field, positive))
            if isinstance(row[label_field], str) and row[label_field].strip().lower() not in NULL_WORDS:
                classes.add(row[label_field])
        if "prompt" not in row and "benchmark" in row:
            sample = _benchmark_sample(row, benchmarks, data_dir, path, line_no)
        elif isinstance(row.get("prompt"), str):
            sample = Sample(id=str(row.get("id", line_no)), prompt=row["prompt"], benchmark=Path(path).stem,
                            category=row.get("category"))
        else:
            raise DataFormatError(path, line_no, "field 'prompt' must be a string (or give 'benchmark' and 'sample_id')")
        items.append((sample, _generation(row)))
    if not items:
        detail = f" matching {dict(where)}" if where else ""
        raise DataFormatError(path, None, f"no rows{detail}")
    if label_field and positive is not None and classes and not classes & set(positive):
        raise DataFormatError(
            path, None,
            f"no row's {label_field!r} is one of {sorted(positive)}; the file's classes: {', '.join(sorted(classes))}",
        )
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LabelledSet(path=path, items=items, labels=labels, sha256=sha)
