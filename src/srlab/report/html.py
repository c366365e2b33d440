"""One self-contained HTML report: metrics, differences, the plot, provenance and a sample browser.

No network: CSS and JS are inline, the plot is inline SVG, the samples are embedded JSON. Tables
are rendered here (escaped); the sample browser is drawn by the page's JS with ``textContent``,
so no model output is ever parsed as HTML.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from srlab.report.curves import curve_groups, plot_curves
from srlab.report.model import Report
from srlab.report.plot import plot_selectivity, plot_tradeoff, safety_axis, tradeoff_points
from srlab.report.tables import (
    BREAKDOWN_HEADER,
    CALIBRATION_HEADER,
    CALIBRATION_NOTE,
    CLASS_HEADER,
    CURVE_HEADER,
    CURVE_NOTE,
    METRIC_TITLES,
    PATTERN_HEADER,
    REPEAT_HEADER,
    REPEAT_NOTE,
    SAMPLED_HEADER,
    SAMPLED_NOTE,
    SELECTIVITY_HEADER,
    SELECTIVITY_NOTE,
    breakdown_cells,
    calibration_cells,
    class_cells,
    column_judge,
    column_title,
    curve_cells,
    format_length,
    markdown_report,
    metric_columns,
    metrics_note,
    pattern_cells,
    repeat_cells,
    sampled_cells,
    selectivity_cells,
)

PAGE_SIZE = 100  # sample cards drawn at once; "show more" draws the next page


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` become \\u escapes, so a prompt that
    contains ``</script>`` or ``<!--`` cannot end or alter the script element."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def inline_svg(svg: str) -> str:
    """Matplotlib's SVG without its XML prolog and comments, ready to sit inside HTML."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    return svg.strip()


def _metrics_table(report: Report) -> str:
    columns = metric_columns(report.rows)
    head = "".join(f"<th>{_e(h)}</th>" for h in ("Variant", "Model", "Strategy", "Attack"))
    head += "".join(
        f'<th data-metric="{_e(m)}" data-benchmark="{_e(b)}">{_e(column_title(m, b, column_judge(report.rows, m, b)))}</th>'
        for m, b in columns
    )
    head += "<th>Mean reasoning tokens</th><th>Mean answer tokens</th>"
    traces = any(row.mean_trace_tokens is not None for row in report.rows)  # counted by think budgets' backends
    head += "<th>Mean trace tokens</th>" if traces else ""
    body = []
    for row in report.rows:
        cells = [f'<td class="variant">{_e(row.variant)}</td>', f"<td>{_e(row.model)}</td>",
                 f"<td>{_e(row.strategy)}</td>", f"<td>{_e(row.attack)}</td>"]
        for name, benchmark in columns:
            m = row.metric(name, benchmark)
            if m is None:
                cells.append('<td class="rate">–</td>')
                continue
            corrected = (
                "" if m.corrected is None
                else f'<span class="corrected">judge-corrected {_e(m.corrected.format())}</span>'
            )
            if m.name == "harm_score":
                value = "n/a" if m.rate is None else f"{m.rate:.3f} [{m.low:.3f}, {m.high:.3f}]"
                counts = f"scored {m.successes} of {m.n}"
            else:
                value = m.format()
                counts = f"n={m.n} · undecided {m.undecided} · truncated {m.truncated}"
                if m.undecided:
                    counts += f" · over decided {m.format_decided()}"
            cells.append(
                f'<td class="rate" data-metric="{_e(name)}" data-benchmark="{_e(benchmark)}">'
                f'<span class="value">{_e(value)}</span>{corrected}'
                f'<span class="counts">{_e(counts)}</span></td>'
            )
        cells.append(f'<td class="num">{_e(format_length(row.mean_reasoning_tokens))}</td>')
        cells.append(f'<td class="num">{_e(format_length(row.mean_answer_tokens))}</td>')
        if traces:
            cells.append(f'<td class="num">{_e(format_length(row.mean_trace_tokens))}</td>')
        body.append(f'<tr data-variant="{_e(row.variant)}">{"".join(cells)}</tr>')
    return f'<table id="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _diffs_table(report: Report) -> str:
    if not report.diffs:
        return '<p class="note">No variant has a base to compare against.</p>'
    titles = ["Variant", "Base", "Metric", "Benchmark", "Judge", "Difference [95% CI]", "Pairs"]
    corrected = any(d.corrected is not None for d in report.diffs)
    if corrected:
        titles.append("Judge-corrected [95% CI]")
    head = "".join(f"<th>{h}</th>" for h in titles)
    body = []
    for d in report.diffs:
        sign = "" if d.diff is None or d.low <= 0 <= d.high else (' class="sig"')
        extra = ""
        if corrected:
            c = d.corrected
            c_sign = "" if c is None or c.low <= 0 <= c.high else ' class="sig"'
            extra = f'<td{c_sign}>{_e("–" if c is None else c.format())}</td>'
        body.append(
            f'<tr data-variant="{_e(d.variant)}"><td>{_e(d.variant)}</td><td>{_e(d.base)}</td>'
            f"<td>{_e(METRIC_TITLES.get(d.metric, d.metric))}</td><td>{_e(d.benchmark)}</td><td>{_e(d.judge)}</td>"
            f"<td{sign}>{_e(d.format())}</td><td class=\"num\">{d.n_pairs}</td>{extra}</tr>"
        )
    return f'<table id="diffs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _text_table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    """A plain table of escaped text cells (the markdown report's tables, as HTML)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _section(title: str, table_id: str, header: list[str], rows: list[list[str]], note: str | None = None) -> str:
    """A titled text table (and its note); nothing when there are no rows."""
    if not rows:
        return ""
    note_html = f'<p class="note">{_e(note)}</p>\n' if note else ""
    return f"<h2>{_e(title)}</h2>\n{note_html}" + _text_table(table_id, header, rows)


