"""Sweeps and seed repeats in the report: metric-vs-value curves and the spread between seeds.

The run's plan records, per system, the curves it is a point of (``curves``: curve name, field,
key, value, index) and the seed group it belongs to (``repeat``: the group's name, the seed); see
``srlab.experiment.sweeps``. Everything here reads rows already scored, so it adds no new rate.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from srlab.report.model import CurvePoint, CurveRow, RateMetric, RepeatRow, VariantRow
from srlab.report.plot import new_axes, save_figure
from srlab.report.tables import METRIC_TITLES


def _metric_keys(rows: list[VariantRow]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((m.name, m.benchmark) for row in rows for m in row.metrics))


# (system labels, metric, benchmark) -> the metric over all those systems' samples together.
PooledScore = Callable[[list[str], str, str], RateMetric | None]


def curve_rows(rows: list[VariantRow], systems: dict[str, dict[str, Any]], pooled: PooledScore) -> list[CurveRow]:
    """One row per (curve, metric, benchmark), points in the sweep's order. A point's seed runs are
    scored together by ``pooled`` (they answered the same prompts, so a prompt's answers across seeds
    are its samples and the prompt stays the unit of the interval); each run's own rate is kept."""
    by_label = {row.variant: row for row in rows}
    # curve -> index -> (value, rows); curve -> (field, key)
    points: dict[str, dict[int, tuple[Any, list[VariantRow]]]] = defaultdict(dict)
    fields: dict[str, tuple[str, str]] = {}
    for label, info in systems.items():
        row = by_label.get(label)
        if row is None:
            continue
        for member in info.get("curves", []):
            fields[member["curve"]] = (member["field"], member["key"])
            value, members = points[member["curve"]].setdefault(member["index"], (member["value"], []))
            members.append(row)
    out: list[CurveRow] = []
    for curve, by_index in points.items():
        ordered = [by_index[i] for i in sorted(by_index)]
        for name, benchmark in _metric_keys([r for _, members in ordered for r in members]):
            curve_points = []
            judge = ""
            for index, (value, members) in zip(sorted(by_index), ordered, strict=True):
                parts = [m for m in (r.metric(name, benchmark) for r in members) if m is not None]
                point = parts[0] if len(parts) == 1 else pooled([r.variant for r in members], name, benchmark)
                if point is None:
                    continue
                rate, low, high = point.reported()
                judge = judge or point.judge
                curve_points.append(CurvePoint(
                    value=value, index=index, systems=[r.variant for r in members], rate=rate, low=low, high=high, n=point.n,
                    seed_rates=[p.reported()[0] for p in parts] if len(parts) > 1 else [],
                ))
            if len(curve_points) >= 2:
                field, key = fields[curve]
                out.append(CurveRow(curve=curve, field=field, key=key, metric=name, benchmark=benchmark,
                                    judge=judge, points=curve_points))
    return out


def repeat_rows(rows: list[VariantRow], systems: dict[str, dict[str, Any]]) -> list[RepeatRow]:
    """Per seed group and metric: each run's rate, their mean, standard deviation and range, and the
    mean half-width of the runs' own intervals (is the spread between seeds larger than sampling?)."""
    groups: dict[str, list[tuple[int, VariantRow]]] = defaultdict(list)
    by_label = {row.variant: row for row in rows}
    for label, info in systems.items():
        if "repeat" in info and label in by_label:
            groups[info["repeat"]["of"]].append((int(info["repeat"]["seed"]), by_label[label]))
    out: list[RepeatRow] = []
    for group, members in groups.items():
        if len(members) < 2:
            continue
        for name, benchmark in _metric_keys([r for _, r in members]):
            found: list[tuple[int, RateMetric]] = [
                (seed, m) for seed, r in members if (m := r.metric(name, benchmark)) is not None
            ]
            reported = [m.reported() for _, m in found]
            rates = [rate for rate, _, _ in reported]
            known = [r for r in rates if r is not None]
            out.append(RepeatRow(
                system=group, metric=name, benchmark=benchmark, judge=found[0][1].judge,
                seeds=[seed for seed, _ in found], rates=rates,
                mean=statistics.fmean(known) if known else None,
                sd=statistics.stdev(known) if len(known) >= 2 else None,
                min=min(known) if known else None, max=max(known) if known else None,
                sampling_half_width=statistics.fmean((high - low) / 2 for _, low, high in reported),
            ))
    return out


def curve_groups(curves: list[CurveRow]) -> dict[str, list[CurveRow]]:
    """Curves by their name: one plot each, a line per metric."""
    groups: dict[str, list[CurveRow]] = defaultdict(list)
    for row in curves:
        groups[row.curve].append(row)
    return dict(groups)


def plot_curves(name: str, rows: list[CurveRow], out_png: str | Path) -> str:
    """Draw one curve group (each metric against the swept value, 95% intervals, seed runs as dots)
    to PNG; returns the SVG text. Numeric values sit on a numeric axis; others in the sweep's order."""
    numeric = all(row.numeric() for row in rows)
    with new_axes((7, 4.5)) as (fig, ax):
        ticks = {p.index: str(p.value) for row in rows for p in row.points}
        for row in rows:
            xs = [float(p.value) if numeric else float(p.index) for p in row.points]  # type: ignore[arg-type]
            shown = [(x, p) for x, p in zip(xs, row.points, strict=True) if p.rate is not None]
            if not shown:
                continue
            line = ax.errorbar(
                [x for x, _ in shown], [100 * p.rate for _, p in shown],  # type: ignore[operator]
                yerr=[[max(0.0, 100 * (p.rate - p.low)) for _, p in shown],  # type: ignore[operator]
                      [max(0.0, 100 * (p.high - p.rate)) for _, p in shown]],  # type: ignore[operator]
                fmt="-o", capsize=3, markersize=5, label=f"{METRIC_TITLES.get(row.metric, row.metric)} ({row.benchmark})",
            )
            for x, p in shown:
                seeds = [100 * r for r in p.seed_rates if r is not None]
                ax.scatter([x] * len(seeds), seeds, s=12, alpha=0.6, color=line[0].get_color())
        if not numeric:
            ax.set_xticks(sorted(ticks), [ticks[i] for i in sorted(ticks)])
        ax.set_xlabel(f"{rows[0].key} ({rows[0].field})")
        ax.set_ylabel("Rate (%)")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{name} (95% intervals; dots: seed runs)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        return save_figure(fig, out_png)
