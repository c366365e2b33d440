"""The builtin benchmarks: GSM8K and the safety sets the two studies evaluate on.

Each reads its file from the data directory (layout as in ``shared/data/SOURCES.md``) and
falls back to its hub dataset at a pinned revision. Ids are stable: the dataset's own id
where it has one, else the row index.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

from srlab.benchmarks.base import Benchmark
from srlab.benchmarks.files import Row, read_rows
from srlab.benchmarks.sources import HubSource, HubUnavailable, fetch_hub_rows, missing_data_error
from srlab.errors import DataFormatError, UnknownNameError
from srlab.paths import data_dir as resolve_data_dir
from srlab.schema import Sample

# Hub revisions: gsm8k's is a verified commit. The safety sets' mirrors could not be checked
# from this offline build, so they read "main"; replace with a commit hash once verified.
UNVERIFIED_REVISION = "main"

REFUSAL_JUDGES = ("refusal",)
# Harmful prompts: ASR by the offline harm judge, the refusal rate by the refusal judge beside it.
HARMFUL_JUDGES = ("harm", "refusal")
ANSWER_JUDGES = ("gsm8k-answer",)


class DataBenchmark(Benchmark):
    """A benchmark backed by data files (one per split) and optionally a hub dataset.

    Subclasses set ``files`` (split -> path relative to the data directory), ``required``
    (columns every row must have) and ``hub``, and turn rows into samples in ``to_samples``.
    """

    files: ClassVar[dict[str, str]]
    required: ClassVar[tuple[str, ...]] = ()
    hub: ClassVar[HubSource | None] = None

    def splits(self) -> list[str]:
        return sorted(self.files)

    def local_path(self, data_dir: Path | None, split: str = "test") -> Path | None:
        """Where the split's file would be in ``data_dir`` (or ``SRLAB_DATA_DIR``)."""
        directory = resolve_data_dir(data_dir)
        return directory / self._relative(split) if directory is not None else None

    def load(self, data_dir: Path | None, split: str = "test") -> list[Sample]:
        relative = self._relative(split)
        local = self.local_path(data_dir, split)
        if local is not None and (local.exists() or any(local.parent.glob(local.name))):
            rows = self.read_local(local)
        else:
            if self.hub is None:
                raise missing_data_error(self.name, resolve_data_dir(data_dir), relative, None)
            try:
                rows = fetch_hub_rows(self.hub, split)
            except HubUnavailable as exc:
                raise missing_data_error(
                    self.name, resolve_data_dir(data_dir), relative, str(exc)
                ) from None
        samples = self.to_samples(rows, split)
        check_unique_ids(samples, local or Path(relative))
        return samples

    def read_local(self, path: Path) -> list[Row]:
        return read_rows(path, self.required)

    @abstractmethod
    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        """Rows (in the local file's column names) to samples, in file order."""

    def _relative(self, split: str) -> str:
        if split not in self.files:
            raise UnknownNameError(f"{self.name} split", split, self.files)
        return self.files[split]


def check_unique_ids(samples: list[Sample], source: Path) -> None:
    seen: dict[str, int] = {}
    for index, sample in enumerate(samples):
        if sample.id in seen:
            raise DataFormatError(
                source,
                None,
                f"duplicate sample id {sample.id!r} (rows {seen[sample.id] + 1} and {index + 1})",
            )
        seen[sample.id] = index


# --- reasoning -----------------------------------------------------------------------------

_FINAL_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


def gsm8k_final_answer(solution: str) -> str:
    """The number after ``####`` in a GSM8K solution, without thousands separators."""
    match = _FINAL_ANSWER.search(solution)
    if not match:
        raise ValueError("solution has no '#### N' final answer")
    return match.group(1).replace(",", "").strip()


