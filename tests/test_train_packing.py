"""Training without padding waste: TRL's packing ("bfd") through the training config gives the
same loss as unpacked batches of the same examples, in fewer rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mixtures import arithmetic_mixture


def test_packed_batches_give_the_unpacked_loss(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trl

    from srlab.train import train

    rows: list[int] = []
    original = trl.SFTTrainer.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        rows.append(len(self.train_dataset))

    monkeypatch.setattr(trl.SFTTrainer, "__init__", recording_init)
    data = arithmetic_mixture(tmp_path, 8, varied_lengths=True)

    def first_loss(name: str, **settings: Any) -> float:
        # All 8 examples in one step, so both runs average the loss over the same completion tokens.
        train({
            "model": str(tiny_model_dir), "data": str(data), "output_dir": str(tmp_path / name), "preset": "smollm2-cpu",
            "max_steps": 1, "logging_steps": 1, "save_steps": 100, "per_device_train_batch_size": 8,
            "max_length": 256, "torch_threads": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, **settings,
        })
        history = json.loads((tmp_path / name / "train_result.json").read_text())["log_history"]
        return next(entry["loss"] for entry in history if "loss" in entry)

    plain = first_loss("plain")
    packed = first_loss("packed", packing=True, packing_strategy="bfd")
    assert rows[0] == 8 and rows[1] < 8  # packing put several examples in one row
    assert packed == pytest.approx(plain, abs=1e-5)  # and none attended across the examples it joined
