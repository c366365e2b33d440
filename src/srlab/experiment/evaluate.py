"""``srlab eval``: one model x benchmarks x one strategy -> stored generations, verdicts, metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from srlab.benchmarks import Benchmark, get_benchmark, select_subset
from srlab.errors import SrlabError
from srlab.experiment.attacking import apply_attack
from srlab.experiment.calibration import calibrate_all, calibration_problems, load_calibration_sets
from srlab.generate.runner import generate_cached
from srlab.generate.strategies import STRATEGIES, PromptStrategy, StrategyConfig
from srlab.hashing import content_hash
from srlab.judge import JUDGES, Judge, get_judge
from srlab.judge.labels import CalibrationEntry
from srlab.judge.runner import judge_cached
from srlab.models import ModelBackend, ModelSpec, load_backend
from srlab.paths import data_dir as resolve_data_dir
from srlab.provenance import collect_provenance
from srlab.report.build import event_rates, run_plan_block
from srlab.report.metrics import RateSummary, summarize
from srlab.report.model import Calibration, Correction
from srlab.schema import DecodingConfig, Generation, GenerationRequest, Sample, Verdict
from srlab.store import RunItem, Store, sample_key

log = logging.getLogger(__name__)

DEFAULT_STORE = ".srlab/store.sqlite"
FEWSHOT_FALLBACK = "gsm8k"  # worked examples for benchmarks without a train split of their own


class EvalConfig(BaseModel):
    """Everything that determines an evaluation; its hash names the run."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    benchmarks: list[str] = Field(..., min_length=1)
    strategy: str = "cot"
    strategy_config: StrategyConfig = Field(default_factory=StrategyConfig)
    limit: int | None = Field(None, ge=1, description="Samples per benchmark (a seeded subset).")
    seed: int = 0
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    data_dir: str | None = None
    store: str = DEFAULT_STORE
    judges: dict[str, list[str]] = Field(
        default_factory=dict, description="Per-benchmark judge override; default: the benchmark's own."
    )
    attacks: list[str] = Field(default_factory=lambda: ["none"], min_length=1, description="Applied to harmful benchmarks.")
    attacker: ModelSpec | None = Field(None, description="Attacker model for pap / past-tense / pair.")
    attack_judge: ModelSpec | None = Field(None, description="PAIR's judge model.")
    calibration: dict[str, CalibrationEntry] = Field(
        default_factory=dict, description="Judge name -> human labels: its rates are also reported corrected for its error."
    )


@dataclass
class BenchmarkResult:
    benchmark: str
    kind: str
    metric: RateSummary
    judges: list[str]
    attack: str = "none"
    items: list[tuple[Sample, str, Generation, dict[str, Verdict]]] = field(default_factory=list)
    corrected: Correction | None = None


@dataclass
class EvalResult:
    run_id: str
    config: EvalConfig
    results: list[BenchmarkResult]
    provenance: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "config": self.config.model_dump(mode="json"),
            "provenance": self.provenance,
            "metrics": [
                {**r.metric.to_dict(), "attack": r.attack,
                 "corrected": r.corrected.model_dump() if r.corrected else None}
                for r in self.results
            ],
            "samples": [
                {
                    "benchmark": r.benchmark,
                    "attack": r.attack,
                    "sample_id": s.id,
                    "generation_key": key,
                    "reasoning": g.reasoning,
                    "answer": g.answer,
                    "truncated": g.truncated,
                    "verdicts": {name: v.to_dict() for name, v in verdicts.items()},
                }
                for r in self.results
                for s, key, g, verdicts in r.items
            ],
        }


def load_samples(benchmark: Benchmark, data_dir: Path | None, limit: int | None, seed: int) -> list[Sample]:
    return select_subset(benchmark.load(data_dir, split="test"), limit, seed)


def build_strategy(name: str, config: StrategyConfig, benchmark: Benchmark, data_dir: Path | None) -> PromptStrategy:
    strategy_cls = STRATEGIES.get(name)
    pool: list[Sample] = []
    if strategy_cls.needs_fewshot and config.k > 0:
        source = benchmark if benchmark.has_train_split else get_benchmark(FEWSHOT_FALLBACK)
        pool = source.load(data_dir, split="train")
    return strategy_cls(config, fewshot_pool=pool)


def evaluate_samples(
    backend: ModelBackend,
    store: Store,
    benchmark: Benchmark,
    samples: Sequence[Sample],
    strategy: PromptStrategy,
    decoding: DecodingConfig,
    judge_names: Sequence[str],
    judge_factory: Callable[[str], Judge] = get_judge,
) -> BenchmarkResult:
    """Generate (cached), judge (cached) and summarise one benchmark's samples.

    The first judge scores the benchmark's metric; ``judge_factory`` builds judges that need
    more than a name (an LLM judge's model).
    """
    store.put_samples(samples)
    requests = [GenerationRequest(messages=strategy.render(s), decoding=decoding) for s in samples]
    generated = generate_cached(backend, store, requests, desc=f"{benchmark.name}: generate")
    per_judge: dict[str, list[Verdict]] = {}
    for judge_name in judge_names:
        judge = judge_factory(judge_name)
        triples = [(key, s, g) for s, (key, g) in zip(samples, generated, strict=True)]
        per_judge[judge_name] = judge_cached(judge, store, triples, desc=f"{benchmark.name}: {judge_name}")
    primary = per_judge[judge_names[0]]
    meaning = judge_factory(judge_names[0]).label_meaning
    metric = summarize(benchmark.kind, benchmark.name, primary, [g for _, g in generated], meaning)
    items = [
        (s, key, g, {name: verdicts[i] for name, verdicts in per_judge.items()})
        for i, (s, (key, g)) in enumerate(zip(samples, generated, strict=True))
    ]
    return BenchmarkResult(benchmark.name, benchmark.kind, metric, list(judge_names), items=items)


