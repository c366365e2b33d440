"""SFT on a tiny random model: steps, checkpoints, resume, corrupted checkpoints, the final folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mixtures import arithmetic_mixture

from srlab.errors import SrlabError
from srlab.train.checkpoints import CorruptCheckpointError, checkpoint_problem


def _config(model: Path, data: Path, out: Path, max_steps: int, **extra) -> dict:
    return {
        "model": str(model), "data": str(data), "output_dir": str(out), "preset": "smollm2-cpu",
        "max_steps": max_steps, "save_steps": 2, "save_total_limit": None, "logging_steps": 1,
        "per_device_train_batch_size": 2, "max_length": 64, "lora": {"r": 4, "alpha": 8}, **extra,
    }


@pytest.fixture(scope="module")
def first_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from srlab.train import train

    root = tmp_path_factory.mktemp("sft")
    data = arithmetic_mixture(root / "data", 12)
    out = root / "run"
    train(_config(tiny_model_dir, data, out, max_steps=2))
    return tiny_model_dir, data, out


def test_training_writes_checkpoints_and_a_loadable_merged_model(first_run) -> None:
    from transformers import AutoModelForCausalLM

    _, _, out = first_run
    result = json.loads((out / "train_result.json").read_text())
    assert result["global_step"] == 2 and result["resumed_from"] is None
    assert [p.name for p in sorted((out / "checkpoints").glob("checkpoint-*"))] == ["checkpoint-2"]
    assert checkpoint_problem(out / "checkpoints" / "checkpoint-2") is None
    # LoRA merged: a plain model folder, no adapter files.
    assert (out / "model" / "config.json").exists() and not (out / "model" / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model.config.num_hidden_layers == 2


def test_resume_continues_from_the_last_step(first_run) -> None:
    from srlab.train import train

    model, data, out = first_run
    train(_config(model, data, out, max_steps=3))
    result = json.loads((out / "train_result.json").read_text())
    assert result["resumed_from"].endswith("checkpoint-2")
    assert result["global_step"] == 3
    steps = [entry["step"] for entry in result["log_history"] if "loss" in entry]
    assert steps == [1, 2, 3]  # steps 1-2 come from the restored trainer state, 3 is new


def test_corrupted_checkpoint_is_reported_not_trained_over(first_run, tmp_path: Path) -> None:
    import shutil

    from srlab.train import train

    model, data, out = first_run
    copy = tmp_path / "run"
    shutil.copytree(out / "checkpoints", copy / "checkpoints")
    last = sorted((copy / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    weights = last / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # a write cut short
    with pytest.raises(CorruptCheckpointError, match=rf"{last.name} is corrupted: adapter_model.safetensors is truncated"):
        train(_config(model, data, copy, max_steps=5))
    (last / "trainer_state.json").write_text("{not json")
    assert checkpoint_problem(last).startswith("trainer_state.json is not valid JSON")
    assert not (copy / "model").exists()


def test_resume_never_refuses_to_overwrite(first_run) -> None:
    from srlab.train import train

    model, data, out = first_run
    with pytest.raises(SrlabError, match="resume is 'never'"):
        train(_config(model, data, out, max_steps=5, resume="never"))
