"""``srlab eval``: evaluate one model on benchmarks under one prompting strategy."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from srlab.cli.options import (
    add_data_options,
    add_decoding_options,
    add_model_options,
    decoding_from_args,
    model_spec_from_args,
    split_names,
)
from srlab.config_files import validation_message
from srlab.errors import SrlabError
from srlab.models import ModelSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate a model: reasoning accuracy, ASR, over-refusal")
    add_model_options(parser)
    parser.add_argument("--benchmarks", required=True, help="comma-separated, e.g. gsm8k,strongreject,xstest")
    parser.add_argument("--strategy", default="cot", help="direct, cot, fewshot-cot, safety-fewshot-cot, reflective")
    parser.add_argument("--system-prompt", default=None)
    parser.add_argument("--k", type=int, default=4, help="few-shot examples")
    parser.add_argument("--safety-ratio", type=float, default=0.5, help="share of safety demonstrations")
    parser.add_argument("--limit", type=int, default=None, help="samples per benchmark (seeded subset)")
    parser.add_argument(
        "--attacks", default="none", help="comma-separated attacks on harmful benchmarks: none, jailbreak-templates, pap, past-tense, pair"
    )
    parser.add_argument("--attacker-model", default=None, help="attacker for pap / past-tense / pair (e.g. smollm2-135m)")
    parser.add_argument("--attack-judge-model", default=None, help="PAIR's judge model")
    parser.add_argument("--seed", type=int, default=0, help="seed for the subset and demonstrations")
    add_decoding_options(parser)
    add_data_options(parser)
    parser.add_argument(
        "--calibrate", action="append", default=[], metavar="JUDGE=LABELS.jsonl",
        help="human labels for a scoring judge; its rates are also reported corrected for its error (repeatable)",
    )
    parser.add_argument(
        "--label-positive", default=None,
        help="with --calibrate: label classes that mean the judge's True, e.g. refusal,partial_refusal",
    )
    parser.add_argument("--output", default=None, help="JSON results path (default: .srlab/<run id>.json)")
    parser.set_defaults(func=run)


def _calibration(values: list[str], positive: str | None) -> dict[str, dict[str, object]]:
    """``--calibrate refusal=labels.jsonl`` -> {"refusal": {"labels": "labels.jsonl", ...}}."""
    entries: dict[str, dict[str, object]] = {}
    for value in values:
        judge, sep, path = value.partition("=")
        if not sep or not judge.strip() or not path.strip():
            raise SrlabError(f"--calibrate {value!r}: expected JUDGE=LABELS.jsonl, e.g. refusal=labels.jsonl")
        entries[judge.strip()] = {"labels": path.strip(), "positive": split_names(positive) if positive else None}
    return entries


def run(args: argparse.Namespace) -> int:
    from srlab.experiment.evaluate import EvalConfig, format_table, run_eval, write_json
    from srlab.generate.strategies import StrategyConfig

    try:
        config = EvalConfig(
            model=model_spec_from_args(args, args.model),
            benchmarks=split_names(args.benchmarks),
            strategy=args.strategy,
            strategy_config=StrategyConfig(
                system_prompt=args.system_prompt, k=args.k, safety_ratio=args.safety_ratio, seed=args.seed
            ),
            limit=args.limit,
            seed=args.seed,
            decoding=decoding_from_args(args),
            data_dir=args.data_dir,
            store=args.store,
            attacks=split_names(args.attacks),
            attacker=ModelSpec(name=args.attacker_model) if args.attacker_model else None,
            attack_judge=ModelSpec(name=args.attack_judge_model) if args.attack_judge_model else None,
            calibration=_calibration(args.calibrate, args.label_positive),
        )
    except ValidationError as exc:
        raise SrlabError(validation_message(exc, "srlab eval", "options")) from None
    result = run_eval(config)
    print(format_table(result))
    output = args.output or f".srlab/{result.run_id}.json"
    write_json(result, output)
    print(f"\nrun {result.run_id}: results written to {output}")
    return 0
