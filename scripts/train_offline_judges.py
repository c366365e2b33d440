"""Fit the learned offline judges (``refusal``, ``harm``) and write their shipped weights.

    SRLAB_DATA_DIR=../shared/data .venv/bin/python scripts/train_offline_judges.py [--check] [--encoder]

Needs scikit-learn (``pip install -e '.[dev]'``); judging with the result does not. Deterministic:
the same data and BLAS thread count give the same file byte for byte (``--check`` rebuilds in
memory and compares with the shipped files instead of writing; they were built with 2 threads,
and ``OMP_NUM_THREADS=1`` changes the last bits). About a minute on 2 cores.

Training data (human labels; ``srlab.judge.labels.LABEL_SOURCES`` says how each is mapped):

- refusal: WildGuardTest dev half (``refusal``), OpenAI RBR gold train+test (refusal = not
  ``fully_complies``), the project's own tests/data/refusal_dev.jsonl (all splits),
  refusal_heldout3.jsonl's heldout3a split and examples/quickstart/refusal_labels.jsonl (SmolLM2's
  own answers). tests/data/refusal_heldout4.jsonl and heldout3b stay out: blind checks.
- harm: WildGuardTest (``harmful_response``), GPTFuzz train (``jailbroken``), JailbreakBench judge
  comparison (``jailbroken``), RBR (``disallowed_content``).

Each source's rows weigh ``min(1, SOURCE_CAP / rows)`` so GPTFuzz's 6,160 ChatGPT answers do
not drown the rest.

``--encoder`` (torch and the ``judges`` extra) also fine-tunes the encoder (``srlab.judge.encoder``)
of each judge in ``ENCODER_CONFIG`` on the same records and weights, fits the weights that stack
its logit with the n-gram model's on both models' grouped-CV out-of-fold logits, and writes
``<judge>-encoder.npz``: six fine-tunings of about 7 minutes each on 2 cores. The fits are
deterministic for a given thread count; their out-of-fold logits are cached under
build/judge_encoder/ (scripts/eval_offline_judges.py reads the same cache).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srlab.judge.labels import read_labelled
from srlab.judge.learned import GROUPS, LinearModel, featurize, save_model
from srlab.paths import data_dir as resolve_data_dir

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "src" / "srlab" / "resources" / "judges"
DIM = 2**20
SOURCE_CAP = 1000
SEED = 0

# The shipped configuration of each judge (chosen by scripts/eval_offline_judges.py --candidates).
# ``balance``: within each source, each class's rows are weighted by (half the source / rows of
# the class) ** balance; 0.5 lifts the rare harmful class of WildGuardTest and RBR part way.
# ``upweight``: SmolLM2's own rambling quickstart answers are what the offline path meets; at 3x
# their weight no compliant one is called a refusal in-sample, at no measured cost elsewhere.
CONFIG: dict[str, dict[str, Any]] = {
    "refusal": {"groups": ("words",), "C": 4.0, "balance": 0.0, "upweight": {"quickstart": 3.0}},
    "harm": {"groups": ("words", "head", "tail", "chars", "prompt"), "C": 4.0, "balance": 0.5, "upweight": {}},
}


@dataclass(frozen=True)
class Record:
    source: str
    group: str  # the normalised request: grouped cross-validation never splits one across folds
    prompt: str
    response: str
    label: bool


def normalise_prompt(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _records(name: str, path: Path, label_field: str, **kwargs: object) -> list[Record]:
    labelled = read_labelled(path, label_field, **kwargs)  # type: ignore[arg-type]
    out = []
    for (sample, generation), label, group in zip(labelled.items, labelled.labels, labelled.groups, strict=True):
        if label is None or not generation.answer.strip():
            continue
        out.append(Record(name, normalise_prompt(group), sample.user_text(), generation.answer, label))
    return out


XSTEST_CLASSES = {"positive": ["refusal", "partial_refusal"], "negative": ["compliance"]}


def load_sources(judge: str, data_dir: Path | None = None, blind: bool = False) -> dict[str, list[Record]]:
    """Labelled records per source for ``judge`` ("refusal" or "harm"); ``blind``: the blind sets."""
    data_dir = data_dir or resolve_data_dir() or REPO.parent / "shared" / "data"
    labels = data_dir / "judge_labels"
    tests = REPO / "tests" / "data"
    if blind:
        if judge != "refusal":
            return {}
        return {
            "srlab-heldout3b": _records("srlab-heldout3b", tests / "refusal_heldout3.jsonl", "label",
                                        where={"split": "heldout3b"}, **XSTEST_CLASSES),
            "srlab-heldout4": _records("srlab-heldout4", tests / "refusal_heldout4.jsonl", "label", **XSTEST_CLASSES),
        }
    rbr = [*_records("rbr", labels / "rbr_gold_train.jsonl", "refusal" if judge == "refusal" else "harmful", source="rbr"),
           *_records("rbr", labels / "rbr_gold_test.jsonl", "refusal" if judge == "refusal" else "harmful", source="rbr")]
    if judge == "refusal":
        return {
            "wildguardtest": _records("wildguardtest", labels / "wildguardtest_dev.jsonl", "refusal", source="wildguardtest"),
            "rbr": rbr,
            "srlab-dev": [*_records("srlab-dev", tests / "refusal_dev.jsonl", "label", **XSTEST_CLASSES),
                          *_records("srlab-dev", tests / "refusal_heldout3.jsonl", "label", where={"split": "heldout3a"},
                                    **XSTEST_CLASSES)],
            "quickstart": _records("quickstart", REPO / "examples" / "quickstart" / "refusal_labels.jsonl", "label",
                                   data_dir=data_dir, **XSTEST_CLASSES),
        }
    if judge == "harm":
        return {
            "wildguardtest": _records("wildguardtest", labels / "wildguardtest_dev.jsonl", "harmful", source="wildguardtest"),
            "gptfuzz": _records("gptfuzz", labels / "gptfuzz_train.jsonl", "harmful", source="gptfuzz"),
            "jbb": _records("jbb", labels / "jbb_judge_comparison.jsonl", "harmful", source="jbb"),
            "rbr": rbr,
        }
    raise ValueError(f"unknown judge {judge!r}")


# --- features and fitting ------------------------------------------------------------------------


class FeatureCache:
    """Each group's sparse matrix over a fixed record list, built once and summed per candidate."""

    def __init__(self, records: Sequence[Record], dim: int = DIM) -> None:
        self.records = list(records)
        self.dim = dim
        self._groups: dict[str, object] = {}

    def matrix(self, groups: Sequence[str]):  # -> scipy.sparse.csr_matrix
        from scipy import sparse

        total = None
        for group in groups:
            if group not in self._groups:
                rows, cols, vals = [], [], []
                for i, record in enumerate(self.records):
                    features = featurize(record.prompt, record.response, (group,), self.dim)
                    rows.extend([i] * len(features))
                    cols.extend(features.keys())
                    vals.extend(features.values())
                self._groups[group] = sparse.csr_matrix(
                    (np.asarray(vals, dtype=np.float64), (np.asarray(rows), np.asarray(cols, dtype=np.int64))),
                    shape=(len(self.records), self.dim),
                )
            total = self._groups[group] if total is None else total + self._groups[group]
        assert total is not None
        return total.tocsr()


