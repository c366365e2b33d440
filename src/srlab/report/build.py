"""Build a Report from what a run left in the store (``srlab report`` and the end of ``srlab run``).

A run records, next to its provenance, a ``plan`` block: each benchmark's kind and judges (label,
stored name, cache version, meaning, target), each system's model and base. That is all this module needs to rebuild the report
from stored rows, so any stored run can be re-reported without a model or a judge.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from srlab.errors import SrlabError
from srlab.judge.agreement import BinaryRates
from srlab.judge.base import Judge
from srlab.report.correction import corrected_difference, corrected_mean_rate
from srlab.report.curves import curve_rows, repeat_rows
from srlab.report.metrics import (
    SCORE_METRIC,
    assign_metrics,
    in_subset,
    normalise_meaning,
    sampled_summaries,
    score_summary,
    summarize,
)
from srlab.report.model import (
    Calibration,
    Correction,
    DiffCorrection,
    DiffRow,
    JudgeVerdict,
    RateMetric,
    Report,
    SampledMetric,
    SampleRecord,
    SelectivityRow,
    VariantRow,
    breakdown_rows,
    class_share_rows,
    diffs_against_base,
    mean_count,
    mean_length,
    pattern_rows,
    privacy_selectivity_rows,
    selectivity_rows,
    shared_correction,
)
from srlab.report.stats import Z_95
from srlab.schema import Generation, Sample, Verdict
from srlab.store import RunItem, Store


@dataclass(frozen=True)
class PlannedJudge:
    """A judge as a run's plan records it: enough to find its stored verdicts and read them."""

    label: str  # its name in the report
    name: str  # the name its verdicts are stored under
    version: str  # its cache version (version + hash of target, params, model)
    meaning: str
    target: str | None = None
    graded: bool = False

    @classmethod
    def of(cls, label: str, judge: Judge) -> PlannedJudge:
        return cls(label, judge.name, judge.cache_version(), judge.label_meaning, judge.target, judge.graded_score)

    @classmethod
    def from_stored(cls, value: Any) -> PlannedJudge:
        if isinstance(value, dict):
            return cls(**value)
        name, version, meaning = value  # runs recorded before judges had a cache version
        return cls(name, name, version, normalise_meaning(meaning) or "", None, False)


