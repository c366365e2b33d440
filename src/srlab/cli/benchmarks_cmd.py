"""``srlab benchmarks``: list the registered benchmarks and peek at their samples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "benchmarks", help="list benchmarks and whether their data is found"
    )
    commands = parser.add_subparsers(dest="benchmarks_command", metavar="ACTION", required=True)

    list_parser = commands.add_parser("list", help="name, kind, default judges, data found")
    list_parser.add_argument(
        "--data-dir", default=None, help="local data directory (default: $SRLAB_DATA_DIR)"
    )
    list_parser.set_defaults(func=run_list)

    show = commands.add_parser("show", help="print a few samples of one benchmark as JSON lines")
    show.add_argument("name", help="a benchmark name, rg:<task>[:key=value...], or a YAML spec")
    show.add_argument("--split", default="test")
    show.add_argument("--limit", type=int, default=3)
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--data-dir", default=None)
    show.set_defaults(func=run_show)


def data_status(benchmark: object, data_dir: Path | None) -> str:
    """'found', 'missing' (with the expected path), or 'generated' for reasoning-gym tasks."""
    from srlab.benchmarks import ReasoningGymBenchmark

    if isinstance(benchmark, ReasoningGymBenchmark):
        return "generated"
    local_path = getattr(benchmark, "local_path", None)
    if local_path is None:
        return "unknown"
    path = local_path(data_dir, "test")
    if path is None:
        return "missing (no data dir)"
    if path.exists() or any(path.parent.glob(path.name)):
        return "found"
    return f"missing ({path})"


def run_list(args: argparse.Namespace) -> int:
    from srlab.benchmarks import BENCHMARKS, get_benchmark
    from srlab.paths import data_dir as resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    rows = []
    for name in BENCHMARKS.names():
        benchmark = get_benchmark(name)
        rows.append(
            [
                name,
                benchmark.kind,
                ",".join(benchmark.default_judges),
                data_status(benchmark, data_dir),
            ]
        )
    header = ["name", "kind", "judges", "data"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"\ndata dir: {data_dir or 'not set (pass --data-dir or set SRLAB_DATA_DIR)'}")
    print(
        "also: rg:<task>[:key=value...] for any reasoning-gym task; livecodebench:key=value... "
        "(release, start_date, end_date, difficulty, private, revision); a path to a YAML benchmark spec"
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from srlab.benchmarks import get_benchmark, select_subset
    from srlab.paths import data_dir as resolve_data_dir

    benchmark = get_benchmark(args.name)
    samples = select_subset(
        benchmark.load(resolve_data_dir(args.data_dir), split=args.split), args.limit, args.seed
    )
    for sample in samples:
        print(json.dumps(sample.to_dict(), ensure_ascii=False, default=str))
    return 0
