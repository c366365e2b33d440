"""Markdown tables of a report: the metrics per variant and the differences against base.

Markdown reads well in a terminal too, so the CLI prints these same tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from srlab.report.metrics import METRIC_DEFS, METRIC_ORDER, format_rate
from srlab.report.model import RateMetric, RepeatRow, Report, SelectivityRow, VariantRow

METRIC_TITLES = {name: m.title for name, m in METRIC_DEFS.items()}


def metric_columns(rows: Sequence[VariantRow]) -> list[tuple[str, str]]:
    """(metric, benchmark) pairs in display order: accuracy, ASR, refusal rate, over-refusal, then any other."""
    seen: list[tuple[str, str]] = []
    for row in rows:
        for m in row.metrics:
            if (m.name, m.benchmark) not in seen:
                seen.append((m.name, m.benchmark))

    def order(column: tuple[str, str]) -> tuple[int, int]:
        rank = METRIC_ORDER.index(column[0]) if column[0] in METRIC_ORDER else len(METRIC_ORDER)
        return rank, seen.index(column)

    return sorted(seen, key=order)


def column_judge(rows: Sequence[VariantRow], metric: str, benchmark: str) -> str:
    """The judge(s) that scored a column, as the header names them."""
    judges = sorted({m.judge for row in rows for m in row.metrics if (m.name, m.benchmark) == (metric, benchmark) and m.judge})
    return "+".join(judges)


def column_title(metric: str, benchmark: str, judge: str = "") -> str:
    title = f"{METRIC_TITLES.get(metric, metric)} {benchmark}"
    return f"{title} ({judge})" if judge else title


def metric_cell(m: RateMetric) -> str:
    """``rate [CI] n= u= t=``, the decided-only rate when some were undecided, and the correction."""
    if m.name == "harm_score":
        text = "n/a" if m.rate is None else f"{m.rate:.3f} [{m.low:.3f}, {m.high:.3f}]"
        return f"{text} scored={m.successes} n={m.n}"
    cell = f"{m.format()} n={m.n} u={m.undecided} t={m.truncated}"
    if m.undecided:
        cell += f"; over decided {m.format_decided()}"
    if m.corrected is not None:
        cell += f"; judge-corrected {m.corrected.format()}"
    return cell


def format_length(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _cell(text: str) -> str:
    # A pipe would end the cell; a newline would end the row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def markdown_table(report: Report) -> str:
    """One row per variant; each rate as ``rate% [low, high]`` with n, undecided (u) and truncated (t)."""
    columns = metric_columns(report.rows)
    header = ["variant", "model", "strategy", "attack"]
    header += [column_title(*c, column_judge(report.rows, *c)) for c in columns]
    header += ["mean reasoning tokens", "mean answer tokens"]
    traces = any(row.mean_trace_tokens is not None for row in report.rows)  # counted by think budgets' backends
    if traces:
        header.append("mean trace tokens")
    body = []
    for row in report.rows:
        cells = [row.variant, row.model, row.strategy, row.attack]
        for name, benchmark in columns:
            m = row.metric(name, benchmark)
            cells.append("–" if m is None else metric_cell(m))
        cells += [format_length(row.mean_reasoning_tokens), format_length(row.mean_answer_tokens)]
        if traces:
            cells.append(format_length(row.mean_trace_tokens))
        body.append(cells)
    table = _markdown(header, body)
    if report.sampled:  # only cells with several samples per prompt have these
        table += "\n\n" + SAMPLED_NOTE + "\n\n" + _markdown(SAMPLED_HEADER, sampled_cells(report))
    return table


SAMPLED_HEADER = ["variant", "benchmark", "metric", "judge", "rate [95% CI]", "prompts", "samples per prompt",
                  "undecided samples"]
SAMPLED_NOTE = (
    "Several samples per prompt: avg@k and Safe@1 are the mean share of a prompt's samples judged correct / "
    "safe (not harmful, or refused where only a refusal judge scores); pass@k is the unbiased estimator of "
    "Chen et al. (2021); Safe@k is the share of prompts every sample of which is safe; the flip rate is the "
    "share of prompts whose samples the judge decided both ways. Undecided samples are never correct or safe. "
    "Intervals take the prompt as the unit: Wilson's over prompts, at the cluster-robust effective sample size "
    "for the rates over samples (which the columns above use too)."
)


def sampled_cells(report: Report) -> list[list[str]]:
    return [
        [m.variant, m.benchmark, m.title(), m.judge, m.format(), str(m.prompts), str(m.samples), str(m.undecided)]
        for m in report.sampled
    ]


def markdown_diffs(report: Report) -> str:
    """Paired differences against base, in percentage points with their 95% interval."""
    header = ["variant", "base", "metric", "benchmark", "judge", "difference [95% CI]", "pairs"]
    corrected = any(d.corrected is not None for d in report.diffs)
    if corrected:
        header.append("judge-corrected [95% CI]")
    body = []
    for d in report.diffs:
        cells = [d.variant, d.base, METRIC_TITLES.get(d.metric, d.metric), d.benchmark, d.judge, d.format(), str(d.n_pairs)]
        if corrected:
            cells.append("–" if d.corrected is None else d.corrected.format())
        body.append(cells)
    return _markdown(header, body)


CALIBRATION_HEADER = [
    "judge", "labels", "n", "sensitivity", "specificity", "accuracy", "kappa", "judge undecided", "unlabelled",
]


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def calibration_cells(report: Report) -> list[list[str]]:
    rows = []
    for c in report.calibrations:
        rates = c.rates()
        where = "".join(f" [{k}={v}]" for k, v in c.where.items())
        rows.append([
            c.judge, f"{c.labels}{where}", str(c.n), _ratio(rates.sensitivity), _ratio(rates.specificity),
            _ratio(c.accuracy), _ratio(c.kappa), str(c.judge_undecided), str(c.unlabelled),
        ])
    return rows


CALIBRATION_NOTE = (
    "Rates and differences scored by these judges are also shown corrected for the judge's measured error "
    "(Rogan-Gladen; intervals by Lang & Reiczigel, 2014, which carry the calibration set's own uncertainty). "
    "The correction assumes the judge errs on the evaluated responses as often as on the labelled ones."
)


PATTERN_HEADER = ["variant", "judge", "pattern", "rate [95% CI]", "flagged", "n", "undecided"]


def pattern_cells(report: Report) -> list[list[str]]:
    return [
        [p.variant, p.judge, p.pattern.replace("_", " "), p.format(), str(p.flagged), str(p.n), str(p.undecided)]
        for p in report.patterns
    ]


CLASS_HEADER = ["variant", "benchmark", "judge", "full compliance", "full refusal", "partial refusal", "undecided", "n"]


def class_cells(report: Report) -> list[list[str]]:
    def share(count: int, n: int) -> str:
        return f"{100 * count / n:.1f}% ({count})" if n else "–"

    return [
        [c.variant, c.benchmark, c.judge,
         *(share(c.counts.get(k, 0), c.n) for k in ("full_compliance", "full_refusal", "partial_refusal")),
         str(c.undecided), str(c.n)]
        for c in report.classes
    ]


BREAKDOWN_HEADER = ["variant", "benchmark", "category", "metric", "judge", "rate [95% CI]", "n", "undecided"]


def breakdown_cells(report: Report) -> list[list[str]]:
    return [
        [b.variant, b.benchmark, b.category, METRIC_TITLES.get(b.metric, b.metric), b.judge, b.format(), str(b.n),
         str(b.undecided)]
        for b in report.breakdowns
    ]


CURVE_HEADER = ["curve", "swept", "metric", "benchmark", "judge", "value", "rate [95% CI]", "n", "seed runs"]
CURVE_NOTE = (
    "Sweeps: each metric against the swept setting, the other coordinates fixed ('*' marks the swept one). "
    "Where a point was trained with several seeds, its rate pools their samples (the interval is the sampling "
    "one) and 'seed runs' lists each run's own rate."
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def markdown_curves(report: Report) -> str:
    return _markdown(CURVE_HEADER, curve_cells(report))


def curve_cells(report: Report) -> list[list[str]]:
    return [
        [c.curve, c.field, METRIC_TITLES.get(c.metric, c.metric), c.benchmark, c.judge, str(p.value),
         format_rate(p.rate, p.low, p.high), str(p.n), ", ".join(_percent(r) for r in p.seed_rates) or "–"]
        for c in report.curves for p in c.points
    ]


REPEAT_HEADER = ["system", "metric", "benchmark", "judge", "seeds", "rates", "mean ± sd", "range",
                 "sampling 95% ± (mean)"]
REPEAT_NOTE = (
    "Repeats over training seeds: the same mixture and training settings, trained once per seed. The spread "
    "between runs (sample standard deviation, range) sits beside the mean half-width of each run's own 95% "
    "interval: a spread as wide as the sampling interval means one training run cannot be told from another."
)


def repeat_cells(report: Report) -> list[list[str]]:
    def mean_sd(r: RepeatRow) -> str:
        if r.mean is None:
            return "–"
        return f"{100 * r.mean:.1f}%" + ("" if r.sd is None else f" ± {100 * r.sd:.1f}")

    return [
        [r.system, METRIC_TITLES.get(r.metric, r.metric), r.benchmark, r.judge, ", ".join(map(str, r.seeds)),
         ", ".join(_percent(x) for x in r.rates), mean_sd(r),
         "–" if r.min is None or r.max is None else f"{100 * r.min:.1f}–{100 * r.max:.1f}%",
         f"± {100 * r.sampling_half_width:.1f}"]
        for r in report.repeats
    ]


SELECTIVITY_HEADER = ["variant", "matched set", "pairs", "refuses unsafe", "answers safe", "selectivity (both)",
                      "undecided pairs"]


def selectivity_cells(report: Report) -> list[list[str]]:
    def cell(row: SelectivityRow, count: int) -> str:
        rate, low, high = row.rate(count)
        return f"{format_rate(rate, low, high)} ({count})"

    return [
        [r.variant, r.pairs_of, str(r.pairs), cell(r, r.refused_unsafe), cell(r, r.complied_safe), cell(r, r.selective),
         str(r.undecided)]
        for r in report.selectivity
    ]


SELECTIVITY_NOTE = (
    "Matched prompts. xstest: XSTest's unsafe contrast prompts matched one to one with the safe prompts they "
    "mirror; a selective model refuses the unsafe member and answers the safe one. privacy-probes: each triple's "
    "private-person request is 'unsafe' (selective: no leak, by the privacy leakage judge) and its public-figure "
    "and fictional-character requests are 'safe' (selective: both answered, by the refusal judge); first sample "
    "of each prompt. Undecided verdicts are never selective. 95% Wilson intervals over pairs."
)


METRICS_NOTE = (
    "Rates are over all samples (accuracy = correct / all; ASR = judged harmful / all attacked prompts; "
    "refusal rate and over-refusal = judged refusals / all prompts); u = undecided, t = truncated, both "
    "counted in n and never as events. Each column names the judge that scored it. 95% Wilson intervals."
)


PRIVACY_NOTE = (
    "Privacy probes: privacy leakage = private-type responses judged to give the personal data / all "
    "private-type prompts (a leak judge: not refused AND the data given, never just \"not refused\"); privacy "
    "over-refusal = public- and fictional-type responses judged refusals / all of them. The trade-off plot "
    "stays two-dimensional (reasoning x safety); privacy is read from these columns."
)


def metrics_note(report: Report) -> str:
    """The note on what the rates are, with the privacy metrics' definitions where a column has them."""
    privacy = any(m.name in ("privacy_leakage", "privacy_over_refusal") for row in report.rows for m in row.metrics)
    return f"{METRICS_NOTE} {PRIVACY_NOTE}" if privacy else METRICS_NOTE


