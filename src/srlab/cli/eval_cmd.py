"""``srlab eval``: evaluate one model on benchmarks under one prompting strategy."""

from __future__ import annotations

import argparse
import re

from pydantic import ValidationError

from srlab.cli.options import (
    add_data_options,
    add_decoding_options,
    add_judge_param_option,
    add_model_options,
    decoding_from_args,
    judge_params_from_args,
    model_spec_from_args,
    split_names,
)
from srlab.config_files import validation_message
from srlab.errors import SrlabError
from srlab.models import ModelSpec
from srlab.schema import ThinkBudget


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
    parser.add_argument(
        "--think", default=None, metavar="MODE[:N]",
        help="think budget of a reasoning model: no-think, short-think:TOKENS (budget forcing), "
        "extended:TIMES[:TOKENS] ('Wait' when the trace closes early), default; several, comma-separated, "
        "sweep them (a row each, and the curve)",
    )
    add_decoding_options(parser)
    parser.add_argument(
        "--samples", type=int, default=1, metavar="N",
        help="samples per prompt (decoding.n; needs --temperature > 0), each seeded --decoding-seed + i: "
        "adds avg@k, pass@k, Safe@1/Safe@k and the flip rate",
    )
    add_data_options(parser)
    parser.add_argument(
        "--calibrate", action="append", default=[], metavar="JUDGE=LABELS.jsonl",
        help="human labels for a scoring judge; its rates are also reported corrected for its error (repeatable)",
    )
    parser.add_argument(
        "--label-positive", default=None,
        help="with --calibrate: label classes that mean the judge's True, e.g. refusal,partial_refusal",
    )
    parser.add_argument(
        "--judge", action="append", default=[], metavar="AXIS=JUDGE",
        help="scoring judge for an axis (reasoning, harmful, benign, privacy) or a benchmark, e.g. harmful=llama-guard or "
        "harmful='any(llama-guard,strongreject-rubric)'; repeat to add judges (each metric takes the first whose "
        "True means what it counts)",
    )
    parser.add_argument("--judge-model", default=None, help="model behind the LLM judges given with --judge")
    parser.add_argument("--judge-base-url", default=None, help="OpenAI-compatible server of --judge-model")
    parser.add_argument("--judge-target", default=None, choices=["full", "answer", "reasoning"],
                        help="part of the output the --judge judges read (default: each judge's own)")
    add_judge_param_option(parser, "the --judge judges")
    parser.add_argument("--keep-failed", action="store_true",
                        help="keep requests that failed before as failed instead of retrying them")
    parser.add_argument("--output", default=None, help="JSON results path (default: .srlab/<run id>.json)")
    parser.set_defaults(func=run)


def _think(value: str | None) -> tuple[ThinkBudget | None, list[str]]:
    """``--think``: one budget, or several (a sweep) as their texts, each checked here."""
    if value is None:
        return None, []
    texts = split_names(value)
    try:
        budgets = [ThinkBudget.parse(text) for text in texts]
    except ValueError as exc:  # a pydantic ValidationError is a ValueError too
        raise SrlabError(f"--think: {exc}") from None
    return (budgets[0], []) if len(budgets) == 1 else (None, texts)


def _calibration(values: list[str], positive: str | None) -> dict[str, dict[str, object]]:
    """``--calibrate refusal=labels.jsonl`` -> {"refusal": {"labels": "labels.jsonl", ...}}."""
    entries: dict[str, dict[str, object]] = {}
    for value in values:
        judge, sep, path = value.partition("=")
        if not sep or not judge.strip() or not path.strip():
            raise SrlabError(f"--calibrate {value!r}: expected JUDGE=LABELS.jsonl, e.g. refusal=labels.jsonl")
        entries[judge.strip()] = {"labels": path.strip(), "positive": split_names(positive) if positive else None}
    return entries


def _judge_spec(text: str, target: str | None, params: dict[str, object]) -> dict[str, object]:
    """``llama-guard`` or ``any(llama-guard,strongreject-rubric)`` as a judge spec."""
    match = re.fullmatch(r"\s*([\w.-]+)\s*\((.*)\)\s*", text)
    if match:
        members = [_judge_spec(m, target, params) for m in split_names(match.group(2))]
        return {"name": match.group(1), "of": members}
    spec: dict[str, object] = {"name": text.strip()}
    if target:
        spec["target"] = target
    if params:
        spec["params"] = params
    return spec


def _judges(values: list[str], target: str | None, raw_params: list[str]) -> dict[str, list[dict[str, object]]]:
    params = judge_params_from_args(raw_params)
    judges: dict[str, list[dict[str, object]]] = {}
    for value in values:
        axis, sep, name = value.partition("=")
        if not sep or not axis.strip() or not name.strip():
            raise SrlabError(f"--judge {value!r}: expected AXIS=JUDGE, e.g. harmful=llama-guard")
        judges.setdefault(axis.strip(), []).append(_judge_spec(name, target, params))
    if (target or params) and not values:
        raise SrlabError("--judge-target and --judge-param apply to the judges given with --judge; give one")
    return judges


def run(args: argparse.Namespace) -> int:
    from srlab.experiment.evaluate import EvalConfig, format_table, run_eval, write_json
    from srlab.experiment.plan import make_plan
    from srlab.generate.strategies import StrategyConfig

    think, think_sweep = _think(args.think)
    try:
        config = EvalConfig(
            model=model_spec_from_args(args, args.model),
            benchmarks=split_names(args.benchmarks),
            strategy=args.strategy,
            strategy_config=StrategyConfig(
                system_prompt=args.system_prompt, k=args.k, safety_ratio=args.safety_ratio, seed=args.seed
            ),
            think=think,
            think_sweep=think_sweep,
            limit=args.limit,
            seed=args.seed,
            # a dict, so a bad --samples is reported as decoding.n's error
            decoding={**decoding_from_args(args).model_dump(), "n": args.samples},
            data_dir=args.data_dir,
            store=args.store,
            attacks=split_names(args.attacks),
            attacker=ModelSpec(name=args.attacker_model) if args.attacker_model else None,
            attack_judge=ModelSpec(name=args.attack_judge_model) if args.attack_judge_model else None,
            calibration=_calibration(args.calibrate, args.label_positive),
            judges=_judges(args.judge, args.judge_target, args.judge_param),
            judge_model=(
                ModelSpec(name=args.judge_model, base_url=args.judge_base_url) if args.judge_model else None
            ),
        )
        experiment = config.to_experiment()
    except ValidationError as exc:
        raise SrlabError(validation_message(exc, "srlab eval", "options")) from None
    make_plan(experiment)  # every name, judge and axis checked before a model loads
    report = run_eval(config, keep_failed=args.keep_failed, echo=print)
    print(format_table(report))
    output = args.output or f".srlab/{config.run_id()}.json"
    write_json(report, output)
    print(f"\nrun {config.run_id()}: results written to {output}")
    return 0
