"""``srlab judge-agreement``: how far judges agree with each other, or with human labels.

Three uses:

- several judges over the same responses (``--judges a,b`` with ``--input`` JSONL or
  ``--store``/``--run``): pairwise accuracy, Cohen's kappa and confusion matrices;
- judges against human labels (``--labels`` JSONL with ``prompt``, ``response``, ``label``; a
  public set in its own fields with ``--source``, e.g. ``--source wildguardtest --labels
  ../shared/data/judge_labels/wildguardtest_dev.jsonl``, the label chosen by the judges' meaning
  or ``--label-field``);
- both at once: the judge's error measured on ``--labels`` corrects the rate it measures on
  ``--input``/``--run`` (Rogan-Gladen), with an interval that carries that error.

Undecided verdicts are counted apart, never scored.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

from srlab.cli.options import (
    add_judge_param_option,
    add_model_options,
    judge_params_from_args,
    model_spec_from_args,
    split_names,
)
from srlab.errors import SrlabError
from srlab.judge.labels import LABEL_SOURCES, label_source, read_labelled
from srlab.report.correction import CORRECTION_METHODS
from srlab.schema import Generation, Sample, Verdict


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "judge-agreement",
        help="agreement (accuracy, Cohen's kappa, confusion matrix) between judges or with human labels",
    )
    parser.add_argument("--judges", required=True, help="comma-separated judge names, e.g. refusal,xstest-3class")
    parser.add_argument("--input", default=None, help="JSONL of responses: prompt, response (optionally id, reasoning)")
    parser.add_argument("--store", default=None, help="SQLite store holding the run given by --run")
    parser.add_argument("--run", default=None, help="run id whose stored generations are judged")
    parser.add_argument("--labels", default=None, help="JSONL with prompt, response and a human label (true/false/null)")
    parser.add_argument(
        "--label-field", default=None,
        help="field of --labels holding the human label (default: 'label'; with --source, the source's label "
        "for the first judge's meaning, e.g. refusal or harmful)",
    )
    parser.add_argument(
        "--source", default=None, choices=sorted(LABEL_SOURCES),
        help="the public labelled set --labels comes from: maps its prompt, response and label fields",
    )
    parser.add_argument(
        "--negative", default=None,
        help="comma-separated label classes that mean False; with it, a class in neither list is an error",
    )
    parser.add_argument(
        "--positive", default=None,
        help="comma-separated label classes that mean the judge's True (e.g. refusal,partial_refusal); "
        "default: labels are true/false",
    )
    parser.add_argument("--target", default=None, choices=["full", "answer", "reasoning"],
                        help="what each judge reads (default: each judge's own)")
    parser.add_argument(
        "--method", default="lang-reiczigel", choices=list(CORRECTION_METHODS), help="interval of the corrected rate"
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory for labels rows that name a benchmark sample (default: $SRLAB_DATA_DIR)"
    )
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results as JSON here")
    add_judge_param_option(parser, "every judge in --judges")
    add_model_options(parser, flag="--judge-model", required=False)
    parser.set_defaults(func=run)


# --- inputs --------------------------------------------------------------------------------------


def read_items(
    path: str, label_field: str | None = None, positive: list[str] | None = None, data_dir: str | None = None,
    *, negative: list[str] | None = None, source: str | None = None,
) -> tuple[list[tuple[Sample, Generation]], list[bool | None]]:
    """Samples and generations from a JSONL of responses, and the human labels when asked."""
    from srlab.paths import data_dir as resolve_data_dir

    labelled = read_labelled(path, label_field, positive=positive, negative=negative,
                             data_dir=resolve_data_dir(data_dir), source=source)
    return labelled.items, labelled.labels


def read_run(store_path: str, run_id: str) -> list[tuple[str, Sample, Generation]]:
    """``(generation key, sample, generation)`` for every item of a stored run."""
    from srlab.store import Store

    if not Path(store_path).exists():
        raise SrlabError(f"store {store_path} does not exist")
    store = Store(store_path)
    try:
        run_items = store.run_items(run_id)
        if not run_items:
            known = ", ".join(r["id"] for r in store.list_runs()) or "none"
            raise SrlabError(f"run {run_id!r} has no items in {store_path}; runs there: {known}")
        generations = store.get_generations([i.generation_key for i in run_items])
        out = []
        for item in run_items:
            sample = store.get_sample(item.sample_key)
            generation = generations.get(item.generation_key)
            if sample is None or generation is None:
                raise SrlabError(f"run {run_id!r} item {item.sample_id} is missing its sample or generation")
            out.append((item.generation_key, sample, generation))
        return out
    finally:
        store.close()


# --- judging -------------------------------------------------------------------------------------


# Offline judges that read the answer, the trace or both as asked.
def label_field_for(args: argparse.Namespace, judges: dict[str, Any]) -> str:
    """``--label-field``, else the source's label for what the first judge's True means."""
    if args.label_field:
        return args.label_field
    if not args.source:
        return "label"
    source = label_source(args.source)
    meaning = next(iter(judges.values())).label_meaning
    if meaning not in source.defaults:
        raise SrlabError(f"source {args.source!r} has no {meaning!r} label; give --label-field (one of "
                         f"{', '.join(sorted(source.labels))})")
    return source.defaults[meaning]


def build_judges(names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """The judges by name, built as the runner builds them, each reading ``--target`` where it can;
    LLM judges use ``--judge-model``."""
    from srlab.judge.factory import JudgeFactory, with_target
    from srlab.judge.spec import JudgeSpec

    judge_model = model_spec_from_args(args, args.judge_model) if args.judge_model else None
    factory = JudgeFactory(judge_model=judge_model)
    params = judge_params_from_args(args.judge_param)
    specs = [JudgeSpec(name=name, params=params) for name in names]
    if args.target is not None:  # else each judge reads its own default part
        specs = [with_target(spec, args.target) for spec in specs]
    return {spec.name: factory.build(spec) for spec in specs}


def judge_all(judges: dict[str, Any], items: list[tuple[Sample, Generation]]) -> dict[str, list[Verdict]]:
    from srlab.judge.runner import judge_items

    return {name: judge_items(judge, items) for name, judge in judges.items()}


# --- command -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from srlab.judge.agreement import compare, format_agreement
    from srlab.report.correction import corrected_rate_from_calibration

    names = split_names(args.judges)
    if not names:
        raise SrlabError("--judges needs at least one judge name")
    if args.run and not args.store:
        raise SrlabError("--run needs --store (the SQLite store holding the run)")
    if args.input and args.run:
        raise SrlabError("give either --input or --store/--run, not both")
    responses = bool(args.input or args.run)
    if not responses and not args.labels:
        raise SrlabError("nothing to judge: give --input, --store/--run, or --labels")
    if len(names) < 2 and not args.labels:
        raise SrlabError("comparing judges needs at least two in --judges (or give --labels to compare with humans)")

    judges = build_judges(names, args)
    report: dict[str, Any] = {"judges": names, "target": args.target}

    if args.labels:
        label_field = label_field_for(args, judges)
        items, human = read_items(
            args.labels, label_field, split_names(args.positive) if args.positive else None, args.data_dir,
            negative=split_names(args.negative) if args.negative else None, source=args.source,
        )
        report["labels"] = {"path": args.labels, "source": args.source, "label_field": label_field}
        verdicts = judge_all(judges, items)
        report["vs_labels"] = {}
        calibration = {}
        print(f"== judges vs human labels ({args.labels}, {label_field!r}, {len(items)} items) ==")
        for name in names:
            agreement = compare([v.label for v in verdicts[name]], human, labels=[True, False])
            calibration[name] = agreement.binary()
            report["vs_labels"][name] = agreement.to_dict()
            print(format_agreement(agreement, name, "human"))
            rates = agreement.binary()
            sens = "n/a" if rates.sensitivity is None else f"{rates.sensitivity:.3f}"
            spec = "n/a" if rates.specificity is None else f"{rates.specificity:.3f}"
            print(f"  sensitivity={sens} specificity={spec}\n")

    if responses:
        items = [(s, g) for _, s, g in read_run(args.store, args.run)] if args.run else read_items(args.input, data_dir=args.data_dir)[0]
        source = f"run {args.run}" if args.run else args.input
        verdicts = judge_all(judges, items)
        labels = {name: [v.label for v in verdicts[name]] for name in names}
        print(f"== {source}: {len(items)} items ==")
        report["rates"] = {}
        for name in names:
            decided = [x for x in labels[name] if x is not None]
            positives = sum(decided)
            entry: dict[str, Any] = {"n": len(decided), "positives": positives, "undecided": len(labels[name]) - len(decided)}
            line = f"{name}: {positives}/{len(decided)} positive, {entry['undecided']} undecided"
            if args.labels and decided:
                try:
                    corrected = corrected_rate_from_calibration(positives, len(decided), calibration[name], method=args.method)
                except ValueError as exc:
                    line += f"; no corrected rate ({exc})"
                else:
                    entry["corrected"] = corrected.to_dict()
                    line += (
                        f"; observed {100 * corrected.observed:.1f}% -> corrected {100 * corrected.rate:.1f}% "
                        f"[{100 * corrected.low:.1f}, {100 * corrected.high:.1f}] ({corrected.method})"
                    )
            report["rates"][name] = entry
            print(line)
        if len(names) >= 2:
            report["pairwise"] = {}
            print()
            for first, second in itertools.combinations(names, 2):
                agreement = compare(labels[first], labels[second])
                report["pairwise"][f"{first}|{second}"] = agreement.to_dict()
                print(format_agreement(agreement, first, second))
                print()

    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        print(f"written to {args.json_out}")
    return 0
