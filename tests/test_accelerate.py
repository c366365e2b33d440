"""Multi-process training through ``accelerate launch`` (``srlab train --processes N``), on CPU:
two processes of batch 2 must train exactly like one process of batch 4 (the same global batch)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mixtures import arithmetic_mixture

from srlab.cli.train_cmd import launch_command

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "accelerate"


def _config(folder: Path, model: Path, data: Path, batch: int) -> Path:
    path = folder / f"train-{batch}.yaml"
    path.write_text(yaml.safe_dump({
        "model": str(model), "data": str(data), "output_dir": str(folder / f"run-{batch}"), "preset": "smollm2-cpu",
        "max_steps": 2, "logging_steps": 1, "save_steps": 100, "per_device_train_batch_size": batch,
        "max_length": 64, "torch_threads": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0},  # no dropout: no RNG per rank
    }))
    return path


def _losses(out: Path) -> list[float]:
    result = json.loads((out / "train_result.json").read_text())
    return [entry["loss"] for entry in result["log_history"] if "loss" in entry]


def _args(**given) -> argparse.Namespace:
    defaults = dict(config="t.yaml", model=None, data=None, output_dir=None, max_steps=None, resume=None,
                    processes=None, accelerate_config=None)
    return argparse.Namespace(**{**defaults, **given})


def test_launch_command_runs_srlab_train_under_accelerate() -> None:
    zero2 = str(EXAMPLES / "deepspeed_zero2.yaml")
    command = launch_command(_args(accelerate_config=zero2, processes=4, max_steps=5))
    assert command == [sys.executable, "-m", "accelerate.commands.launch", "--config_file", zero2, "--num_processes",
                       "4", "-m", "srlab.cli", "train", "t.yaml", "--max-steps", "5"]
    command = launch_command(_args(processes=2, output_dir="out"))
    assert command[3:] == ["--multi_gpu", "--main_process_port", "0", "--num_processes", "2", "-m", "srlab.cli",
                           "train", "t.yaml", "--output-dir", "out"]


@pytest.mark.parametrize("name", ["deepspeed_zero2.yaml", "deepspeed_zero3.yaml", "fsdp.yaml"])
def test_shipped_accelerate_configs_load(name: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(EXAMPLES / name))
    assert config.num_processes == 8 and config.mixed_precision == "bf16"


def test_two_processes_train_like_one_on_the_same_global_batch(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = arithmetic_mixture(tmp_path / "data", 8)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

    def srlab_train(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "srlab.cli", "train", *args], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    srlab_train(str(_config(tmp_path, tiny_model_dir, data, batch=4)))
    srlab_train(str(_config(tmp_path, tiny_model_dir, data, batch=2)), "--processes", "2")
    one, two = _losses(tmp_path / "run-4"), _losses(tmp_path / "run-2")
    assert len(one) == len(two) == 2
    # Step 1: the same examples through the same weights; step 2: after the same update.
    assert two == pytest.approx(one, rel=1e-4)
    assert (tmp_path / "run-2" / "model" / "config.json").is_file()  # saved once, by the main process
