"""Markdown tables of a report: the metrics per variant and the differences against base.

Markdown reads well in a terminal too, so the CLI prints these same tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from srlab.report.model import Report, VariantRow

METRIC_ORDER = ("accuracy", "asr", "over_refusal")
METRIC_TITLES = {"accuracy": "accuracy", "asr": "ASR", "over_refusal": "over-refusal"}


def metric_columns(rows: Sequence[VariantRow]) -> list[tuple[str, str]]:
    """(metric, benchmark) pairs in display order: accuracy, ASR, over-refusal, then any other."""
    seen: list[tuple[str, str]] = []
    for row in rows:
        for m in row.metrics:
            if (m.name, m.benchmark) not in seen:
                seen.append((m.name, m.benchmark))

    def order(column: tuple[str, str]) -> tuple[int, int]:
        rank = METRIC_ORDER.index(column[0]) if column[0] in METRIC_ORDER else len(METRIC_ORDER)
        return rank, seen.index(column)

    return sorted(seen, key=order)


def column_title(metric: str, benchmark: str) -> str:
    return f"{METRIC_TITLES.get(metric, metric)} {benchmark}"


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
    header += [column_title(*c) for c in columns] + ["mean reasoning tokens", "mean answer tokens"]
    body = []
    for row in report.rows:
        cells = [row.variant, row.model, row.strategy, row.attack]
        for name, benchmark in columns:
            m = row.metric(name, benchmark)
            if m is None:
                cells.append("–")
                continue
            cell = f"{m.format()} n={m.n} u={m.undecided} t={m.truncated}"
            if m.corrected is not None:
                cell += f"; judge-corrected {m.corrected.format()}"
            cells.append(cell)
        cells += [format_length(row.mean_reasoning_tokens), format_length(row.mean_answer_tokens)]
        body.append(cells)
    return _markdown(header, body)


def markdown_diffs(report: Report) -> str:
    """Paired differences against base, in percentage points with their 95% interval."""
    header = ["variant", "base", "metric", "benchmark", "difference [95% CI]", "pairs"]
    corrected = any(d.corrected is not None for d in report.diffs)
    if corrected:
        header.append("judge-corrected [95% CI]")
    body = []
    for d in report.diffs:
        cells = [d.variant, d.base, METRIC_TITLES.get(d.metric, d.metric), d.benchmark, d.format(), str(d.n_pairs)]
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


def markdown_report(report: Report) -> str:
    parts = [f"# {report.title}", "", markdown_table(report)]
    if report.diffs:
        parts += ["", "## Differences against base", "", markdown_diffs(report)]
    if report.patterns:
        parts += ["", "## Risky reasoning patterns", "", _markdown(PATTERN_HEADER, pattern_cells(report))]
    if report.calibrations:
        parts += ["", "## Judge calibration", "", CALIBRATION_NOTE, "", _markdown(CALIBRATION_HEADER, calibration_cells(report))]
    return "\n".join(parts) + "\n"
