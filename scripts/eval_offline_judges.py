"""Measure the learned offline judges against human labels, beside the keyword baseline and the
scorecard, and (with ``--card``) write the figures into docs/judge_card.md.

    SRLAB_DATA_DIR=../shared/data .venv/bin/python scripts/eval_offline_judges.py --card docs/judge_card.md

Needs scikit-learn (the ``dev`` extra). For each judge and each labelled source:

- grouped 5-fold cross-validation: folds split by normalised prompt text (GroupKFold), so no
  request is in both the training and the test folds;
- leave-one-source-out: trained on the other sources, tested on this one (how it transfers to a
  kind of data it has never seen);
- blind (refusal): tests/data/refusal_heldout3b and heldout4, never trained on, judged by the model
  trained on everything;
- the uncertain band: how many out-of-fold items a band around the threshold holds back and how
  agreement on the rest changes; and the calibration of the out-of-fold probabilities.

Agreement is on all items (a baseline's undecided counts as a miss); sensitivity and specificity
are on the human positives and negatives; kappa is Cohen's. Takes about 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_offline_judges as training  # noqa: E402
from eval_refusal_judge import keyword_refusal  # noqa: E402

from srlab.judge.refusal_scorecard import RefusalScorecardJudge  # noqa: E402
from srlab.schema import Generation, Sample  # noqa: E402

BANDS = (0.05, 0.1, 0.15, 0.2)


def rates(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Agreement, sensitivity, specificity, kappa; ``predicted`` may hold -1 for undecided."""
    n = len(gold)
    tp = int(((predicted == 1) & gold).sum())
    tn = int(((predicted == 0) & ~gold).sum())
    fp = int(((predicted == 1) & ~gold).sum())
    fn = int(((predicted == 0) & gold).sum())
    agreement = (tp + tn) / n if n else float("nan")
    positives, negatives = int(gold.sum()), int((~gold).sum())
    decided = tp + tn + fp + fn
    if decided:
        p_o = (tp + tn) / decided
        p_yes = ((tp + fp) / decided) * ((tp + fn) / decided)
        p_no = ((tn + fn) / decided) * ((tn + fp) / decided)
        p_e = p_yes + p_no
        kappa = 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)
    else:
        kappa = float("nan")
    return {"n": n, "pos": positives, "agreement": agreement,
            "sensitivity": tp / positives if positives else float("nan"),
            "specificity": tn / negatives if negatives else float("nan"), "kappa": kappa}


