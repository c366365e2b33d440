"""``srlab report``: rebuild the report of any stored run (eval or experiment)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="write the HTML/PNG/JSON report of a stored run")
    parser.add_argument("--store", default=".srlab/store.sqlite", help="SQLite store path")
    parser.add_argument("--run", default=None, help="run id (default: the latest run in the store)")
    parser.add_argument("--output-dir", default=None, help="default: runs/<run id>")
    parser.add_argument("--list", action="store_true", help="list stored runs and stop")
    parser.add_argument(
        "--export-labels", default=None, metavar="FILE",
        help="write the run's responses as a labels file to fill in (label: null) and stop; "
        "with calibration: in an experiment it carries the judge's error into the report",
    )
    parser.add_argument("--benchmarks", default=None, help="with --export-labels: only these benchmarks (comma-separated)")
    parser.add_argument(
        "--no-prompts", action="store_true",
        help="with --export-labels: name benchmark + sample_id instead of copying prompts (for sharing the file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srlab.errors import SrlabError
    from srlab.report.build import build_report
    from srlab.report.html import write_report
    from srlab.report.tables import markdown_table
    from srlab.store import Store

    if not Path(args.store).is_file():
        raise SrlabError(f"store {args.store} not found; pass --store with the run's SQLite file")
    with Store(args.store, read_only=True) as store:  # a report never writes: read-only media work
        runs = store.list_runs()
        if args.list:
            for r in runs:
                print(f"{r['id']}\t{r['kind']}\t{r['status']}")
            return 0
        if not runs:
            raise SrlabError(f"store {args.store} holds no runs")
        run_id = args.run or runs[-1]["id"]
        if args.export_labels:
            from srlab.cli.options import split_names
            from srlab.report.labels_export import export_labels

            benchmarks = split_names(args.benchmarks) if args.benchmarks else None
            count = export_labels(store, run_id, args.export_labels, benchmarks, prompts=not args.no_prompts)
            print(f"{count} responses of run {run_id} written to {args.export_labels}; fill in each 'label'")
            return 0
        report = build_report(store, run_id)
    paths = write_report(report, args.output_dir or Path("runs") / run_id)
    print(markdown_table(report))
    print(f"\nreport written to {paths['report.html']}")
    return 0