def judge_key(name: str) -> tuple[str, str, str]:
    """(name, version, label meaning): what a stored run records to re-read its verdicts later.

    Read off the class, so judges that need a model to be built (LLM judges) need none here.
    """
    judge_cls = JUDGES.get(name)
    return name, str(judge_cls.version), str(judge_cls.label_meaning)


def run_eval(config: EvalConfig, backend: ModelBackend | None = None) -> EvalResult:
    """Run (or resume) an evaluation; everything already in the store is reused."""
    # Resolve every name before loading a model, so a typo fails in a second, not after minutes.
    benchmarks = [get_benchmark(name) for name in config.benchmarks]
    STRATEGIES.get(config.strategy)
    from srlab.generate.attacks import ATTACKS

    for attack in config.attacks:
        ATTACKS.get(attack)
    judge_names = {b.name: list(config.judges.get(b.name, b.default_judges)) for b in benchmarks}
    for names in judge_names.values():
        for name in names:
            get_judge(name)
    problems = calibration_problems(config.calibration, {names[0] for names in judge_names.values()})
    if problems:
        raise SrlabError("; ".join(problems))
    data_dir = resolve_data_dir(config.data_dir)
    calibration_sets = load_calibration_sets(config.calibration, data_dir)
    samples = {b.name: load_samples(b, data_dir, config.limit, config.seed) for b in benchmarks}
    strategies = {b.name: build_strategy(config.strategy, config.strategy_config, b, data_dir) for b in benchmarks}

    run_id = "eval-" + content_hash(config.model_dump(mode="json", exclude={"store"}))
    provenance = collect_provenance(seeds={"subset": config.seed, "decoding": config.decoding.seed})
    provenance["plan"] = run_plan_block(
        {b.name: (b.kind, [judge_key(j) for j in judge_names[b.name]]) for b in benchmarks},
        {
            _system(config.model.name, attack): {
                "model": config.model.name, "strategy": config.strategy, "attack": attack, "base": ""
            }
            for attack in config.attacks
        },
    )
    backend = backend or load_backend(config.model)
    helpers: dict[str, ModelBackend] = {}
    try:
        with Store(config.store) as store:
            store.start_run(run_id, "eval", config.model_dump(mode="json"), provenance)
            results = []
            for benchmark in benchmarks:
                attacks = config.attacks if benchmark.kind == "harmful" else ["none"]
                for attack in attacks:
                    attacked = apply_attack(
                        attack, samples[benchmark.name], store=store, target=backend, helpers=helpers,
                        attacker=config.attacker, judge=config.attack_judge, seed=config.seed, data_dir=data_dir,
                    )
                    result = evaluate_samples(
                        backend, store, benchmark, attacked, strategies[benchmark.name],
                        config.decoding, judge_names[benchmark.name],
                    )
                    result.attack = attack
                    label = _system(config.model.name, attack)
                    store.put_run_items(
                        [
                            RunItem(run_id, benchmark.name, s.id, sample_key(s), label, config.strategy, attack, key)
                            for s, key, _, _ in result.items
                        ]
                    )
                    results.append(result)
            if calibration_sets:
                calibrations = calibrate_all(config.calibration, calibration_sets, get_judge)
                provenance["calibration"] = [c.model_dump(mode="json") for c in calibrations]
                store.start_run(run_id, "eval", config.model_dump(mode="json"), provenance)  # records them
                _add_corrections(results, calibrations)
            outcome = EvalResult(run_id, config, results, provenance)
            store.finish_run(run_id, {"metrics": [r.metric.to_dict() for r in results]})
    finally:
        for helper in helpers.values():
            helper.close()
    return outcome


def _add_corrections(results: Sequence[BenchmarkResult], calibrations: Sequence[Calibration]) -> None:
    """Each rate scored by a calibrated judge, corrected for that judge's measured error."""
    by_judge = {c.judge: c for c in calibrations}
    for result in results:
        calibration = by_judge.get(result.judges[0])
        if calibration is not None:
            rates = event_rates(calibration, result.kind)
            result.corrected = Correction.of_counts(calibration.judge, result.metric.successes, result.metric.n, rates)


def _system(model: str, attack: str) -> str:
    return model if attack == "none" else f"{model}/{attack}"


def format_table(result: EvalResult) -> str:
    header = ["benchmark", "attack", "metric", "rate [95% CI]", "n", "undecided", "truncated"]
    rows = [
        [r.benchmark, r.attack, r.metric.name, r.metric.format(), str(r.metric.n), str(r.metric.undecided), str(r.metric.truncated)]
        for r in result.results
    ]
    if any(r.corrected is not None for r in result.results):
        header.append("judge-corrected [95% CI]")
        for row, r in zip(rows, result.results, strict=True):
            row.append(r.corrected.format() if r.corrected else "–")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def write_json(result: EvalResult, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
