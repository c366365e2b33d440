"""The Python API: ``srlab.evaluate(...)`` and ``srlab.run("exp.yaml")``, the CLI's two jobs.

Both return the same typed ``Report`` the CLI prints and writes (metrics with intervals, the
judge behind each number, differences, provenance). Names and objects are accepted alike: a
``Benchmark`` instance, a ``PromptStrategy`` subclass or a ``Judge`` instance is registered under
its ``name`` for the run, so a notebook can evaluate with a judge it just wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from srlab.benchmarks import BENCHMARKS, Benchmark
from srlab.errors import SrlabError
from srlab.generate.strategies import STRATEGIES, PromptStrategy, StrategyConfig
from srlab.judge import JUDGES
from srlab.judge.base import Judge
from srlab.judge.spec import JudgeSpec
from srlab.models import ModelSpec
from srlab.report.model import Report
from srlab.schema import DecodingConfig

JudgeLike = str | Mapping[str, Any] | JudgeSpec | Judge


def _register_benchmark(benchmark: str | Benchmark) -> str:
    if isinstance(benchmark, str):
        return benchmark
    if not isinstance(benchmark, Benchmark):
        raise SrlabError(f"benchmarks: expected a name or a Benchmark, got {type(benchmark).__name__}")
    BENCHMARKS.register(benchmark.name, lambda b=benchmark: b)
    return benchmark.name


def _register_strategy(strategy: str | type[PromptStrategy]) -> str:
    if isinstance(strategy, str):
        return strategy
    if not (isinstance(strategy, type) and issubclass(strategy, PromptStrategy)):
        raise SrlabError(f"strategy: expected a name or a PromptStrategy subclass, got {strategy!r}")
    STRATEGIES.register(strategy.name, strategy)
    return strategy.name


def _judge_spec(judge: JudgeLike) -> JudgeSpec:
    if isinstance(judge, Judge):
        # A ready judge: the factory hands out this very instance (see judge.factory).
        JUDGES.register(judge.name, judge)  # type: ignore[arg-type]
        return JudgeSpec(name=judge.name)
    return JudgeSpec.coerce(judge)  # type: ignore[arg-type]


def evaluate(
    model: str | ModelSpec | Mapping[str, Any],
    benchmarks: Sequence[str | Benchmark],
    *,
    strategy: str | type[PromptStrategy] = "cot",
    judges: Mapping[str, JudgeLike | Sequence[JudgeLike]] | None = None,
    judge_model: str | ModelSpec | None = None,
    attacks: Sequence[str] = ("none",),
    limit: int | None = None,
    decoding: DecodingConfig | Mapping[str, Any] | None = None,
    strategy_config: StrategyConfig | Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    store: str | Path = ".srlab/store.sqlite",
    keep_failed: bool = False,
) -> Report:
    """Evaluate one model, exactly as ``srlab eval`` does; returns its Report.

    ``judges`` maps an axis (``reasoning``, ``harmful``, ``benign``) or a benchmark name to the
    judge(s) that score it (names, specs, dicts or Judge instances).
    """
    from srlab.experiment.evaluate import EvalConfig, run_eval
    from srlab.experiment.plan import make_plan

    specs: dict[str, list[JudgeSpec]] = {}
    for key, value in (judges or {}).items():
        items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        specs[key] = [_judge_spec(j) for j in items]  # type: ignore[arg-type]
    config = EvalConfig.model_validate({
        "model": {"name": model} if isinstance(model, str) else model,
        "benchmarks": [_register_benchmark(b) for b in benchmarks],
        "strategy": _register_strategy(strategy),
        "strategy_config": strategy_config or {},
        "judges": specs,
        "judge_model": {"name": judge_model} if isinstance(judge_model, str) else judge_model,
        "attacks": list(attacks),
        "limit": limit,
        "decoding": decoding or {},
        "calibration": dict(calibration or {}),
        "seed": seed,
        "data_dir": str(data_dir) if data_dir is not None else None,
        "store": str(store),
    })
    make_plan(config.to_experiment())
    return run_eval(config, keep_failed=keep_failed)


def run(experiment: str | Path, *, dry_run: bool = False, keep_failed: bool = False) -> Report | None:
    """Run an experiment YAML, exactly as ``srlab run`` does; returns its Report (None for a dry run)."""
    from srlab.experiment.config import load_experiment
    from srlab.experiment.runner import run_experiment

    return run_experiment(load_experiment(experiment), dry_run=dry_run, keep_failed=keep_failed,
                          echo=lambda _line: None)
