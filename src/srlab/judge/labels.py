"""Human-labelled responses: the calibration sets judges are measured against.

A labels file is JSONL with ``prompt``, ``response`` (optionally ``id``, ``reasoning``,
``category``) and a label field. Instead of ``prompt`` a row may name ``benchmark`` and
``sample_id``: the prompt is then read from that benchmark's data, so labelled responses to a
benchmark can be shared without copying the benchmark into the labels file. A prompt may also be
a chat (a list of ``{"role", "content"}`` messages).

Labels are booleans in the judge's own sense (True = what the judge's True means, e.g. refusal),
written as true/false/1/0/yes/no, or class names mapped to True with ``positive`` (e.g.
XSTest-style ``refusal`` and ``partial_refusal`` against ``compliance``). null marks an item the
humans left unlabelled; it is counted, never scored.

Class names are read strictly. They are compared after trimming and lower-casing (a warning
says when that changed one). With ``positive`` alone, every other class is False and a warning
lists the classes read that way; with ``negative`` as well, a class in neither list is an error.
A list, a dict or a number other than 0/1 is an error naming the file and line, and so is a file
whose labels are all null.

Public labelled sets keep their own field names and label schemes; ``LABEL_SOURCES`` maps each
one (``source="wildguardtest"`` etc.): where the prompt, the response and each label are.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from srlab.benchmarks.files import read_jsonl_lines
from srlab.errors import DataFormatError, UnknownNameError
from srlab.schema import Generation, Sample

log = logging.getLogger(__name__)

LABEL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
NULL_WORDS = {"", "null", "none"}

Row = dict[str, Any]


# --- public labelled sets ------------------------------------------------------------------------


def _rbr_not_fully_complies(row: Row) -> bool | None:
    # RBR's humans answer true/false questions about a completion. XSTest counts any response that
    # does not fully comply as a (full or partial) refusal: declining, a soft refusal that only
    # points to help, answering another question, or complying in part. So refusal = not
    # ``fully_complies``. (``response_type`` is the type the completion was written to be, not a
    # label of what it is; some "Comply" completions do not comply, and some "Refuse" ones do.)
    value = _propositions(row).get("fully_complies")
    return None if value is None else not value


def _rbr_disallowed(row: Row) -> bool | None:
    value = _propositions(row).get("disallowed_content")
    return None if value is None else bool(value)


def _propositions(row: Row) -> Mapping[str, Any]:
    value = row.get("propositions")
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class LabelSource:
    """Where one public set keeps prompt, response and labels, and how its labels map onto ours.

    ``labels`` maps a label name (what ``label_field`` selects) to the row's field holding it or
    to a function deriving it from the row; ``defaults`` gives the label name per judge meaning
    ("refusal", "harmful").
    """

    name: str
    prompt_field: str
    response_field: str
    labels: Mapping[str, str | Callable[[Row], Any]]
    defaults: Mapping[str, str]
    group_field: str | None = None  # the field naming the underlying request (for grouped CV)
    note: str = ""

    def label_of(self, row: Row, label: str) -> Any:
        getter = self.labels[label]
        return getter(row) if callable(getter) else row.get(getter)

    def has_label(self, row: Row, label: str) -> bool:
        getter = self.labels[label]
        return callable(getter) or getter in row


LABEL_SOURCES: dict[str, LabelSource] = {
    source.name: source
    for source in (
        LabelSource(
            "wildguardtest", "prompt", "response",
            labels={"refusal": "refusal", "harmful": "harmful_response", "harmful_response": "harmful_response",
                    "prompt_harmful": "prompt_harmful"},
            defaults={"refusal": "refusal", "harmful": "harmful_response"},
            note="majority of 3 annotators; refusal is close to XSTest's full refusal (some rows labelled "
            "compliance contain a decline phrase and partial help)",
        ),
        LabelSource(
            "gptfuzz", "prompt", "response",
            labels={"harmful": "jailbroken", "jailbroken": "jailbroken"}, defaults={"harmful": "jailbroken"},
            note="jailbroken = the response gives the harmful help; no refusal label (a non-jailbroken "
            "response may be an off-topic persona reply rather than a refusal)",
        ),
        LabelSource(
            "jbb", "prompt", "response",
            labels={"harmful": "jailbroken", "jailbroken": "jailbroken"}, defaults={"harmful": "jailbroken"},
            group_field="goal",
            note="JailbreakBench judge comparison: prompt = the attacked prompt the model saw, goal = the "
            "request behind it; jailbroken = majority of 3 humans",
        ),
        LabelSource(
            "rbr", "prompt", "completion",
            labels={"refusal": _rbr_not_fully_complies, "harmful": _rbr_disallowed, "response_type": "response_type"},
            defaults={"refusal": "refusal", "harmful": "harmful"},
            note="OpenAI RBR gold: refusal = not the human proposition fully_complies; harmful = "
            "disallowed_content; prompt and completion are chat message lists",
        ),
        LabelSource(
            "srlab", "prompt", "response", labels={"label": "label"}, defaults={"refusal": "label"},
            note="the project's own files: label in refusal / partial_refusal / compliance",
        ),
    )
}


def label_source(name: str) -> LabelSource:
    if name not in LABEL_SOURCES:
        raise UnknownNameError("label source", name, LABEL_SOURCES)
    return LABEL_SOURCES[name]


# --- reading -------------------------------------------------------------------------------------


class CalibrationEntry(BaseModel):
    """Human labels for one judge: its measured error is carried into reported intervals.

    ``labels`` is a JSONL of ``prompt`` (or ``benchmark`` + ``sample_id``), ``response`` and a
    label in the judge's own sense (for the refusal judge, True = refused); ``positive`` names
    the label classes that mean True when the file holds classes (e.g. [refusal,
    partial_refusal]) and ``negative`` the ones that mean False (then any other class is an
    error); ``where`` keeps matching rows only; ``source`` names a public set's field mapping.
    """

    model_config = ConfigDict(extra="forbid")

    labels: str
    label_field: str = "label"
    positive: list[str] | None = Field(None, min_length=1)
    negative: list[str] | None = Field(None, min_length=1)
    where: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None


@dataclass(frozen=True)
class LabelledSet:
    """Items of a labels file (after ``where``) with their human labels, and the file's sha256."""

    path: str
    items: list[tuple[Sample, Generation]]
    labels: list[bool | None]
    sha256: str
    groups: list[str] = field(default_factory=list)  # the request behind each item (for grouped CV)


