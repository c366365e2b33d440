"""``srlab run``: plan the grid, then build data, train, generate, judge and report.

Every stage is cached (mixtures and checkpoints on disk, generations and verdicts in the store),
so a killed run resumes with the same command and redoes nothing that finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from srlab.benchmarks import get_benchmark
from srlab.errors import SrlabError
from srlab.experiment.attacking import apply_attack
from srlab.experiment.calibration import calibrate_all, load_calibration_sets
from srlab.experiment.config import ExperimentConfig, VariantConfig
from srlab.experiment.evaluate import build_strategy, evaluate_samples, judge_key, load_samples
from srlab.experiment.plan import EvalCell, Plan, make_plan
from srlab.hashing import canonical_json, content_hash
from srlab.judge import JUDGES, Judge, get_judge
from srlab.models import ModelBackend, ModelSpec, load_backend
from srlab.paths import data_dir as resolve_data_dir
from srlab.provenance import collect_provenance
from srlab.report.build import build_report, run_plan_block
from srlab.report.html import write_report
from srlab.report.model import Report
from srlab.schema import Sample
from srlab.store import RunItem, Store, sample_key

log = logging.getLogger(__name__)


def run_id_for(config: ExperimentConfig) -> str:
    # Paths are excluded: moving the output directory must not orphan a run.
    body = config.model_dump(mode="json", exclude={"base_dir", "store", "output_dir", "data_dir"})
    return f"{config.name}-{content_hash(body, length=10)}"


def system_label(config: ExperimentConfig, model: str, variant: str, strategy: str, attack: str) -> str:
    parts = [f"{model}:{variant}" if len(config.models) > 1 else variant]
    if len(config.strategies) > 1:
        parts.append(strategy)
    if attack != "none":
        parts.append(attack)
    return "/".join(parts)


def _systems(config: ExperimentConfig, plan: Plan) -> dict[str, dict[str, str]]:
    base = config.base_variant()
    systems: dict[str, dict[str, str]] = {}
    for cell in plan.cells:
        label = system_label(config, cell.model, cell.variant, cell.strategy, cell.attack)
        base_label = system_label(config, cell.model, base, cell.strategy, cell.attack)
        systems.setdefault(label, {
            "model": cell.model, "variant": cell.variant, "strategy": cell.strategy, "attack": cell.attack,
            "base": "" if label == base_label else base_label,
        })
    return systems


def _load_spec(value: str | dict[str, Any], config: ExperimentConfig) -> str | dict[str, Any]:
    return str(config.resolve(value)) if isinstance(value, str) else value


def _built_mixture(spec: Any, out_dir: Path, data_dir: Path | None) -> dict[str, Any]:
    """Build a mixture unless ``out_dir`` already holds one made from the same spec and the same
    versions of its filter judges (a changed judge may keep other responses)."""
    from srlab.data import build_mixture
    from srlab.data.build import MANIFEST_FILE
    from srlab.data.filters import filter_judge_versions

    manifest_path = out_dir / MANIFEST_FILE
    spec_sha = hashlib.sha256(canonical_json(spec.model_dump(mode="json")).encode("utf-8")).hexdigest()
    if manifest_path.is_file():
        stored = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (stored.get("spec_sha256") == spec_sha and Path(stored["mixture_path"]).is_file()
                and stored.get("filter_judges", {}) == filter_judge_versions(spec.filters)):
            log.info("mixture %s already built; reusing it", out_dir)
            return stored
    build_mixture(spec, out_dir, data_dir=data_dir)
    return json.loads(manifest_path.read_text(encoding="utf-8"))


def _check_hygiene(variant: str, manifest: dict[str, Any], evaluated: set[str]) -> None:
    """Every evaluated benchmark must have been checked against the mixture, none trained on."""
    report = manifest.get("decontamination") or {}
    checked = set(report.get("benchmarks_checked") or {})
    problems = []
    for name in sorted(evaluated - checked):
        why = (report.get("benchmarks_excluded") or {}).get(name) or (report.get("benchmarks_missing") or {}).get(name)
        problems.append(f"{name} ({why or 'not checked'})")
    if problems:
        raise SrlabError(
            f"variant {variant!r}: its training mixture was not decontaminated against evaluated benchmark(s) "
            f"{'; '.join(problems)}. Evaluate on other benchmarks, or change the mixture's sources."
        )


def prepare_model(
    config: ExperimentConfig, spec: ModelSpec, variant: VariantConfig, data_dir: Path | None
) -> tuple[ModelSpec, dict[str, Any]]:
    """Build the variant's mixture and train on it, each only once; return the trained model's spec."""
    if not variant.trained:
        return spec, {}
    from srlab.data import load_mixture_spec
    from srlab.train import load_train_config, train
    from srlab.train.sft import RESULT_FILE as TRAIN_RESULT_FILE

    assert variant.mixture is not None and variant.train is not None
    root = config.out_dir()
    mixture = load_mixture_spec(_load_spec(variant.mixture, config))
    # Hygiene: the mixture must be clean of every set this experiment evaluates on.
    evaluated = {name for _, name in config.benchmarks.all()}
    listed = mixture.decontamination.benchmarks
    if listed is not None and not evaluated <= set(listed):
        decontam = mixture.decontamination.model_copy(update={"benchmarks": sorted(set(listed) | evaluated)})
        mixture = mixture.model_copy(update={"decontamination": decontam})
    manifest = _built_mixture(mixture, root / "data" / variant.name, data_dir)
    _check_hygiene(variant.name, manifest, evaluated)
    model_dir = root / "models" / f"{Path(spec.name).name}-{variant.name}"
    train_config = load_train_config(
        _load_spec(variant.train, config),
        model=spec.name, revision=spec.revision, data=manifest["mixture_path"], output_dir=str(model_dir),
    )
    final = model_dir / "model"
    done = model_dir / TRAIN_RESULT_FILE
    if final.is_dir() and done.is_file() and json.loads(done.read_text()).get("mixture_sha256") == manifest["mixture_sha256"]:
        log.info("model %s already trained; reusing it", final)
    else:
        final = train(train_config)
    info = {"mixture": manifest["mixture_path"], "mixture_sha256": manifest["mixture_sha256"], "model_dir": str(final)}
    return spec.model_copy(update={"name": str(final), "backend": "hf", "revision": None}), info


def run_experiment(
    config: ExperimentConfig, *, dry_run: bool = False, echo: Callable[[str], None] = print
) -> Report | None:
    plan = make_plan(config)
    echo(plan.describe())
    if dry_run:
        return None
    data_dir = resolve_data_dir(config.data_dir)
    out_dir = config.out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id_for(config)
    judges_per_benchmark: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for kind, name in config.benchmarks.all():
        bench = get_benchmark(name)
        judges_per_benchmark[name] = (kind, [judge_key(j) for j in config.judges_for(kind, bench.default_judges)])
    provenance = collect_provenance(seeds={"experiment": config.seed, "decoding": config.decoding.seed})
    provenance["plan"] = run_plan_block(judges_per_benchmark, _systems(config, plan))

    # A bad labels file fails here, before any model work.
    calibration_sets = load_calibration_sets(config.calibration, data_dir, config.base_dir)

    with Store(config.store_path()) as store:
        store.start_run(run_id, "experiment", config.model_dump(mode="json"), provenance)
        samples = {
            name: load_samples(get_benchmark(name), data_dir, config.limit_for(name), config.seed)
            for _, name in config.benchmarks.all()
        }
        manifests: dict[str, Any] = {}
        helpers = HelperModels(config, store)
        try:
            for spec in config.models:
                for variant in config.variants:
                    cells = [c for c in plan.cells if c.model == spec.name and c.variant == variant.name]
                    model_spec, info = prepare_model(config, spec, variant, data_dir)
                    if info:
                        manifests[f"{spec.name}:{variant.name}"] = info
                    _evaluate_cells(config, store, run_id, model_spec, cells, samples, data_dir, helpers)
            calibrations = calibrate_all(config.calibration, calibration_sets, helpers.judge)
        finally:
            helpers.close()
        provenance["data_manifests"] = manifests
        if calibrations:
            provenance["calibration"] = [c.model_dump(mode="json") for c in calibrations]
        store.start_run(run_id, "experiment", config.model_dump(mode="json"), provenance)
        report = build_report(store, run_id, title=f"srlab: {config.name}")
        paths = write_report(report, out_dir)
        store.finish_run(run_id, {"report": {k: str(v) for k, v in paths.items()}})
    echo(f"\nreport written to {paths['report.html']}")
    return report


def _evaluate_cells(
    config: ExperimentConfig,
    store: Store,
    run_id: str,
    spec: ModelSpec,
    cells: list[EvalCell],
    samples: dict[str, list[Sample]],
    data_dir: Path | None,
    helpers: HelperModels,
) -> None:
    backend = load_backend(spec)
    try:
        for cell in cells:
            bench = get_benchmark(cell.benchmark)
            if cell.attack == "none":
                cell_samples = samples[cell.benchmark]
            else:
                entry = config.attack(cell.attack)
                cell_samples = apply_attack(
                    entry.name, samples[cell.benchmark], store=store, target=backend, helpers=helpers.backends,
                    attacker=entry.attacker, judge=entry.judge, options=entry.options,
                    seed=config.seed, data_dir=data_dir,
                )
            entry = config.strategy(cell.strategy)
            strategy = build_strategy(entry.name, entry.settings(config.strategy_config), bench, data_dir)
            label = system_label(config, cell.model, cell.variant, cell.strategy, cell.attack)
            log.info("evaluating %s on %s (%d samples)", label, cell.benchmark, len(cell_samples))
            result = evaluate_samples(
                backend, store, bench, cell_samples, strategy, config.decoding,
                config.judges_for(cell.kind, bench.default_judges), helpers.judge,
            )
            store.put_run_items([
                RunItem(run_id, cell.benchmark, s.id, sample_key(s), label, cell.strategy, cell.attack, key)
                for s, key, _, _ in result.items
            ])
    finally:
        backend.close()


class HelperModels:
    """The run's attacker, PAIR-judge and LLM-judge models and its judges, each built once."""

    def __init__(self, config: ExperimentConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.backends: dict[str, ModelBackend] = {}  # keyed by the model spec's JSON
        self.judges: dict[str, Judge] = {}

    def judge(self, name: str) -> Judge:
        """A judge by name; LLM judges get the config's judge model and cache calls in the store."""
        if name not in self.judges:
            from srlab.judge.llm_base import LLMJudge

            judge_cls = JUDGES.get(name)
            if isinstance(judge_cls, type) and issubclass(judge_cls, LLMJudge):
                if self.config.judge_model is None:
                    raise SrlabError(f"judge {name!r} is an LLM judge: set judge_model in the experiment config")
                key = self.config.judge_model.model_dump_json()
                if key not in self.backends:
                    self.backends[key] = load_backend(self.config.judge_model)
                self.judges[name] = judge_cls(self.backends[key], store=self.store)
            else:
                self.judges[name] = get_judge(name)
        return self.judges[name]

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()
        self.backends.clear()
