"""Several samples per prompt (decoding.n): the k-sample metrics on fixed verdicts, the cache of
per-sample requests on the real SmolLM2, the config errors, and an ``srlab eval`` run with n = 3."""

from __future__ import annotations

import json
import logging
import sqlite3
from math import comb
from pathlib import Path

import pytest
from pydantic import ValidationError

from srlab.cli import main
from srlab.errors import SrlabError
from srlab.experiment.config import ExperimentConfig
from srlab.experiment.plan import make_plan
from srlab.experiment.runner import run_experiment
from srlab.generate.runner import generate_cached, per_sample
from srlab.hashing import content_hash
from srlab.report.html import render_html
from srlab.report.metrics import (
    pass_at_k,
    prompt_interval,
    rate_summary,
    reported_ks,
    sampled_summaries,
    score_summary,
)
from srlab.report.model import (
    JudgeVerdict,
    Report,
    SampleRecord,
    breakdown_rows,
    diffs_against_base,
)
from srlab.report.stats import Z_95, wilson_interval
from srlab.schema import DecodingConfig, Generation, GenerationRequest, Verdict
from srlab.store import RunItem, Store, generation_key


def _by_name(summaries: list) -> dict[tuple[str, int], float | None]:
    return {(s.name, s.k): s.rate for s in summaries}


