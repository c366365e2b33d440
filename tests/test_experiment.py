"""Experiment configs: validation errors name the field path; planning expands the grid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from srlab.errors import SrlabError
from srlab.experiment.config import ExperimentConfig, load_experiment
from srlab.experiment.plan import make_plan, system_label
from srlab.experiment.runner import run_id_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


BASE = {
    "name": "t",
    "models": ["smollm2-135m"],
    "benchmarks": {"reasoning": ["gsm8k"], "harmful": ["strongreject"], "benign": ["xstest"]},
}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"decoding": {"max_new_tokens": 0}}, "decoding.max_new_tokens: Input should be greater than or equal to 1"),
        ({"decodng": {}}, "decodng: Extra inputs are not permitted"),
        ({"variants": [{"name": "base"}, {"name": "sft", "mixture": "m.yaml"}]}, "variants.1: Value error, a trained variant needs both"),
        ({"models": [{"name": "m", "backend": "tpu"}]}, "models.0.backend: Value error, unknown backend 'tpu'; valid: auto, hf"),
        ({"strategies": [{"name": "cot", "k": -1}]}, "strategies.0.k: Input should be greater than or equal to 0"),
        ({"variants": [{"name": "sft", "mixture": "m.yaml", "train": "t.yaml"}]}, "untrained 'base' entry"),
    ],
)
def test_validation_errors_name_the_field_path(tmp_path: Path, patch: dict, expected: str) -> None:
    path = _write(tmp_path, {**BASE, **patch})
    with pytest.raises(SrlabError) as info:
        load_experiment(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"strategies": ["cot", "tree-of-thought"]}, "strategies.1.name: unknown strategy 'tree-of-thought'; valid: cot, direct"),
        ({"benchmarks": {"harmful": ["gsm9k"]}}, "benchmarks.harmful: unknown benchmark 'gsm9k'"),
        ({"benchmarks": {"harmful": ["xstest"]}}, "benchmarks.harmful: 'xstest' is a benign benchmark; list it under benchmarks.benign"),
        ({"attacks": ["none", "telepathy"]}, "attacks.1.name: unknown attack 'telepathy'"),
        ({"limits": {"mmlu": 3}}, "limits.mmlu: not one of the experiment's benchmarks"),
        ({"extra_judges": {"harmful": ["refusal", "oracle"]}}, "extra_judges.harmful.1.name: unknown judge 'oracle'"),
        ({"attacks": [{"name": "pair", "attacker": {"name": "smollm2-135m"}}]}, "attacks.0.models.judge: attack 'pair' needs a model for its judge role"),
        ({"calibration": {"oracle": {"labels": "l.jsonl"}}}, "calibration.oracle: judge 'oracle' scores none of the benchmarks' metrics"),
        ({"calibration": {"llama-guard": {"labels": "l.jsonl"}}},
         "calibration.llama-guard: judge 'llama-guard' scores none of the benchmarks' metrics (those judges: gsm8k-answer, harm, refusal)"),
    ],
)
def test_unknown_names_fail_at_planning_with_their_path(tmp_path: Path, patch: dict, expected: str) -> None:
    config = load_experiment(_write(tmp_path, {**BASE, **patch}))
    with pytest.raises(SrlabError, match="invalid experiment config") as info:
        make_plan(config)
    assert expected in str(info.value)


def test_plan_crosses_models_variants_strategies_and_attacks_only_on_harmful(tmp_path: Path) -> None:
    config = load_experiment(
        _write(
            tmp_path,
            {
                **BASE,
                "models": ["smollm2-135m", {"name": "org/other"}],
                "variants": [{"name": "base"}, {"name": "sft", "mixture": "m.yaml", "train": "t.yaml"}],
                "strategies": ["direct", "cot"],
                "attacks": ["none"],
                "limit": 5,
                "limits": {"gsm8k": 2},
            },
        )
    )
    plan = make_plan(config)
    assert [(s.name, v.name) for s, v in plan.trainings] == [("smollm2-135m", "sft"), ("org/other", "sft")]
    # 2 models x 2 variants x 2 strategies x 3 benchmarks
    assert len(plan.cells) == 24
    assert {c.limit for c in plan.cells if c.benchmark == "gsm8k"} == {2}
    assert {c.limit for c in plan.cells if c.benchmark != "gsm8k"} == {5}
    assert system_label(config, "org/other", "sft", "cot", "none") == "org/other:sft/cot"
    assert config.resolve("m.yaml") == tmp_path / "m.yaml"


def test_attacks_cross_only_harmful_benchmarks_with_their_labels(tmp_path: Path) -> None:
    config = load_experiment(
        _write(tmp_path, {**BASE, "attacks": ["none", {"name": "jailbreak-templates", "label": "jb", "options": {"per_sample": 2}}]})
    )
    plan = make_plan(config)
    assert sorted({(c.benchmark, c.attack) for c in plan.cells}) == [
        ("gsm8k", "none"), ("strongreject", "jb"), ("strongreject", "none"), ("xstest", "none")
    ]
    assert system_label(config, "smollm2-135m", "base", "cot", "jb") == "base/jb"
    assert config.attack("jb").options == {"per_sample": 2}


def test_run_id_ignores_paths_but_not_content() -> None:
    config = ExperimentConfig.model_validate(BASE)
    moved = config.model_copy(update={"output_dir": "elsewhere", "store": "x.sqlite"})
    assert run_id_for(config) == run_id_for(moved)
    assert run_id_for(config) != run_id_for(config.model_copy(update={"limit": 3}))


@pytest.mark.parametrize("name", ["quickstart.yaml", "prompting.yaml", "lrm_safety_study.yaml", "sweeps.yaml"])
def test_shipped_experiments_validate_and_plan(name: str, data_dir: Path) -> None:
    from srlab.experiment.calibration import load_calibration_sets

    config = load_experiment(EXAMPLES / name)
    plan = make_plan(config)
    assert plan.cells
    for _, variant in plan.trainings:
        assert config.resolve(variant.mixture).is_file()  # type: ignore[arg-type]
        assert config.resolve(variant.train).is_file()  # type: ignore[arg-type]
    # Every shipped experiment calibrates its refusal judge on a labels file that resolves
    # (SmolLM2's own labelled responses point at benchmark samples in the data directory).
    (labelled,) = load_calibration_sets(config.calibration, data_dir, config.base_dir).values()
    # heldout3b (100), or the quickstart's own answers: 128, of which 42 have no answer to label.
    assert (len(labelled.items), labelled.labels.count(None)) in ((100, 0), (128, 42))
    assert True in labelled.labels and False in labelled.labels


def test_lrm_study_plans_six_recipes_on_four_benchmarks() -> None:
    config = load_experiment(EXAMPLES / "lrm_safety_study.yaml")
    plan = make_plan(config)
    assert [v.name for _, v in plan.trainings] == [
        "default-cot", "realsafe-cot", "improved-cot", "short-cot", "template-cot", "no-cot"
    ]
    assert {c.benchmark for c in plan.cells} == {"math500", "aime2024", "strongreject", "xstest"}
    # Study B's think budgets are the strategy axis: no-think, short-think, default.
    assert [(s.display, s.think.label if s.think else None) for s in config.strategies] == [
        ("direct@think=no-think", "no-think"), ("direct@think=short-think:1024", "short-think-1024"),
        ("direct@think=default", "default"),
    ]
    assert len(plan.cells) == 7 * 4 * 3
    # ASR by Llama Guard on the whole output, the refusal rate beside it, both named in the plan.
    assert "  score  strongreject: ASR by llama-guard@full, refusal rate by refusal" in plan.describe().splitlines()


def test_judges_are_chosen_per_axis_and_per_benchmark(tmp_path: Path) -> None:
    config = load_experiment(_write(tmp_path, {
        **BASE,
        "judge_model": "smollm2-135m",
        "judges": {"harmful": ["llama-guard", "refusal"],
                   "strongreject": [{"name": "majority", "of": ["llama-guard", "harmbench-cls", "strongreject-rubric"]}]},
    }))
    lines = make_plan(config).describe().splitlines()
    assert "  score  strongreject: ASR by majority(llama-guard,harmbench-cls,strongreject-rubric)" in lines
    assert config.scoring_judges("harmful", "advbench50", ("refusal",))[0].name == "llama-guard"


def _labels(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_calibration_labels_are_read_up_front_with_their_errors(tmp_path: Path) -> None:
    from srlab.experiment.calibration import load_calibration_sets

    good = {"prompt": "p", "response": "r", "label": "refusal", "split": "a"}
    _labels(tmp_path, [good, {**good, "label": "compliance"}, {**good, "split": "b", "label": "partial_refusal"},
                       {**good, "label": None}, {**good, "label": True}])
    entry = {"labels": "labels.jsonl", "positive": ["refusal", "partial_refusal"], "where": {"split": "a"}}
    config = load_experiment(_write(tmp_path, {**BASE, "calibration": {"refusal": entry}}))
    labelled = load_calibration_sets(config.calibration, None, config.base_dir)["refusal"]
    # split b filtered out; null stays unlabelled; a boolean keeps its meaning next to classes
    assert labelled.labels == [True, False, None, True]
    assert len(labelled.sha256) == 64

    missing = load_experiment(_write(tmp_path, {**BASE, "calibration": {"refusal": {"labels": "nope.jsonl"}}}))
    with pytest.raises(SrlabError, match=r"calibration.refusal.labels: no file .*nope.jsonl"):
        load_calibration_sets(missing.calibration, None, missing.base_dir)
    # Without 'positive', class names are not booleans: the error names file, line and the fix.
    plain = load_experiment(_write(tmp_path, {**BASE, "calibration": {"refusal": {"labels": "labels.jsonl"}}}))
    with pytest.raises(SrlabError, match=r"calibration.refusal: .*labels.jsonl:1: field 'label' must be true/false.*'positive'"):
        load_calibration_sets(plain.calibration, None, plain.base_dir)
    wrong = {"labels": "labels.jsonl", "positive": ["refused"]}
    config = load_experiment(_write(tmp_path, {**BASE, "calibration": {"refusal": wrong}}))
    with pytest.raises(SrlabError, match=r"no row's 'label' is one of \['refused'\]; the file's classes: compliance, partial_refusal, refusal"):
        load_calibration_sets(config.calibration, None, config.base_dir)
    empty = {**entry, "where": {"split": "zzz"}}
    config = load_experiment(_write(tmp_path, {**BASE, "calibration": {"refusal": empty}}))
    with pytest.raises(SrlabError, match=r"no rows matching \{'split': 'zzz'\}"):
        load_calibration_sets(config.calibration, None, config.base_dir)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"limits": {"gsm8k": 0}}, "limits.gsm8k: Input should be greater than or equal to 1"),
        ({"limits": {"gsm8k": -3}}, "limits.gsm8k: Input should be greater than or equal to 1"),
        ({"limit": "1e30"}, "limit: Input should be a valid integer"),
        ({"limit": 10**30}, "limit: Input should be less than or equal to 10000000"),
        ({"seed": True}, "seed: Input should be a valid integer"),
        ({"decoding": {"seed": True}}, "decoding.seed: Input should be a valid integer"),
    ],
)
def test_counts_and_seeds_are_strict(tmp_path: Path, patch: dict, expected: str) -> None:
    with pytest.raises(SrlabError, match=re.escape(expected)):
        load_experiment(_write(tmp_path, {**BASE, **patch}))


def test_dry_run_checks_labels_files_and_the_data_dir(tmp_path: Path) -> None:
    from srlab.experiment.runner import run_experiment

    missing = {"calibration": {"refusal": {"labels": "nowhere.jsonl"}}}
    with pytest.raises(SrlabError, match="calibration.refusal.labels: no file"):
        run_experiment(load_experiment(_write(tmp_path, {**BASE, **missing})), dry_run=True, echo=lambda _: None)
    with pytest.raises(SrlabError, match="data_dir: .*no-such-dir is not a directory"):
        run_experiment(load_experiment(_write(tmp_path, {**BASE, "data_dir": str(tmp_path / "no-such-dir")})),
                       dry_run=True, echo=lambda _: None)


def test_compare_pairs_name_report_rows(tmp_path: Path) -> None:
    patch = {"strategies": ["direct", "cot"], "compare": [["base/cot", "base/direct"]]}
    config = load_experiment(_write(tmp_path, {**BASE, **patch}))
    assert make_plan(config) and config.compare == [("base/cot", "base/direct")]
    bad = {**patch, "compare": [["base/cot", "base/tot"], ["base/cot", "base/cot"]]}
    with pytest.raises(SrlabError) as info:
        make_plan(load_experiment(_write(tmp_path, {**BASE, **bad})))
    assert "compare.0.1: no system 'base/tot'; systems: base/direct, base/cot" in str(info.value)
    assert "compare.1: a system compared with itself" in str(info.value)
