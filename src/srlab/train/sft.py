"""Supervised fine-tuning with TRL's SFTTrainer (LoRA through PEFT, or full fine-tuning).

Loss on the assistant turn only: each record becomes TRL's conversational prompt-completion form
(``prompt`` = the messages before the last, ``completion`` = the assistant turn), for which
SFTTrainer masks the prompt (``completion_only_loss``). This works with any chat template;
TRL's other route, ``assistant_only_loss``, needs ``{% generation %}`` markers that most
templates (SmolLM2's included) lack.

Layout under ``output_dir``: ``checkpoints/checkpoint-N`` (resumable), ``model/`` (the final
model, LoRA merged: a plain HF folder for ``srlab eval --model``) and ``train_result.json``.
Multi-process: ``srlab train --processes N`` (or ``--accelerate-config FILE``) runs the same command
under ``accelerate launch`` (see examples/accelerate/).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from srlab.data.build import MANIFEST_FILE, MIXTURE_FILE, read_mixture
from srlab.data.records import TrainingRecord
from srlab.errors import SrlabError
from srlab.train.checkpoints import resume_checkpoint
from srlab.train.config import TrainConfig, load_train_config
from srlab.train.template_check import check_template, to_prompt_completion

log = logging.getLogger(__name__)

MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoints"
RESULT_FILE = "train_result.json"


def mixture_file(data: str | Path) -> Path:
    path = Path(data).expanduser()
    if path.is_dir():
        path = path / MIXTURE_FILE
    if not path.is_file():
        raise SrlabError(f"data: {path} not found; build it with `srlab data build MIXTURE.yaml --out DIR`")
    return path


def pick_check_record(records: list[TrainingRecord]) -> TrainingRecord:
    """The record the template check renders: one with non-empty reasoning when there is one."""
    for record in records:
        reasoning, _ = record.reasoning_and_answer()
        if reasoning:
            return record
    return records[0]


def load_tokenizer(model_path: str, config: TrainConfig, revision: str | None = None) -> tuple[Any, str | None]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=revision)
    template = None
    if config.chat_template:
        template_path = Path(config.chat_template).expanduser()
        if not template_path.is_file():
            raise SrlabError(f"chat_template: {template_path} not found")
        template = template_path.read_text(encoding="utf-8")
        tokenizer.chat_template = template  # saved with the model, so evaluation renders prompts the same way
    if not tokenizer.chat_template:
        raise SrlabError(f"model {config.model!r} has no chat template; set chat_template: in the training config")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, template


def use_bf16(config: TrainConfig) -> bool:
    """``bf16: true/false`` as given; ``auto``: where the hardware computes bfloat16 natively."""
    import torch

    if config.bf16 != "auto":
        return bool(config.bf16)
    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_native_bf16()


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: oneDNN then runs bf16 matrix products in hardware (1.6x float32's
    SFT tokens/s on SmolLM2 here, scripts/bench_sft.py); elsewhere bf16 is emulated and slower."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so looked up softly
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def train(train_config: str | Path | dict[str, Any] | TrainConfig) -> Path:
    """Fine-tune as the config says; returns the folder of the final (merged) model."""
    config = load_train_config(train_config)
    import torch
    from datasets import Dataset

    from srlab.models.resolve import resolve_model

    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    out = Path(config.output_dir).expanduser()
    checkpoints = out / CHECKPOINT_DIR
    resume_from = resume_checkpoint(checkpoints, config.resume)  # before any heavy loading
    data_path = mixture_file(config.data)
    records = read_mixture(data_path)
    if not records:
        raise SrlabError(f"data: {data_path} holds no records")

    source = resolve_model(config.model, config.revision)
    tokenizer, template = load_tokenizer(source.load_from, config, source.revision)
    trained = check_template(tokenizer, pick_check_record(records), template)
    log.info("template check passed; trained span of one example: %r", trained[:200])

    bf16 = use_bf16(config)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        source.load_from, revision=source.revision, dtype=torch.bfloat16 if bf16 else torch.float32
    )
    dataset = Dataset.from_list([to_prompt_completion(r) for r in records])
    trainer = _make_trainer(config, model, tokenizer, dataset, checkpoints, bf16)
    if resume_from is not None:
        log.info("resuming from %s", resume_from)
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    elapsed = time.time() - started

    final = save_final_model(trainer, tokenizer, out / MODEL_DIR, config)
    _write_result(out, config, data_path, result, elapsed, resume_from, trainer)
    return final


def sft_config(config: TrainConfig, checkpoints: Path, bf16: bool) -> Any:
    """TRL's SFTConfig: the config's SFTConfig fields unchanged, plus what srlab decides itself."""
    from trl import SFTConfig

    fields = config.trl_fields()
    fields.setdefault("data_seed", fields.get("seed"))
    fields.setdefault("use_cpu", not torch_cuda_available())
    return SFTConfig(output_dir=str(checkpoints), bf16=bf16, **fields)


def _make_trainer(config: TrainConfig, model: Any, tokenizer: Any, dataset: Any, checkpoints: Path, bf16: bool) -> Any:
    from trl import SFTTrainer

    args = sft_config(config, checkpoints, bf16)
    peft_config = None
    if config.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules,
            task_type="CAUSAL_LM",
        )
    return SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )


def torch_cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def save_final_model(trainer: Any, tokenizer: Any, target: Path, config: TrainConfig) -> Path:
    """Save the trained model as a plain HF folder (LoRA merged), renamed into place when complete.

    Full fine-tuning goes through ``trainer.save_model``, which gathers DeepSpeed / FSDP shards
    on every process; a LoRA adapter is merged into its base on the main process.
    """
    accelerator = trainer.accelerator
    main = accelerator.is_main_process
    tmp = target.with_name(target.name + ".part")
    if main:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    try:
        if config.method == "lora" and config.merge_lora:
            if main:
                model = accelerator.unwrap_model(trainer.model)
                merged = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
                merged.save_pretrained(tmp)
        else:
            trainer.save_model(str(tmp))
        if main:
            tokenizer.save_pretrained(tmp)  # carries the chat template used in training
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
    except BaseException:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    return target


def _write_result(
    out: Path, config: TrainConfig, data_path: Path, result: Any, elapsed: float, resumed: Path | None, trainer: Any
) -> None:
    from srlab.provenance import collect_provenance

    manifest_path = data_path.parent / MANIFEST_FILE
    mixture_manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    payload = {
        "config": config.model_dump(mode="json"),
        "data": str(data_path),
        "mixture_sha256": mixture_manifest.get("mixture_sha256") if mixture_manifest else None,
        "global_step": trainer.state.global_step,
        "metrics": dict(result.metrics),
        "log_history": trainer.state.log_history,
        "train_seconds": round(elapsed, 2),
        "resumed_from": str(resumed) if resumed else None,
        "model_dir": str(out / MODEL_DIR),
        "provenance": collect_provenance(seeds={"train": trainer.args.seed}),
    }
    from srlab.fileio import write_text_atomic

    write_text_atomic(out / RESULT_FILE, json.dumps(payload, indent=2, default=str) + "\n")
