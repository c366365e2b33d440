"""``srlab train TRAIN.yaml``: supervised fine-tuning on a mixture (LoRA or full).

``--processes N`` (and/or ``--accelerate-config FILE``) runs the same command under
``accelerate launch``: accelerate starts the processes (one per GPU; on a machine without GPUs,
CPU processes that talk over gloo) and the trainer picks up DDP, DeepSpeed or FSDP from it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

OVERRIDES = ("model", "data", "output_dir", "max_steps", "resume")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a model on a mixture (TRL SFT, LoRA or full); multi-process with --processes N",
    )
    parser.add_argument("config", help="training YAML (see examples/train_quickstart.yaml)")
    parser.add_argument("--model", help="override the config's model")
    parser.add_argument("--data", help="override the config's data (mixture JSONL or folder)")
    parser.add_argument("--output-dir", help="override the config's output_dir")
    parser.add_argument("--max-steps", type=int, help="override the config's max_steps")
    parser.add_argument("--resume", help="auto, never, or a checkpoint folder")
    parser.add_argument(
        "--processes", type=int, help="train in N processes under `accelerate launch` (default: the accelerate config's)"
    )
    parser.add_argument(
        "--accelerate-config",
        help="an accelerate config (e.g. examples/accelerate/deepspeed_zero2.yaml) to launch with",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.processes is not None or args.accelerate_config:
        return launch(args)
    from srlab.train import load_train_config, train

    config = load_train_config(args.config, **{name: getattr(args, name) for name in OVERRIDES})
    final = train(config)
    if _is_main_process():
        print(f"trained model: {final}")
        print(f"evaluate it with: srlab eval --model {final} --benchmarks gsm8k,strongreject,xstest")
    return 0


def launch_command(args: argparse.Namespace) -> list[str]:
    """``accelerate launch`` running this same ``srlab train`` (without the launch options) in each process."""
    from srlab.errors import SrlabError

    if args.processes is not None and args.processes < 1:
        raise SrlabError(f"--processes must be at least 1, got {args.processes}")
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if args.accelerate_config:
        if not os.path.isfile(args.accelerate_config):
            raise SrlabError(f"--accelerate-config: {args.accelerate_config} not found")
        command += ["--config_file", args.accelerate_config]
    elif args.processes and args.processes > 1:
        # accelerate's torchrun launcher; on a machine without GPUs each process trains on the
        # CPU and the trainer's accelerator talks over gloo. Port 0: accelerate picks a free one,
        # so two runs on one machine do not collide on torchrun's default.
        command += ["--multi_gpu", "--main_process_port", "0"]
    if args.processes is not None:
        command += ["--num_processes", str(args.processes)]
    command += ["-m", "srlab.cli", "train", args.config]
    for name in OVERRIDES:
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def launch(args: argparse.Namespace) -> int:
    import importlib.util

    from srlab.errors import SrlabError

    if importlib.util.find_spec("accelerate") is None:
        raise SrlabError("--processes / --accelerate-config need accelerate: pip install accelerate")
    command = launch_command(args)
    print("launching:", " ".join(command), flush=True)
    return subprocess.call(command)


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"

