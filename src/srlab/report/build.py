"""Build a Report from what a run left in the store (``srlab report`` and the end of ``srlab run``).

A run records, next to its provenance, a ``plan`` block: each benchmark's kind and judges (name
and version), each system's model and base. That is all this module needs to rebuild the report
from stored rows, so any stored run can be re-reported without a model or a judge.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from srlab.errors import SrlabError
from srlab.judge.agreement import BinaryRates, corrected_difference, corrected_mean_rate
from srlab.report.metrics import counts_as_success, summarize
from srlab.report.model import (
    Calibration,
    Correction,
    DiffCorrection,
    DiffRow,
    JudgeVerdict,
    RateMetric,
    Report,
    SampleRecord,
    VariantRow,
    diffs_against_base,
    mean_length,
    pattern_rows,
    shared_correction,
)
from srlab.report.stats import Z_95
from srlab.schema import Generation, Sample, Verdict
from srlab.store import RunItem, Store


def run_plan_block(
    benchmarks: dict[str, tuple[str, list[tuple[str, str, str]]]], systems: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """The ``plan`` provenance block: ``benchmarks`` name -> (kind, [(judge, version, label meaning)]),
    ``systems`` variant label -> {"model", "base", "strategy", "attack"}."""
    return {
        "benchmarks": {name: {"kind": kind, "judges": [list(j) for j in judges]} for name, (kind, judges) in benchmarks.items()},
        "systems": systems,
        # The store writes JSON with sorted keys; these keep the config's order for the report.
        "benchmark_order": list(benchmarks),
        "system_order": list(systems),
    }


def build_report(store: Store, run_id: str, title: str | None = None, n_resamples: int = 2000) -> Report:
    run = store.get_run(run_id)
    if run is None:
        known = ", ".join(r["id"] for r in store.list_runs()) or "none"
        raise SrlabError(f"no run {run_id!r} in store {store.path}; stored runs: {known}")
    plan = (run["provenance"] or {}).get("plan")
    if not plan:
        raise SrlabError(f"run {run_id!r} has no plan block; it was made by an older srlab and cannot be reported")
    benchmarks: dict[str, dict[str, Any]] = {b: plan["benchmarks"][b] for b in plan["benchmark_order"]}
    systems: dict[str, dict[str, str]] = {s: plan["systems"][s] for s in plan["system_order"]}

    items = store.run_items(run_id)
    generations = store.get_generations(sorted({i.generation_key for i in items}))
    samples: dict[str, Sample] = {}
    for item in items:
        if item.sample_key not in samples:
            sample = store.get_sample(item.sample_key)
            if sample is None:
                raise SrlabError(f"run {run_id!r}: sample {item.sample_id} is missing from the store")
            samples[item.sample_key] = sample
    verdicts: dict[tuple[str, str, str], Verdict] = {}
    by_benchmark: dict[str, list[RunItem]] = defaultdict(list)
    for item in items:
        by_benchmark[item.benchmark].append(item)
    for benchmark, bench_items in by_benchmark.items():
        pairs = [(i.generation_key, i.sample_key) for i in bench_items]
        for judge, version, _meaning in benchmarks[benchmark]["judges"]:
            found = store.get_verdicts(pairs, judge, version)
            for (gen_key, s_key, _target), verdict in found.items():
                verdicts[(gen_key, s_key, judge)] = verdict

    records: list[SampleRecord] = []
    grouped: dict[tuple[str, str], list[tuple[RunItem, Generation, list[Verdict]]]] = defaultdict(list)
    for item in items:
        gen = generations.get(item.generation_key)
        if gen is None:
            continue  # generation not stored yet: the run was interrupted; report what exists
        bench = benchmarks[item.benchmark]
        judge_names = [j for j, _, _ in bench["judges"]]
        meanings = {j: m for j, _, m in bench["judges"]}
        got = {j: verdicts.get((item.generation_key, item.sample_key, j)) for j in judge_names}
        sample = samples[item.sample_key]
        records.append(
            SampleRecord(
                variant=item.variant, benchmark=item.benchmark, kind=bench["kind"], strategy=item.strategy,
                attack=item.attack, sample_id=item.sample_id, prompt=sample.user_text(), reasoning=gen.reasoning,
                answer=gen.answer, truncated=gen.truncated,
                verdicts={j: JudgeVerdict.from_verdict(v, meanings[j]) for j, v in got.items() if v is not None},
            )
        )
        primary = got[judge_names[0]]
        if primary is not None:
            grouped[(item.variant, item.benchmark)].append((item, gen, [primary]))

    rows: list[VariantRow] = []
    for variant, info in systems.items():
        metrics: list[RateMetric] = []
        texts_r: list[str | None] = []
        texts_a: list[str | None] = []
        for benchmark, bench in benchmarks.items():
            entries = grouped.get((variant, benchmark))
            if not entries:
                continue
            primary_meaning = bench["judges"][0][2]
            summary = summarize(
                bench["kind"], benchmark, [v[0] for _, _, v in entries], [g for _, g, _ in entries], primary_meaning
            )
            metrics.append(RateMetric.from_summary(summary))
            texts_r += [g.reasoning for _, g, _ in entries if g.reasoning]
            texts_a += [g.answer for _, g, _ in entries]
        rows.append(
            VariantRow(
                variant=variant, model=info["model"], strategy=info.get("strategy", ""), attack=info.get("attack", "none"),
                metrics=metrics, mean_reasoning_tokens=mean_length(texts_r), mean_answer_tokens=mean_length(texts_a),
            )
        )
    calibrations = [Calibration(**c) for c in (run["provenance"] or {}).get("calibration", [])]
    by_judge = {c.judge: c for c in calibrations}
    calibrated = {
        benchmark: (bench["judges"][0][0], event_rates(by_judge[bench["judges"][0][0]], bench["kind"]))
        for benchmark, bench in benchmarks.items()
        if bench["judges"][0][0] in by_judge
    }
    rows = correct_metrics(rows, calibrated)
    rows += attack_average_rows(rows, systems)
    bases = {variant: info["base"] for variant, info in systems.items() if info.get("base")}
    diffs = correct_diffs(diffs_against_base(records, bases, n_resamples=n_resamples), calibrated)
    provenance = {k: v for k, v in (run["provenance"] or {}).items() if k not in ("plan", "calibration")}
    provenance["config"] = run["config"]
    provenance["run_id"] = run_id
    return Report(
        title=title or run_id, rows=rows, diffs=diffs, samples=records, patterns=pattern_rows(records),
        calibrations=calibrations, provenance=provenance,
    )


def attack_average_rows(rows: list[VariantRow], systems: dict[str, dict[str, str]]) -> list[VariantRow]:
    """One ``.../all-attacks`` row per system attacked more than once: ASR averaged over attacks.

    The average is the unweighted mean of the per-attack rates (an attack that makes 8 prompts
    per behaviour must not outweigh one that makes 1); its interval is the normal approximation
    of that mean of independent proportions, clipped to [0, 1].
    """
    groups: dict[tuple[str, str, str], list[VariantRow]] = defaultdict(list)
    for row in rows:
        info = systems.get(row.variant, {})
        groups[(row.model, info.get("variant", row.variant), row.strategy)].append(row)
    averaged: list[VariantRow] = []
    for members in groups.values():
        if len({m.attack for m in members}) < 2:
            continue
        per_benchmark: dict[str, list[RateMetric]] = defaultdict(list)
        for member in members:
            for metric in member.metrics:
                if metric.name == "asr":
                    per_benchmark[metric.benchmark].append(metric)
        metrics = []
        for benchmark, parts in per_benchmark.items():
            if len(parts) < 2:
                continue
            if any(p.rate is None for p in parts):  # an attack with nothing decided: no average
                mean, low, high = None, 0.0, 1.0
                correction = None
            else:
                mean = sum(p.rate for p in parts) / len(parts)  # type: ignore[misc]
                variance = sum(p.rate * (1 - p.rate) / p.n for p in parts) / len(parts) ** 2  # type: ignore[operator]
                half = Z_95 * math.sqrt(variance)
                low, high = max(0.0, mean - half), min(1.0, mean + half)
                correction = _corrected_mean(parts, mean, variance)
            metrics.append(
                RateMetric(
                    name="asr", benchmark=benchmark, rate=mean, low=low, high=high,
                    n=sum(p.n for p in parts), successes=sum(p.successes for p in parts),
                    undecided=sum(p.undecided for p in parts), truncated=sum(p.truncated for p in parts),
                    corrected=correction,
                )
            )
        if metrics:
            attacked = next(m for m in members if m.attack != "none")
            prefix = attacked.variant.removesuffix(f"/{attacked.attack}")  # labels end with /<attack>
            averaged.append(
                VariantRow(
                    variant=f"{prefix}/all-attacks", model=attacked.model, strategy=attacked.strategy,
                    attack="all", metrics=metrics,
                )
            )
    return averaged


def _corrected_mean(parts: list[RateMetric], mean: float, variance: float) -> Correction | None:
    """The mean over attacks corrected for judge error, when one calibrated judge scored every part."""
    first = shared_correction(parts)
    if first is None:
        return None
    try:
        result = corrected_mean_rate(mean, variance, first.rates())
    except ValueError:
        return None
    return Correction(
        judge=first.judge, rate=result.rate, low=result.low, high=result.high, method=result.method,
        **first.rates().to_dict(),
    )


def event_rates(calibration: Calibration, kind: str) -> BinaryRates:
    """The judge's calibration counts oriented to the metric's event (see ``counts_as_success``)."""
    rates = calibration.rates()
    return rates if counts_as_success(kind, True, calibration.meaning) else rates.flipped()


def correct_metrics(rows: list[VariantRow], calibrated: dict[str, tuple[str, BinaryRates]]) -> list[VariantRow]:
    """Add the judge-error correction to every metric whose benchmark's scoring judge was calibrated.

    ``calibrated`` maps a benchmark to (its scoring judge, the judge's event-oriented counts).
    """
    out = []
    for row in rows:
        metrics = []
        for m in row.metrics:
            if m.benchmark in calibrated:
                judge, rates = calibrated[m.benchmark]
                m = m.model_copy(update={"corrected": Correction.of_counts(judge, m.successes, m.n, rates)})
            metrics.append(m)
        out.append(row.model_copy(update={"metrics": metrics}))
    return out


def correct_diffs(diffs: list[DiffRow], calibrated: dict[str, tuple[str, BinaryRates]]) -> list[DiffRow]:
    out = []
    for d in diffs:
        if d.diff is None or d.benchmark not in calibrated:
            out.append(d)
            continue
        judge, rates = calibrated[d.benchmark]
        try:
            result = corrected_difference(d.diff, d.low, d.high, rates)
        except ValueError:
            out.append(d)
            continue
        correction = DiffCorrection(judge=judge, diff=result.diff, low=result.low, high=result.high)
        out.append(d.model_copy(update={"corrected": correction}))
    return out