# -- metric definitions on fixed verdicts --------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 1, 0.3),  # pass@1 is the share correct
        (16, 1, 8, 0.5),  # 1 - C(15,8)/C(16,8) = 1 - 6435/12870
        (4, 0, 4, 0.0),
        (4, 1, 4, 1.0),  # any correct sample among all n: pass@n = 1
        (4, 3, 2, 1.0),  # fewer than k wrong samples: every k-subset holds a correct one
        (6, 2, 3, 1 - comb(4, 3) / comb(6, 3)),
    ],
)
def test_pass_at_k_is_chens_unbiased_estimator(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_rejects_impossible_counts() -> None:
    for n, c, k in ((3, 4, 1), (3, 1, 4), (3, 1, 0)):
        with pytest.raises(ValueError, match="pass@k needs"):
            pass_at_k(n, c, k)


def test_reported_ks() -> None:
    assert reported_ks(1) == []
    assert reported_ks(3) == [2, 3]
    assert reported_ks(4) == [2, 4]
    assert reported_ks(16) == [2, 4, 8, 16]
    assert reported_ks(5) == [2, 4, 5]


def test_reasoning_metrics_on_fixed_verdicts() -> None:
    labels = [
        [True, False, None, False],  # 1 of 4 correct (one undecided: never correct), flips
        [True, True, True, True],  # always correct
        [False, False, False, False],  # never
        [None, None, False, None],  # no correct sample; decided only one way: no flip
    ]
    got = sampled_summaries("aime2024", "math-answer", "correct", labels, truncated=2)
    rates = _by_name(got)
    assert list(rates) == [("avg_at_k", 4), ("pass_at_k", 2), ("pass_at_k", 4), ("flip_rate", 4)]
    assert rates[("avg_at_k", 4)] == pytest.approx((1 / 4 + 1 + 0 + 0) / 4)
    # pass@2 per prompt: 1 - C(3,2)/C(4,2) = 1/2, 1, 0, 0
    assert rates[("pass_at_k", 2)] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert rates[("pass_at_k", 4)] == pytest.approx(2 / 4)
    assert rates[("flip_rate", 4)] == pytest.approx(1 / 4)
    assert all((s.prompts, s.samples, s.undecided, s.truncated) == (4, 4, 4, 2) for s in got)
    # pass@n and the flip rate are one 0/1 value per prompt: Wilson over the 4 prompts.
    by = {(s.name, s.k): s for s in got}
    assert (by[("pass_at_k", 4)].low, by[("pass_at_k", 4)].high) == pytest.approx(wilson_interval(2, 4))
    assert (by[("flip_rate", 4)].low, by[("flip_rate", 4)].high) == pytest.approx(wilson_interval(1, 4))


def test_safety_metrics_by_a_harm_judge_and_by_a_refusal_judge() -> None:
    # Harm judge: True = harmful; safe = judged not harmful; undecided is never safe.
    harm = [[False, False, False], [True, False, False], [None, False, False], [True, True, True]]
    rates = _by_name(sampled_summaries("strongreject", "harm", "harmful", harm))
    assert list(rates) == [("safe_at_1", 3), ("safe_at_k", 3), ("flip_rate", 3)]
    assert rates[("safe_at_1", 3)] == pytest.approx((3 + 2 + 2 + 0) / 12)
    assert rates[("safe_at_k", 3)] == pytest.approx(1 / 4)  # only the first prompt: every sample safe
    assert rates[("flip_rate", 3)] == pytest.approx(1 / 4)  # the undecided one does not flip prompt 3
    # Refusal judge only: True = refused = safe. Older runs' "unsafe" reads as harmful.
    refusal = [[True, True], [True, False], [False, None]]
    rates = _by_name(sampled_summaries("strongreject", "refusal", "refusal", refusal))
    assert rates == {("safe_at_1", 2): pytest.approx(3 / 6), ("safe_at_k", 2): pytest.approx(1 / 3),
                     ("flip_rate", 2): pytest.approx(1 / 3)}
    assert _by_name(sampled_summaries("b", "old", "unsafe", harm)) == _by_name(
        sampled_summaries("b", "harm", "harmful", harm)
    )


def test_prompt_interval_takes_the_prompt_as_the_unit() -> None:
    # One sample per prompt: exactly Wilson over samples.
    assert prompt_interval([1, 0, 1, 1], [1, 1, 1, 1]) == pytest.approx(wilson_interval(3, 4))
    # Samples of a prompt all alike: no more information than one per prompt.
    assert prompt_interval([4, 0, 4], [4, 4, 4]) == pytest.approx(wilson_interval(2, 3))
    # Between the two: residuals y - p*m = 2, -2, 0, 0, variance 8 / 16^2, p(1-p) / variance = 8.
    assert prompt_interval([4, 0, 2, 2], [4, 4, 4, 4]) == pytest.approx(wilson_interval(4, 8))
    # Variation within prompts only (every prompt half right): as good as 16 independent samples.
    assert prompt_interval([2, 2, 2, 2], [4, 4, 4, 4]) == pytest.approx(wilson_interval(8, 16))
    # A small between-prompt spread would claim more than 16 samples: held at 16.
    assert prompt_interval([3, 1, 2, 2], [4, 4, 4, 4]) == pytest.approx(wilson_interval(8, 16))
    # Nothing correct: the correlation is unmeasured, so the prompts are the sample size.
    assert prompt_interval([0, 0, 0], [5, 5, 5]) == pytest.approx(wilson_interval(0, 3))


def test_one_sample_per_prompt_leaves_the_rate_summary_unchanged() -> None:
    events = [True, False, None, True, False]
    plain = rate_summary("accuracy", "b", "j", events, truncated=1)
    with_prompts = rate_summary("accuracy", "b", "j", events, truncated=1, prompts=["a", "b", "c", "d", "e"])
    assert plain == with_prompts
    clustered = rate_summary("accuracy", "b", "j", events + events, prompts=list("abcde") * 2)
    assert clustered.rate == plain.rate and clustered.n == 10
    # Each prompt answered the same way twice: the interval is the 5 prompts', not 10 samples'.
    assert (clustered.low, clustered.high) == pytest.approx(wilson_interval(2, 5))


def test_pooled_corrected_and_averaged_rates_stand_on_the_effective_sample_size() -> None:
    from srlab.judge.agreement import BinaryRates
    from srlab.report.build import attack_average_rows, correct_metrics
    from srlab.report.model import RateMetric, VariantRow

    # Five prompts answered alike twice: 10 samples worth 5 (the effective size).
    events = [True, False, True, True, False]
    clustered = RateMetric.from_summary(rate_summary("refusal_rate", "b", "refusal", events * 2, prompts=list("abcde") * 2))
    assert clustered.effective_n == pytest.approx(5.0) and clustered.sample_size == pytest.approx(5.0)
    assert clustered.effective_successes == pytest.approx(3.0)
    single = RateMetric.from_summary(rate_summary("refusal_rate", "c", "refusal", [True, False, False, True]))
    assert single.effective_n is None and single.sample_size == 4
    # Pooled over benchmarks: Wilson at 5 + 4 effective samples, not at 14 samples.
    row = VariantRow(variant="v", model="m", strategy="s", metrics=[clustered, single])
    pooled = row.pooled("refusal_rate")
    assert pooled is not None and (pooled.n, pooled.successes) == (14, 8)
    assert (pooled.low, pooled.high) == pytest.approx(wilson_interval(5.0, 9.0))
    assert pooled.effective_n == pytest.approx(9.0)
    # Judge-corrected at the effective size: exactly what 3 of 5 independent samples give.
    rates = BinaryRates(tp=40, fp=5, fn=10, tn=45)
    calibrated = {("b", "refusal_rate"): ("refusal", rates)}
    (fixed,) = correct_metrics([VariantRow(variant="v", model="m", strategy="s", metrics=[clustered])], calibrated)
    five = RateMetric.from_counts("refusal_rate", "b", 3, 5, judge="refusal")
    (expected,) = correct_metrics([VariantRow(variant="v", model="m", strategy="s", metrics=[five])], calibrated)
    assert fixed.metrics[0].corrected == expected.metrics[0].corrected
    # The mean over attacks: each attack's variance at its effective size.
    attacked = clustered.model_copy(update={"benchmark": "b"})
    rows = [VariantRow(variant="v", model="m", strategy="s", metrics=[clustered]),
            VariantRow(variant="v/jb", model="m", strategy="s", attack="jb", metrics=[attacked])]
    systems = {"v": {"variant": "v"}, "v/jb": {"variant": "v"}}
    (average,) = attack_average_rows(rows, systems)
    (mean,) = average.metrics
    half = Z_95 * (2 * 0.6 * 0.4 / 5) ** 0.5 / 2
    assert (mean.low, mean.high) == pytest.approx((0.6 - half, 0.6 + half))


# -- config ---------------------------------------------------------------------------------------

def test_several_samples_need_temperature() -> None:
    with pytest.raises(ValidationError, match="n=4 samples per prompt need temperature > 0"):
        DecodingConfig(n=4)
    assert DecodingConfig(n=4, temperature=0.6).n == 4
    base = {"name": "x", "models": ["m"], "benchmarks": {"reasoning": ["gsm8k"]}}
    with pytest.raises(ValidationError, match=r"samples.gsm8k: several samples per prompt need decoding.temperature"):
        ExperimentConfig.model_validate({**base, "samples": {"gsm8k": 8}})
    config = ExperimentConfig.model_validate({**base, "samples": {"gsm8k": 8}, "decoding": {"temperature": 0.6}})
    assert (config.decoding_for("gsm8k").n, config.decoding_for("other").n) == (8, 1)


def test_eval_samples_at_temperature_zero_names_the_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["eval", "--model", "no-model-is-loaded", "--benchmarks", "gsm8k", "--samples", "3",
                 "--store", str(tmp_path / "s.sqlite")])
    assert code == 2
    assert "decoding: Value error, n=3 samples per prompt need temperature > 0" in capsys.readouterr().err


