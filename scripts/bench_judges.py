"""How long the offline judges take on 1,000 responses (issue #10: under 3 minutes on 2 CPU cores).

    SRLAB_DATA_DIR=../shared/data .venv/bin/python scripts/bench_judges.py [--n 1000]

``--judges`` entries are judge names, each optionally with params: ``refusal:encoder=true``.

The responses are the first ``--n`` of GPTFuzz's train split and WildGuardTest's dev half (real
chat-model answers, long persona replies included); each judge reads them through ``judge_many``
once, after a warm-up that loads its weights.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from srlab.judge import get_judge
from srlab.judge.labels import read_labelled
from srlab.paths import data_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--judges", default="refusal,refusal:encoder=true,harm,refusal-scorecard")
    parser.add_argument("--target", default="full")
    args = parser.parse_args(argv)
    root = data_dir() or Path(__file__).resolve().parents[2] / "shared" / "data"
    labels = root / "judge_labels"
    items = read_labelled(labels / "gptfuzz_train.jsonl", None, source="gptfuzz").items[: args.n // 2]
    items += read_labelled(labels / "wildguardtest_dev.jsonl", None, source="wildguardtest").items[: args.n - len(items)]
    chars = sum(len(g.text) for _, g in items)
    print(f"{len(items)} responses, {chars / len(items):.0f} characters on average; {os.cpu_count()} CPUs")
    for entry in args.judges.split(","):
        name, _, params = entry.partition(":")
        kwargs = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in params.split(";") if p)}
        judge = get_judge(name, target=args.target, **kwargs)
        judge.judge_many(items[:2])  # loads the weights
        started = time.perf_counter()
        verdicts = judge.judge_many(items)
        seconds = time.perf_counter() - started
        decided = sum(v.label is not None for v in verdicts)
        print(f"{entry}: {seconds:.1f} s for {len(items)} responses ({1000 * seconds / len(items):.1f} ms each), "
              f"{decided} decided")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
