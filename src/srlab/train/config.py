"""The training config: srlab's own settings beside TRL's ``SFTConfig`` fields, passed through.

srlab owns what it decides itself: which model and data, where the run goes, LoRA or full
fine-tuning, the chat template, merging, resuming. Every other field is a field of TRL's
``SFTConfig`` (``learning_rate``, ``weight_decay``, ``optim``, ``max_grad_norm`` ...): it is checked
against TRL's own dataclass (its name, and its value against the field's type) and handed to
``SFTConfig`` unchanged. A name that is neither is an error naming the field.

Settings are layered: ``train_base.yaml`` (srlab's defaults under every preset), then the
``preset`` (``smollm2-cpu`` or ``lrm-study``, plain YAML in ``srlab/resources``), then the file,
then overrides (the CLI's flags). ``smollm2-cpu`` is the default for the embedded model and
``lrm-study`` for everything else.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from srlab.config_files import load_yaml_text, read_yaml_mapping, validate
from srlab.errors import SrlabError, UnknownNameError

PRESETS = {"smollm2-cpu": "train_smollm2_cpu.yaml", "lrm-study": "train_lrm_study.yaml"}
BASE_FILE = "train_base.yaml"
SFT_CONFIG_DOCS = "https://huggingface.co/docs/trl/sft_trainer#trl.SFTConfig"

# Older srlab names of SFTConfig fields (transformers 5 renamed them): a float warmup_steps in
# [0, 1) is a ratio of the total steps; gradient_checkpointing is a deprecated alias that TRL
# would ignore whenever activation_checkpointing is set, so it is renamed before layering.
ALIASES = {
    "warmup_ratio": "warmup_steps",
    "gradient_checkpointing": "activation_checkpointing",
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
}
# SFTConfig fields that srlab sets from its own fields; naming them would be ignored or conflict.
MANAGED = {
    "output_dir": "srlab's output_dir (checkpoints go to OUTPUT/checkpoints)",
    "resume_from_checkpoint": "resume",
}


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = Field("all-linear", description="Module names, or 'all-linear'.")


class TrainConfig(BaseModel):
    """Everything that determines a fine-tuning run: srlab's fields, plus SFTConfig fields as extras."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(..., description="smollm2-135m, a local HF model folder, or a hub id.")
    revision: str | None = Field(None, description="Hub revision to pin.")
    data: str = Field(..., description="A mixture JSONL, or the folder `srlab data build` wrote.")
    output_dir: str = Field(..., description="Checkpoints go to OUTPUT/checkpoints, the final model to OUTPUT/model.")
    preset: Literal["smollm2-cpu", "lrm-study"] | None = Field(
        None, description="Defaults to start from; default: smollm2-cpu for smollm2-135m, else lrm-study."
    )
    method: Literal["lora", "full"] = "lora"
    bf16: bool | Literal["auto"] = Field(
        "auto", description="auto: bf16 where the hardware computes it natively (a GPU that supports it, or a CPU "
        "with AVX512-BF16 or AMX), else float32.",
    )
    resume: Literal["auto", "never"] | str = Field(
        "auto", description="auto: continue from the last checkpoint; never: refuse to train over checkpoints; or a path."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    chat_template: str | None = Field(
        None, description="A Jinja chat-template file to use instead of the model's (one that keeps <think>)."
    )
    merge_lora: bool = Field(True, description="Save the LoRA-merged model, loadable with --model.")
    torch_threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's own).")

    @model_validator(mode="after")
    def _check_trl_fields(self) -> TrainConfig:
        problems = [problem for name, value in (self.model_extra or {}).items() if (problem := trl_field_problem(name, value))]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def trl_fields(self) -> dict[str, Any]:
        """The SFTConfig fields this config sets, as given."""
        return dict(self.model_extra or {})


@functools.cache
def sft_config_fields() -> dict[str, Any]:
    """SFTConfig's init fields and their types, read from TRL's dataclass."""
    from trl import SFTConfig

    hints = typing.get_type_hints(SFTConfig)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(SFTConfig) if f.init}


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(annotation)
    except Exception:  # a type pydantic cannot build a validator for: SFTConfig checks it itself
        return None


def trl_field_problem(name: str, value: Any) -> str | None:
    """Why ``name: value`` is not a valid SFTConfig setting, or None."""
    fields = sft_config_fields()
    if name in MANAGED:
        return f"{name}: set by srlab from {MANAGED[name]}; remove it"
    if name in ALIASES:
        return f"{name}: the old name of SFTConfig's {ALIASES[name]}; name it {ALIASES[name]}"
    if name not in fields:
        import trl

        return (
            f"{name}: unknown field; it is neither an srlab training field ({', '.join(TrainConfig.model_fields)}) "
            f"nor a field of TRL's SFTConfig (trl {trl.__version__}; see {SFT_CONFIG_DOCS})"
        )
    adapter = _adapter(fields[name])
    if adapter is not None:
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            kind = re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(fields[name]).replace("<class '", "").replace("'>", ""))
            errors = exc.errors()
            if len(errors) == 1:  # one type: pydantic's message says what is wrong
                return f"{name}: {errors[0]['msg']}, got {value!r} (SFTConfig.{name} is {kind})"
            return f"{name}: got {value!r}, but SFTConfig.{name} is {kind}"
    return None


def _load_resource(file: str) -> dict[str, Any]:
    text = (resources.files("srlab") / "resources" / file).read_text(encoding="utf-8")
    return _renamed(dict(load_yaml_text(text)), file)


def load_preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise UnknownNameError("training preset", name, PRESETS)
    return _load_resource(PRESETS[name])


def _renamed(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Old field names replaced by SFTConfig's (see ALIASES); both in one layer is an error."""
    out = dict(data)
    for old, new in ALIASES.items():
        if old in out:
            if new in out:
                raise SrlabError(f"{where}: {old} and {new} are the same setting ({old} is its old name); give one")
            out[new] = out.pop(old)
    return out


def load_train_config(config: str | Path | dict[str, Any] | TrainConfig, **overrides: Any) -> TrainConfig:
    """A TrainConfig from YAML / dict / object, base and preset defaults filled in; errors name the field."""
    where = "training config"
    if isinstance(config, TrainConfig):
        data: dict[str, Any] = config.model_dump(exclude_unset=True)
    elif isinstance(config, str | Path):
        where = str(config)
        data = read_yaml_mapping(config, "training config")
    else:
        data = dict(config)
    data = _renamed(data, where)
    data.update(_renamed({k: v for k, v in overrides.items() if v is not None}, "overrides"))
    preset = data.get("preset") or ("smollm2-cpu" if data.get("model") == "smollm2-135m" else "lrm-study")
    merged = _load_resource(BASE_FILE)
    if isinstance(preset, str) and preset in PRESETS:
        merged = _layer(merged, load_preset(preset))
    merged = _layer(merged, data)
    merged.setdefault("preset", preset)
    return validate(TrainConfig, merged, where, "training config")


def _layer(below: dict[str, Any], above: dict[str, Any]) -> dict[str, Any]:
    """``above`` over ``below``; ``lora`` mappings are merged key by key."""
    merged = {**below, **above}
    given_lora = above.get("lora")
    # A lora that is not a mapping is left as given, for validation to name the field.
    if isinstance(given_lora, dict) and isinstance(below.get("lora"), dict):
        merged["lora"] = {**below["lora"], **given_lora}
    return merged