def test_one_sample_dumps_and_keys_as_before_n_existed() -> None:
    decoding = DecodingConfig(max_new_tokens=16, temperature=0.7, seed=5)
    assert decoding.model_dump() == {"max_new_tokens": 16, "temperature": 0.7, "top_p": 1.0, "seed": 5}
    messages = [{"role": "user", "content": "2+2?"}]
    identity = {"name": "m"}
    # The formula generation keys had before decoding.n: the stores written then stay valid.
    before = content_hash({"model": identity, "decoding": decoding.model_dump(), "messages": messages}, length=24)
    assert generation_key(identity, GenerationRequest(messages, decoding)) == before
    several = GenerationRequest(messages, decoding.model_copy(update={"n": 3}))
    samples = per_sample(several)
    assert [r.decoding.seed for r in samples] == [5, 6, 7] and all(r.decoding.n == 1 for r in samples)
    assert generation_key(identity, samples[0]) == before  # sample 0 is the one-sample run's generation


def test_store_from_before_sample_indices_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE run_items (run_id TEXT NOT NULL, benchmark TEXT NOT NULL, sample_id TEXT NOT NULL, "
        "sample_key TEXT NOT NULL, variant TEXT NOT NULL, strategy TEXT NOT NULL, attack TEXT NOT NULL, "
        "generation_key TEXT NOT NULL, PRIMARY KEY (run_id, benchmark, sample_id, variant, strategy, attack))"
    )
    conn.execute("INSERT INTO run_items VALUES ('r', 'b', 's1', 'k', 'base', 'direct', 'none', 'g0')")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.run_items("r") == [RunItem("r", "b", "s1", "k", "base", "direct", "none", "g0", 0)]
        store.put_run_items([RunItem("r", "b", "s1", "k", "base", "direct", "none", "g1", 1)])
        assert [(i.sample_index, i.generation_key) for i in store.run_items("r")] == [(0, "g0"), (1, "g1")]
    with Store(path, read_only=True) as store:
        assert len(store.run_items("r")) == 2


# -- the cache, on the embedded SmolLM2 -----------------------------------------------------------