def _breakdowns_table(report: Report) -> str:
    if not report.breakdowns:
        return ""
    return (
        f"<details id=\"breakdowns\"><summary>Per category ({len(report.breakdowns)} rows)</summary>\n"
        + _text_table("breakdown", BREAKDOWN_HEADER, breakdown_cells(report)) + "</details>"
    )


def _curves(report: Report) -> str:
    """The sweeps: one plot per curve, then every point in a collapsible table."""
    if not report.curves:
        return ""
    plots = "".join(f'<div class="curve">{inline_svg(svg)}</div>' for svg in report.curve_svgs)
    return (
        f'<h2>Sweeps</h2>\n<p class="note">{_e(CURVE_NOTE)}</p>\n<div id="curves">{plots}</div>\n'
        f'<details><summary>Every point ({sum(len(c.points) for c in report.curves)} rows)</summary>\n'
        + _text_table("curve-points", CURVE_HEADER, curve_cells(report)) + "</details>"
    )


def _provenance(report: Report) -> str:
    prov = report.provenance
    summary = []
    for key in ("git_revision", "seeds", "python", "platform"):
        if key in prov:
            value = prov[key] if isinstance(prov[key], str) else json.dumps(prov[key], sort_keys=True)
            summary.append(f"<dt>{_e(key)}</dt><dd><code>{_e(value)}</code></dd>")
    full = json.dumps(prov, indent=2, sort_keys=True, default=str)
    return (
        f'<dl class="prov">{"".join(summary)}</dl>'
        f'<details><summary>Full provenance (config, package versions, data manifests)</summary>'
        f'<pre id="provenance-json">{_e(full)}</pre></details>'
    )