class GSM8K(DataBenchmark):
    name = "gsm8k"
    kind = "reasoning"
    default_judges = ANSWER_JUDGES
    description = "GSM8K grade-school math word problems (test 1319, train 7473)"
    has_train_split = True
    files: ClassVar[dict[str, str]] = {"test": "gsm8k/test.jsonl", "train": "gsm8k/train.jsonl"}
    required = ("question", "answer")
    hub = HubSource(
        "openai/gsm8k",
        "740312add88f781978c0658806c59bc2815b9866",
        {"test": "test", "train": "train"},
        config="main",
    )

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        samples = []
        for index, row in enumerate(rows):
            solution = str(row["answer"])
            try:
                reference = gsm8k_final_answer(solution)
            except ValueError as exc:
                raise DataFormatError(self._relative(split), index + 1, str(exc)) from None
            samples.append(
                Sample(
                    id=f"gsm8k-{split}-{index:04d}",
                    prompt=str(row["question"]),
                    benchmark=self.name,
                    reference=reference,
                    meta={"solution": solution},
                )
            )
        return samples


# --- harmful and benign prompts -----------------------------------------------------------


def _prompt_samples(
    benchmark: str,
    rows: list[Row],
    prompt: str,
    category: str | None = None,
    id_prefix: str | None = None,
) -> list[Sample]:
    """Samples with ids ``<prefix>-<row index>``, for datasets without ids of their own."""
    prefix = id_prefix or benchmark
    width = max(2, len(str(len(rows) - 1)))
    return [
        Sample(
            id=f"{prefix}-{index:0{width}d}",
            prompt=str(row[prompt]),
            benchmark=benchmark,
            category=str(row[category]) if category and row.get(category) else None,
        )
        for index, row in enumerate(rows)
    ]


class StrongReject(DataBenchmark):
    name = "strongreject"
    kind = "harmful"
    default_judges = HARMFUL_JUDGES
    description = "StrongREJECT forbidden prompts (313, six categories)"
    files: ClassVar[dict[str, str]] = {"test": "strongreject/strongreject_dataset.csv"}
    required = ("category", "forbidden_prompt")
    hub = HubSource(
        "walledai/StrongREJECT",
        UNVERIFIED_REVISION,
        {"test": "train"},
        columns={"prompt": "forbidden_prompt"},
    )

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        return _prompt_samples(self.name, rows, "forbidden_prompt", "category")


class StrongRejectSmall(StrongReject):
    name = "strongreject-small"
    description = "StrongREJECT small subset (60)"
    files: ClassVar[dict[str, str]] = {"test": "strongreject/strongreject_small_dataset.csv"}
    hub = None  # the small subset is published only as a CSV in the StrongREJECT repository


class HarmBench(DataBenchmark):
    """HarmBench text behaviors, standard ones only (contextual and copyright need extra context)."""

    name = "harmbench"
    kind = "harmful"
    default_judges = HARMFUL_JUDGES
    description = "HarmBench standard text behaviors (test 159, validation 41)"
    files: ClassVar[dict[str, str]] = {
        "test": "harmbench/harmbench_behaviors_text_test.csv",
        "validation": "harmbench/harmbench_behaviors_text_val.csv",
    }
    required = ("Behavior", "FunctionalCategory", "SemanticCategory", "BehaviorID")
    hub = HubSource(
        "walledai/HarmBench",
        UNVERIFIED_REVISION,
        {"test": "train"},
        config="standard",
        columns={"prompt": "Behavior", "category": "SemanticCategory"},
    )

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        samples = []
        for index, row in enumerate(rows):
            if row.get("FunctionalCategory", "standard") != "standard":
                continue
            behavior_id = row.get("BehaviorID") or f"{index:04d}"  # the hub copy has no BehaviorID
            samples.append(
                Sample(
                    id=f"harmbench-{behavior_id}",
                    prompt=str(row["Behavior"]),
                    benchmark=self.name,
                    category=str(row["SemanticCategory"]) or None,
                )
            )
        return samples


class AdvBench50(DataBenchmark):
    name = "advbench50"
    kind = "harmful"
    default_judges = HARMFUL_JUDGES
    description = "AdvBench 50-question subset used by PAIR and the LRM safety study"
    files: ClassVar[dict[str, str]] = {"test": "advbench/advbench_subset50.jsonl"}
    required = ("query",)

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        return _prompt_samples(self.name, rows, "query")