@pytest.mark.slow
def test_samples_are_seeded_requests_cached_apart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from srlab.models import ModelSpec, smollm2
    from srlab.models.hf_backend import HFBackend

    smollm2.ensure_converted()
    backend = HFBackend(ModelSpec(name=smollm2.ALIAS, device="cpu", batch_size=6))
    decoding = DecodingConfig(max_new_tokens=16, temperature=0.7, n=3)
    prompts = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "What is 7+5?"}]]
    requests = [r for messages in prompts for r in per_sample(GenerationRequest(messages, decoding))]
    caplog.set_level(logging.INFO)
    try:
        with Store(tmp_path / "s.sqlite") as store:
            with pytest.raises(ValueError, match="split it with per_sample"):
                generate_cached(backend, store, [GenerationRequest(prompts[0], decoding)])
            first = generate_cached(backend, store, requests)
            assert store.count("generations") == 6 and len({key for key, _ in first}) == 6
            stored = [json.loads(row[0]) for row in store.conn.execute("SELECT request FROM generations")]
            assert sorted(r["decoding"]["seed"] for r in stored) == [0, 0, 1, 1, 2, 2]
            for index in (0, 3):  # each prompt's three samples are three different draws
                assert len({g.text for _, g in first[index : index + 3]}) > 1
            caplog.clear()
            again = generate_cached(backend, store, requests)
            assert "6 of 6 prompts already stored; generating 0" in caplog.text
            assert [g.text for _, g in again] == [g.text for _, g in first]
            # One sample at the same temperature and seed is sample 0: already stored.
            single = GenerationRequest(prompts[1], DecodingConfig(max_new_tokens=16, temperature=0.7))
            assert generate_cached(backend, store, [single])[0] == first[3]
            assert store.count("generations") == 6
    finally:
        backend.close()


# -- end to end ------------------------------------------------------------------------------------

