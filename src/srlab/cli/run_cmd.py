"""``srlab run EXPERIMENT.yaml``: the whole study from one config, resumable."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run an experiment config end to end (resumes when rerun)")
    parser.add_argument("experiment", help="experiment YAML, e.g. examples/quickstart.yaml")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--data-dir", default=None, help="overrides the config's data_dir")
    parser.add_argument("--output-dir", default=None, help="overrides the config's output_dir")
    parser.add_argument("--keep-failed", action="store_true",
                        help="keep requests that failed before as failed instead of retrying them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srlab.experiment.config import load_experiment
    from srlab.experiment.runner import run_experiment
    from srlab.report.tables import markdown_table

    config = load_experiment(args.experiment)
    updates = {k: v for k, v in (("data_dir", args.data_dir), ("output_dir", args.output_dir)) if v}
    if updates:
        config = config.model_copy(update=updates)
    report = run_experiment(config, dry_run=args.dry_run, keep_failed=args.keep_failed)
    if report is not None:
        print()
        print(markdown_table(report))
    return 0
