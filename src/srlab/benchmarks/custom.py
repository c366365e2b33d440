"""User benchmarks from a JSONL or CSV file with a field mapping, in code or from YAML.

```yaml
name: my-harmful
path: my_prompts.csv          # relative to this YAML file, else to the data directory
kind: harmful                 # reasoning | harmful | benign
fields: {prompt: text, category: topic, id: uid}
judges: [refusal]             # optional; default by kind
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from srlab.benchmarks.base import Benchmark
from srlab.benchmarks.builtin import ANSWER_JUDGES, HARMFUL_JUDGES, REFUSAL_JUDGES, check_unique_ids
from srlab.benchmarks.files import read_rows
from srlab.benchmarks.sources import missing_data_error
from srlab.config_files import read_yaml_mapping, validate
from srlab.errors import DataFormatError, SrlabError, UnknownNameError
from srlab.paths import data_dir as resolve_data_dir
from srlab.schema import BenchmarkKind, Sample

FIELD_KEYS = ("prompt", "reference", "category", "id")


class FileBenchmark(Benchmark):
    """Samples from one file per split; ``field_map`` maps sample fields to the file's columns.

    ``prompt`` is required in the map; ``reference``, ``category`` and ``id`` are optional
    (ids default to ``<name>-<row index>``). Unmapped columns go into ``meta``.
    """

    def __init__(
        self,
        name: str,
        path: str | Path,
        kind: BenchmarkKind,
        field_map: Mapping[str, str] | None = None,
        judges: Sequence[str] | None = None,
        train_path: str | Path | None = None,
        description: str = "",
    ) -> None:
        field_map = dict(field_map or {"prompt": "prompt"})
        unknown = sorted(set(field_map) - set(FIELD_KEYS))
        if unknown:
            raise UnknownNameError("field_map key", unknown[0], FIELD_KEYS)
        if "prompt" not in field_map:
            raise SrlabError(
                f"benchmark {name!r}: field_map must name the prompt column, e.g. {{'prompt': 'question'}}"
            )
        if kind not in ("reasoning", "harmful", "benign"):
            raise UnknownNameError("benchmark kind", kind, ("reasoning", "harmful", "benign"))
        if kind == "reasoning" and "reference" not in field_map:
            raise SrlabError(
                f"benchmark {name!r}: a reasoning benchmark needs a 'reference' column in field_map"
            )
        self.name = name
        self.kind = kind
        self.field_map = field_map
        self.default_judges = (
            tuple(judges) if judges else
            {"reasoning": ANSWER_JUDGES, "harmful": HARMFUL_JUDGES, "benign": REFUSAL_JUDGES}[kind]
        )
        self.files = {"test": Path(path)} | (
            {"train": Path(train_path)} if train_path is not None else {}
        )
        self.has_train_split = train_path is not None
        self.description = description or f"user benchmark from {Path(path).name}"

    def splits(self) -> list[str]:
        return sorted(self.files)

    def local_path(self, data_dir: Path | None, split: str = "test") -> Path | None:
        """The file as given if it exists (absolute or relative to the working directory), else under the data directory."""
        if split not in self.files:
            raise UnknownNameError(f"{self.name} split", split, self.files)
        path = self.files[split]
        if path.is_absolute() or path.exists():
            return path
        directory = resolve_data_dir(data_dir)
        return directory / path if directory is not None else None

    def load(self, data_dir: Path | None = None, split: str = "test") -> list[Sample]:
        path = self.local_path(data_dir, split)
        if path is None or not path.is_file():
            raise missing_data_error(
                self.name, resolve_data_dir(data_dir), str(self.files[split]), None
            )
        rows = read_rows(path, required=list(self.field_map.values()))
        mapped = set(self.field_map.values())
        samples = []
        for index, row in enumerate(rows):
            prompt = row[self.field_map["prompt"]]
            if not isinstance(prompt, str) or not prompt.strip():
                # Line = row index + 1 for JSONL; CSV rows start after the header line.
                raise DataFormatError(
                    path, None, f"row {index + 1}: empty or non-text {self.field_map['prompt']!r}"
                )
            samples.append(
                Sample(
                    id=self._value(row, "id") or f"{self.name}-{index:04d}",
                    prompt=prompt,
                    benchmark=self.name,
                    category=self._value(row, "category"),
                    reference=self._value(row, "reference"),
                    meta={k: v for k, v in row.items() if k not in mapped},
                )
            )
        check_unique_ids(samples, path)
        return samples

    def _value(self, row: Mapping[str, Any], key: str) -> str | None:
        column = self.field_map.get(key)
        if column is None or row.get(column) in (None, ""):
            return None
        return str(row[column])


class BenchmarkSpec(BaseModel):
    """The YAML form of a FileBenchmark; validation errors name the field."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1)
    path: str
    # A file benchmark has no privacy kind yet: its metrics need each sample's type (private,
    # public, fictional) as its category, which a field map does not check.
    kind: Literal["reasoning", "harmful", "benign"]
    fields: dict[str, str] = Field(default_factory=lambda: {"prompt": "prompt"})
    judges: list[str] | None = None
    train_path: str | None = None
    description: str = ""

    @field_validator("name")
    @classmethod
    def _no_commas(cls, value: str) -> str:
        if "," in value:
            raise ValueError("must not contain ',' (lists of benchmarks are comma-separated)")
        return value


def load_benchmark_spec(spec: str | Path | Mapping[str, Any]) -> FileBenchmark:
    """A FileBenchmark from a dict or a YAML file; relative paths resolve against the YAML's folder."""
    base: Path | None = None
    if isinstance(spec, Mapping):
        raw: Any = dict(spec)
        source = "benchmark spec"
    else:
        yaml_path = Path(spec)
        raw = read_yaml_mapping(yaml_path, "benchmark spec")
        base = yaml_path.parent
        source = str(yaml_path)
    if not isinstance(raw, dict):
        raise SrlabError(f"{source}: expected a mapping with name, path, kind, fields")
    parsed = validate(BenchmarkSpec, raw, source, "benchmark spec")
    return FileBenchmark(
        parsed.name,
        _beside(base, parsed.path),
        parsed.kind,
        parsed.fields,
        parsed.judges,
        train_path=_beside(base, parsed.train_path) if parsed.train_path else None,
        description=parsed.description,
    )


def _beside(base: Path | None, path: str) -> Path:
    candidate = Path(path).expanduser()
    if base is not None and not candidate.is_absolute() and (base / candidate).exists():
        return base / candidate
    return candidate


def register_file_benchmark(
    benchmark: FileBenchmark | str | Path | Mapping[str, Any], *, replace: bool = False
) -> FileBenchmark:
    """Add a FileBenchmark (or a spec for one) to ``BENCHMARKS`` under its name."""
    from srlab.benchmarks import BENCHMARKS  # the registry lives in the package root

    if not isinstance(benchmark, FileBenchmark):
        benchmark = load_benchmark_spec(benchmark)
    if benchmark.name in BENCHMARKS and not replace:
        raise SrlabError(
            f"benchmark {benchmark.name!r} is already registered; pass replace=True to override it"
        )
    instance = benchmark
    BENCHMARKS.register(benchmark.name, lambda: instance)
    return benchmark
