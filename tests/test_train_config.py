"""The training config: srlab's fields beside TRL SFTConfig fields, passed through unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from srlab.errors import SrlabError
from srlab.train.config import load_train_config
from srlab.train.sft import cpu_has_native_bf16, sft_config, use_bf16

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PATHS = {"data": "-", "output_dir": "/tmp/srlab-train"}
CHECKPOINTS = Path("/tmp/srlab-train/checkpoints")


def _args(config: dict | str | Path, **overrides):
    train = load_train_config(config, **{**PATHS, **overrides})
    return train, sft_config(train, CHECKPOINTS, bf16=use_bf16(train))


def test_quickstart_config_builds_the_expected_sft_config() -> None:
    # `srlab run examples/quickstart.yaml` fills in model, data and output_dir.
    train, args = _args(EXAMPLES / "quickstart" / "train.yaml", model="smollm2-135m")
    assert (train.preset, train.method, train.lora.r, train.lora.alpha, train.lora.dropout) == ("smollm2-cpu", "lora", 16, 32, 0.05)
    assert train.bf16 == "auto"  # the preset's: bf16 only where the CPU computes it natively
    assert train.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert {
        "output_dir": args.output_dir, "learning_rate": args.learning_rate, "num_train_epochs": args.num_train_epochs,
        "max_steps": args.max_steps, "lr_scheduler_type": args.lr_scheduler_type.value,
        "warmup_steps": args.warmup_steps, "per_device_train_batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps, "max_length": args.max_length,
        "bf16": args.bf16, "activation_checkpointing": args.activation_checkpointing, "seed": args.seed,
        "data_seed": args.data_seed, "logging_steps": args.logging_steps, "save_strategy": args.save_strategy.value,
        "save_steps": args.save_steps, "save_total_limit": args.save_total_limit,
        "completion_only_loss": args.completion_only_loss, "packing": args.packing,
        "packing_strategy": args.packing_strategy, "padding_free": args.padding_free, "report_to": args.report_to,
        "dataloader_num_workers": args.dataloader_num_workers, "use_cpu": args.use_cpu,
        "weight_decay": args.weight_decay, "optim": args.optim.value,
    } == {
        "output_dir": str(CHECKPOINTS), "learning_rate": 4e-4, "num_train_epochs": 1.0, "max_steps": 60,
        "lr_scheduler_type": "cosine", "warmup_steps": 0.05, "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1, "max_length": 192, "bf16": cpu_has_native_bf16(), "activation_checkpointing": False,
        "seed": 0, "data_seed": 0, "logging_steps": 10, "save_strategy": "steps", "save_steps": 20,
        "save_total_limit": 2, "completion_only_loss": True, "packing": False, "packing_strategy": "bfd",
        "padding_free": False, "report_to": [],
        "dataloader_num_workers": 0, "use_cpu": True, "weight_decay": 0.0, "optim": "adamw_torch_fused",
    }


def test_bf16_auto_follows_the_hardware_and_explicit_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from srlab.train import sft

    train, _ = _args({"model": "smollm2-135m", "bf16": "auto"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for native in (True, False):
        monkeypatch.setattr(sft, "cpu_has_native_bf16", lambda native=native: native)
        assert use_bf16(train) is native
        for explicit in (True, False):
            assert use_bf16(train.model_copy(update={"bf16": explicit})) is explicit


def test_lrm_study_preset_keeps_its_settings() -> None:
    train, args = _args(EXAMPLES / "lrm_safety_study" / "train.yaml", model="org/model")
    assert (train.preset, train.method, train.bf16) == ("lrm-study", "full", True)
    assert (args.learning_rate, args.warmup_steps, args.per_device_train_batch_size) == (5e-6, 0.03, 1)
    assert (args.gradient_accumulation_steps, args.max_length, args.bf16) == (16, 4096, True)
    assert args.activation_checkpointing is True and args.gradient_checkpointing is True


@pytest.mark.parametrize("path", sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*train*.yaml")))
def test_every_example_training_config_is_valid(path: Path) -> None:
    model = yaml.safe_load((EXAMPLES / path).read_text()).get("model", "smollm2-135m")
    _, args = _args(EXAMPLES / path, model=model)
    assert args.completion_only_loss is True


def test_trl_fields_pass_through_unchanged() -> None:
    given = {"weight_decay": 0.1, "optim": "adafactor", "adam_beta2": 0.95, "max_grad_norm": 0.5,
             "lr_scheduler_kwargs": {"num_cycles": 2}, "eval_strategy": "no"}
    train, args = _args({"model": "smollm2-135m", **given})
    assert train.trl_fields().items() >= given.items()
    assert (args.weight_decay, args.optim.value, args.adam_beta2, args.max_grad_norm) == (0.1, "adafactor", 0.95, 0.5)
    assert args.lr_scheduler_kwargs == {"num_cycles": 2}
    # They are part of the config, so they key a trained model like any other setting.
    assert train.model_dump()["weight_decay"] == 0.1


def test_unknown_field_is_an_error_naming_it_and_sft_config() -> None:
    with pytest.raises(SrlabError, match=r"weight_decai: unknown field; .*nor a field of TRL's SFTConfig \(trl "):
        load_train_config({"model": "smollm2-135m", "weight_decai": 0.1, **PATHS})


def test_badly_typed_trl_field_is_an_error_naming_it() -> None:
    with pytest.raises(SrlabError, match=r"adam_beta2: Input should be a valid number.*got 'high'"):
        load_train_config({"model": "smollm2-135m", "adam_beta2": "high", **PATHS})


def test_old_names_map_to_sft_config_fields() -> None:
    train, args = _args({"model": "smollm2-135m", "warmup_ratio": 0.1, "gradient_checkpointing": True})
    assert (args.warmup_steps, args.activation_checkpointing) == (0.1, True)
    assert "warmup_ratio" not in train.model_dump()
    with pytest.raises(SrlabError, match="warmup_ratio and warmup_steps are the same setting"):
        load_train_config({"model": "smollm2-135m", "warmup_ratio": 0.1, "warmup_steps": 0.2, **PATHS})


def test_fields_srlab_sets_itself_are_refused() -> None:
    with pytest.raises(SrlabError, match="resume_from_checkpoint: set by srlab from resume"):
        load_train_config({"model": "smollm2-135m", "resume_from_checkpoint": "x", **PATHS})


def test_overrides_and_presets_layer_in_order() -> None:
    train, args = _args({"model": "org/model", "preset": "smollm2-cpu", "learning_rate": 1e-3, "lora": {"r": 4}},
                        max_steps=7, seed=3)
    assert (args.learning_rate, args.max_steps, args.seed, args.data_seed) == (1e-3, 7, 3, 3)
    assert (train.lora.r, train.lora.alpha) == (4, 32)  # lora merged key by key over the preset
    assert load_train_config(train).model_dump() == train.model_dump()  # loading twice changes nothing


def test_every_sft_config_default_passes_the_check() -> None:
    """The type check rejects no value TRL itself accepts: each field's own default passes."""
    import dataclasses

    from trl import SFTConfig

    from srlab.train.config import ALIASES, MANAGED, trl_field_problem

    problems = []
    for field in dataclasses.fields(SFTConfig):
        if not field.init or field.name in MANAGED or field.name in ALIASES:
            continue
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        problems.append(trl_field_problem(field.name, default))
    assert [p for p in problems if p] == []
    assert len(problems) > 100

