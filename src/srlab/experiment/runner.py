"""``srlab run``: plan the grid, then build data, train, generate, judge and report.

Every stage is cached (mixtures and checkpoints on disk, generations and verdicts in the store),
so a killed run resumes with the same command and redoes nothing that finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from srlab.benchmarks import get_benchmark
from srlab.errors import SrlabError
from srlab.experiment.attacking import apply_attack
from srlab.experiment.calibration import calibrate_all, load_calibration_sets
from srlab.experiment.cells import build_strategy, evaluate_cell, load_samples
from srlab.experiment.config import ExperimentConfig, VariantConfig
from srlab.experiment.plan import EvalCell, Plan, make_plan, system_label
from srlab.generate.runner import describe_failures
from srlab.hashing import canonical_json, content_hash
from srlab.judge.base import Judge
from srlab.judge.factory import JudgeFactory
from srlab.models import ModelBackend, ModelSpec, load_backend
from srlab.paths import data_dir as resolve_data_dir
from srlab.provenance import collect_provenance
from srlab.report.build import PlannedJudge, build_report, run_plan_block
from srlab.report.html import write_report
from srlab.report.model import Report
from srlab.schema import Sample
from srlab.store import Store

log = logging.getLogger(__name__)


def run_id_for(config: ExperimentConfig, prefix: str | None = None) -> str:
    """The run id hashes what determines the run's results: the config's content, with each
    trained variant's mixture and training config read from their files (a changed learning rate
    in ``train.yaml`` is another run), and never a path to an output."""
    body = config.model_dump(mode="json", exclude={"base_dir", "store", "output_dir", "data_dir"})
    if not body["samples"]:
        del body["samples"]  # configs written before per-benchmark samples keep their run ids
    body["variants"] = [_variant_fingerprint(config, spec, v) for spec in config.models for v in config.variants]
    return f"{prefix or config.name}-{content_hash(body, length=10)}"


def _variant_fingerprint(config: ExperimentConfig, spec: ModelSpec, variant: VariantConfig) -> dict[str, Any]:
    if not variant.trained:
        return {"name": variant.name}
    from srlab.data import load_mixture_spec

    assert variant.mixture is not None and variant.train is not None
    mixture = load_mixture_spec(variant.spec_data("mixture", config.resolve))
    return {
        "name": variant.name,
        "model": spec.name,
        "mixture": mixture.model_dump(mode="json"),
        "train": _train_fields(config, spec, variant),
    }


def _train_fields(config: ExperimentConfig, spec: ModelSpec, variant: VariantConfig) -> dict[str, Any]:
    """Every training setting after presets apply, without the paths the runner fills in."""
    from srlab.train import load_train_config

    assert variant.train is not None
    train = load_train_config(
        variant.spec_data("train", config.resolve), model=spec.name, revision=spec.revision, data="-", output_dir="-"
    )
    return train.model_dump(mode="json", exclude={"data", "output_dir", "resume"})


def _systems(config: ExperimentConfig, plan: Plan) -> dict[str, dict[str, Any]]:
    base = config.base_variant()
    systems: dict[str, dict[str, Any]] = {}
    variants = {v.name: v for v in config.variants}
    for cell in plan.cells:
        label = system_label(config, cell.model, cell.variant, cell.strategy, cell.attack)
        if label in systems:
            continue
        base_label = system_label(config, cell.model, base, cell.strategy, cell.attack)
        info: dict[str, Any] = {
            "model": cell.model, "variant": cell.variant, "strategy": cell.strategy, "attack": cell.attack,
            "base": "" if label == base_label else base_label,
        }
        variant, strategy = variants[cell.variant], config.strategy(cell.strategy)
        # The curves a system is a point of; its variant's seed runs share a curve point.
        curves = []
        point_variant = variant.repeat.of if variant.repeat else cell.variant
        if variant.swept:
            placeholder = f"{variant.swept.of}@{variant.swept.key}=*"
            curve = system_label(config, cell.model, placeholder, cell.strategy, cell.attack)
            curves.append({"curve": curve, **variant.swept.model_dump(include={"field", "key", "value", "index"})})
        if strategy.swept:
            placeholder = f"{strategy.swept.of}@{strategy.swept.key}=*"
            curve = system_label(config, cell.model, point_variant, placeholder, cell.attack)
            curves.append({"curve": curve, **strategy.swept.model_dump(include={"field", "key", "value", "index"})})
        if curves:
            info["curves"] = curves
        if variant.repeat:
            of = system_label(config, cell.model, variant.repeat.of, cell.strategy, cell.attack)
            info["repeat"] = {"of": of, "seed": variant.repeat.seed}
        systems[label] = info
    return systems


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


def trained_backend(spec: ModelSpec) -> str:
    """The backend a trained variant runs on: the base model's, except that a served model
    (openai) cannot serve a checkpoint trained here, so its variants run on HF (and a llama.cpp
    base's variants run on llama.cpp once exported: ``trained_spec``)."""
    backend = spec.resolved_backend()
    return "hf" if backend == "openai" else backend


def prepare_model(
    config: ExperimentConfig, spec: ModelSpec, variant: VariantConfig, data_dir: Path | None
) -> tuple[ModelSpec, dict[str, Any]]:
    """Build the variant's mixture and train on it, each only once; return the trained model's spec.

    A trained model is reused only when the base model, the mixture's content and every training
    setting (after presets) are the same: they name its folder, so a changed learning rate
    trains a new model beside the old one instead of reusing (or resuming) it.
    """
    if not variant.trained:
        return spec, {}
    from srlab.data import load_mixture_spec
    from srlab.train import load_train_config, train
    from srlab.train.sft import RESULT_FILE as TRAIN_RESULT_FILE

    assert variant.mixture is not None and variant.train is not None
    root = config.out_dir()
    mixture = load_mixture_spec(variant.spec_data("mixture", config.resolve))
    # Hygiene: the mixture must be clean of every set this experiment evaluates on.
    evaluated = {name for _, name in config.benchmarks.all()}
    listed = mixture.decontamination.benchmarks
    if listed is not None and not evaluated <= set(listed):
        decontam = mixture.decontamination.model_copy(update={"benchmarks": sorted(set(listed) | evaluated)})
        mixture = mixture.model_copy(update={"decontamination": decontam})
    manifest = _built_mixture(mixture, root / "data" / variant.name, data_dir)
    _check_hygiene(variant.name, manifest, evaluated)
    train_key = content_hash({
        "base": {"name": spec.name, "revision": spec.revision},
        "mixture_sha256": manifest["mixture_sha256"],
        "train": _train_fields(config, spec, variant),
    }, length=10)
    model_dir = root / "models" / f"{Path(spec.name).name}-{variant.name}-{train_key}"
    train_config = load_train_config(
        variant.spec_data("train", config.resolve),
        model=spec.name, revision=spec.revision, data=manifest["mixture_path"], output_dir=str(model_dir),
    )
    final = model_dir / "model"
    done = model_dir / TRAIN_RESULT_FILE
    if final.is_dir() and done.is_file() and json.loads(done.read_text()).get("mixture_sha256") == manifest["mixture_sha256"]:
        log.info("model %s already trained with these settings; reusing it", final)
    else:
        final = train(train_config)
    info = {
        "mixture": manifest["mixture_path"], "mixture_sha256": manifest["mixture_sha256"], "model_dir": str(final),
        "train_key": train_key,
    }
    return trained_spec(spec, final, model_dir), info


def trained_spec(spec: ModelSpec, final: Path, model_dir: Path) -> ModelSpec:
    """The spec a trained model runs under: its base's backend where that can load it. A llama.cpp
    base gets the trained weights written over its float32 GGUF (``models.gguf_export``); a model
    that cannot be exported runs on HF, and says why."""
    backend = trained_backend(spec)
    name = str(final)
    if backend == "llamacpp":
        from srlab.models.gguf_export import ExportUnsupported, export_gguf
        from srlab.models.llamacpp_backend import float32_gguf, resolve_gguf

        source, identity = resolve_gguf(spec.name)
        try:
            name = str(export_gguf(final, float32_gguf(source, identity), model_dir / f"{model_dir.name}.f32.gguf"))
        except ExportUnsupported as exc:
            log.warning("%s runs on the hf backend: it cannot run on llama.cpp (%s)", final, exc)
            backend = "hf"
    return spec.model_copy(update={"name": name, "backend": backend, "revision": None, "base_url": None})


def scoring_plan(
    config: ExperimentConfig, factory: JudgeFactory
) -> dict[str, tuple[str, list[tuple[str, Judge]]]]:
    """Benchmark -> (kind, [(label, judge)]): its scoring judges, then the axis's extra ones,
    built (LLM judges load no model until they judge)."""
    out: dict[str, tuple[str, list[tuple[str, Judge]]]] = {}
    for kind, name in config.benchmarks.all():
        specs = config.judges_for(kind, name, get_benchmark(name).default_judges)
        out[name] = (kind, [(spec.label, factory.build(spec)) for spec in specs])
    return out


def run_experiment(
    config: ExperimentConfig,
    *,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    run_id: str | None = None,
    write_outputs: bool = True,
    keep_failed: bool = False,
) -> Report | None:
    """Plan, then build data, train, generate, judge and report; everything stored is reused.

    ``srlab eval`` is this with one model, no training and ``write_outputs=False``.
    """
    plan = make_plan(config)
    data_dir = resolve_data_dir(config.data_dir)
    if data_dir is not None and not data_dir.is_dir():
        raise SrlabError(f"data_dir: {data_dir} is not a directory (from the config, --data-dir or SRLAB_DATA_DIR)")
    # A missing or bad labels file fails here, before any model work (and in a dry run).
    calibration_sets = load_calibration_sets(config.calibration, data_dir, config.base_dir)
    echo(plan.describe())
    if dry_run:
        return None
    out_dir = config.out_dir()
    run_id = run_id or run_id_for(config)

    samples = {
        name: load_samples(get_benchmark(name), data_dir, config.limit_for(name), config.seed)
        for _, name in config.benchmarks.all()
    }
    with Store(config.store_path()) as store:
        factory = JudgeFactory(store, config.judge_model)
        helpers: dict[str, ModelBackend] = {}
        try:
            judges = scoring_plan(config, factory)
            provenance = collect_provenance(seeds={"experiment": config.seed, "decoding": config.decoding.seed})
            provenance["plan"] = run_plan_block(
                {name: (kind, [PlannedJudge.of(label, judge) for label, judge in js]) for name, (kind, js) in judges.items()},
                _systems(config, plan), config.compare,
            )
            store.start_run(run_id, "experiment", config.model_dump(mode="json"), provenance)
            manifests: dict[str, Any] = {}
            failures: Counter[str] = Counter()
            for spec in config.models:
                for variant in config.variants:
                    cells = [c for c in plan.cells if c.model == spec.name and c.variant == variant.name]
                    model_spec, info = prepare_model(config, spec, variant, data_dir)
                    if info:
                        manifests[f"{spec.name}:{variant.name}"] = info
                    failures += _evaluate_cells(
                        config, store, run_id, model_spec, cells, samples, data_dir, helpers, judges, keep_failed
                    )
            by_label = {label: judge for _, js in judges.values() for label, judge in js}
            calibrations = calibrate_all(config.calibration, calibration_sets, by_label.__getitem__)
        except KeyboardInterrupt:
            store.mark_interrupted(run_id)  # every finished response is stored; a rerun resumes
            raise
        finally:
            factory.close()
            for helper in helpers.values():
                helper.close()
        provenance["data_manifests"] = manifests
        if calibrations:
            provenance["calibration"] = [c.model_dump(mode="json") for c in calibrations]
        provenance["failed_requests"] = dict(failures)
        store.start_run(run_id, "experiment", config.model_dump(mode="json"), provenance)
        store.finish_run(run_id, {"failed_requests": dict(failures)})
        report = build_report(store, run_id, title=f"srlab: {config.name}")
        if write_outputs:
            out_dir.mkdir(parents=True, exist_ok=True)
            paths = write_report(report, out_dir)
            store.finish_run(run_id, {"failed_requests": dict(failures), "report": {k: str(v) for k, v in paths.items()}})
            echo(f"\nreport written to {paths['report.html']}")
    if failures:
        retry = "kept as failed (--keep-failed)" if keep_failed else "rerun the same command to retry them"
        echo(f"{sum(failures.values())} request(s) failed and count as undecided ({describe_failures(failures)}); {retry}")
    return report


def _evaluate_cells(
    config: ExperimentConfig,
    store: Store,
    run_id: str,
    spec: ModelSpec,
    cells: list[EvalCell],
    samples: dict[str, list[Sample]],
    data_dir: Path | None,
    helpers: dict[str, ModelBackend],
    judges: dict[str, tuple[str, list[tuple[str, Judge]]]],
    keep_failed: bool,
) -> Counter[str]:
    backend = load_backend(spec)
    failures: Counter[str] = Counter()
    try:
        for cell in cells:
            bench = get_benchmark(cell.benchmark)
            if cell.attack == "none":
                cell_samples = samples[cell.benchmark]
            else:
                entry = config.attack(cell.attack)
                cell_samples = apply_attack(
                    entry.name, samples[cell.benchmark], store=store, target=backend, helpers=helpers,
                    models=entry.role_models(), options=entry.options,
                    seed=config.seed, data_dir=data_dir,
                )
            strategy_entry = config.strategy(cell.strategy)
            strategy = build_strategy(strategy_entry.name, strategy_entry.settings(config.strategy_config), bench, data_dir)
            label = system_label(config, cell.model, cell.variant, cell.strategy, cell.attack)
            log.info("evaluating %s on %s (%d samples)", label, cell.benchmark, len(cell_samples))
            failures += evaluate_cell(
                backend, store, bench, cell_samples, strategy, config.decoding_for(cell.benchmark),
                [judge for _, judge in judges[cell.benchmark][1]], (run_id, label, cell.strategy, cell.attack),
                keep_failed=keep_failed,
            )
    finally:
        backend.close()
    return failures