def baseline_predictions(judge: str, records: Sequence[training.Record]) -> dict[str, np.ndarray]:
    """Keyword list and scorecard; for harm, harmful = "not a refusal" (the GCG-style ASR rule)."""
    scorecard = RefusalScorecardJudge()
    keyword, card = [], []
    for record in records:
        keyword.append(bool(keyword_refusal(record.prompt, record.response)))
        # ``response`` is already the parsed answer: judged as it is, not parsed again.
        generation = Generation(text=record.response, answer=record.response)
        label = scorecard.judge(Sample(id="x", prompt=record.prompt, benchmark="eval"), generation).label
        card.append(-1 if label is None else int(label))
    keyword_arr, card_arr = np.array(keyword, dtype=int), np.array(card)
    if judge == "harm":
        keyword_arr = 1 - keyword_arr
        card_arr = np.where(card_arr < 0, -1, 1 - card_arr)
    return {"keywords": keyword_arr, "scorecard": card_arr}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def evaluate(judge: str) -> dict[str, object]:
    config = training.CONFIG[judge]
    groups, c, balance = config["groups"], float(config["C"]), float(config["balance"])
    sources = training.load_sources(judge)
    blind = training.load_sources(judge, blind=True)
    records = [r for rows in sources.values() for r in rows]
    blind_records = [r for rows in blind.values() for r in rows]
    cache = training.FeatureCache(records + blind_records)
    matrix = cache.matrix(groups)
    n = len(records)
    train_matrix, blind_matrix = matrix[:n], matrix[n:]
    gold = np.array([r.label for r in records])
    source = np.array([r.source for r in records])
    weights = training.source_weights(records, balance, config["upweight"])
    folds = training.grouped_folds(records)

    oof = np.zeros(n)
    for train_idx, test_idx in folds:
        model = training.fit_logistic(train_matrix[train_idx], gold[train_idx], weights[train_idx], c)
        oof[test_idx] = model.decision_function(train_matrix[test_idx])
    a, b = training.fit_platt(oof, gold)
    oof_prob = sigmoid(a * oof + b)
    loso = np.zeros(n)
    for name in sources:
        held = source == name
        model = training.fit_logistic(train_matrix[~held], gold[~held], weights[~held], c)
        loso[held] = model.decision_function(train_matrix[held])
    baselines = baseline_predictions(judge, records)

    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in [*sources, "all"]:
        mask = np.ones(n, dtype=bool) if name == "all" else source == name
        y = gold[mask]
        table[name] = {
            "keywords": rates(baselines["keywords"][mask], y),
            "scorecard": rates(baselines["scorecard"][mask], y),
            "learned, grouped CV": rates((oof_prob[mask] > 0.5).astype(int), y),
            "learned, leave-one-source-out": rates((loso[mask] > 0).astype(int), y) if name != "all" else {},
        }
    if blind_records:
        full = training.fit_logistic(train_matrix, gold, weights, c)
        blind_pred = (full.decision_function(blind_matrix) > 0).astype(int)
        blind_gold = np.array([r.label for r in blind_records])
        blind_source = np.array([r.source for r in blind_records])
        blind_base = baseline_predictions(judge, blind_records)
        for name in blind:
            mask = blind_source == name
            table[f"{name} (blind)"] = {
                "keywords": rates(blind_base["keywords"][mask], blind_gold[mask]),
                "scorecard": rates(blind_base["scorecard"][mask], blind_gold[mask]),
                "learned, trained on all": rates(blind_pred[mask], blind_gold[mask]),
            }

    bands = []
    base_agreement = float(((oof_prob > 0.5) == gold).mean())
    for band in BANDS:
        undecided = np.abs(oof_prob - 0.5) < band
        decided_agreement = float(((oof_prob[~undecided] > 0.5) == gold[~undecided]).mean())
        bands.append({"band": band, "held_back": float(undecided.mean()), "agreement_decided": decided_agreement,
                      "per_source_held_back": {s: float(undecided[source == s].mean()) for s in sources}})
    bins = np.minimum((oof_prob * 10).astype(int), 9)
    ece = float(sum(abs(oof_prob[bins == k].mean() - gold[bins == k].mean()) * (bins == k).mean()
                    for k in range(10) if (bins == k).any()))
    calibration = {"brier": float(((oof_prob - gold) ** 2).mean()), "ece": ece, "platt": (a, b)}
    return {"judge": judge, "groups": groups, "C": c, "balance": balance, "upweight": config["upweight"], "table": table, "bands": bands,
            "base_agreement": base_agreement, "calibration": calibration,
            "sources": {k: len(v) for k, v in sources.items()}}


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN check without math


def markdown(result: dict[str, object]) -> str:
    lines = [f"### `{result['judge']}`: features {', '.join(result['groups'])}; C={result['C']}; class balance {result['balance']}; upweighted {result['upweight'] or 'none'}", ""]  # type: ignore[arg-type]
    lines += ["| source | n (human True) | scorer | agreement | sensitivity | specificity | kappa |",
              "|---|---|---|---|---|---|---|"]
    table: dict[str, dict[str, dict[str, float]]] = result["table"]  # type: ignore[assignment]
    for name, scorers in table.items():
        for scorer, r in scorers.items():
            if not r:
                continue
            lines.append(f"| {name} | {r['n']} ({r['pos']}) | {scorer} | {_fmt(r['agreement'])} | "
                         f"{_fmt(r['sensitivity'])} | {_fmt(r['specificity'])} | {_fmt(r['kappa'])} |")
    lines += ["", f"Uncertain band (grouped-CV probabilities; agreement with no band: {result['base_agreement']:.3f}):", "",
              "| band around 0.5 | held back | agreement on decided | held back per source |", "|---|---|---|---|"]
    for band in result["bands"]:  # type: ignore[attr-defined]
        per = ", ".join(f"{k} {v:.1%}" for k, v in band["per_source_held_back"].items())
        lines.append(f"| ±{band['band']} | {band['held_back']:.1%} | {band['agreement_decided']:.3f} | {per} |")
    cal = result["calibration"]
    lines += ["", f"Calibration of the grouped-CV probabilities: Brier {cal['brier']:.3f}, "  # type: ignore[index]
              f"ECE (10 bins) {cal['ece']:.3f}.", ""]
    return "\n".join(lines)


def write_card(path: Path, text: str) -> None:
    begin, end = "<!-- measured:begin -->", "<!-- measured:end -->"
    card = path.read_text(encoding="utf-8")
    if begin not in card or end not in card:
        raise SystemExit(f"{path} has no {begin} ... {end} section to fill")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{begin}\n{text}\n{end}", card), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judges", default="refusal,harm")
    parser.add_argument("--card", type=Path, default=None, help="fill this judge card's measured section")
    args = parser.parse_args(argv)
    evaluate_one: Callable[[str], dict[str, object]] = evaluate
    text = "\n".join(markdown(evaluate_one(judge)) for judge in args.judges.split(","))
    print(text)
    if args.card:
        write_card(args.card, text)
        print(f"written into {args.card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
