"""The training config: one pydantic model for the YAML file, the CLI and the Python API.

A config names a ``preset`` (``smollm2-cpu`` or ``lrm-study``, shipped as YAML resources); the
fields it sets override the preset's. ``smollm2-cpu`` is the default for the embedded model and
``lrm-study`` for everything else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srlab.config_files import load_yaml_text, read_yaml_mapping, validate
from srlab.errors import UnknownNameError

PRESETS = {"smollm2-cpu": "train_smollm2_cpu.yaml", "lrm-study": "train_lrm_study.yaml"}


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = Field("all-linear", description="Module names, or 'all-linear'.")


class TrainConfig(BaseModel):
    """Everything that determines a fine-tuning run."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., description="smollm2-135m, a local HF model folder, or a hub id.")
    revision: str | None = Field(None, description="Hub revision to pin.")
    data: str = Field(..., description="A mixture JSONL, or the folder `srlab data build` wrote.")
    output_dir: str = Field(..., description="Checkpoints go to OUTPUT/checkpoints, the final model to OUTPUT/model.")
    preset: Literal["smollm2-cpu", "lrm-study"] | None = Field(
        None, description="Defaults to start from; default: smollm2-cpu for smollm2-135m, else lrm-study."
    )
    method: Literal["lora", "full"] = "lora"
    learning_rate: float = Field(2e-4, gt=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: run the epochs).")
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    per_device_train_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(256, ge=16, description="Tokens per example; longer ones are truncated.")
    bf16: bool | Literal["auto"] = Field("auto", description="auto: bf16 where a GPU supports it.")
    gradient_checkpointing: bool = False
    seed: int = 0
    logging_steps: int = Field(5, ge=1)
    save_steps: int = Field(20, ge=1, description="Checkpoint every N steps (resume starts from the last one).")
    save_total_limit: int | None = Field(2, ge=1)
    resume: Literal["auto", "never"] | str = Field(
        "auto", description="auto: continue from the last checkpoint; never: refuse to train over checkpoints; or a path."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    chat_template: str | None = Field(
        None, description="A Jinja chat-template file to use instead of the model's (one that keeps <think>)."
    )
    merge_lora: bool = Field(True, description="Save the LoRA-merged model, loadable with --model.")
    dataloader_num_workers: int = Field(0, ge=0)
    torch_threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's own).")


def load_preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise UnknownNameError("training preset", name, PRESETS)
    text = (resources.files("srlab") / "resources" / PRESETS[name]).read_text(encoding="utf-8")
    return dict(load_yaml_text(text))


def load_train_config(config: str | Path | dict[str, Any] | TrainConfig, **overrides: Any) -> TrainConfig:
    """A TrainConfig from YAML / dict / object, preset defaults filled in; errors name the field path."""
    where = "training config"
    if isinstance(config, TrainConfig):
        data: dict[str, Any] = config.model_dump(exclude_unset=True)
    elif isinstance(config, str | Path):
        where = str(config)
        data = read_yaml_mapping(config, "training config")
    else:
        data = dict(config)
    data.update({k: v for k, v in overrides.items() if v is not None})
    preset = data.get("preset") or ("smollm2-cpu" if data.get("model") == "smollm2-135m" else "lrm-study")
    merged = load_preset(str(preset)) if isinstance(preset, str) and preset in PRESETS else {}
    given_lora = data.get("lora") or {}
    # A lora that is not a mapping is left as given, for validation to name the field.
    lora = {**merged.get("lora", {}), **given_lora} if isinstance(given_lora, dict) else None
    merged.update(data)
    if lora:
        merged["lora"] = lora
    merged.setdefault("preset", preset)
    return validate(TrainConfig, merged, where, "training config")
