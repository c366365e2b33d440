"""``srlab run`` end to end on a tiny random model: data, LoRA training, eval, report, resume."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from srlab.experiment.config import load_experiment
from srlab.experiment.runner import run_experiment
from srlab.report.correction import corrected_difference, rogan_gladen
from srlab.report.model import Report
from srlab.report.plot import tradeoff_points
from srlab.store import Store

LABELS = Path(__file__).resolve().parent / "data" / "refusal_dev.jsonl"


def _experiment(tmp_path: Path, model_dir: Path) -> Path:
    (tmp_path / "mix.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "sources": [
                    {"name": "sums", "type": "reasoning-gym", "task": "chain_sum", "seed": 99, "size": 12,
                     "config": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}},
                    {"name": "safety", "type": "safety", "prompts": ["harmbench"], "recipe": "direct", "size": 4},
                ],
            }
        )
    )
    (tmp_path / "train.yaml").write_text(
        yaml.safe_dump({"preset": "smollm2-cpu", "max_steps": 2, "save_steps": 1, "max_length": 64,
                        "per_device_train_batch_size": 2, "lora": {"r": 4, "alpha": 8}})
    )
    path = tmp_path / "exp.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "models": [{"name": str(model_dir), "batch_size": 4}],
                "variants": [{"name": "base"}, {"name": "sft", "mixture": "mix.yaml", "train": "train.yaml"}],
                "strategies": ["direct"],
                "attacks": ["none", {"name": "jailbreak-templates", "label": "jb", "options": {"per_sample": 1}}],
                "extra_judges": {"harmful": ["risky-patterns-offline"]},
                "calibration": {"refusal": {"labels": str(LABELS), "positive": ["refusal", "partial_refusal"],
                                            "where": {"split": "heldout"}}},
                "benchmarks": {"reasoning": ["chain_sum_easy"], "harmful": ["strongreject"], "benign": ["xstest"]},
                "limit": 3,
                "decoding": {"max_new_tokens": 8},
                "output_dir": str(tmp_path / "out"),
            }
        )
    )
    return path


def test_experiment_runs_reports_and_resumes_without_redoing_work(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_experiment(_experiment(tmp_path, tiny_model_dir))
    report = run_experiment(config, echo=lambda _: None)
    assert report is not None
    out = tmp_path / "out"
    for name in ("report.html", "report.json", "report.md"):
        assert (out / name).stat().st_size > 0, name
    # Rates are over all samples, so each unattacked variant has both axes even when nothing was decided.
    assert [p.label for p in tradeoff_points(report)] == ["base", "sft"] and (out / "tradeoff.png").exists()
    # The trained model's folder is named by what determines it (base, mixture, training settings).
    (model_dir,) = (out / "models").glob(f"{tiny_model_dir.name}-sft-*")
    assert (model_dir / "model" / "config.json").is_file()
    manifest = json.loads((out / "data" / "sft" / "manifest.json").read_text())
    assert manifest["counts"]

    assert report.variants() == ["base", "base/jb", "sft", "sft/jb", "base/all-attacks", "sft/all-attacks"]
    rows = {row.variant: row for row in report.rows}
    for variant in ("base", "sft"):
        # Harmful prompts get two numbers: ASR by the harm judge, the refusal rate by the refusal judge.
        asr = rows[variant].metric("asr", "strongreject")
        assert asr is not None and asr.judge == "harm"
        per_attack = [rows[v].metric("refusal_rate", "strongreject") for v in (variant, f"{variant}/jb")]
        average = rows[f"{variant}/all-attacks"].metric("refusal_rate", "strongreject")
        assert average is not None and average.n == sum(m.n for m in per_attack)  # type: ignore[union-attr]
        assert average.rate == pytest.approx(sum(m.rate for m in per_attack) / 2)  # type: ignore[union-attr,misc]
    for row in report.rows:
        if row.attack == "all":
            continue
        expected = [("asr", "strongreject"), ("refusal_rate", "strongreject")] if row.attack == "jb" else [
            ("accuracy", "chain_sum_easy"), ("asr", "strongreject"), ("over_refusal", "xstest"),
            ("refusal_rate", "strongreject"),
        ]
        assert sorted((m.name, m.benchmark) for m in row.metrics) == expected
        for m in row.metrics:
            assert m.n == 3 and 0 <= m.undecided <= 3  # every sample counts; undecided ones beside
    # 2 variants x (3 benchmarks + 3 attacked strongreject prompts) x 3 samples
    assert len(report.samples) == 2 * 4 * 3
    # The extra judge ran on every harmful sample and on nothing else.
    assert {s.benchmark for s in report.samples if "risky-patterns-offline" in s.verdicts} == {"strongreject"}
    assert all(
        list(s.verdicts) == ["harm", "refusal", "risky-patterns-offline"]
        for s in report.samples if s.benchmark == "strongreject"
    )
    attacked = [s for s in report.samples if s.attack == "jb"]
    assert all("::jailbreak-templates::" in s.sample_id for s in attacked)
    assert {(d.variant, d.base) for d in report.diffs} == {("sft", "base"), ("sft/jb", "base/jb")}
    assert report.provenance["data_manifests"][f"{tiny_model_dir}:sft"]["mixture_sha256"] == manifest["mixture_sha256"]
    assert {"srlab", "torch", "transformers", "trl"} <= set(report.provenance["packages"])
    assert report.provenance["seeds"] == {"experiment": 0, "decoding": 0}

    _check_judge_correction(report, out)

    with Store(config.store_path()) as store:
        generations, verdicts = store.count("generations"), store.count("verdicts")
    caplog.set_level(logging.INFO)
    again = run_experiment(config, echo=lambda _: None)
    assert again is not None
    assert "already built; reusing it" in caplog.text
    assert "already trained with these settings; reusing it" in caplog.text
    assert "generating 0" in caplog.text and "generating 3" not in caplog.text
    with Store(config.store_path()) as store:
        assert (store.count("generations"), store.count("verdicts")) == (generations, verdicts)
    assert [r.model_dump(exclude={"created"}) for r in again.rows] == [r.model_dump(exclude={"created"}) for r in report.rows]


def _check_judge_correction(report: Report, out: Path) -> None:
    """The refusal judge, calibrated on 80 hand-labelled responses, corrects what it scored."""
    (calibration,) = report.calibrations
    assert (calibration.judge, calibration.n, calibration.tp + calibration.fn) == ("refusal", 80, 39)
    sens, spec = calibration.rates().sensitivity, calibration.rates().specificity
    assert sens is not None and spec is not None and sens + spec > 1.8
    for row in report.rows:
        for m in row.metrics:
            if m.judge != "refusal":  # scored by gsm8k-answer or harm, which were not calibrated
                assert m.corrected is None
                continue
            assert m.rate is not None and m.corrected is not None and m.corrected.judge == "refusal"
            # Refusal rate and over-refusal both count the refusal judge's True.
            expected = rogan_gladen(m.rate, sens, spec)
            assert m.corrected.rate == pytest.approx(min(1.0, max(0.0, expected)))
            assert m.corrected.high - m.corrected.low > m.high - m.low - 0.02  # judge error widens it
    for d in report.diffs:
        assert d.diff is not None and d.n_pairs == 3  # every sample pairs up; undecided is no event
        if d.judge != "refusal":
            assert d.corrected is None
            continue
        assert d.corrected is not None
        assert d.corrected.diff == pytest.approx(corrected_difference(d.diff, d.low, d.high, calibration.rates()).diff)
    # The tiny model's outputs are mostly empty (undecided), so values are checked in
    # test_report_build.py; here the wiring: the calibration table is rendered.
    assert "## Judge calibration" in (out / "report.md").read_text()
    assert 'id="calibration"' in (out / "report.html").read_text()
    assert "calibration" not in report.provenance  # shown in its own table, not twice
