"""The ``srlab`` command. Each subcommand lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
import traceback
from collections.abc import Sequence

from pydantic import ValidationError

from srlab.config_files import validation_message
from srlab.errors import SrlabError

# Imported lazily by name so ``srlab --help`` stays fast and no subcommand drags in torch.
SUBCOMMAND_MODULES = (
    "srlab.cli.eval_cmd",
    "srlab.cli.judge_cmd",
    "srlab.cli.models_cmd",
    "srlab.cli.benchmarks_cmd",
    "srlab.cli.data_cmd",
    "srlab.cli.train_cmd",
    "srlab.cli.run_cmd",
    "srlab.cli.report_cmd",
    "srlab.cli.agreement_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srlab", description="Measure and improve the safety-reasoning trade-off of language models."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug messages.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:  # one INFO line per HTTP request would bury the progress
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SrlabError as exc:
        return _fail(str(exc), args)
    except ValidationError as exc:
        return _fail(validation_message(exc, f"srlab {args.command}", "options"), args)
    except sqlite3.Error as exc:  # e.g. a store on read-only media, or a full disk
        return _fail(f"store: {exc}; check that --store names a writable srlab store", args)
    except OSError as exc:  # an output path that is a folder, read-only, or on a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", args)
    except RecursionError:
        return _fail("input nested too deeply to read", args)
    except KeyboardInterrupt:
        print("srlab: interrupted; finished work is stored: rerun the same command to resume", file=sys.stderr)
        return 130


def _fail(message: str, args: argparse.Namespace) -> int:
    """One line on stderr and exit code 2; the traceback only with --verbose."""
    if getattr(args, "verbose", False):
        traceback.print_exc()
    print(f"srlab: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
