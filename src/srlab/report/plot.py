"""The safety–reasoning plane: each variant a point with 95% error bars, and the Pareto frontier."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srlab.report.model import Report, SelectivityRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@contextmanager
def new_axes(figsize: tuple[float, float]) -> Iterator[tuple[Figure, Axes]]:
    """A Figure with its own Agg canvas (no pyplot global state, no display needed) and its axes,
    under srlab's SVG settings (text kept as text, stable ids); ``save_figure`` it inside."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "srlab"}):
        fig = Figure(figsize=figsize, dpi=120)
        FigureCanvasAgg(fig)
        yield fig, fig.add_subplot()


def save_figure(fig: Figure, out_png: str | Path) -> str:
    """Write the figure to ``out_png`` and return it as SVG text (for inlining in the HTML report)."""
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png", metadata={"Software": None})
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


@dataclass(frozen=True)
class TradeoffPoint:
    """One variant on the plane: x = reasoning accuracy, y = safety (1 - ASR, or the refusal rate
    on harmful prompts), both in [0, 1]."""

    label: str
    x: float
    x_low: float
    x_high: float
    y: float
    y_low: float
    y_high: float


def safety_axis(report: Report) -> tuple[str, str]:
    """(metric, axis label) of the safety axis: 1 - ASR where a harm judge scored ASR, else the
    refusal rate on harmful prompts (the offline path before a harm judge), named as such."""
    for metric, title in (("asr", "Safety = 1 − ASR"), ("refusal_rate", "Refusal rate on harmful prompts")):
        judges = sorted({m.judge for row in report.rows for m in row.metrics if m.name == metric and m.judge})
        if judges:
            return metric, f"{title} (%), judged by {', '.join(judges)}"
    return "asr", "Safety = 1 − ASR (%)"


def tradeoff_points(report: Report, reasoning_metric: str = "accuracy") -> list[TradeoffPoint]:
    """One point per variant that has both axes; metrics pool over benchmarks.

    Where a metric's judge was calibrated, the point and its bars are the judge-corrected ones.
    """
    safety_metric, _ = safety_axis(report)
    points = []
    for row in report.rows:
        reasoning, safety = row.pooled(reasoning_metric), row.pooled(safety_metric)
        if reasoning is None or safety is None:
            continue
        (x, x_low, x_high), (y, y_low, y_high) = reasoning.reported(), safety.reported()
        if x is None or y is None:
            continue
        if safety_metric == "asr":  # safety is the complement of ASR, so its bounds swap
            y, y_low, y_high = 1 - y, 1 - y_high, 1 - y_low
        points.append(TradeoffPoint(row.variant, x, x_low, x_high, y, y_low, y_high))
    return points


def pareto_frontier(points: Sequence[TradeoffPoint]) -> list[TradeoffPoint]:
    """Points no other point dominates (>= on both axes, > on one), maximising x and y.

    Sorted by x ascending (so y descending). Exact ties are all kept: neither dominates the other.
    """
    frontier = [
        p for p in points
        if not any(q.x >= p.x and q.y >= p.y and (q.x > p.x or q.y > p.y) for q in points)
    ]
    return sorted(frontier, key=lambda p: (p.x, -p.y, p.label))


def plot_tradeoff(
    points: Sequence[TradeoffPoint], out_png: str | Path, out_svg: str | Path, corrected: bool = False,
    y_label: str = "Safety = 1 − ASR (%)", x_label: str = "Reasoning accuracy (%)",
) -> str:
    """Draw the plane to PNG and SVG; returns the SVG text (for inlining in the HTML report)."""
    with new_axes((7, 5.5)) as (fig, ax):
        frontier = pareto_frontier(points)
        on_frontier = {id(p) for p in frontier}
        for p in points:
            ax.errorbar(
                100 * p.x, 100 * p.y,
                # A corrected rate may sit at its interval's edge; rounding must not flip a bar.
                xerr=[[max(0.0, 100 * (p.x - p.x_low))], [max(0.0, 100 * (p.x_high - p.x))]],
                yerr=[[max(0.0, 100 * (p.y - p.y_low))], [max(0.0, 100 * (p.y_high - p.y))]],
                fmt="o", capsize=3, markersize=7, zorder=3,
                color="tab:red" if id(p) in on_frontier else "tab:blue",
            )
            ax.annotate(p.label, (100 * p.x, 100 * p.y), textcoords="offset points", xytext=(6, 6), fontsize=9)
        if frontier:
            # steps-pre: between consecutive frontier points the attainable y drops to the next
            # point's level only at that point's x, which is the staircase of the dominated region.
            ax.plot(
                [100 * p.x for p in frontier], [100 * p.y for p in frontier],
                drawstyle="steps-pre", linestyle="--", color="tab:red", label="Pareto frontier", zorder=2,
            )
            ax.legend(loc="best")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(
            "Safety–reasoning trade-off (95% intervals, judge-corrected where calibrated)" if corrected
            else "Safety–reasoning trade-off (95% intervals)"
        )
        ax.set_xlim(-2, 102)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        svg = save_figure(fig, out_png)
    Path(out_svg).write_text(svg, encoding="utf-8")
    return svg


def plot_selectivity(rows: Sequence[SelectivityRow], out_png: str | Path) -> str:
    """The selectivity plane beside the trade-off one: x = share of matched safe prompts answered,
    y = share of their unsafe members refused (privacy: data withheld), 95% Wilson bars; the top
    right is a model that tells them apart. Returns the SVG text."""
    markers = {"xstest": ("o", "tab:blue", "XSTest pairs"), "privacy-probes": ("s", "tab:green", "privacy triples")}
    with new_axes((7, 5.5)) as (fig, ax):
        shown: set[str] = set()
        for row in rows:
            (x, x_low, x_high), (y, y_low, y_high) = row.rate(row.complied_safe), row.rate(row.refused_unsafe)
            if x is None or y is None:
                continue
            marker, color, name = markers.get(row.pairs_of, ("^", "tab:gray", row.pairs_of))
            ax.errorbar(
                100 * x, 100 * y,
                xerr=[[max(0.0, 100 * (x - x_low))], [max(0.0, 100 * (x_high - x))]],
                yerr=[[max(0.0, 100 * (y - y_low))], [max(0.0, 100 * (y_high - y))]],
                fmt=marker, color=color, capsize=3, markersize=7, label=None if name in shown else name,
            )
            shown.add(name)
            ax.annotate(row.variant, (100 * x, 100 * y), textcoords="offset points", xytext=(6, 6), fontsize=9)
        ax.set_xlabel("Answers the safe member (%)")
        ax.set_ylabel("Refuses the unsafe member / withholds private data (%)")
        ax.set_title("Selectivity on matched prompts (95% intervals)")
        ax.set_xlim(-2, 102)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        if shown:
            ax.legend(loc="best")
        return save_figure(fig, out_png)
