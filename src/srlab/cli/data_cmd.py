"""``srlab data build MIXTURE.yaml --out DIR`` and ``srlab data recipes``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="build training mixtures (reasoning + safety + benign data)")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    build = commands.add_parser("build", help="build a mixture JSONL and its manifest from a YAML spec")
    build.add_argument("spec", help="mixture YAML (see examples/mixture_quickstart.yaml)")
    build.add_argument("--out", help="output folder (default: runs/data/<spec name>)")
    build.add_argument("--data-dir", help="local data directory (default: $SRLAB_DATA_DIR)")
    build.set_defaults(func=run_build)
    recipes = commands.add_parser("recipes", help="list the safety response recipes")
    recipes.set_defaults(func=run_recipes)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_build(args: argparse.Namespace) -> int:
    from srlab.data import build_mixture, load_mixture_spec

    spec = load_mixture_spec(args.spec)
    out = Path(args.out) if args.out else Path("runs") / "data" / spec.name
    manifest = build_mixture(spec, out, args.data_dir)
    print(f"wrote {manifest.counts['total']} records to {manifest.mixture_path}")
    for source in manifest.sources:
        length = source.length
        print(
            f"  {source.name:<24} {source.selected:>6} of {source.pool:<6} removed {source.removed:<4} "
            f"filtered {source.filtered:<4} mean {length['mean_tokens']} / p90 {length['p90_tokens']} tokens"
        )
        for reason, count in source.dropped.items():
            print(f"    dropped {count:>5}: {reason}")
    removed = manifest.removed
    print(f"decontamination: {len(removed)} removed; checked {json.dumps(manifest.decontamination['benchmarks_checked'])}")
    for name, reason in manifest.decontamination["benchmarks_excluded"].items():
        print(f"  not checked: {name}: {reason}")
    print(f"manifest: {out / 'manifest.json'}")
    return 0


def run_recipes(args: argparse.Namespace) -> int:
    from srlab.data import RECIPES

    for name in RECIPES.names():
        recipe = RECIPES.get(name)
        offline = "offline+teacher" if recipe.offline else "teacher"
        print(f"{name:<14} {recipe.study:<10} {offline:<16} think={recipe.think:<9} {recipe.description}")
    return 0
