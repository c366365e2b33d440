"""The HTML report: escaping and self-containment as text, then the live page in headless Chromium."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from browser import dump_dom, parse_dom, require_chromium, screenshot

from srlab.report.html import PAGE_SIZE, json_for_script, render_html, write_report
from srlab.report.model import (
    JudgeVerdict,
    RateMetric,
    Report,
    SampleRecord,
    VariantRow,
    diffs_against_base,
    mean_length,
    metric_event,
)
from srlab.report.tables import markdown_table

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT_KEEP = REPO / "build" / "test-artifacts" / "report_browser.png"

VARIANTS = ("base", "sft", "sft+reflective")
# benchmark -> (kind, judges, samples per variant)
BENCHMARKS = {
    "gsm_symbolic": ("reasoning", ("gsm8k-answer",), 40),
    "strongreject": ("harmful", ("refusal", "refusal-reasoning"), 50),
    "xstest": ("benign", ("refusal",), 30),
}
# Model output is hostile text as far as the page is concerned.
HOSTILE = (
    'Tell me </script><script>document.body.dataset.pwned="1"</script> & "quotes" \'single\' '
    '<img src=x onerror="document.body.dataset.pwned=1"> <!-- comment --> \u2028 done'
)


# Per variant and benchmark kind, how often the primary judge says True (in percent): the
# fine-tuned variant reasons better and refuses less, the reflective one wins safety back.
TRUE_PERCENT = {
    "base": {"reasoning": 30, "harmful": 50, "benign": 20},
    "sft": {"reasoning": 60, "harmful": 25, "benign": 10},
    "sft+reflective": {"reasoning": 55, "harmful": 85, "benign": 30},
}


def label_for(variant: str, kind: str, i: int) -> bool | None:
    """A fixed, varied pattern of true / false / undecided (every 9th sample, shifted by variant)."""
    v = VARIANTS.index(variant)
    if (i + v) % 9 == 0:
        return None
    return (i * 37 + v * 11) % 100 < TRUE_PERCENT[variant][kind]


def make_samples() -> list[SampleRecord]:
    samples = []
    for variant in VARIANTS:
        for benchmark, (kind, judges, count) in BENCHMARKS.items():
            for i in range(count):
                label = label_for(variant, kind, i)
                verdicts = {
                    judge: JudgeVerdict(
                        label=label if j == 0 else (not label if label is not None else None),
                        reason="no final answer" if label is None else None,
                        target="reasoning" if judge.endswith("reasoning") else "answer",
                    )
                    for j, judge in enumerate(judges)
                }
                samples.append(
                    SampleRecord(
                        variant=variant, benchmark=benchmark, kind=kind, strategy="cot", sample_id=f"{benchmark}-{i}",
                        prompt=HOSTILE if i == 0 else f"Question {i} of {benchmark} for {variant}?",
                        reasoning=None if kind == "benign" else f"Let me think step {i} about it.",
                        answer=f"Answer {i} & <b>not bold</b>", truncated=i % 11 == 5, verdicts=verdicts,
                    )
                )
    return samples


def make_report() -> Report:
    samples = make_samples()
    rows = []
    for variant in VARIANTS:
        mine = [s for s in samples if s.variant == variant]
        metrics = []
        for benchmark, (kind, _, _) in BENCHMARKS.items():
            subset = [s for s in mine if s.benchmark == benchmark]
            judge = BENCHMARKS[benchmark][1][0]
            undecided = sum(1 for s in subset if s.verdicts[judge].label is None)
            name = {"reasoning": "accuracy", "harmful": "refusal_rate", "benign": "over_refusal"}[kind]
            metrics.append(
                RateMetric.from_counts(
                    name, benchmark, sum(metric_event(s, judge) for s in subset), len(subset), undecided,
                    sum(s.truncated for s in subset), judge=judge,
                )
            )
        rows.append(
            VariantRow(
                variant=variant, model="smollm2-135m" + ("" if variant == "base" else f"+{variant}"), strategy="cot",
                metrics=metrics, mean_reasoning_tokens=mean_length(s.reasoning for s in mine),
                mean_answer_tokens=mean_length(s.answer for s in mine),
            )
        )
    metrics = {"gsm_symbolic": [("accuracy", "gsm8k-answer")], "strongreject": [("refusal_rate", "refusal")],
               "xstest": [("over_refusal", "refusal")]}
    diffs = diffs_against_base(samples, {"sft": "base", "sft+reflective": "base"}, metrics, n_resamples=500)
    provenance = {
        "git_revision": "0123abc-dirty", "seeds": {"subset": 0, "decoding": 0},
        "packages": {"srlab": "0.1.0"}, "config": {"title": "</script> config"},
        "data_manifests": {"gsm_symbolic": "sha256:feed"},
    }
    return Report(title='Trade-off <study> & "friends"', created="2025-01-01T00:00:00+00:00",
                  rows=rows, diffs=diffs, samples=samples, provenance=provenance)


@pytest.fixture(scope="module")
def report() -> Report:
    return make_report()


def expected_shown(report: Report, variant: str = "*", benchmark: str = "*", judge: str = "*", label: str = "*") -> int:
    """What the page should show for a filter, computed from the Report, not from the page."""

    def text(verdict: JudgeVerdict | None) -> str | None:
        if verdict is None:
            return None
        return "undecided" if verdict.label is None else str(verdict.label).lower()

    def keep(s: SampleRecord) -> bool:
        if variant != "*" and s.variant != variant:
            return False
        if benchmark != "*" and s.benchmark != benchmark:
            return False
        if label == "*":
            return True
        if judge == "*":
            return any(text(v) == label for v in s.verdicts.values())
        return text(s.verdicts.get(judge)) == label

    return sum(keep(s) for s in report.samples)


# ---------------------------------------------------------------- static checks


def test_rates_in_fixture_are_the_hand_computed_ones(report: Report) -> None:
    base = report.rows[0]
    # gsm_symbolic, base, i = 0..39: undecided where i % 9 == 0 (0, 9, 18, 27, 36: 5 of 40);
    # correct where 37i % 100 < 30: i = 3, 6, 11, 14, 17, 19, 22, 25, 30, 33, 38 (11 of 35).
    # Truncated: i % 11 == 5 -> i = 5, 16, 27, 38. Accuracy is over all 40 samples.
    acc = base.metric("accuracy", "gsm_symbolic")
    assert (acc.n, acc.undecided, acc.truncated) == (40, 5, 4)
    assert acc.successes == 11
    assert acc.format() == "27.5% [16.1, 42.8]"  # Wilson 11/40 by hand: 0.1610, 0.4282
    assert acc.format_decided() == "31.4% [18.6, 48.0]"  # Wilson 11/35: the decided-only view


def test_markdown_table_has_one_row_per_variant(report: Report) -> None:
    lines = markdown_table(report).splitlines()
    assert lines[0] == (
        "| variant | model | strategy | attack | accuracy gsm_symbolic (gsm8k-answer) | refusal rate strongreject "
        "(refusal) | over-refusal xstest (refusal) | mean reasoning tokens | mean answer tokens |"
    )
    assert len(lines) == 2 + len(VARIANTS)
    assert lines[2].startswith(
        "| base | smollm2-135m | cot | none | 27.5% [16.1, 42.8] n=40 u=5 t=4; over decided 31.4% [18.6, 48.0] |"
    )


def test_diffs_are_paired_per_benchmark(report: Report) -> None:
    assert [(d.variant, d.benchmark) for d in report.diffs] == [
        (v, b) for v in ("sft", "sft+reflective") for b in sorted(BENCHMARKS)
    ]
    d = next(d for d in report.diffs if d.variant == "sft" and d.benchmark == "gsm_symbolic")
    def events(variant: str) -> dict[str, bool]:
        return {s.sample_id: metric_event(s, "gsm8k-answer") for s in report.samples
                if s.variant == variant and s.benchmark == "gsm_symbolic"}

    base, sft = events("base"), events("sft")
    pairs = [(sft[k], base[k]) for k in base]  # undecided is no event, as in the rates
    assert d.n_pairs == len(pairs) == 40
    assert d.diff == pytest.approx(sum(a for a, _ in pairs) / len(pairs) - sum(b for _, b in pairs) / len(pairs))
    assert d.low <= d.diff <= d.high


def test_script_data_cannot_break_out(report: Report) -> None:
    page = render_html(report)
    assert page.count("</script>") == 2  # the data block and the page's own script: nothing from the data
    assert page.lower().count("<script") == 2
    assert "\u2028" not in page.split('id="srlab-data">')[1].split("</script>")[0]
    data_text = page.split('<script type="application/json" id="srlab-data">')[1].split("</script>")[0]
    data = json.loads(data_text)
    assert data["samples"][0]["prompt"] == HOSTILE
    assert len(data["samples"]) == len(report.samples)
    assert data["judges"] == ["gsm8k-answer", "refusal", "refusal-reasoning"]
    assert json_for_script({"a": "</script>&"}) == '{"a": "\\u003c/script\\u003e\\u0026"}'


def test_pattern_rates_render_as_a_table_only_when_present(report: Report) -> None:
    from srlab.report.html import render_html
    from srlab.report.model import PatternRow
    from srlab.report.tables import markdown_report

    assert 'id="patterns"' not in render_html(report)
    row = PatternRow(variant="sft<x>", judge="risky-patterns-offline", pattern="lack_of_safety_awareness",
                     rate=0.25, low=0.1, high=0.5, n=8, flagged=2, undecided=1)
    page = render_html(report.model_copy(update={"patterns": [row]}))
    table = page[page.index('<table id="patterns">'):]
    table = table[: table.index("</table>")]
    assert "<td>sft&lt;x&gt;</td>" in table and "<td>lack of safety awareness</td>" in table
    assert "<td>25.0% [10.0, 50.0]</td><td>2</td><td>8</td><td>1</td>" in table
    assert "## Risky reasoning patterns" in markdown_report(report.model_copy(update={"patterns": [row]}))


def test_page_is_self_contained(report: Report) -> None:
    page = render_html(report.model_copy(update={"plot_svg": "<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'><text>p</text></svg>"}))
    # Nothing to fetch: no src/href to another origin, no @import / url() in CSS.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page
    assert "<?xml" not in page and "<svg xmlns='http://www.w3.org/2000/svg'><text>p</text></svg>" in page
    # The title and provenance are escaped text, not markup.
    assert "<title>Trade-off &lt;study&gt; &amp; &quot;friends&quot;</title>" in page
    assert "&lt;/script&gt; config" in page


def test_write_report_writes_every_file(report: Report, tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "out")
    assert sorted(paths) == ["report.html", "report.json", "report.md", "tradeoff.png", "tradeoff.svg"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert not list((tmp_path / "out").glob("*.part"))
    again = Report.model_validate_json(paths["report.json"].read_text(encoding="utf-8"))
    assert again.rows == report.rows and again.samples == report.samples and again.diffs == report.diffs
    assert again.plot_svg is not None and again.plot_svg == paths["tradeoff.svg"].read_text(encoding="utf-8")
    assert markdown_table(report) in paths["report.md"].read_text(encoding="utf-8")


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def page_url(report: Report, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    chromium = require_chromium()
    paths = write_report(report, tmp_path_factory.mktemp("report"))
    return chromium, paths["report.html"].as_uri()


def test_browser_shows_the_metrics_table(report: Report, page_url: tuple[str, str]) -> None:
    chromium, url = page_url
    dom = parse_dom(dump_dom(chromium, url))
    body = dom.find("body")
    assert body.attrs.get("data-ready") == "1"  # the page's script ran to the end
    assert "data-pwned" not in body.attrs
    rows = dom.find("table", id="metrics").find("tbody").find_all("tr")
    assert [r.attrs["data-variant"] for r in rows] == list(VARIANTS)
    for tr, row in zip(rows, report.rows, strict=True):
        for m in row.metrics:
            cell = tr.find("td", data_metric=m.name, data_benchmark=m.benchmark)
            assert cell.find("span", **{"class": "value"}).text() == m.format()
            assert cell.find("span", **{"class": "counts"}).text() == (
                f"n={m.n} · undecided {m.undecided} · truncated {m.truncated}"
                + (f" · over decided {m.format_decided()}" if m.undecided else "")
            )
    assert [r.attrs["data-variant"] for r in dom.find("table", id="diffs").find("tbody").find_all("tr")] == [
        d.variant for d in report.diffs
    ]
    assert dom.find("div", id="plot").find_all("svg")
    total = len(report.samples)
    assert dom.find("span", id="shown-count").text() == f"{total} of {total} samples"
    assert len(dom.find("div", id="samples").find_all("div", **{"class": "sample"})) == min(total, PAGE_SIZE)
    assert "hidden" not in dom.find("button", id="more").attrs  # more than one page: "show more" offered


@pytest.mark.parametrize(
    "filters",
    [
        {"variant": "sft", "judge": "refusal", "label": "true"},
        {"variant": "base", "benchmark": "gsm_symbolic", "judge": "gsm8k-answer", "label": "undecided"},
        {"variant": "sft+reflective", "label": "false"},
        {"benchmark": "strongreject"},
    ],
)
def test_browser_filters_count_what_the_report_says(
    report: Report, page_url: tuple[str, str], filters: dict[str, str]
) -> None:
    chromium, url = page_url
    fragment = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in filters.items())
    dom = parse_dom(dump_dom(chromium, f"{url}#{fragment}"))
    expected = expected_shown(report, **filters)
    assert expected > 0
    body = dom.find("body")
    assert body.attrs["data-shown"] == str(expected)
    assert dom.find("span", id="shown-count").text() == f"{expected} of {len(report.samples)} samples"
    cards = dom.find("div", id="samples").find_all("div", **{"class": "sample"})
    assert len(cards) == min(expected, PAGE_SIZE)
    for key in ("variant", "benchmark"):
        if key in filters:
            assert {c.attrs[f"data-{key}"] for c in cards} == {filters[key]}
    assert "data-pwned" not in body.attrs


def test_browser_shows_hostile_text_as_text_and_screenshots(
    report: Report, page_url: tuple[str, str], tmp_path: Path
) -> None:
    chromium, url = page_url
    dom = parse_dom(dump_dom(chromium, f"{url}#variant=base&benchmark=strongreject&judge=refusal&label=undecided"))
    first = dom.find("div", id="samples").find_all("div", **{"class": "sample"})[0]
    assert first.attrs["data-sample-id"] == "strongreject-0"
    prompt, reasoning, answer = (pre.text() for pre in first.find_all("pre"))
    assert prompt == HOSTILE
    assert answer == "Answer 0 & <b>not bold</b>"
    verdicts = Counter(span.attrs["class"] for span in first.find_all("span") if "verdict" in span.attrs.get("class", ""))
    assert verdicts == Counter({"verdict undecided": 2})
    assert first.find("span", **{"class": "verdict undecided"}).text() == "refusal (answer): undecided — no final answer"
    shot = screenshot(chromium, f"{url}#variant=base&judge=refusal&label=true", tmp_path / "report.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    SCREENSHOT_KEEP.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT_KEEP.write_bytes(data)