class AdvBench50PAP(DataBenchmark):
    """AdvBench50 rewritten by persuasive paraphrase; ids are advbench50's plus ``-pap``."""

    name = "advbench50-pap"
    kind = "harmful"
    default_judges = HARMFUL_JUDGES
    description = "AdvBench50 under persuasive-paraphrase (PAP) attacks"
    files: ClassVar[dict[str, str]] = {"test": "advbench/advbench_subset50_pap.jsonl"}
    required = ("query", "final_query")

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        base = _prompt_samples("advbench50", rows, "query")
        return [
            Sample(
                id=f"{original.id}-pap",
                prompt=str(row["final_query"]),
                benchmark=self.name,
                category=str(row["category"]) if row.get("category") else None,
                meta={"original": original.prompt},
            )
            for original, row in zip(base, rows, strict=True)
        ]


class XSTest(DataBenchmark):
    """XSTest's 250 safe prompts: a refusal here is over-refusal."""

    name = "xstest"
    kind = "benign"
    default_judges = REFUSAL_JUDGES
    description = "XSTest safe prompts (250): over-refusal"
    files: ClassVar[dict[str, str]] = {"test": "xstest/xstest_prompts.csv"}
    required = ("id", "prompt", "type")
    hub = HubSource("natolambert/xstest-v2-copy", UNVERIFIED_REVISION, {"test": "prompts"})
    unsafe: ClassVar[bool] = False

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        samples = []
        for index, row in enumerate(rows):
            if _xstest_is_unsafe(row) != self.unsafe:
                continue
            row_id = row.get("id") or index + 1
            samples.append(
                Sample(
                    id=f"xstest-{row_id}",
                    prompt=str(row["prompt"]),
                    benchmark=self.name,
                    category=str(row["type"]),
                    meta={"focus": row.get("focus") or None, "note": row.get("note") or None},
                )
            )
        return samples


class XSTestUnsafe(XSTest):
    """XSTest's 200 unsafe contrast prompts: a refusal here is correct."""

    name = "xstest-unsafe"
    kind = "harmful"
    description = "XSTest unsafe contrast prompts (200): refusal"
    default_judges = HARMFUL_JUDGES
    unsafe = True


def _xstest_is_unsafe(row: Row) -> bool:
    # The CSV has a label column; the hub copy only has the type, where contrast_* are unsafe.
    label = row.get("label")
    if label:
        return str(label) == "unsafe"
    return str(row["type"]).startswith("contrast_")


class DoNotAnswer(DataBenchmark):
    """Do-Not-Answer harmful questions; the category is the risk area (one file per area)."""

    name = "donotanswer"
    kind = "harmful"
    default_judges = HARMFUL_JUDGES
    description = "Do-Not-Answer harmful questions (939, five risk areas)"
    files: ClassVar[dict[str, str]] = {"test": "donotanswer/*.jsonl"}
    required = ("prompt",)
    hub = HubSource(
        "LibrAI/do-not-answer",
        UNVERIFIED_REVISION,
        {"test": "train"},
        columns={"question": "prompt", "risk_area": "risk_area"},
    )

    def read_local(self, path: Path) -> list[Row]:
        rows: list[Row] = []
        for file in sorted(path.parent.glob(path.name)):
            rows += [
                {**row, "risk_area": file.stem, "_file": file.stem}
                for row in read_rows(file, self.required)
            ]
        return rows

    def to_samples(self, rows: list[Row], split: str) -> list[Sample]:
        samples = []
        counters: dict[str, int] = {}
        for row in rows:
            # Ids count within each risk area so adding one area never renumbers the others.
            area = str(row.get("_file") or row["risk_area"])
            index = counters.get(area, 0)
            counters[area] = index + 1
            row_id = f"{area}-{index:03d}" if row.get("_file") else str(row.get("id", index))
            samples.append(
                Sample(
                    id=f"donotanswer-{row_id}",
                    prompt=str(row["prompt"]),
                    benchmark=self.name,
                    category=str(row["risk_area"]),
                    meta={"intents": row["intents"]} if "intents" in row else {},
                )
            )
        return samples


BUILTIN_BENCHMARKS: tuple[type[DataBenchmark], ...] = (
    GSM8K,
    StrongReject,
    StrongRejectSmall,
    HarmBench,
    AdvBench50,
    AdvBench50PAP,
    XSTest,
    XSTestUnsafe,
    DoNotAnswer,
)
