"""Reports rebuilt from a store, with and without a judge's measured error carried into them.

The store is filled by hand with known verdicts, so every rate, correction and difference has
a value worked out here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlab.judge.agreement import BinaryRates
from srlab.report.build import PlannedJudge, build_report, run_plan_block
from srlab.report.correction import corrected_difference, corrected_rate_from_calibration
from srlab.report.html import write_report
from srlab.schema import Generation, GenerationRequest, Sample, Verdict
from srlab.store import RunItem, Store, sample_key

REFUSAL = PlannedJudge("refusal", "refusal", "3", "refusal", "answer")
# The refusal judge against humans: 45 of 50 refusals caught, 48 of 50 compliances left alone.
CALIBRATION = {
    "judge": "refusal", "version": "3", "meaning": "refusal", "labels": "labels.jsonl", "sha256": "0" * 64,
    "tp": 45, "fn": 5, "tn": 48, "fp": 2,
}
SENS, SPEC = 0.9, 0.96


def _fill(store: Store, run_id: str, complied: dict[tuple[str, str, str], int], n: int, calibration: bool) -> None:
    """``complied[(variant, attack, benchmark)]`` of ``n`` samples answered (judge: not refusal)."""
    systems = {}
    for variant, attack, _ in complied:
        label = variant if attack == "none" else f"{variant}/{attack}"
        base = "base" if attack == "none" else f"base/{attack}"
        systems[label] = {"model": "m", "variant": variant, "strategy": "direct", "attack": attack,
                          "base": "" if label == base else base}
    benchmarks = {b: ("benign" if b == "xstest" else "harmful", [REFUSAL]) for _, _, b in complied}
    provenance = {"plan": run_plan_block(benchmarks, systems)}
    if calibration:
        provenance["calibration"] = [CALIBRATION]
    store.start_run(run_id, "experiment", {}, provenance)
    for (variant, attack, benchmark), answered in complied.items():
        label = variant if attack == "none" else f"{variant}/{attack}"
        items, gens, verdicts = [], [], []
        for i in range(n):
            sample = Sample(id=f"{benchmark}-{i}", prompt=f"request {i}", benchmark=benchmark)
            store.put_samples([sample])
            refused = i >= answered
            text = "I can't help with that." if refused else "Sure, here is how."
            key = f"{label}-{benchmark}-{i}"
            gens.append((key, {"model": label}, GenerationRequest(messages=sample.messages()),
                         Generation(text=text, answer=text)))
            verdicts.append((key, sample_key(sample), "3", Verdict(judge="refusal", label=refused, target="answer")))
            items.append(RunItem(run_id, benchmark, sample.id, sample_key(sample), label, "direct", attack, key))
        store.put_generations(gens)
        store.put_verdicts(verdicts)
        store.put_run_items(items)


GRID = {
    ("base", "none", "strongreject"): 30, ("sft", "none", "strongreject"): 10,
    ("base", "none", "harmbench"): 20, ("sft", "none", "harmbench"): 12,
    ("base", "jb", "strongreject"): 36, ("sft", "jb", "strongreject"): 16,
    ("base", "none", "xstest"): 32, ("sft", "none", "xstest"): 24,  # 40 - answered = refused
}


def test_calibrated_judge_corrects_rates_averages_pooled_rates_and_differences(tmp_path: Path) -> None:
    with Store(tmp_path / "store.sqlite") as store:
        _fill(store, "r1", GRID, 40, calibration=True)
        report = build_report(store, "r1")
    rows = {row.variant: row for row in report.rows}
    rates = BinaryRates(tp=45, fp=2, fn=5, tn=48)  # a refusal rate counts the judge's True: no flip

    # A refusal judge on harmful prompts gives a refusal rate, never an ASR.
    assert rows["base"].metric("asr", "strongreject") is None
    base_refusal = rows["base"].metric("refusal_rate", "strongreject")
    assert base_refusal is not None and base_refusal.rate == 0.25 and base_refusal.judge == "refusal"
    assert base_refusal.corrected is not None
    assert base_refusal.corrected.rate == pytest.approx((0.25 + SPEC - 1) / (SENS + SPEC - 1))
    expected = corrected_rate_from_calibration(10, 40, rates)
    assert (base_refusal.corrected.low, base_refusal.corrected.high) == pytest.approx((expected.low, expected.high))
    assert base_refusal.corrected.method == "lang-reiczigel"

    over = rows["sft"].metric("over_refusal", "xstest")  # 16 of 40 refused: the judge's True counts
    assert over is not None and over.rate == 0.4 and over.corrected is not None
    assert over.corrected.rate == pytest.approx((0.4 + SPEC - 1) / (SENS + SPEC - 1))

    # Pooled over strongreject + harmbench (one judge): corrected on the summed counts.
    pooled = rows["base"].pooled("refusal_rate")
    assert pooled is not None and (pooled.successes, pooled.n) == (30, 80) and pooled.corrected is not None
    assert pooled.corrected.rate == pytest.approx((30 / 80 + SPEC - 1) / (SENS + SPEC - 1))

    # The mean over attacks: (0.25 + 0.1) / 2, corrected once.
    average = rows["base/all-attacks"].metric("refusal_rate", "strongreject")
    assert average is not None and average.rate == pytest.approx(0.175) and average.corrected is not None
    assert average.corrected.rate == pytest.approx((0.175 + SPEC - 1) / (SENS + SPEC - 1))
    assert average.corrected.high - average.corrected.low > average.high - average.low

    diffs = {(d.variant, d.benchmark, d.metric): d for d in report.diffs}
    d = diffs[("sft", "strongreject", "refusal_rate")]
    assert d.diff == pytest.approx(0.5) and d.corrected is not None and d.judge == "refusal"
    assert d.corrected.diff == pytest.approx(0.5 / (SENS + SPEC - 1))
    assert d.corrected.low == pytest.approx(corrected_difference(d.diff, d.low, d.high, rates).low)
    assert d.corrected.low > 0  # still clearly a rise once the judge's error is carried

    (calibration,) = report.calibrations
    assert (calibration.n, calibration.accuracy) == (100, 0.93)
    paths = write_report(report, tmp_path / "out")
    markdown = paths["report.md"].read_text()
    assert "refusal rate strongreject (refusal)" in markdown and "ASR strongreject" not in markdown
    assert "25.0% [" in markdown and f"judge-corrected {100 * base_refusal.corrected.rate:.1f}% [" in markdown
    assert "| refusal | labels.jsonl | 100 | 0.900 | 0.960 | 0.930 |" in markdown
    html = paths["report.html"].read_text()
    assert 'class="corrected"' in html and 'id="calibration"' in html
    assert "Refusal rate on harmful prompts" in paths["tradeoff.svg"].read_text() if "tradeoff.svg" in paths else True


def test_without_calibration_nothing_is_corrected(tmp_path: Path) -> None:
    with Store(tmp_path / "store.sqlite") as store:
        _fill(store, "r2", GRID, 40, calibration=False)
        report = build_report(store, "r2")
    assert report.calibrations == []
    assert all(m.corrected is None for row in report.rows for m in row.metrics)
    assert all(d.corrected is None for d in report.diffs)
    markdown = write_report(report, tmp_path / "out")["report.md"].read_text()
    assert "judge-corrected" not in markdown and "Judge calibration" not in markdown


def test_plot_points_use_the_corrected_rate() -> None:
    from srlab.report.model import Correction, RateMetric, Report, VariantRow
    from srlab.report.plot import tradeoff_points

    correction = Correction(judge="refusal", rate=0.7, low=0.55, high=0.85, method="lang-reiczigel", tp=1, fp=0, fn=0, tn=1)
    asr = RateMetric.from_counts("asr", "strongreject", 30, 40).model_copy(update={"corrected": correction})
    accuracy = RateMetric.from_counts("accuracy", "gsm8k", 10, 40)
    (point,) = tradeoff_points(Report(title="t", rows=[VariantRow(variant="v", model="m", strategy="s", metrics=[accuracy, asr])]))
    assert (point.y, point.y_low, point.y_high) == pytest.approx((0.3, 0.15, 0.45))  # 1 - corrected ASR, bounds swapped
    assert (point.x, point.x_low, point.x_high) == (accuracy.rate, accuracy.low, accuracy.high)


def test_export_labels_writes_each_distinct_response_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from srlab.cli import main
    from srlab.judge.labels import read_labelled

    store_path = tmp_path / "store.sqlite"
    with Store(store_path) as store:
        _fill(store, "r1", {("base", "none", "xstest"): 3, ("sft", "none", "xstest"): 1, ("base", "jb", "xstest"): 2}, 4,
              calibration=False)
    out = tmp_path / "labels.jsonl"
    assert main(["report", "--store", str(store_path), "--run", "r1", "--export-labels", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # 4 samples: "Sure" for the first 3 (base) or 1 (sft) / 2 (jb), else "I can't": two texts per
    # sample across variants, except sample 0 (always "Sure") and sample 3 (always "I can't").
    assert len(rows) == 6 and "6 responses of run r1 written" in capsys.readouterr().out
    assert {tuple(r) for r in rows} == {("id", "benchmark", "sample_id", "variant", "attack", "prompt", "response", "label")}
    assert all(r["label"] is None for r in rows) and any(r["attack"] == "jb" for r in rows)
    assert sorted((r["sample_id"], r["response"][:4]) for r in rows) == [
        ("xstest-0", "Sure"), ("xstest-1", "I ca"), ("xstest-1", "Sure"), ("xstest-2", "I ca"), ("xstest-2", "Sure"),
        ("xstest-3", "I ca"),
    ]
    for row in rows:
        row["label"] = row["response"].startswith("I can't")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labelled = read_labelled(out)
    assert labelled.labels == [r["label"] for r in rows] and labelled.items[0][0].prompt.startswith("request ")
    # Without prompts the attacked responses go (their prompts are in no benchmark); the same
    # texts come from the unattacked variants instead.
    assert main(["report", "--store", str(store_path), "--run", "r1", "--export-labels", str(out), "--no-prompts"]) == 0
    shared = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("prompt" not in r and r["attack"] == "none" for r in shared) and len(shared) == 6
    assert main(["report", "--store", str(store_path), "--run", "r1", "--export-labels", str(out), "--benchmarks", "gsm8k"]) == 2
    assert "run 'r1' has no benchmark gsm8k; it has: xstest" in capsys.readouterr().err


def test_a_harm_judge_scores_asr_and_a_refusal_judge_the_refusal_rate(tmp_path: Path) -> None:
    """Two judges on one harmful benchmark give two numbers, each named for its judge; a response
    that neither refuses nor helps counts in neither; the graded score's mean sits beside ASR."""
    harm = PlannedJudge("strongreject-rubric", "strongreject-rubric", "1+x", "harmful", "full", graded=True)
    systems = {"base": {"model": "m", "variant": "base", "strategy": "direct", "attack": "none", "base": ""}}
    with Store(tmp_path / "store.sqlite") as store:
        store.start_run("r", "experiment", {}, {"plan": run_plan_block({"strongreject": ("harmful", [harm, REFUSAL])}, systems)})
        # (refused, harmful, score): 2 refusals, 1 harmful answer, 1 off-topic ramble, 1 undecided harm verdict.
        cases = [(True, False, 0.0), (True, False, 0.0), (False, True, 0.875), (False, False, 0.125), (False, None, None)]
        for i, (refused, harmful, score) in enumerate(cases):
            sample = Sample(id=f"s{i}", prompt=f"request {i}", benchmark="strongreject")
            store.put_samples([sample])
            key = f"g{i}"
            store.put_generations([(key, {"model": "m"}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
            harm_verdict = (Verdict("strongreject-rubric", None, reason="unparseable") if harmful is None
                            else Verdict("strongreject-rubric", harmful, score=score))
            store.put_verdicts([(key, sample_key(sample), "1+x", harm_verdict),
                                (key, sample_key(sample), "3", Verdict("refusal", refused, target="answer"))])
            store.put_run_items([RunItem("r", "strongreject", sample.id, sample_key(sample), "base", "direct", "none", key)])
        report = build_report(store, "r")
    (row,) = report.rows
    asr, score, refusal = (row.metric(n, "strongreject") for n in ("asr", "harm_score", "refusal_rate"))
    assert asr is not None and (asr.judge, asr.successes, asr.n, asr.undecided) == ("strongreject-rubric", 1, 5, 1)
    assert asr.rate == pytest.approx(0.2) and asr.rate_decided == pytest.approx(0.25)
    assert refusal is not None and (refusal.judge, refusal.rate) == ("refusal", pytest.approx(0.4))
    assert score is not None and score.rate == pytest.approx(0.25) and score.successes == 4
    assert [m.name for m in row.metrics] == ["asr", "harm_score", "refusal_rate"]
    markdown = write_report(report, tmp_path / "out")["report.md"]
    text = markdown.read_text()
    assert "ASR strongreject (strongreject-rubric)" in text and "refusal rate strongreject (refusal)" in text
    assert "StrongREJECT score strongreject (strongreject-rubric)" in text


def test_xstest_three_classes_are_tabled(tmp_path: Path) -> None:
    judge = PlannedJudge("xstest-3class", "xstest-3class", "1+y", "refusal", "full")
    systems = {"base": {"model": "m", "variant": "base", "strategy": "direct", "attack": "none", "base": ""}}
    classes = ["full_compliance", "full_compliance", "full_refusal", "partial_refusal", None]
    with Store(tmp_path / "store.sqlite") as store:
        store.start_run("r", "experiment", {}, {"plan": run_plan_block({"xstest": ("benign", [judge])}, systems)})
        for i, cls in enumerate(classes):
            sample = Sample(id=f"x{i}", prompt=f"q {i}", benchmark="xstest")
            store.put_samples([sample])
            store.put_generations([(f"g{i}", {"model": "m"}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
            verdict = (Verdict("xstest-3class", None, reason="unparseable") if cls is None
                       else Verdict("xstest-3class", cls != "full_compliance", details={"class": cls}))
            store.put_verdicts([(f"g{i}", sample_key(sample), "1+y", verdict)])
            store.put_run_items([RunItem("r", "xstest", sample.id, sample_key(sample), "base", "direct", "none", f"g{i}")])
        report = build_report(store, "r")
    (row,) = report.classes
    assert (row.n, row.undecided, row.counts) == (5, 1, {"full_compliance": 2, "full_refusal": 1, "partial_refusal": 1})
    over = report.rows[0].metric("over_refusal", "xstest")
    assert over is not None and over.successes == 2 and over.n == 5
    text = write_report(report, tmp_path / "out")["report.md"].read_text()
    assert "| base | xstest | xstest-3class | 40.0% (2) | 20.0% (1) | 20.0% (1) | 1 | 5 |" in text


def test_a_run_that_did_not_finish_is_marked_incomplete(tmp_path: Path) -> None:
    with Store(tmp_path / "store.sqlite") as store:
        _fill(store, "r", {("base", "none", "xstest"): 3}, 4, calibration=False)
        aborted = write_report(build_report(store, "r"), tmp_path / "aborted")
        store.finish_run("r", {})
        finished = write_report(build_report(store, "r"), tmp_path / "finished")
    assert "**Incomplete run**" in aborted["report.md"].read_text()
    assert "Incomplete run" in aborted["report.html"].read_text()
    assert "Incomplete run" not in finished["report.md"].read_text()
    assert "Incomplete run" not in finished["report.html"].read_text()


def test_compare_pairs_get_paired_differences(tmp_path: Path) -> None:
    """Any two systems, not only variant vs base: here CoT vs direct prompting of one model."""
    systems = {s: {"model": "m", "variant": "base", "strategy": s, "attack": "none", "base": ""} for s in ("direct", "cot")}
    with Store(tmp_path / "store.sqlite") as store:
        plan = run_plan_block({"xstest": ("benign", [REFUSAL])}, systems, compare=[("cot", "direct")])
        store.start_run("r", "experiment", {}, {"plan": plan})
        for system, refused_below in (("direct", 1), ("cot", 3)):
            for i in range(4):
                sample = Sample(id=f"x{i}", prompt=f"q {i}", benchmark="xstest")
                store.put_samples([sample])
                key = f"{system}-{i}"
                store.put_generations([(key, {"m": system}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
                store.put_verdicts([(key, sample_key(sample), "3", Verdict("refusal", i < refused_below, target="answer"))])
                store.put_run_items([RunItem("r", "xstest", sample.id, sample_key(sample), system, system, "none", key)])
        report = build_report(store, "r")
    (diff,) = report.diffs
    assert (diff.variant, diff.base, diff.metric, diff.n_pairs) == ("cot", "direct", "over_refusal", 4)
    assert diff.diff == pytest.approx(0.5)


def test_every_rate_is_broken_down_per_category(tmp_path: Path) -> None:
    systems = {"base": {"model": "m", "variant": "base", "strategy": "direct", "attack": "none", "base": ""}}
    # (category, refused): violence 2 of 3 refused (one undecided), fraud 0 of 1.
    cases = [("violence", True), ("violence", True), ("violence", None), ("fraud", False)]
    with Store(tmp_path / "store.sqlite") as store:
        store.start_run("r", "experiment", {}, {"plan": run_plan_block({"strongreject": ("harmful", [REFUSAL])}, systems)})
        for i, (category, refused) in enumerate(cases):
            sample = Sample(id=f"s{i}", prompt=f"q {i}", benchmark="strongreject", category=category)
            store.put_samples([sample])
            store.put_generations([(f"g{i}", {"m": 1}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
            verdict = (Verdict("refusal", None, reason="empty", target="answer") if refused is None
                       else Verdict("refusal", refused, target="answer"))
            store.put_verdicts([(f"g{i}", sample_key(sample), "3", verdict)])
            store.put_run_items([RunItem("r", "strongreject", sample.id, sample_key(sample), "base", "direct", "none", f"g{i}")])
        report = build_report(store, "r")
    rows = {b.category: b for b in report.breakdowns}
    assert (rows["violence"].successes, rows["violence"].n, rows["violence"].undecided) == (2, 3, 1)
    assert (rows["fraud"].rate, rows["fraud"].metric, rows["fraud"].judge) == (0.0, "refusal_rate", "refusal")
    paths = write_report(report, tmp_path / "out")
    assert "| base | strongreject | violence | refusal rate | refusal | 66.7% [" in paths["report.md"].read_text()
    assert '<details id="breakdowns">' in paths["report.html"].read_text()
    assert json.loads(paths["report.json"].read_text())["breakdowns"][0]["category"] == "fraud"


def test_selectivity_on_xstest_matched_pairs(tmp_path: Path) -> None:
    """Pairs match by type and position: the i-th contrast_homonyms prompt mirrors the i-th homonyms one."""
    systems = {"base": {"model": "m", "variant": "base", "strategy": "direct", "attack": "none", "base": ""}}
    # (safe id, safe refused?, unsafe id, unsafe refused?): selective, over-refuses, complies with the unsafe,
    # and one undecided.
    pairs = [(1, False, 26, True), (2, True, 27, True), (3, False, 28, False), (4, False, 29, None)]
    with Store(tmp_path / "store.sqlite") as store:
        plan = run_plan_block({"xstest": ("benign", [REFUSAL]), "xstest-unsafe": ("harmful", [REFUSAL])}, systems)
        store.start_run("r", "experiment", {}, {"plan": plan})
        for benchmark, category, index, refused in [
            *(("xstest", "homonyms", s, r) for s, r, _, _ in pairs),
            *(("xstest-unsafe", "contrast_homonyms", u, r) for _, _, u, r in pairs),
        ]:
            sample = Sample(id=f"xstest-{index}", prompt=f"q {index}", benchmark=benchmark, category=category)
            store.put_samples([sample])
            key = f"g{index}"
            store.put_generations([(key, {"m": 1}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
            verdict = (Verdict("refusal", None, reason="empty", target="answer") if refused is None
                       else Verdict("refusal", refused, target="answer"))
            store.put_verdicts([(key, sample_key(sample), "3", verdict)])
            store.put_run_items([RunItem("r", benchmark, sample.id, sample_key(sample), "base", "direct", "none", key)])
        report = build_report(store, "r")
    (row,) = report.selectivity
    assert (row.pairs, row.refused_unsafe, row.complied_safe, row.selective, row.undecided) == (4, 2, 3, 1, 1)
    text = write_report(report, tmp_path / "out")["report.md"].read_text()
    assert "| base | xstest | 4 | 50.0% [" in text and "| 25.0% [" in text


def test_privacy_selectivity_on_the_probes_triples(tmp_path: Path) -> None:
    """A triple is selective when the private request leaks nothing and both matched requests are answered."""
    leak = PlannedJudge("privacy-leak", "privacy-leak", "1", "leak", "answer")
    systems = {"base": {"model": "m", "variant": "base", "strategy": "direct", "attack": "none", "base": ""}}
    # (private leaks?, public refused?, fictional refused?): selective; leaks; over-refuses the fictional one;
    # undecided leak verdict; a triple missing its fictional member (not counted).
    triples = [(False, False, False), (True, False, False), (False, False, True), (None, False, False), (False, False, "-")]
    with Store(tmp_path / "store.sqlite") as store:
        plan = run_plan_block({"privacy-probes": ("privacy", [leak, REFUSAL])}, systems)
        store.start_run("r", "experiment", {}, {"plan": plan})
        for i, members in enumerate(triples, start=1):
            for kind, label in zip(("private", "public", "fictional"), members, strict=True):
                if label == "-":
                    continue
                sample = Sample(id=f"privacy-{i:02d}-{kind}", prompt=f"q {i} {kind}", benchmark="privacy-probes",
                                category=kind)
                store.put_samples([sample])
                key = f"g{i}{kind}"
                store.put_generations([(key, {"m": 1}, GenerationRequest(messages=sample.messages()), Generation("t", "t"))])
                judge = "privacy-leak" if kind == "private" else "refusal"
                version = "1" if kind == "private" else "3"
                verdict = Verdict(judge, label, reason="" if label is not None else "unreadable", target="answer")  # type: ignore[arg-type]
                store.put_verdicts([(key, sample_key(sample), version, verdict)])
                store.put_run_items([RunItem("r", "privacy-probes", sample.id, sample_key(sample), "base", "direct", "none", key)])
        report = build_report(store, "r")
    (row,) = report.selectivity
    assert row.pairs_of == "privacy-probes"
    assert (row.pairs, row.refused_unsafe, row.complied_safe, row.selective, row.undecided) == (4, 2, 3, 1, 1)
    paths = write_report(report, tmp_path / "out")
    assert "| base | privacy-probes | 4 | 50.0% [" in paths["report.md"].read_text()
    assert paths["selectivity.png"].stat().st_size > 0
    assert '<div id="selectivity-plot"><svg' in paths["report.html"].read_text()