def _browser_data(report: Report) -> dict[str, Any]:
    judges: list[str] = []
    for s in report.samples:
        for name in s.verdicts:
            if name not in judges:
                judges.append(name)
    benchmarks = list(dict.fromkeys(s.benchmark for s in report.samples))
    variants = list(dict.fromkeys([*report.variants(), *(s.variant for s in report.samples)]))
    return {
        "variants": variants,
        "benchmarks": benchmarks,
        "judges": judges,
        "samples": [s.model_dump(mode="json") for s in report.samples],
    }


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;color:#1d2430}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d6dae1;padding-bottom:.2rem}
.meta,.note{color:#5b6472}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d6dae1;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f2f4f7}
td.rate .value{display:block;font-variant-numeric:tabular-nums;white-space:nowrap}td.rate .counts{display:block;font-size:.78rem;color:#5b6472}td.rate .corrected{display:block;font-size:.85rem;color:#7a3e00;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.sig{font-weight:600}
#plot svg,.curve svg,#selectivity-plot svg{max-width:100%;height:auto}.prov dt{font-weight:600}.prov dd{margin:0 0 .4rem 1rem}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word;max-height:30rem}
.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:end;margin:.5rem 0}.filters label{display:flex;flex-direction:column;font-size:.85rem}
#shown-count{font-weight:600}.sample{border:1px solid #d6dae1;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.sample h3{font-size:.95rem;margin:.1rem 0 .4rem}.sample .field{font-size:.8rem;color:#5b6472;margin-top:.4rem}
.sample pre{margin:.2rem 0;max-height:18rem}.verdicts{display:flex;gap:.4rem;flex-wrap:wrap;margin-top:.4rem}
.verdict{border-radius:4px;padding:.1rem .45rem;font-size:.8rem;background:#eef0f3}.verdict.true{background:#dcefdc}
.verdict.false{background:#f8dede}.verdict.undecided{background:#fff1c2}.trunc{color:#a15c00;font-weight:600}
"""

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("srlab-data").textContent);
  var PAGE = %(page)d;
  var el = function (id) { return document.getElementById(id); };
  var fVariant = el("f-variant"), fBenchmark = el("f-benchmark"), fJudge = el("f-judge"), fLabel = el("f-label");
  function addOptions(select, values) {
    values.forEach(function (v) { var o = document.createElement("option"); o.value = v; o.textContent = v; select.appendChild(o); });
  }
  addOptions(fVariant, data.variants); addOptions(fBenchmark, data.benchmarks); addOptions(fJudge, data.judges);
  function labelOf(sample, judge) {
    var v = sample.verdicts[judge];
    if (!v) { return null; }
    return v.label === null ? "undecided" : String(v.label);
  }
  function matches(s) {
    if (fVariant.value !== "*" && s.variant !== fVariant.value) { return false; }
    if (fBenchmark.value !== "*" && s.benchmark !== fBenchmark.value) { return false; }
    if (fLabel.value === "*") { return true; }
    if (fJudge.value === "*") {  // any judge with that verdict
      return Object.keys(s.verdicts).some(function (j) { return labelOf(s, j) === fLabel.value; });
    }
    return labelOf(s, fJudge.value) === fLabel.value;
  }
  function block(title, text) {
    var frag = document.createDocumentFragment();
    var head = document.createElement("div"); head.className = "field"; head.textContent = title; frag.appendChild(head);
    var pre = document.createElement("pre"); pre.textContent = text; frag.appendChild(pre);
    return frag;
  }
  function card(s) {
    var div = document.createElement("div"); div.className = "sample";
    div.dataset.variant = s.variant; div.dataset.benchmark = s.benchmark; div.dataset.sampleId = s.sample_id;
    var h = document.createElement("h3");
    h.textContent = s.variant + " · " + s.benchmark + " · " + s.sample_id + " · " + s.strategy + (s.attack !== "none" ? " · attack " + s.attack : "");
    if (s.truncated) { var t = document.createElement("span"); t.className = "trunc"; t.textContent = " · truncated"; h.appendChild(t); }
    div.appendChild(h);
    div.appendChild(block("Prompt", s.prompt));
    div.appendChild(block("Reasoning", s.reasoning === null ? "(none)" : s.reasoning));
    div.appendChild(block("Answer", s.answer));
    var vs = document.createElement("div"); vs.className = "verdicts";
    Object.keys(s.verdicts).forEach(function (j) {
      var v = s.verdicts[j], lab = v.label === null ? "undecided" : String(v.label);
      var span = document.createElement("span"); span.className = "verdict " + lab;
      span.textContent = j + " (" + v.target + "): " + lab + (v.reason ? " — " + v.reason : "");
      vs.appendChild(span);
    });
    div.appendChild(vs);
    return div;
  }
  var current = [], drawn = 0;
  function drawMore() {
    var list = el("samples"), stop = Math.min(current.length, drawn + PAGE);
    for (; drawn < stop; drawn++) { list.appendChild(card(current[drawn])); }
    el("more").hidden = drawn >= current.length;
  }
  function update() {
    current = data.samples.filter(matches); drawn = 0;
    el("samples").textContent = "";
    el("shown-count").textContent = current.length + " of " + data.samples.length + " samples";
    document.body.dataset.shown = String(current.length);
    drawMore();
  }
  [fVariant, fBenchmark, fJudge, fLabel].forEach(function (s) { s.addEventListener("change", update); });
  el("more").addEventListener("click", drawMore);
  // Filters from the URL fragment (#variant=..&benchmark=..&judge=..&label=..): shareable links,
  // and the hook the browser test uses; it goes through the same change events as a user.
  var params = new URLSearchParams(location.hash.slice(1));
  var byName = {variant: fVariant, benchmark: fBenchmark, judge: fJudge, label: fLabel};
  Object.keys(byName).forEach(function (k) {
    if (params.has(k)) { byName[k].value = params.get(k); byName[k].dispatchEvent(new Event("change")); }
  });
  update();
  document.body.dataset.ready = "1";
})();
"""


def render_html(report: Report) -> str:
    """The report as one HTML document with nothing to fetch."""
    plot = (
        f'<div id="plot">{inline_svg(report.plot_svg)}</div>' if report.plot_svg
        else '<p class="note">No plot: no variant has both a reasoning accuracy and a safety rate.</p>'
    )
    selectivity_plot = (
        f'<div id="selectivity-plot">{inline_svg(report.selectivity_svg)}</div>' if report.selectivity_svg else ""
    )
    options = "".join(
        f'<option value="{v}">{label}</option>'
        for v, label in (("*", "any"), ("true", "true"), ("false", "false"), ("undecided", "undecided"))
    )
    browser = (
        '<div class="filters">'
        '<label>Variant<select id="f-variant"><option value="*">all</option></select></label>'
        '<label>Benchmark<select id="f-benchmark"><option value="*">all</option></select></label>'
        '<label>Judge<select id="f-judge"><option value="*">any judge</option></select></label>'
        f'<label>Verdict<select id="f-label">{options}</select></label>'
        '<span id="shown-count"></span></div>'
        '<div id="samples"></div><button id="more" type="button" hidden>Show more</button>'
    )
    incomplete = (
        "" if report.provenance.get("status") in (None, "finished")
        else '<p class="incomplete"><strong>Incomplete run</strong>: it stopped before every cell finished; '
        "these rates cover what was stored.</p>\n"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{_e(report.title)}</title><style>{CSS}</style></head>
<body>
<h1>{_e(report.title)}</h1>
{incomplete}<p class="meta">Created {_e(report.created)} · {len(report.rows)} variants · {len(report.samples)} samples.
{_e(metrics_note(report))} Differences are paired bootstrap 95% intervals.{
    " Judge-corrected values carry the scoring judge's measured error (see Judge calibration)." if report.calibrations else ""
}</p>
<h2>Metrics</h2>
{_metrics_table(report)}
{_section("Several samples per prompt", "sampled", SAMPLED_HEADER, sampled_cells(report), SAMPLED_NOTE)}
<h2>Differences against base</h2>
{_diffs_table(report)}
{_curves(report)}
{_section("Repeats over training seeds", "repeats", REPEAT_HEADER, repeat_cells(report), REPEAT_NOTE)}
{_breakdowns_table(report)}
{_section("Response classes (XSTest)", "classes", CLASS_HEADER, class_cells(report))}
{_section("Selectivity on matched prompts", "selectivity", SELECTIVITY_HEADER, selectivity_cells(report), SELECTIVITY_NOTE)}
{_section("Risky reasoning patterns", "patterns", PATTERN_HEADER, pattern_cells(report))}
{_section("Judge calibration", "calibration", CALIBRATION_HEADER, calibration_cells(report), CALIBRATION_NOTE)}
<h2>Safety–reasoning trade-off</h2>
{plot}{selectivity_plot}
<h2>Samples</h2>
{browser}
<h2>Provenance</h2>
{_provenance(report)}
<script type="application/json" id="srlab-data">{json_for_script(_browser_data(report))}</script>
<script>{JS % {"page": PAGE_SIZE}}</script>
</body></html>
"""


def _write_atomic(path: Path, text: str) -> None:
    from srlab.fileio import write_text_atomic

    write_text_atomic(path, text)


def write_report(report: Report, out_dir: str | Path) -> dict[str, Path]:
    """Write report.html, report.json, report.md, tradeoff.png and tradeoff.svg (and curve-N.png per
    sweep curve, selectivity.png with matched prompts); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("report.html", "report.json", "report.md", "tradeoff.png", "tradeoff.svg")}
    points = tradeoff_points(report)
    if points:
        judges = sorted({m.judge for row in report.rows for m in row.metrics if m.name == "accuracy" and m.judge})
        x_label = f"Reasoning accuracy (%), judged by {', '.join(judges)}" if judges else "Reasoning accuracy (%)"
        svg = plot_tradeoff(
            points, paths["tradeoff.png"], paths["tradeoff.svg"], corrected=bool(report.calibrations),
            y_label=safety_axis(report)[1], x_label=x_label,
        )
        report = report.model_copy(update={"plot_svg": svg})
    else:
        del paths["tradeoff.png"], paths["tradeoff.svg"]
    svgs = []
    for i, (name, rows) in enumerate(curve_groups(report.curves).items(), start=1):
        paths[f"curve-{i}.png"] = out / f"curve-{i}.png"
        svgs.append(plot_curves(name, rows, paths[f"curve-{i}.png"]))
    report = report.model_copy(update={"curve_svgs": svgs})
    if report.selectivity:
        paths["selectivity.png"] = out / "selectivity.png"
        report = report.model_copy(update={"selectivity_svg": plot_selectivity(report.selectivity, paths["selectivity.png"])})
    _write_atomic(paths["report.json"], report.model_dump_json(indent=2))
    _write_atomic(paths["report.md"], markdown_report(report))
    _write_atomic(paths["report.html"], render_html(report))
    return paths
