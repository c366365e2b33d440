"""``srlab eval``: one model x benchmarks x one strategy, as a one-cell experiment.

An evaluation goes through the same planner, runner, judges and report as ``srlab run``: its
config becomes an ``ExperimentConfig`` with one untrained variant, and its result is the same
``Report`` the HTML and JSON of an experiment are made from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from srlab.benchmarks import get_benchmark
from srlab.experiment.config import (
    AXES,
    MAX_SAMPLES,
    AttackEntry,
    BenchmarkAxes,
    ExperimentConfig,
    StrategyEntry,
)
from srlab.experiment.runner import run_experiment
from srlab.fileio import write_text_atomic
from srlab.generate.strategies import StrategyConfig
from srlab.hashing import content_hash
from srlab.judge.labels import CalibrationEntry
from srlab.judge.spec import JudgeSpec
from srlab.models import ModelSpec
from srlab.report.model import Report
from srlab.report.tables import CURVE_NOTE, markdown_curves, markdown_table
from srlab.schema import DecodingConfig, ThinkBudget

DEFAULT_STORE = ".srlab/store.sqlite"


class EvalConfig(BaseModel):
    """Everything that determines an evaluation; its hash names the run."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    benchmarks: list[str] = Field(..., min_length=1)
    strategy: str = "cot"
    strategy_config: StrategyConfig = Field(default_factory=StrategyConfig)
    think: ThinkBudget | None = Field(None, description="Think budget of the strategy (srlab eval --think).")
    think_sweep: list[str] = Field(
        default_factory=list, description="Several think budgets, one row each and their curve (--think a,b,...)."
    )
    limit: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="Samples per benchmark (a seeded subset).")
    seed: int = Field(0, strict=True)
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    data_dir: str | None = None
    store: str = DEFAULT_STORE
    judges: dict[str, list[JudgeSpec]] = Field(
        default_factory=dict,
        description="Scoring judges per axis (reasoning, harmful, benign, privacy) or benchmark; default: each benchmark's own.",
    )
    judge_model: ModelSpec | None = Field(None, description="Model behind LLM judges that name none of their own.")
    attacks: list[str] = Field(default_factory=lambda: ["none"], min_length=1, description="Applied to harmful benchmarks.")
    attacker: ModelSpec | None = Field(None, description="Attacker model for pap / past-tense / pair.")
    attack_judge: ModelSpec | None = Field(None, description="PAIR's judge model.")
    calibration: dict[str, CalibrationEntry] = Field(
        default_factory=dict, description="Judge name -> human labels: its rates are also reported corrected for its error."
    )

    def run_id(self) -> str:
        # Without a think budget the id is what it was before ``think`` existed.
        unset = {"store"} | ({"think"} if self.think is None else set()) | (set() if self.think_sweep else {"think_sweep"})
        return "eval-" + content_hash(self.model_dump(mode="json", exclude=unset))

    def to_experiment(self) -> ExperimentConfig:
        """The one-cell experiment this evaluation is."""
        axes: dict[str, list[str]] = {kind: [] for kind in AXES}
        for name in self.benchmarks:
            axes[get_benchmark(name).kind].append(name)  # unknown names fail here, listing the valid ones
        return ExperimentConfig(
            name="eval",
            models=[self.model],
            strategies=[
                {"name": self.strategy, "sweep": {"field": "think", "values": self.think_sweep}} if self.think_sweep
                else StrategyEntry(name=self.strategy, think=self.think)
            ],
            strategy_config=self.strategy_config,
            attacks=[AttackEntry(name=a, attacker=self.attacker, judge=self.attack_judge) for a in self.attacks],
            benchmarks=BenchmarkAxes(**axes),
            judges=self.judges,
            judge_model=self.judge_model,
            calibration=self.calibration,
            limit=self.limit,
            decoding=self.decoding,
            seed=self.seed,
            data_dir=self.data_dir,
            store=self.store,
        )


def run_eval(config: EvalConfig, *, keep_failed: bool = False, echo: Any = None) -> Report:
    """Run (or resume) an evaluation; everything already in the store is reused."""
    report = run_experiment(
        config.to_experiment(), run_id=config.run_id(), write_outputs=False, keep_failed=keep_failed,
        echo=echo or (lambda _line: None),
    )
    assert report is not None
    return report


def format_table(report: Report) -> str:
    if not report.curves:
        return markdown_table(report)
    return f"{markdown_table(report)}\n\n{CURVE_NOTE}\n\n{markdown_curves(report)}"


def write_json(report: Report, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(report.model_dump(mode="json"), indent=2, default=str))