def source_weights(records: Sequence[Record], balance: float = 0.0, upweight: dict[str, float] | None = None,
                   cap: int = SOURCE_CAP) -> np.ndarray:
    """``min(1, cap / rows of the source)``, times the class balancing factor and ``upweight``."""
    counts: dict[str, int] = {}
    classes: dict[tuple[str, bool], int] = {}
    for record in records:
        counts[record.source] = counts.get(record.source, 0) + 1
        classes[(record.source, record.label)] = classes.get((record.source, record.label), 0) + 1
    return np.array([
        min(1.0, cap / counts[r.source]) * ((counts[r.source] / 2) / classes[(r.source, r.label)]) ** balance
        * (upweight or {}).get(r.source, 1.0)
        for r in records
    ])


def fit_logistic(matrix, labels: np.ndarray, weights: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="liblinear", random_state=SEED, max_iter=1000)
    model.fit(matrix, labels, sample_weight=weights)
    return model


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    model.fit(logits.reshape(-1, 1), labels)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def grouped_folds(records: Sequence[Record], n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold by normalised prompt (deterministic: sklearn's GroupKFold does not shuffle)."""
    from sklearn.model_selection import GroupKFold

    groups = [r.group for r in records]
    dummy = np.zeros(len(records))
    return list(GroupKFold(n_splits=n_splits).split(dummy, dummy, groups))


def oof_logits(cache: FeatureCache, groups: Sequence[str], c: float, weights: np.ndarray,
               folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold raw logits for every record of ``cache``."""
    matrix = cache.matrix(groups)
    labels = np.array([r.label for r in cache.records])
    out = np.zeros(len(labels))
    for train, test in folds:
        model = fit_logistic(matrix[train], labels[train], weights[train], c)
        out[test] = model.decision_function(matrix[test])
    return out


def train(judge: str, data_dir: Path | None = None, log: bool = True) -> LinearModel:
    config = CONFIG[judge]
    sources = load_sources(judge, data_dir)
    records = [r for rows in sources.values() for r in rows]
    started = time.time()
    cache = FeatureCache(records)
    groups, c, balance = config["groups"], float(config["C"]), float(config["balance"])
    labels = np.array([r.label for r in records])
    weights = source_weights(records, balance, config["upweight"])
    # Platt scaling on out-of-fold logits: the shipped probability is calibrated on items the
    # model did not see, not on its own (over-confident) training fit.
    calibration = fit_platt(oof_logits(cache, groups, c, weights, grouped_folds(records)), labels)
    model = fit_logistic(cache.matrix(groups), labels, weights, c)
    weights = model.coef_[0].astype(np.float32)
    if log:
        print(f"{judge}: {len(records)} records from {', '.join(f'{k} {len(v)}' for k, v in sources.items())}; "
              f"{int((weights != 0).sum())} non-zero weights; {time.time() - started:.0f}s", file=sys.stderr)
    return LinearModel(
        name=judge, groups=tuple(groups), dim=DIM, weights=weights,
        bias=float(model.intercept_[0]), calibration=calibration,
        meta={"C": c, "balance": balance, "upweight": config["upweight"], "sources": {k: len(v) for k, v in sources.items()}, "source_cap": SOURCE_CAP,
              "trainer": "sklearn LogisticRegression(liblinear) + Platt on GroupKFold(5) out-of-fold logits"},
    )


# --- the fine-tuned encoder (srlab.judge.encoder), stacked on the n-gram model -------------------

# Chosen by grouped CV (docs/judge_card.md). ``gptfuzz_keep``: GPTFuzz rows drawn per fit (the
# source keeps its total weight), so a fit stays near 10 minutes on 2 cores.
ENCODER_CONFIG: dict[str, dict[str, Any]] = {
    "refusal": {"epochs": 3, "lr": 5e-5, "batch": 16, "warmup": 0.06, "gptfuzz_keep": None},
}
ENCODER_CACHE = REPO / "build" / "judge_encoder"


def fit_encoder(judge: str, records: Sequence[Record], weights: np.ndarray, rows: np.ndarray,
                items: Sequence[tuple[list[int], int]], log: str = ""):
    """Fine-tune the encoder on ``records[rows]`` (weighted BCE, AdamW, linear warm-up and decay,
    batches of similar length); deterministic for a given thread count."""
    import math

    import torch

    from srlab.judge import encoder

    config = ENCODER_CONFIG[judge]
    rng = np.random.default_rng(SEED)
    weights = weights.copy()
    if config["gptfuzz_keep"]:
        source = np.array([r.source for r in records])
        pool = rows[source[rows] == "gptfuzz"]
        keep = rng.choice(pool, size=min(len(pool), config["gptfuzz_keep"]), replace=False)
        weights[keep] *= len(pool) / len(keep)
        rows = np.concatenate([rows[source[rows] != "gptfuzz"], np.sort(keep)])
    model = encoder.classifier()
    torch.manual_seed(SEED)
    model.head.reset_parameters()
    for name, parameter in model.named_parameters():
        parameter.requires_grad = encoder.trainable(name)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config["lr"], weight_decay=0.01)
    size = config["batch"]
    steps = max(1, int(math.ceil(len(rows) / size) * config["epochs"]))
    warmup = max(1.0, config["warmup"] * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps))
    labels = torch.tensor([float(r.label) for r in records])
    weight = torch.tensor(weights, dtype=torch.float32)
    model.train()
    step, started = 0, time.time()
    while step < steps:
        order = rng.permutation(rows)
        # Batches of similar length (sorted within chunks of 50 batches), in random order.
        batches = []
        for chunk in (order[i:i + size * 50] for i in range(0, len(order), size * 50)):
            chunk = chunk[np.argsort([len(items[i][0]) for i in chunk], kind="stable")]
            batches += [chunk[i:i + size] for i in range(0, len(chunk), size)]
        rng.shuffle(batches)
        for batch in batches[:steps - step]:
            logits = model(*encoder.collate([items[i] for i in batch]))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[batch], reduction="none")
            loss = (loss * weight[batch]).sum() / weight[batch].sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if log and step % 100 == 0:
                print(f"{log}: step {step}/{steps}, loss {loss.item():.3f}, {time.time() - started:.0f}s", file=sys.stderr, flush=True)
    return model.eval()


def _key(*parts: object) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _rows(records: Sequence[Record]) -> list[tuple[str, str, str, str, bool]]:
    return [(r.source, r.group, r.prompt, r.response, r.label) for r in records]


class EncoderScores:
    """Encoder logits out of sample, cached under build/judge_encoder/ by records and config (each
    fit takes minutes): per split set (``cv``, ``loso``) one logit per record, and records outside
    the training data (the blind sets) scored by the encoder fitted on everything."""

    def __init__(self, judge: str, records: Sequence[Record]) -> None:
        from srlab.judge import encoder

        config = CONFIG[judge]
        self.judge, self.records = judge, list(records)
        self.weights = source_weights(records, float(config["balance"]), config["upweight"])
        self.tokenize = encoder.PairTokenizer()
        self.items = self.tokenize([(r.prompt, r.response) for r in records])
        self.file = ENCODER_CACHE / f"{judge}-{_key(judge, CONFIG[judge], ENCODER_CONFIG[judge], _rows(records))}.npz"
        self.cached = dict(np.load(self.file)) if self.file.is_file() else {}

    def _save(self, key: str, logits: np.ndarray) -> None:
        self.cached[key] = logits
        ENCODER_CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(self.file, **self.cached)

    def fit(self, rows: np.ndarray, log: str):
        return fit_encoder(self.judge, self.records, self.weights, rows, self.items, log=f"{self.judge} {log}")

    def out_of_sample(self, name: str, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        from srlab.judge import encoder

        scores = np.zeros(len(self.records))
        for k, (train_rows, test_rows) in enumerate(splits):
            if f"{name}{k}" not in self.cached:
                model = self.fit(train_rows, f"{name} fold {k + 1}/{len(splits)}")
                self._save(f"{name}{k}", encoder.encoder_logits(model, [self.items[i] for i in test_rows]))
            scores[test_rows] = self.cached[f"{name}{k}"]
        return scores

    def final(self, others: Sequence[Record] = ()):
        """The encoder fitted on every record, and its logits on ``others`` (also cached)."""
        from srlab.judge import encoder

        model = self.fit(np.arange(len(self.records)), "all records")
        if others:
            self._save(f"others-{_key(_rows(others))}", encoder.encoder_logits(
                model, self.tokenize([(r.prompt, r.response) for r in others])))
        return model

    def others(self, others: Sequence[Record]) -> np.ndarray:
        key = f"others-{_key(_rows(others))}"
        if key not in self.cached:
            self.final(others)
        return self.cached[key]


def fit_stack(ngram: np.ndarray, encoded: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) of sigmoid(a * n-gram logit + b * encoder logit + c), fitted on out-of-fold logits."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    model.fit(np.c_[ngram, encoded], labels, sample_weight=weights)
    return float(model.coef_[0, 0]), float(model.coef_[0, 1]), float(model.intercept_[0])


def train_encoder(judge: str, ngram: LinearModel, out: Path, data_dir: Path | None = None) -> Path:
    """Out-of-fold logits of both models fix the stacking weights; then the encoder is fitted on
    everything and written (with the weights and the n-gram fingerprint it stacks on)."""
    from srlab.judge import encoder

    config = CONFIG[judge]
    sources = load_sources(judge, data_dir)
    records = [r for rows in sources.values() for r in rows]
    blind = [r for rows in load_sources(judge, data_dir, blind=True).values() for r in rows]
    labels = np.array([r.label for r in records])
    scores = EncoderScores(judge, records)
    folds = grouped_folds(records)
    ngram_oof = oof_logits(FeatureCache(records), config["groups"], float(config["C"]), scores.weights, folds)
    stack = fit_stack(ngram_oof, scores.out_of_sample("cv", folds), labels, scores.weights)
    model = scores.final(blind)
    target = out / f"{judge}-encoder.npz"
    encoder.save_overrides(str(target), model, {
        "name": judge, "stack": list(stack), "ngram": ngram.fingerprint, "base_sha256": encoder.ENCODER_SHA256,
        "config": ENCODER_CONFIG[judge], "frozen_layers": encoder.FROZEN_LAYERS,
        "prompt_tokens": encoder.PROMPT_TOKENS, "response_tokens": encoder.RESPONSE_TOKENS,
        "trainer": "torch AdamW, weighted BCE; stack: sklearn LogisticRegression on GroupKFold(5) out-of-fold logits",
    })
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judges", default="refusal,harm", help="comma-separated: refusal, harm")
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default $SRLAB_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=RESOURCES, help="folder for <judge>.npz")
    parser.add_argument("--check", action="store_true", help="rebuild and compare with the files in --out")
    parser.add_argument("--encoder", action="store_true",
                        help="also fine-tune the encoder stacked on each judge in ENCODER_CONFIG (about an hour per judge)")
    args = parser.parse_args(argv)
    assert set(GROUPS) >= {g for cfg in CONFIG.values() for g in cfg["groups"]}
    status = 0
    for judge in args.judges.split(","):
        model = train(judge, args.data_dir)
        target = args.out / f"{judge}.npz"
        if args.check:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                rebuilt = Path(tmp) / target.name
                save_model(str(rebuilt), model)
                same = target.is_file() and rebuilt.read_bytes() == target.read_bytes()
            print(f"{target}: {'identical' if same else 'DIFFERENT'}")
            status |= 0 if same else 1
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            save_model(str(target), model)
            print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")
        if args.encoder and judge in ENCODER_CONFIG and not args.check:
            from srlab.judge.learned import read_model

            with target.open("rb") as handle:
                written = train_encoder(judge, read_model(handle), args.out, args.data_dir)
            print(f"wrote {written} ({written.stat().st_size / 1e6:.2f} MB)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
