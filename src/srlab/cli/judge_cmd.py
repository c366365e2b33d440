"""``srlab judge JUDGE --input in.jsonl --output out.jsonl``: re-judge saved responses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from srlab.cli.options import add_judge_param_option, add_model_options
from srlab.errors import DataFormatError
from srlab.models.reasoning import make_generation
from srlab.schema import Sample, Verdict

# The name each judge's label takes in the output line, as the issue specifies.
OUTPUT_FIELD = {"refusal": "refusal", "gsm8k-answer": "correct"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("judge", help="judge saved responses from a JSONL file")
    parser.add_argument("judge", help="judge name, e.g. refusal or gsm8k-answer")
    parser.add_argument("--input", required=True, help="JSONL with prompt, response and optionally id, reference")
    parser.add_argument("--output", required=True, help="JSONL: each input line plus the verdict")
    parser.add_argument(
        "--target", default=None, choices=["full", "answer", "reasoning"],
        help="what the judge reads (default: the judge's own; refusal reads the answer)",
    )
    add_judge_param_option(parser, "the judge")
    add_model_options(parser, flag="--judge-model", required=False)
    parser.set_defaults(func=run)


def read_responses(path: Path) -> list[dict[str, Any]]:
    from srlab.benchmarks.files import read_jsonl_lines

    rows = read_jsonl_lines(path, required=("prompt", "response"))
    for line_no, row in rows:
        for name in ("prompt", "response"):
            if not isinstance(row[name], str):
                raise DataFormatError(path, line_no, f"field {name!r} must be a string")
    return [row for _, row in rows]


def verdict_fields(judge_name: str, verdict: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {OUTPUT_FIELD.get(judge_name, "label"): verdict.label}
    if "extracted" in verdict.details:
        out["extracted"] = verdict.details["extracted"]
    if verdict.score is not None:
        out["score"] = verdict.score
    if verdict.label is None:
        out["reason"] = verdict.reason
    return out


def run(args: argparse.Namespace) -> int:
    from srlab.cli.agreement_cmd import build_judges
    from srlab.fileio import atomic_open, dumps_jsonl_line

    judge = build_judges([args.judge], args)[args.judge]
    rows = read_responses(Path(args.input))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    counts = {True: 0, False: 0, None: 0}
    # A killed run never leaves a half-written output file; two runs never share a temporary.
    with atomic_open(output) as handle:
        for index, row in enumerate(tqdm(rows, desc=f"judge {args.judge}", unit="response", disable=None)):
            sample = Sample(
                id=str(row.get("id", index)),
                prompt=row["prompt"],
                benchmark="input",
                reference=None if row.get("reference") is None else str(row["reference"]),
            )
            verdict = judge.judge(sample, make_generation(row["response"]))
            counts[verdict.label] += 1
            handle.write(dumps_jsonl_line({**row, **verdict_fields(args.judge, verdict)}))
    print(f"{len(rows)} responses judged by {args.judge}: true={counts[True]} false={counts[False]} undecided={counts[None]}")
    print(f"written to {output}")
    return 0
