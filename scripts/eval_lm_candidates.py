"""Measure SmolLM2 hidden-state candidates for the offline ``refusal`` and ``harm`` judges.

    SRLAB_DATA_DIR=../shared/data .venv/bin/python scripts/eval_lm_candidates.py [--judges refusal,harm]

The candidate issue #10 names: features from the embedded SmolLM2-135M-Instruct
(``srlab.judge.lm_features``: mean-pooled and last-token hidden states of a middle layer over the
chat-formatted, truncated pair) with a small trained head (standardised, L2 logistic
regression). Measured exactly like the shipped n-gram judges in scripts/eval_offline_judges.py:
grouped 5-fold CV (folds by normalised prompt), leave-one-source-out, and for ``refusal`` the
blind sets (trained on all). Candidates:

- ``ngram``: the shipped configuration (``train_offline_judges.CONFIG``), for reference;
- ``lm <blocks>``: LM features alone;
- ``lm <blocks> + ngram``: stacking: the LM features plus the n-gram model's logit. The logit
  fed to the head is always out-of-fold: inside each outer split, the n-gram model's logits on
  the training part come from an inner grouped 5-fold CV of that part and the ones on the test
  part from an n-gram model fitted on the whole training part, so no test row leaks in; its
  column is weighted 10x after standardising (``STACK_SCALE``) so the L2 penalty tuned for the
  LM columns does not shrink it.

Results and the decision (not shipped) are in docs/judge_card.md. ``--bench N`` times the
extraction alone on N of scripts/bench_judges.py's responses.

Features are extracted once and cached under ``build/judge_features/`` (``--cache``); the first
run took 27 minutes on 2 busy cores (7,649 distinct pairs), later runs about a minute per judge
(the nested n-gram logits are cached there too).
``--gptfuzz N`` keeps a seeded sample of N GPTFuzz rows (the n-gram reference is then measured
on the same rows).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_offline_judges as training  # noqa: E402
from eval_offline_judges import rates  # noqa: E402

from srlab.judge.lm_features import LMFeatureConfig, LMFeatureExtractor  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
Split = tuple[np.ndarray, np.ndarray]


STACK_SCALE = 10.0  # the n-gram logit's column, after standardising: a 10x smaller L2 penalty on its weight


class LMHead:
    """Standardised features, L2 logistic regression; with ``stacked``, the last column (the n-gram
    logit) is scaled up after standardising so the penalty that tames 1,000+ LM columns does not
    also shrink the one strong input."""

    def __init__(self, c: float, stacked: bool) -> None:
        self.c, self.stacked = c, stacked

    def _scale(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        if self.stacked:
            z[:, -1] *= STACK_SCALE
        return z

    def fit(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> LMHead:
        from sklearn.linear_model import LogisticRegression

        self.mean = x.mean(axis=0)
        self.std = x.std(axis=0) + 1e-6
        self.model = LogisticRegression(C=self.c, max_iter=5000)
        self.model.fit(self._scale(x), y, sample_weight=weights)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return self.model.decision_function(self._scale(x))


def lm_head(train_x: np.ndarray, train_y: np.ndarray, weights: np.ndarray, c: float, stacked: bool = False) -> LMHead:
    return LMHead(c, stacked).fit(train_x, train_y, weights)


class Candidates:
    """One judge's records, their n-gram matrix and LM features, and the splits to score on."""

    def __init__(self, judge: str, extractor: LMFeatureExtractor, gptfuzz: int | None) -> None:
        self.judge = judge
        config = training.CONFIG[judge]
        self.groups, self.c, balance = config["groups"], float(config["C"]), float(config["balance"])
        sources = training.load_sources(judge)
        if gptfuzz and "gptfuzz" in sources and len(sources["gptfuzz"]) > gptfuzz:
            rows = list(sources["gptfuzz"])
            random.Random(training.SEED).shuffle(rows)
            sources["gptfuzz"] = rows[:gptfuzz]
        self.sources = sources
        self.blind = training.load_sources(judge, blind=True)
        self.records = [r for rows in sources.values() for r in rows]
        blind_records = [r for rows in self.blind.values() for r in rows]
        self.blind_records = blind_records
        n = len(self.records)
        matrix = training.FeatureCache(self.records + blind_records).matrix(self.groups)
        self.ngram, self.blind_ngram = matrix[:n], matrix[n:]
        everything = self.records + blind_records
        features = extractor.extract([(r.prompt, r.response) for r in everything], progress=True)
        self.lm_all, self.extractor = features, extractor
        self.gold = np.array([r.label for r in self.records])
        self.source = np.array([r.source for r in self.records])
        self.weights = training.source_weights(self.records, balance, config["upweight"])
        self.folds = training.grouped_folds(self.records)
        self.loso = [(np.flatnonzero(self.source != s), np.flatnonzero(self.source == s)) for s in sources]
        # The nested n-gram fits are the slow part: their logits are kept beside the LM features,
        # keyed by everything they depend on (the records, labels, weights and n-gram config).
        import hashlib

        key = hashlib.sha256(repr((judge, config, [(r.source, r.group, r.prompt, r.response, r.label)
                                                    for r in self.records])).encode()).hexdigest()[:12]
        self._stack_file = extractor.cache_dir / f"ngram-stack-{judge}-{key}.npz" if extractor.cache_dir else None
        self._stack_cache: dict[str, np.ndarray] = {}
        if self._stack_file is not None and self._stack_file.is_file():
            self._stack_cache = dict(np.load(self._stack_file))

    def lm(self, blocks: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        cols = self.extractor.columns(blocks)
        n = len(self.records)
        return self.lm_all[:n][:, cols], self.lm_all[n:][:, cols]

    # --- n-gram logits, always out of sample -----------------------------------------------------

    def _ngram_fit(self, rows: np.ndarray):
        return training.fit_logistic(self.ngram[rows], self.gold[rows], self.weights[rows], self.c)

    def ngram_scores(self, splits: Sequence[Split]) -> np.ndarray:
        """The n-gram model's test-part logits per split (the reference candidate)."""
        out = np.zeros(len(self.records))
        for train, test in splits:
            out[test] = self._ngram_fit(train).decision_function(self.ngram[test])
        return out

    def stacked_inputs(self, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """n-gram logits for ``train`` (inner grouped CV) and ``test`` (fitted on all of ``train``)."""
        inner = np.zeros(len(train))
        for inner_train, inner_test in training.grouped_folds([self.records[i] for i in train]):
            model = self._ngram_fit(train[inner_train])
            inner[inner_test] = model.decision_function(self.ngram[train[inner_test]])
        outer = self._ngram_fit(train).decision_function(self.ngram[test])
        return inner, outer

    def _stack(self, name: str, splits: Sequence[Split]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for k, (train, test) in enumerate(splits):
            key = f"{name}{k}"
            if key not in self._stack_cache:
                inner, outer = self.stacked_inputs(train, test)
                self._stack_cache[key + "i"], self._stack_cache[key] = inner, outer
            out.append((self._stack_cache[key + "i"], self._stack_cache[key]))
        if self._stack_file is not None:
            np.savez(self._stack_file, **self._stack_cache)
        return out

    # --- candidates --------------------------------------------------------------------------------

    def lm_scores(self, blocks: Sequence[str], c: float, stack: bool, splits: Sequence[Split],
                  split_name: str) -> np.ndarray:
        x, _ = self.lm(blocks)
        out = np.zeros(len(self.records))
        stacked = self._stack(split_name, splits) if stack else [None] * len(splits)
        for (train, test), extra in zip(splits, stacked, strict=True):
            train_x, test_x = x[train], x[test]
            if extra is not None:
                train_x = np.hstack([train_x, extra[0][:, None]])
                test_x = np.hstack([test_x, extra[1][:, None]])
            model = lm_head(train_x, self.gold[train], self.weights[train], c, extra is not None)
            out[test] = model.decision_function(test_x)
        return out

    def blind_scores(self, blocks: Sequence[str] | None, c: float, stack: bool) -> np.ndarray:
        everything = np.arange(len(self.records))
        if not self.blind_records:
            return np.zeros(0)
        if blocks is None:
            return self._ngram_fit(everything).decision_function(self.blind_ngram)
        x, blind_x = self.lm(blocks)
        if stack:
            inner, outer = np.zeros(len(x)), None
            for train, test in self.folds:
                inner[test] = self._ngram_fit(train).decision_function(self.ngram[test])
            outer = self._ngram_fit(everything).decision_function(self.blind_ngram)
            x, blind_x = np.hstack([x, inner[:, None]]), np.hstack([blind_x, outer[:, None]])
        return lm_head(x, self.gold, self.weights, c, stack).decision_function(blind_x)


def table_rows(cands: Candidates, label: str, cv: np.ndarray, loso: np.ndarray, blind: np.ndarray | None) -> list[str]:
    lines = []
    a, b = training.fit_platt(cv, cands.gold)
    cv_verdicts = (a * cv + b > 0).astype(int)
    for name in [*cands.sources, "all"]:
        mask = np.ones(len(cands.records), dtype=bool) if name == "all" else cands.source == name
        y = cands.gold[mask]
        # As in eval_offline_judges: CV verdicts are Platt-scaled probabilities > 0.5, LOSO raw logits > 0.
        scored = [("grouped CV", cv_verdicts)] + ([] if name == "all" else [("LOSO", (loso > 0).astype(int))])
        for kind, verdicts in scored:
            r = rates(verdicts[mask], y)
            lines.append(f"| {label} | {name} | {kind} | {r['n']} ({r['pos']}) | {r['agreement']:.3f} | "
                         f"{r['sensitivity']:.3f} | {r['specificity']:.3f} | {r['kappa']:.3f} |")
    if blind is not None and cands.blind_records:
        gold = np.array([r.label for r in cands.blind_records])
        src = np.array([r.source for r in cands.blind_records])
        for name in cands.blind:
            mask = src == name
            r = rates((blind[mask] > 0).astype(int), gold[mask])
            lines.append(f"| {label} | {name} | blind | {r['n']} ({r['pos']}) | {r['agreement']:.3f} | "
                         f"{r['sensitivity']:.3f} | {r['specificity']:.3f} | {r['kappa']:.3f} |")
    return lines


def bench(n: int, threads: int) -> None:
    """Seconds to extract the features of ``n`` of bench_judges.py's responses (no cache), per 1,000."""
    import time

    from srlab.judge.labels import read_labelled
    from srlab.paths import data_dir

    labels = (data_dir() or REPO.parent / "shared" / "data") / "judge_labels"
    items = read_labelled(labels / "gptfuzz_train.jsonl", None, source="gptfuzz").items[: n // 2]
    items += read_labelled(labels / "wildguardtest_dev.jsonl", None, source="wildguardtest").items[: n - len(items)]
    pairs = [(sample.user_text(), generation.answer) for sample, generation in items]
    for layers in ((16,), (12,), (8,)):
        extractor = LMFeatureExtractor(LMFeatureConfig(layers=layers), threads=threads)
        extractor.extract(pairs[:2])  # loads the model
        started = time.perf_counter()
        extractor.extract(pairs)
        seconds = time.perf_counter() - started
        print(f"LM features to layer {layers[0]}, {threads} threads: {seconds:.1f} s for {len(pairs)} responses "
              f"= {1000 * seconds / len(pairs):.0f} s per 1,000", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judges", default="refusal,harm")
    parser.add_argument("--blocks", action="append", default=None,
                        help="comma-separated LM feature blocks, e.g. L12/mean96,L12/last96 (repeatable)")
    parser.add_argument("--C", default="0.05", help="the LM head's inverse L2 strength (comma-separated: each is a candidate)")
    parser.add_argument("--no-stack", action="store_true", help="skip the stacked candidates (slow for harm)")
    parser.add_argument("--gptfuzz", type=int, default=None, help="keep a seeded sample of N GPTFuzz rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=REPO / "build" / "judge_features")
    parser.add_argument("--bench", type=int, default=0, help="only time the extraction of N responses")
    args = parser.parse_args(argv)
    if args.bench:
        bench(args.bench, args.threads)
        return 0
    extractor = LMFeatureExtractor(threads=args.threads, cache_dir=args.cache)
    block_sets = [b.split(",") for b in (args.blocks or ["L12/mean96,L12/last96"])]
    header = ["| candidate | source | split | n (True) | agreement | sensitivity | specificity | kappa |",
              "|---|---|---|---|---|---|---|---|"]
    for judge in args.judges.split(","):
        cands = Candidates(judge, extractor, args.gptfuzz)
        lines = [f"### {judge}", "", *header]
        lines += table_rows(cands, "ngram (shipped config)", cands.ngram_scores(cands.folds),
                            cands.ngram_scores(cands.loso), cands.blind_scores(None, 0, False))
        for blocks in block_sets:
            for c in (float(v) for v in args.C.split(",")):
                for stack in (False, True):
                    if stack and args.no_stack:
                        continue
                    label = f"lm {'+'.join(blocks)}" + (" + ngram" if stack else "") + f" C={c}"
                    cv = cands.lm_scores(blocks, c, stack, cands.folds, "cv")
                    loso = cands.lm_scores(blocks, c, stack, cands.loso, "loso")
                    lines += table_rows(cands, label, cv, loso, cands.blind_scores(blocks, c, stack))
                    print("\n".join(lines[-12:]), file=sys.stderr, flush=True)
        print("\n".join(lines) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
