"""Sweeps and seed repeats: config expansion, the curve and spread arithmetic, and a run end to end."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlab.errors import SrlabError
from srlab.experiment.config import ExperimentConfig, load_experiment
from srlab.experiment.runner import _variant_fingerprint, run_experiment, run_id_for
from srlab.experiment.sweeps import set_path
from srlab.report.curves import curve_rows, repeat_rows
from srlab.report.metrics import rate_summary
from srlab.report.model import RateMetric, VariantRow

MIX = {
    "name": "tiny",
    "sources": [
        {"name": "sums", "type": "reasoning-gym", "task": "chain_sum", "seed": 99, "size": 12,
         "config": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}},
        {"name": "safety", "type": "safety", "prompts": ["harmbench"], "recipe": "direct", "size": 4},
    ],
}
TRAIN = {"preset": "smollm2-cpu", "max_steps": 2, "save_steps": 1, "max_length": 64,
         "per_device_train_batch_size": 2, "lora": {"r": 4, "alpha": 8}}


def _files(tmp_path: Path) -> None:
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(MIX))
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(TRAIN))


def _config(tmp_path: Path, **fields: Any) -> ExperimentConfig:
    _files(tmp_path)
    raw = {"name": "sw", "models": ["smollm2-135m"], "benchmarks": {"reasoning": ["chain_sum_easy"]}, **fields}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(raw))
    return load_experiment(tmp_path / "exp.yaml")


def test_a_variant_sweep_with_seeds_expands_into_one_trained_variant_per_value_and_seed(tmp_path: Path) -> None:
    config = _config(tmp_path, variants=[
        {"name": "base"},
        {"name": "mix", "mixture": "mix.yaml", "train": "train.yaml",
         "sweep": {"field": "mixture.sources.safety.size", "values": [2, 4]}, "seeds": [0, 7]},
    ])
    assert [v.name for v in config.variants] == [
        "base", "mix@size=2@seed=0", "mix@size=2@seed=7", "mix@size=4@seed=0", "mix@size=4@seed=7"]
    spec = config.models[0]
    prints = [_variant_fingerprint(config, spec, v) for v in config.variants[1:]]
    # The override reaches the loaded spec (the named list entry) and the training seed, nothing else.
    assert [p["mixture"]["sources"][1]["size"] for p in prints] == [2, 2, 4, 4]
    assert [p["mixture"]["sources"][0]["size"] for p in prints] == [12] * 4
    assert [p["train"]["seed"] for p in prints] == [0, 7, 0, 7]
    assert [p["train"]["max_steps"] for p in prints] == [2] * 4
    assert config.variants[3].swept is not None and config.variants[3].swept.value == 4
    assert config.variants[3].repeat is not None and config.variants[3].repeat.of == "mix@size=4"
    # Dumped and validated again (the stored config), the expansion is not repeated.
    assert ExperimentConfig.model_validate(config.model_dump()) == config


def test_a_strategy_sweep_labels_each_value_and_sets_it() -> None:
    config = ExperimentConfig.model_validate({
        "name": "sw", "models": ["smollm2-135m"], "benchmarks": {"reasoning": ["chain_sum_easy"]},
        "strategies": ["cot", {"name": "direct", "sweep": {"field": "think", "values": ["no-think", "short-think:64"]}}],
    })
    assert [s.display for s in config.strategies] == ["cot", "direct@think=no-think", "direct@think=short-think:64"]
    budgets = [s.think.label if s.think else None for s in config.strategies]
    assert budgets == [None, "no-think", "short-think-64"]


def test_run_ids_are_the_ones_they_were_before_sweeps() -> None:
    # Pinned from the release before sweeps: a config that uses none must hash as it did.
    from srlab.experiment.evaluate import EvalConfig
    from srlab.models import ModelSpec

    assert EvalConfig(model=ModelSpec(name="smollm2-135m"), benchmarks=["chain_sum_easy"]).run_id() == "eval-fbae84467991e31e"
    # (No trained variant here: its id also hashes the training preset, which changes on its own.)
    config = ExperimentConfig.model_validate({
        "name": "pin", "models": ["smollm2-135m"], "benchmarks": {"reasoning": ["chain_sum_easy"], "harmful": ["strongreject"]},
        "strategies": ["cot", {"name": "direct", "think": "no-think"}], "attacks": ["none"], "limit": 3,
    })
    assert run_id_for(config) == "pin-2967dd37ad"


def test_configs_without_sweeps_keep_their_run_ids(tmp_path: Path) -> None:
    # The new fields dump only when a sweep set them, so the hash of an old config is unchanged.
    plain = _config(tmp_path, variants=[{"name": "base"}, {"name": "sft", "mixture": "mix.yaml", "train": "train.yaml"}])
    dumped = plain.model_dump(mode="json")
    assert all(set(v) <= {"name", "mixture", "train"} for v in dumped["variants"])
    assert all("swept" not in s for s in dumped["strategies"])
    assert run_id_for(plain) == run_id_for(plain.model_copy())


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"name": "base", "sweep": {"field": "train.max_steps", "values": [1, 2]}}, "need a trained variant"),
        ({"name": "m", "mixture": "mix.yaml", "train": "train.yaml", "sweep": {"field": "max_steps", "values": [1, 2]}},
         "must start with 'mixture.' or 'train.'"),
        ({"name": "m", "mixture": "mix.yaml", "train": "train.yaml", "sweep": {"field": "train.max_steps", "values": [1]}},
         "values"),
        ({"name": "m", "mixture": "mix.yaml", "train": "train.yaml", "sweep": {"field": "train.max_steps", "values": [1, 1]}},
         "distinct"),
        ({"name": "m", "mixture": "mix.yaml", "train": "train.yaml", "seeds": [3]}, "at least two distinct"),
        ({"name": "m", "mixture": "mix.yaml", "train": "train.yaml",
          "sweep": {"field": "train.learning_rate", "values": ["1e-4 x", 2]}}, "cannot be part of a variant name"),
    ],
)
def test_bad_sweeps_are_named_by_their_field(tmp_path: Path, variant: dict[str, Any], message: str) -> None:
    with pytest.raises(SrlabError, match="variants") as info:
        _config(tmp_path, variants=[{"name": "base"}, variant] if variant["name"] != "base" else [variant])
    assert message in str(info.value)


def test_a_sweep_into_a_missing_list_entry_fails_when_the_spec_is_read(tmp_path: Path) -> None:
    config = _config(tmp_path, variants=[
        {"name": "base"},
        {"name": "m", "mixture": "mix.yaml", "train": "train.yaml",
         "sweep": {"field": "mixture.sources.safty.size", "values": [1, 2]}},
    ])
    with pytest.raises(ValueError, match=r"'sources.safty': no entry named 'safty' \(entries: sums, safety\)"):
        _variant_fingerprint(config, config.models[0], config.variants[1])


def test_strategy_sweeps_reject_fields_they_cannot_vary() -> None:
    base = {"name": "sw", "models": ["smollm2-135m"], "benchmarks": {"reasoning": ["chain_sum_easy"]}}
    with pytest.raises(ValueError, match="a strategy sweeps one of think, k, safety_ratio"):
        ExperimentConfig.model_validate({**base, "strategies": [{"name": "cot", "sweep": {"field": "label", "values": [1, 2]}}]})
    with pytest.raises(ValueError, match="also set on the entry"):
        ExperimentConfig.model_validate({**base, "strategies": [
            {"name": "few-shot-cot", "k": 2, "sweep": {"field": "k", "values": [1, 2]}}]})


def test_set_path_indexes_lists_by_name_or_position_and_creates_mappings() -> None:
    data: dict[str, Any] = {"sources": [{"name": "a", "size": 1}, {"name": "b", "size": 2}]}
    set_path(data, "sources.b.size", 5, "here")
    set_path(data, "sources.0.size", 9, "here")
    set_path(data, "lora.r", 4, "here")
    assert data == {"sources": [{"name": "a", "size": 9}, {"name": "b", "size": 5}], "lora": {"r": 4}}
    with pytest.raises(ValueError, match="'sources.b.size.x': 'sources.b.size' is a value"):
        set_path(data, "sources.b.size.x.y", 1, "here")


def _row(label: str, successes: int, n: int) -> VariantRow:
    metric = RateMetric.from_counts("accuracy", "gsm8k", successes, n, 0, 0, judge="gsm8k-answer")
    return VariantRow(variant=label, model="m", strategy="cot", metrics=[metric])


def _systems(curve: bool = True) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for index, value in enumerate((10, 20)):
        for seed in (0, 1, 2):
            info: dict[str, Any] = {"repeat": {"of": f"v@steps={value}", "seed": seed}}
            if curve:
                info["curves"] = [{"curve": "v@steps=*", "field": "train.max_steps", "key": "steps",
                                   "value": value, "index": index}]
            out[f"v@steps={value}@seed={seed}"] = info
    return out


# Successes out of 20 per seed run: 10 steps -> 4, 6, 8; 20 steps -> 10, 12, 17.
COUNTS = {10: (4, 6, 8), 20: (10, 12, 17)}


def _rows() -> list[VariantRow]:
    return [_row(f"v@steps={v}@seed={s}", COUNTS[v][s], 20) for v in (10, 20) for s in (0, 1, 2)]


def _pooled(labels: list[str], metric: str, benchmark: str) -> RateMetric:
    # The seed runs answered the same 20 prompts: run s gets prompts 0..k_s-1 right, so the runs agree
    # on most prompts, and a prompt's answers across seeds are its samples.
    events, prompts = [], []
    for label in labels:
        value, seed = int(label.split("=")[1].split("@")[0]), int(label.rsplit("=", 1)[1])
        events += [i < COUNTS[value][seed] for i in range(20)]
        prompts += [f"p{i}" for i in range(20)]
    return RateMetric.from_summary(rate_summary(metric, benchmark, "gsm8k-answer", events, prompts=prompts))


def test_a_curve_point_scores_its_seed_runs_together_with_the_prompt_as_the_unit() -> None:
    (curve,) = curve_rows(_rows(), _systems(), _pooled)
    assert (curve.curve, curve.metric, curve.benchmark, curve.key) == ("v@steps=*", "accuracy", "gsm8k", "steps")
    assert [p.value for p in curve.points] == [10, 20] and curve.numeric()
    low, high = curve.points
    assert (low.n, low.rate) == (60, pytest.approx(18 / 60)) and (high.n, high.rate) == (60, pytest.approx(39 / 60))
    assert low.seed_rates == pytest.approx([0.2, 0.3, 0.4])
    assert low.systems == ["v@steps=10@seed=0", "v@steps=10@seed=1", "v@steps=10@seed=2"]
    # Runs that agree prompt by prompt are not 60 independent samples: the interval is wider than
    # Wilson's on the pooled counts, and no wider than Wilson's over the 20 prompts.
    naive = RateMetric.from_counts("accuracy", "gsm8k", 18, 60, 0, 0)
    by_prompt = RateMetric.from_counts("accuracy", "gsm8k", 6, 20, 0, 0)
    assert low.high - low.low > naive.high - naive.low
    assert low.high - low.low <= by_prompt.high - by_prompt.low + 1e-9


def test_repeat_rows_give_the_spread_between_seed_runs_beside_the_sampling_interval() -> None:
    repeats = {r.system: r for r in repeat_rows(_rows(), _systems(curve=False))}
    assert set(repeats) == {"v@steps=10", "v@steps=20"}
    r = repeats["v@steps=20"]
    assert r.seeds == [0, 1, 2] and r.rates == pytest.approx([0.5, 0.6, 0.85])
    assert r.mean == pytest.approx(statistics.fmean([0.5, 0.6, 0.85]))
    assert r.sd == pytest.approx(statistics.stdev([0.5, 0.6, 0.85]))
    assert (r.min, r.max) == pytest.approx((0.5, 0.85))
    halves = [(m.high - m.low) / 2 for m in (RateMetric.from_counts("a", "g", k, 20, 0, 0) for k in (10, 12, 17))]
    assert r.sampling_half_width == pytest.approx(statistics.fmean(halves))
    # Without curves, no curve rows; a curve needs two points.
    assert curve_rows(_rows(), _systems(curve=False), _pooled) == []
    assert curve_rows(_rows()[:3], _systems(), _pooled) == []


def test_a_swept_and_repeated_experiment_runs_end_to_end(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    _files(tmp_path)
    raw = {
        "name": "sweep",
        "models": [{"name": str(tiny_model_dir), "batch_size": 4}],
        "variants": [{"name": "base"}, {"name": "sft", "mixture": "mix.yaml", "train": "train.yaml",
                                        "sweep": {"field": "train.max_steps", "values": [1, 2]}, "seeds": [0, 1]}],
        "strategies": [{"name": "direct", "sweep": {"field": "think", "values": ["no-think", "default"]}}],
        "benchmarks": {"reasoning": ["chain_sum_easy"], "harmful": ["strongreject"]},
        "limit": 3,
        "decoding": {"max_new_tokens": 8},
        "output_dir": str(tmp_path / "out"),
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(raw))
    report = run_experiment(load_experiment(tmp_path / "exp.yaml"), echo=lambda _: None)
    assert report is not None
    out = tmp_path / "out"
    # One model per (steps, seed), each trained with its own seed and step count.
    results = [json.loads(p.read_text()) for p in sorted((out / "models").glob("*/train_result.json"))]
    assert len(results) == 4
    assert sorted((r["provenance"]["seeds"]["train"], r["global_step"]) for r in results) == [(0, 1), (0, 2), (1, 1), (1, 2)]

    curves = {(c.curve, c.metric): c for c in report.curves}
    # The training sweep, once per think budget: each point pools two seed runs of 3 samples.
    steps = curves[("sft@max_steps=*/direct@think=no-think", "accuracy")]
    assert [p.value for p in steps.points] == [1, 2] and [p.n for p in steps.points] == [6, 6]
    assert [len(p.seed_rates) for p in steps.points] == [2, 2]
    assert steps.points[0].systems == ["sft@max_steps=1@seed=0/direct@think=no-think",
                                       "sft@max_steps=1@seed=1/direct@think=no-think"]
    # The think sweep, per system: the base and each (steps) point with its seeds pooled.
    think = curves[("base/direct@think=*", "accuracy")]
    assert [p.value for p in think.points] == ["no-think", "default"] and not think.numeric()
    assert [p.n for p in curves[("sft@max_steps=2/direct@think=*", "asr")].points] == [6, 6]
    for c in report.curves:  # each point is exactly its systems' rate
        for p in c.points:
            rows = [r.metric(c.metric, c.benchmark) for r in report.rows if r.variant in p.systems]
            assert p.n == sum(m.n for m in rows if m is not None)
    repeats = {(r.system, r.metric) for r in report.repeats}
    assert ("sft@max_steps=2/direct@think=default", "asr") in repeats and len(report.repeats) == 4 * 3
    assert (out / "curve-1.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert html.count('<div class="curve"><svg') == len({c.curve for c in report.curves}) == 5
    md = (out / "report.md").read_text()
    assert "## Sweeps" in md and "## Repeats over training seeds" in md


def test_eval_sweeps_several_think_budgets_into_rows_and_a_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srlab.cli import main

    out = tmp_path / "sweep.json"
    assert main(["eval", "--model", "smollm2-135m", "--device", "cpu", "--benchmarks", "chain_sum_easy",
                 "--strategy", "direct", "--limit", "2", "--max-new-tokens", "16", "--store", str(tmp_path / "s.sqlite"),
                 "--think", "no-think,short-think:4", "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["variant"] for r in result["rows"]] == ["base/direct@think=no-think", "base/direct@think=short-think:4"]
    (curve,) = result["curves"]
    assert curve["curve"] == "base/direct@think=*" and [p["value"] for p in curve["points"]] == ["no-think", "short-think:4"]
    rows = {r["variant"]: r for r in result["rows"]}
    assert [p["n"] for p in curve["points"]] == [2, 2]
    assert curve["points"][0]["rate"] == rows["base/direct@think=no-think"]["metrics"][0]["rate"]
    assert rows["base/direct@think=no-think"]["mean_trace_tokens"] == 0.0
    printed = capsys.readouterr().out
    assert "Sweeps: each metric against the swept setting" in printed and "| base/direct@think=* | think |" in printed