def markdown_report(report: Report) -> str:
    parts = [f"# {report.title}", ""]
    if report.provenance.get("status") not in (None, "finished"):
        parts += ["**Incomplete run**: it stopped before every cell finished; these rates cover what was stored.", ""]
    parts += [metrics_note(report), "", markdown_table(report)]
    if report.diffs:
        parts += ["", "## Differences against base", "", markdown_diffs(report)]
    if report.classes:
        parts += ["", "## Response classes (XSTest)", "", _markdown(CLASS_HEADER, class_cells(report))]
    if report.selectivity:
        parts += ["", "## Selectivity on matched prompts", "", SELECTIVITY_NOTE, "",
                  _markdown(SELECTIVITY_HEADER, selectivity_cells(report))]
    if report.curves:
        parts += ["", "## Sweeps", "", CURVE_NOTE, "", markdown_curves(report)]
    if report.repeats:
        parts += ["", "## Repeats over training seeds", "", REPEAT_NOTE, "", _markdown(REPEAT_HEADER, repeat_cells(report))]
    if report.breakdowns:
        parts += ["", "## Per category", "", _markdown(BREAKDOWN_HEADER, breakdown_cells(report))]
    if report.patterns:
        parts += ["", "## Risky reasoning patterns", "", _markdown(PATTERN_HEADER, pattern_cells(report))]
    if report.calibrations:
        parts += ["", "## Judge calibration", "", CALIBRATION_NOTE, "", _markdown(CALIBRATION_HEADER, calibration_cells(report))]
    return "\n".join(parts) + "\n"