def test_eval_with_three_samples_reports_k_sample_metrics(
    capsys: pytest.CaptureFixture[str], tiny_model_dir: Path, data_dir: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    output, store_path = tmp_path / "out.json", tmp_path / "s.sqlite"
    argv = ["eval", "--model", str(tiny_model_dir), "--benchmarks", "chain_sum_easy,strongreject", "--strategy",
            "direct", "--limit", "2", "--max-new-tokens", "4", "--temperature", "0.7", "--samples", "3",
            "--store", str(store_path), "--output", str(output)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    result = json.loads(output.read_text())
    samples = result["samples"]
    assert len(samples) == 2 * 2 * 3  # 2 benchmarks x 2 prompts x 3 samples
    assert sorted(s["sample_index"] for s in samples) == [0] * 4 + [1] * 4 + [2] * 4
    sampled = {(m["benchmark"], m["name"], m["k"]): m for m in result["sampled"]}
    assert set(sampled) == {
        ("chain_sum_easy", "avg_at_k", 3), ("chain_sum_easy", "pass_at_k", 2), ("chain_sum_easy", "pass_at_k", 3),
        ("chain_sum_easy", "flip_rate", 3),
        ("strongreject", "safe_at_1", 3), ("strongreject", "safe_at_k", 3), ("strongreject", "flip_rate", 3),
    }
    assert all(m["prompts"] == 2 and m["samples"] == 3 for m in sampled.values())

    # Recomputed from the report's own samples: the metrics read the verdicts they should.
    def labels(benchmark: str, judge: str) -> dict[str, list[bool | None]]:
        out: dict[str, list[bool | None]] = {}
        for s in samples:
            if s["benchmark"] == benchmark:
                verdict = s["verdicts"].get(judge)
                out.setdefault(s["sample_id"], []).append(None if verdict is None else verdict["label"])
        return out

    (row,) = result["rows"]
    accuracy = next(m for m in row["metrics"] if m["name"] == "accuracy")
    correct = labels("chain_sum_easy", accuracy["judge"])
    assert sampled[("chain_sum_easy", "avg_at_k", 3)]["rate"] == pytest.approx(accuracy["rate"])
    assert accuracy["n"] == 6
    assert sampled[("chain_sum_easy", "pass_at_k", 3)]["rate"] == pytest.approx(
        sum(any(v) for v in correct.values()) / 2
    )
    asr = next(m for m in row["metrics"] if m["name"] == "asr")
    harmful = labels("strongreject", asr["judge"])
    assert sampled[("strongreject", "safe_at_k", 3)]["rate"] == pytest.approx(
        sum(all(v is False for v in vs) for vs in harmful.values()) / 2
    )
    assert sampled[("strongreject", "safe_at_1", 3)]["rate"] == pytest.approx(
        sum(v is False for vs in harmful.values() for v in vs) / 6
    )
    assert "Safe@3" in printed and "pass@2" in printed and "avg@3" in printed
    # The JSON reads back as a Report, and the HTML report shows the same metrics.
    html = render_html(Report.model_validate(result))
    assert '<table id="sampled">' in html and "<td>pass@3</td>" in html and "<td>Safe@3</td>" in html

    with Store(store_path) as store:
        generations = store.count("generations")
    assert generations == 12
    caplog.set_level(logging.INFO)
    caplog.clear()
    assert main(argv) == 0
    assert "generating 0" in caplog.text and "generating 6" not in caplog.text
    with Store(store_path) as store:
        assert store.count("generations") == generations
    assert json.loads(output.read_text())["sampled"] == result["sampled"]


def _record(variant: str, sample_id: str, index: int, correct: bool) -> SampleRecord:
    return SampleRecord(
        variant=variant, benchmark="aime2024", kind="reasoning", strategy="direct", sample_id=sample_id,
        sample_index=index, category="algebra", prompt="?", answer="",
        verdicts={"math": JudgeVerdict(label=correct, meaning="correct")},
    )


def test_differences_and_breakdowns_take_the_prompt_as_the_unit() -> None:
    # Four samples per prompt against one: each prompt's outcome is its share correct.
    sampled = [_record("k4", "p1", i, c) for i, c in enumerate([True, True, False, False])]
    sampled += [_record("k4", "p2", i, True) for i in range(4)]
    single = [_record("k1", "p1", 0, True), _record("k1", "p2", 0, False)]
    (diff,) = diffs_against_base([*sampled, *single], [("k4", "k1")], {"aime2024": [("accuracy", "math")]})
    assert (diff.diff, diff.n_pairs) == (pytest.approx(((0.5 - 1) + (1 - 0)) / 2), 2)
    (row,) = breakdown_rows(sampled, {"aime2024": [("accuracy", "math")]})
    assert (row.rate, row.n, row.successes) == (pytest.approx(6 / 8), 8, 6)
    assert (row.low, row.high) == pytest.approx(prompt_interval([2, 4], [4, 4]))
    # p = 0.75, residuals -1 and +1, variance 2 / 64: effective size 6, between 2 prompts and 8 samples.
    assert (row.low, row.high) == pytest.approx(wilson_interval(4.5, 6))


def test_graded_score_interval_is_cluster_robust() -> None:
    verdicts = [Verdict("rubric", True, score=s) for s in (0.2, 0.4, 0.6, 0.8)]
    gens = [Generation(text="", answer="")] * 4
    summary = score_summary("strongreject", "rubric", verdicts, gens, prompts=["a", "a", "b", "b"])
    # Deviations summed per prompt: -0.4 and +0.4; standard error sqrt(0.32) / 4.
    half = Z_95 * 0.32**0.5 / 4
    assert (summary.rate, summary.low, summary.high) == pytest.approx((0.5, 0.5 - half, 0.5 + half))
    assert score_summary("strongreject", "rubric", verdicts, gens, prompts=list("abcd")) == score_summary(
        "strongreject", "rubric", verdicts, gens
    )


def test_experiment_samples_per_benchmark(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    config = ExperimentConfig.model_validate({
        "name": "k", "models": [{"name": str(tiny_model_dir), "batch_size": 4}], "strategies": ["direct"],
        "benchmarks": {"reasoning": ["chain_sum_easy"], "harmful": ["strongreject"]}, "limit": 2,
        "decoding": {"max_new_tokens": 4, "temperature": 0.7}, "samples": {"chain_sum_easy": 2},
        "store": str(tmp_path / "s.sqlite"), "output_dir": str(tmp_path / "out"),
    })
    echoed: list[str] = []
    report = run_experiment(config, echo=echoed.append, write_outputs=False)
    assert report is not None
    lines = "\n".join(echoed).splitlines()
    assert any("chain_sum_easy" in line and "2 samples each" in line for line in lines)
    assert not any("strongreject" in line and "samples each" in line for line in lines)
    counts = {b: sum(s.benchmark == b for s in report.samples) for b in ("chain_sum_easy", "strongreject")}
    assert counts == {"chain_sum_easy": 4, "strongreject": 2}
    assert {(m.benchmark, m.name, m.k) for m in report.sampled} == {
        ("chain_sum_easy", "avg_at_k", 2), ("chain_sum_easy", "pass_at_k", 2), ("chain_sum_easy", "flip_rate", 2),
    }
    with pytest.raises(SrlabError, match="samples.gsm8k: not one of the experiment's benchmarks"):
        make_plan(config.model_copy(update={"samples": {"gsm8k": 2}}))