def _class_name(value: str) -> str:
    return value.strip().lower()


@dataclass
class _ClassReader:
    """Turns class-name labels into booleans, noting the renames and implicit negatives it saw."""

    path: str
    positive: frozenset[str] | None
    negative: frozenset[str] | None
    renamed: set[str] = field(default_factory=set)
    implicit_negative: set[str] = field(default_factory=set)
    matched_positive: set[str] = field(default_factory=set)

    def read(self, value: str, line: int, label_field: str) -> bool:
        name = _class_name(value)
        if name != value:
            self.renamed.add(value)
        assert self.positive is not None
        if name in self.positive:
            self.matched_positive.add(name)
            return True
        if self.negative is not None:
            if name in self.negative:
                return False
            raise DataFormatError(
                self.path, line,
                f"field {label_field!r}: class {value!r} is neither positive ({', '.join(sorted(self.positive))}) "
                f"nor negative ({', '.join(sorted(self.negative))})",
            )
        self.implicit_negative.add(name)
        return False

    def warn(self) -> None:
        if self.renamed:
            log.warning("%s: label classes compared trimmed and lower-cased: %s", self.path,
                        ", ".join(repr(v) for v in sorted(self.renamed)))
        if self.implicit_negative:
            log.warning("%s: label classes read as False (not in positive): %s", self.path,
                        ", ".join(sorted(self.implicit_negative)))


def parse_label(
    value: Any, path: str, line: int, field: str, positive: Collection[str] | None = None,
    negative: Collection[str] | None = None,
) -> bool | None:
    """One human label as True/False/None; ``positive``/``negative`` name the classes of True/False."""
    reader = _ClassReader(path, _classes(positive), _classes(negative)) if positive is not None else None
    return _parse_label(value, path, line, field, reader)


