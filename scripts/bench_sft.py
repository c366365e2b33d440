"""SFT throughput: srlab's training against TRL's default ``SFTTrainer`` on the quickstart mixture.

Usage:
    python scripts/bench_sft.py [--steps 12] [--mixture examples/quickstart/reasoning_direct.yaml]
        [--threads N] [--require 1.5]

Both sides train SmolLM2-135M-Instruct (the embedded model, float32) with the same LoRA adapter
(r 16, alpha 32, every projection) on the same prompt-completion records, built once from the
mixture spec, for the same number of optimizer steps at the same batch size:

    trl-default  ``SFTTrainer`` with ``SFTConfig``'s own defaults (what a user gets from TRL's
                 quickstart): float32, no packing, padding to the longest row, activation
                 checkpointing on; only its seed is set to srlab's, so both see the same examples
    srlab        ``srlab.train.train`` with the quickstart's training file (examples/quickstart/
                 train.yaml under the ``smollm2-cpu`` preset): what ``srlab run`` trains with
                 (bfloat16 where the CPU computes it natively, no activation checkpointing)

``--set KEY=VALUE`` changes a field on srlab's side only, to measure a choice (``packing=true``,
``bf16=false``).

Each side runs in its own child process, one after the other. Tokens are the non-padding tokens the
trainer fed the model (TRL's ``num_tokens``), so a run that packs several examples into a row gets
no credit for the padding it avoided, only for the time it saved. tokens/s = tokens / the trainer's
own ``train_runtime`` (model load and saving excluded, the same for both). It exits 1 when srlab's
tokens/s is below ``--require`` times the peer's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

LORA = {"r": 16, "alpha": 32, "dropout": 0.05,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}

# The peer: TRL's defaults, except what any run needs (where to write, how long, no hub reporting).
PEER_CODE = """
import json, sys, time, torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
args = json.loads(sys.argv[1])
if args["threads"]:
    torch.set_num_threads(args["threads"])
rows = [json.loads(line) for line in open(args["dataset"], encoding="utf-8")]
tokenizer = AutoTokenizer.from_pretrained(args["model"])
model = AutoModelForCausalLM.from_pretrained(args["model"], dtype=torch.float32)
lora = args["lora"]
peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                         target_modules=lora["target_modules"], task_type="CAUSAL_LM")
config = SFTConfig(output_dir=args["out"], max_steps=args["steps"], per_device_train_batch_size=args["batch"],
                   logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
                   seed=args["seed"])
trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                     processing_class=tokenizer, peft_config=peft_config)
result = trainer.train()
tokens = max(e.get("num_tokens", 0) for e in trainer.state.log_history)
print("RESULT", json.dumps({"seconds": result.metrics["train_runtime"], "tokens": tokens,
                            "packing": config.packing, "checkpointing": config.gradient_checkpointing}))
"""

SRLAB_CODE = """
import json, sys
from srlab.train import train
args = json.loads(sys.argv[1])
train(args["config"])
result = json.load(open(args["config"]["output_dir"] + "/train_result.json"))
tokens = max(e.get("num_tokens", 0) for e in result["log_history"])
print("RESULT", json.dumps({"seconds": result["metrics"]["train_runtime"], "tokens": tokens,
                            "packing": result["config"].get("packing")}))
"""


def build_records(mixture: Path, workdir: Path, data_dir: str | None) -> tuple[Path, Path]:
    """The mixture built once; returns (srlab's mixture folder, the peer's prompt-completion JSONL)."""
    from srlab.data import build_mixture
    from srlab.data.build import MIXTURE_FILE, read_mixture
    from srlab.fileio import write_jsonl
    from srlab.train.template_check import to_prompt_completion

    folder = workdir / "mixture"
    build_mixture(mixture, folder, data_dir=data_dir)
    records = read_mixture(folder / MIXTURE_FILE)
    peer = workdir / "prompt_completion.jsonl"
    write_jsonl(peer, [to_prompt_completion(r) for r in records])
    return folder, peer


def run_child(code: str, payload: dict[str, Any], name: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, "-c", code, json.dumps(payload)], capture_output=True, text=True)
    line = next((x for x in output.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{name} failed:\n{output.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(line[len("RESULT "):])
    data["tokens_per_s"] = data["tokens"] / data["seconds"]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4, help="Rows per step on both sides (the preset's 4).")
    parser.add_argument("--mixture", default="examples/quickstart/reasoning_direct.yaml")
    parser.add_argument("--train-config", default="examples/quickstart/train.yaml")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's).")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="Override a training field on srlab's side (YAML value), e.g. packing=false.")
    parser.add_argument("--require", type=float, default=None, help="Exit 1 below this srlab/peer ratio.")
    args = parser.parse_args()

    from srlab.models.smollm2 import ensure_converted
    from srlab.train import load_train_config

    model = str(ensure_converted())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        folder, peer_rows = build_records(Path(args.mixture), workdir, args.data_dir)
        srlab_config = load_train_config(
            args.train_config, model="smollm2-135m", data=str(folder), output_dir=str(workdir / "srlab"),
        ).model_dump(mode="json")
        srlab_config.update({
            "max_steps": args.steps, "save_steps": 10_000, "logging_steps": 1, "lora": LORA,
            "per_device_train_batch_size": args.batch_size, "torch_threads": args.threads,
        })
        for item in args.set:
            key, _, value = item.partition("=")
            srlab_config[key] = yaml.safe_load(value)
        load_before = os.getloadavg()[0]
        peer = run_child(PEER_CODE, {
            "model": model, "dataset": str(peer_rows), "out": str(workdir / "peer"), "steps": args.steps,
            "batch": args.batch_size, "lora": LORA, "threads": args.threads, "seed": srlab_config["seed"],
        }, "trl-default")
        ours = run_child(SRLAB_CODE, {"config": srlab_config}, "srlab")
        load_after = os.getloadavg()[0]

    ratio = ours["tokens_per_s"] / peer["tokens_per_s"]
    print(f"SFT of SmolLM2-135M (LoRA r16, float32) on {args.mixture}: {args.steps} steps x {args.batch_size} rows, "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} -> {load_after:.1f}")
    print(f"{'trainer':<12} {'tokens':>8} {'seconds':>8} {'tokens/s':>9}  settings")
    print(f"{'trl-default':<12} {peer['tokens']:>8.0f} {peer['seconds']:>8.1f} {peer['tokens_per_s']:>9.1f}  "
          f"packing={peer['packing']} activation checkpointing={peer['checkpointing']}")
    print(f"{'srlab':<12} {ours['tokens']:>8.0f} {ours['seconds']:>8.1f} {ours['tokens_per_s']:>9.1f}  "
          f"packing={ours['packing']}")
    print(f"srlab / trl-default tokens/s: {ratio:.2f}x")
    return 1 if args.require is not None and ratio < args.require else 0


if __name__ == "__main__":
    sys.exit(main())