def run_plan_block(
    benchmarks: dict[str, tuple[str, list[PlannedJudge]]], systems: dict[str, dict[str, Any]],
    compare: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The ``plan`` provenance block: ``benchmarks`` name -> (kind, judges in order),
    ``systems`` variant label -> {"model", "base", "strategy", "attack"}, ``compare`` the
    (system, baseline) pairs whose paired differences the report shows besides variant vs base."""
    return {
        "compare": [list(pair) for pair in compare or []],
        "benchmarks": {
            name: {"kind": kind, "judges": [asdict(j) for j in judges]} for name, (kind, judges) in benchmarks.items()
        },
        "systems": systems,
        # The store writes JSON with sorted keys; these keep the config's order for the report.
        "benchmark_order": list(benchmarks),
        "system_order": list(systems),
    }


def benchmark_metrics(kind: str, judges: list[PlannedJudge]) -> list[tuple[str, PlannedJudge]]:
    """(metric name, scoring judge) for one benchmark, plus the graded score where one runs."""
    by_label = {j.label: j for j in judges}
    out = [(metric.name, by_label[label]) for metric, label in assign_metrics(kind, [(j.label, j.meaning) for j in judges])]
    for name, judge in list(out):
        if name == "asr" and judge.graded:
            out.insert(out.index((name, judge)) + 1, (SCORE_METRIC.name, judge))
    return out


def build_report(store: Store, run_id: str, title: str | None = None, n_resamples: int = 2000) -> Report:
    run = store.get_run(run_id)
    if run is None:
        known = ", ".join(r["id"] for r in store.list_runs()) or "none"
        raise SrlabError(f"no run {run_id!r} in store {store.path}; stored runs: {known}")
    plan = (run["provenance"] or {}).get("plan")
    if not plan:
        raise SrlabError(f"run {run_id!r} has no plan block; it was made by an older srlab and cannot be reported")
    benchmarks: dict[str, dict[str, Any]] = {}
    for b in plan["benchmark_order"]:
        entry = plan["benchmarks"][b]
        benchmarks[b] = {"kind": entry["kind"], "judges": [PlannedJudge.from_stored(j) for j in entry["judges"]]}
    systems: dict[str, dict[str, Any]] = {s: plan["systems"][s] for s in plan["system_order"]}

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
        for judge in benchmarks[benchmark]["judges"]:
            found = store.get_verdicts(pairs, judge.name, judge.version)
            for (gen_key, s_key, target), verdict in found.items():
                if judge.target is None or target == judge.target:
                    verdicts[(gen_key, s_key, judge.label)] = verdict

    records: list[SampleRecord] = []
    # (variant, benchmark) -> (prompt, generation, verdicts) per run item, samples of a prompt together.
    grouped: dict[tuple[str, str], list[tuple[str, Generation, dict[str, Verdict | None]]]] = defaultdict(list)
    for item in items:
        gen = generations.get(item.generation_key)
        if gen is None:
            continue  # generation not stored yet: the run was interrupted; report what exists
        bench = benchmarks[item.benchmark]
        got = {j.label: verdicts.get((item.generation_key, item.sample_key, j.label)) for j in bench["judges"]}
        meanings = {j.label: j.meaning for j in bench["judges"]}
        sample = samples[item.sample_key]
        records.append(
            SampleRecord(
                variant=item.variant, benchmark=item.benchmark, kind=bench["kind"], strategy=item.strategy,
                attack=item.attack, sample_id=item.sample_id, sample_index=item.sample_index,
                category=sample.category, prompt=sample.user_text(),
                reasoning=gen.reasoning,
                answer=gen.answer, truncated=gen.truncated,
                verdicts={j: JudgeVerdict.from_verdict(v, meanings[j]) for j, v in got.items() if v is not None},
            )
        )
        grouped[(item.variant, item.benchmark)].append((item.sample_id, gen, got))

    metric_plan = {b: benchmark_metrics(bench["kind"], bench["judges"]) for b, bench in benchmarks.items()}
    categories = {(r.benchmark, r.sample_id): r.category for r in records}
    rows: list[VariantRow] = []
    sampled: list[SampledMetric] = []
    for variant, info in systems.items():
        metrics: list[RateMetric] = []
        texts_r: list[str | None] = []
        texts_a: list[str | None] = []
        for benchmark in benchmarks:
            entries = grouped.get((variant, benchmark))
            if not entries:
                continue
            gens = [g for _, g, _ in entries]
            prompts = [p for p, _, _ in entries]
            for metric, judge in metric_plan[benchmark]:
                metrics.append(_metric(metric, judge, benchmark, entries, categories))
            if len(set(prompts)) < len(prompts):
                sampled += sampled_metrics(variant, benchmark, metric_plan[benchmark], entries)
            texts_r += [g.reasoning for g in gens if g.reasoning]
            texts_a += [g.answer for g in gens]
        rows.append(
            VariantRow(
                variant=variant, model=info["model"], strategy=info.get("strategy", ""), attack=info.get("attack", "none"),
                metrics=metrics, mean_reasoning_tokens=mean_length(texts_r), mean_answer_tokens=mean_length(texts_a),
                mean_trace_tokens=mean_count(g.reasoning_tokens for b in benchmarks for _, g, _ in grouped.get((variant, b), [])),
            )
        )
    calibrations = [Calibration(**c) for c in (run["provenance"] or {}).get("calibration", [])]
    by_judge = {c.judge: c for c in calibrations}
    calibrated = {
        (benchmark, metric): (judge.label, by_judge[judge.label].rates())
        for benchmark, assigned in metric_plan.items()
        for metric, judge in assigned
        if judge.label in by_judge and metric != SCORE_METRIC.name
    }
    rows = correct_metrics(rows, calibrated)

    def pooled(labels: list[str], metric: str, benchmark: str) -> RateMetric | None:
        # A sweep point's seed runs answered the same prompts: scored together, the prompt stays the unit.
        judge = dict(metric_plan.get(benchmark, [])).get(metric)
        entries = [e for label in labels for e in grouped.get((label, benchmark), [])]
        if judge is None or not entries:
            return None
        row = VariantRow(variant="+".join(labels), model="", strategy="",
                         metrics=[_metric(metric, judge, benchmark, entries, categories)])
        return correct_metrics([row], calibrated)[0].metrics[0]

    rows += attack_average_rows(rows, systems)
    # Each trained variant against its base, then the config's own ``compare`` pairs.
    bases = [(variant, info["base"]) for variant, info in systems.items() if info.get("base")]
    bases += [(a, b) for a, b in plan.get("compare", [])]
    binary = {b: [(m, j.label) for m, j in assigned if m != SCORE_METRIC.name] for b, assigned in metric_plan.items()}
    diffs = correct_diffs(diffs_against_base(records, bases, binary, n_resamples=n_resamples), calibrated)
    provenance = {k: v for k, v in (run["provenance"] or {}).items() if k not in ("plan", "calibration")}
    provenance["config"] = run["config"]
    provenance["run_id"] = run_id
    provenance["status"] = run.get("status") or "incomplete"  # running (a kill), interrupted (Ctrl-C), finished
    return Report(
        title=title or run_id, rows=rows, diffs=diffs, samples=records, patterns=pattern_rows(records),
        classes=class_share_rows(records), breakdowns=breakdown_rows(records, binary),
        sampled=sampled, curves=curve_rows(rows, systems, pooled), repeats=repeat_rows(rows, systems),
        selectivity=selectivity_rows(records, {
            b: j for b, pairs in binary.items() for m, j in pairs if m in ("refusal_rate", "over_refusal")
        }) + _privacy_selectivity(records, dict(binary.get("privacy-probes", []))),
        calibrations=calibrations,
        provenance=provenance,
    )


def _privacy_selectivity(records: list[SampleRecord], judges: dict[str, str]) -> list[SelectivityRow]:
    """The privacy probes' triples, where both the leak and the over-refusal metric were scored."""
    if "privacy_leakage" not in judges or "privacy_over_refusal" not in judges:
        return []
    return privacy_selectivity_rows(records, judges["privacy_leakage"], judges["privacy_over_refusal"])


def _metric(
    metric: str, judge: PlannedJudge, benchmark: str,
    entries: list[tuple[str, Generation, dict[str, Verdict | None]]], categories: dict[tuple[str, str], str | None],
) -> RateMetric:
    """One metric over (prompt, generation, verdicts) entries; repeated prompts are several samples of one."""
    # A metric over a subset of the samples (the privacy types) reads only those.
    kept = [e for e in entries if in_subset(metric, categories.get((benchmark, e[0])))]
    judged = [got[judge.label] or _NOT_JUDGED for _, _, got in kept]
    kept_gens, kept_prompts = [g for _, g, _ in kept], [p for p, _, _ in kept]
    if metric == SCORE_METRIC.name:
        summary = score_summary(benchmark, judge.label, judged, kept_gens, kept_prompts)
    else:
        summary = summarize(metric, benchmark, judge.label, judged, kept_gens, kept_prompts)
    return RateMetric.from_summary(summary)


# A sample whose scoring judge left no stored verdict (an interrupted run): counted, never an event.
_NOT_JUDGED = Verdict(judge="-", label=None, reason="not judged")


def sampled_metrics(
    variant: str, benchmark: str, assigned: list[tuple[str, PlannedJudge]],
    entries: list[tuple[str, Generation, dict[str, Verdict | None]]],
) -> list[SampledMetric]:
    """avg@k, pass@k and the flip rate by the accuracy judge; Safe@1, Safe@k and the flip rate by
    the ASR judge, or by the refusal judge where no harm judge scores the benchmark."""
    judges = dict(assigned)
    judge = judges.get("accuracy") or judges.get("asr") or judges.get("refusal_rate")
    if judge is None:
        return []  # a benign benchmark: over-refusal stays a rate over all samples
    by_prompt: dict[str, list[bool | None]] = defaultdict(list)
    for prompt, _, got in entries:
        verdict = got[judge.label]
        by_prompt[prompt].append(None if verdict is None else verdict.label)
    truncated = sum(1 for _, g, _ in entries if g.truncated)
    summaries = sampled_summaries(benchmark, judge.label, judge.meaning, list(by_prompt.values()), truncated)
    return [SampledMetric.of(variant, s) for s in summaries]


def attack_average_rows(rows: list[VariantRow], systems: dict[str, dict[str, Any]]) -> list[VariantRow]:
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
        per_benchmark: dict[tuple[str, str], list[RateMetric]] = defaultdict(list)
        for member in members:
            for metric in member.metrics:
                if metric.name in ("asr", "refusal_rate"):
                    per_benchmark[(metric.name, metric.benchmark)].append(metric)
        metrics = []
        for (name, benchmark), parts in per_benchmark.items():
            if len(parts) < 2:
                continue
            if any(p.rate is None for p in parts):  # an attack with nothing decided: no average
                mean, low, high = None, 0.0, 1.0
                correction = None
            else:
                mean = sum(p.rate for p in parts) / len(parts)  # type: ignore[misc]
                # Each part's variance at its effective size (several samples per prompt are not independent).
                variance = sum(p.rate * (1 - p.rate) / p.sample_size for p in parts) / len(parts) ** 2  # type: ignore[operator]
                half = Z_95 * math.sqrt(variance)
                low, high = max(0.0, mean - half), min(1.0, mean + half)
                correction = _corrected_mean(parts, mean, variance)
            metrics.append(
                RateMetric(
                    name=name, benchmark=benchmark, judge=parts[0].judge, rate=mean, low=low, high=high,
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


Calibrated = dict[tuple[str, str], tuple[str, BinaryRates]]


def correct_metrics(rows: list[VariantRow], calibrated: Calibrated) -> list[VariantRow]:
    """Add the judge-error correction to every metric whose scoring judge was calibrated.

    ``calibrated`` maps (benchmark, metric) to (its scoring judge, the judge's counts; a metric's
    event is its judge's True, so the counts need no turning round).
    """
    out = []
    for row in rows:
        metrics = []
        for m in row.metrics:
            if (m.benchmark, m.name) in calibrated:
                judge, rates = calibrated[(m.benchmark, m.name)]
                correction = Correction.of_counts(judge, m.effective_successes, m.sample_size, rates)
                m = m.model_copy(update={"corrected": correction})
            metrics.append(m)
        out.append(row.model_copy(update={"metrics": metrics}))
    return out


def correct_diffs(diffs: list[DiffRow], calibrated: Calibrated) -> list[DiffRow]:
    out = []
    for d in diffs:
        if d.diff is None or (d.benchmark, d.metric) not in calibrated:
            out.append(d)
            continue
        judge, rates = calibrated[(d.benchmark, d.metric)]
        try:
            result = corrected_difference(d.diff, d.low, d.high, rates)
        except ValueError:
            out.append(d)
            continue
        correction = DiffCorrection(judge=judge, diff=result.diff, low=result.low, high=result.high)
        out.append(d.model_copy(update={"corrected": correction}))
    return out