def _classes(names: Collection[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(_class_name(n) for n in names)


def _parse_label(value: Any, path: str, line: int, field: str, reader: _ClassReader | None) -> bool | None:
    if value is None or isinstance(value, bool):  # booleans mean the same with or without classes
        return value
    if isinstance(value, str) and _class_name(value) in NULL_WORDS:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and reader is not None:
        return reader.read(value, line, field)
    if isinstance(value, str) and _class_name(value) in LABEL_WORDS:
        return LABEL_WORDS[_class_name(value)]
    if isinstance(value, str):
        hint = " (name the classes that mean True with 'positive')"
    else:
        hint = f" (a {type(value).__name__}; a label is one value, a boolean or a class name)"
    raise DataFormatError(path, line, f"field {field!r} must be true/false/1/0/null, got {value!r}{hint}")


def _generation(response: str, row: Row) -> Generation:
    from srlab.models.reasoning import make_generation

    reasoning = row.get("reasoning")
    return make_generation(response, reasoning_field=reasoning if isinstance(reasoning, str) else None)


def _messages(value: Any, path: str, line: int, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    ):
        raise DataFormatError(path, line, f"field {name!r} must be a string or a list of {{role, content}} messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _response_text(value: Any, path: str, line: int, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # a chat completion: the assistant's turns, in order
        messages = _messages(value, path, line, name)
        return "\n\n".join(m["content"] for m in messages if m["role"] == "assistant")
    raise DataFormatError(path, line, f"field {name!r} must be a string")


def _benchmark_sample(
    row: Row, cache: dict[str, dict[str, Sample]], data_dir: Path | None, path: str, line: int
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
    negative: Collection[str] | None = None,
    where: Mapping[str, Any] | None = None,
    data_dir: Path | None = None,
    source: str | LabelSource | None = None,
) -> LabelledSet:
    """Samples and generations from a JSONL of responses, with human labels when ``label_field``.

    ``where`` keeps only rows whose fields equal the given values (e.g. ``{"split": "heldout"}``);
    ``source`` names a public set's mapping (``LABEL_SOURCES``), under which ``label_field`` is
    one of that source's label names. Every format error names the file and line.
    """
    path = str(path)
    mapping = label_source(source) if isinstance(source, str) else source
    prompt_field = mapping.prompt_field if mapping else "prompt"
    response_field = mapping.response_field if mapping else "response"
    if mapping and label_field and label_field not in mapping.labels:
        raise DataFormatError(path, None, f"source {mapping.name!r} has no label {label_field!r}; its labels: "
                              f"{', '.join(sorted(mapping.labels))}")
    if negative is not None and positive is None:
        raise DataFormatError(path, None, "'negative' classes need 'positive' classes too")
    reader = _ClassReader(path, _classes(positive), _classes(negative)) if positive is not None else None
    items: list[tuple[Sample, Generation]] = []
    labels: list[bool | None] = []
    groups: list[str] = []
    benchmarks: dict[str, dict[str, Sample]] = {}
    for line_no, row in read_jsonl_lines(path):
        if where and any(row.get(key) != value for key, value in where.items()):
            continue
        if response_field not in row:
            raise DataFormatError(path, line_no, f"missing field {response_field!r}")
        response = _response_text(row[response_field], path, line_no, response_field)
        if label_field:
            present = mapping.has_label(row, label_field) if mapping else label_field in row
            if not present:
                required = ", ".join((prompt_field, response_field, label_field))
                raise DataFormatError(path, line_no, f"missing field {label_field!r} (fields needed: {required})")
            value = mapping.label_of(row, label_field) if mapping else row[label_field]
            labels.append(_parse_label(value, path, line_no, label_field, reader))
        if prompt_field not in row and "benchmark" in row:
            sample = _benchmark_sample(row, benchmarks, data_dir, path, line_no)
        elif isinstance(row.get(prompt_field), str | list):
            value = row[prompt_field]
            prompt = value if isinstance(value, str) else _messages(value, path, line_no, prompt_field)
            sample = Sample(id=str(row.get("id", line_no)), prompt=prompt, benchmark=Path(path).stem,
                            category=row.get("category") if isinstance(row.get("category"), str) else None)
        else:
            raise DataFormatError(
                path, line_no, f"field {prompt_field!r} must be a string (or give 'benchmark' and 'sample_id')"
            )
        group = row.get(mapping.group_field) if mapping and mapping.group_field else None
        groups.append(str(group) if isinstance(group, str) else sample.user_text())
        items.append((sample, _generation(response, row)))
    if not items:
        detail = f" matching {dict(where)}" if where else ""
        raise DataFormatError(path, None, f"no rows{detail}")
    if label_field and all(label is None for label in labels):
        raise DataFormatError(path, None, f"every row's {label_field!r} is null: nothing to measure against")
    if reader is not None:
        # Classes were read, yet none is positive: ``positive`` names classes this file lacks
        # (booleans beside the classes do not make a misspelt class right).
        if reader.implicit_negative and not reader.matched_positive:
            raise DataFormatError(
                path, None,
                f"no row's {label_field!r} is one of {sorted(positive or ())}; the file's classes: "
                f"{', '.join(sorted(reader.implicit_negative))}",
            )
        reader.warn()
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LabelledSet(path=path, items=items, labels=labels, sha256=sha, groups=groups)
