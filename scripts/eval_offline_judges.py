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

For a judge that ships a fine-tuned encoder (``train_offline_judges.ENCODER_CONFIG``), the
shipped stack is measured the same way, the encoder refitted per fold and per left-out source and
the stacking weights fitted on training folds only; the n-gram model alone stays in the table.

Agreement is on all items (a baseline's undecided counts as a miss); sensitivity and specificity
are on the human positives and negatives; kappa is Cohen's. The n-gram models take about 3
minutes on 2 cores (``--no-encoder``); each encoder fit about 7, cached under build/judge_encoder/
(``train_offline_judges.py --encoder`` leaves the cross-validation fits there).
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


def stacked_scores(judge: str, records: Sequence[training.Record], blind_records: Sequence[training.Record],
                   ngram_oof: np.ndarray, ngram_loso: np.ndarray, ngram_blind: np.ndarray,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]], loso_splits: Sequence[tuple[np.ndarray, np.ndarray]],
                   weights: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities of the n-gram + encoder stack: ``cv`` (the stacking weights cross-fitted too:
    for each fold, fitted on the other folds' out-of-fold logits), ``loso`` (encoder refitted
    without each source; stacking weights from the other sources' out-of-fold logits) and
    ``blind`` (both models and the stack fitted on everything). Encoder fits are cached."""
    scores = training.EncoderScores(judge, records)
    gold = np.array([r.label for r in records])
    encoded = scores.out_of_sample("cv", folds)
    out = {}
    for name, splits, ngram, enc in (("cv", folds, ngram_oof, encoded),
                                     ("loso", loso_splits, ngram_loso, None)):
        if enc is None:
            enc = scores.out_of_sample(name, splits)
        prob = np.zeros(len(records))
        for train_idx, test_idx in splits:
            a, b, c = training.fit_stack(ngram_oof[train_idx], encoded[train_idx], gold[train_idx], weights[train_idx])
            prob[test_idx] = sigmoid(a * ngram[test_idx] + b * enc[test_idx] + c)
        out[name] = prob
    if blind_records:
        a, b, c = training.fit_stack(ngram_oof, encoded, gold, weights)
        out["blind"] = sigmoid(a * ngram_blind + b * scores.others(blind_records) + c)
    return out


def evaluate(judge: str, with_encoder: bool = True) -> dict[str, object]:
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
    ngram_prob = sigmoid(a * oof + b)
    loso_splits = [(np.flatnonzero(source != name), np.flatnonzero(source == name)) for name in sources]
    loso = np.zeros(n)
    for train_idx, test_idx in loso_splits:
        model = training.fit_logistic(train_matrix[train_idx], gold[train_idx], weights[train_idx], c)
        loso[test_idx] = model.decision_function(train_matrix[test_idx])
    full = training.fit_logistic(train_matrix, gold, weights, c)
    ngram_blind = full.decision_function(blind_matrix) if blind_records else np.zeros(0)
    baselines = baseline_predictions(judge, records)
    # The shipped model: the n-gram model alone, or stacked with the encoder (ENCODER_CONFIG).
    stacked = stacked_scores(judge, records, blind_records, oof, loso, ngram_blind, folds, loso_splits,
                             weights) if judge in training.ENCODER_CONFIG and with_encoder else None
    oof_prob = ngram_prob
    learned = "n-gram (default)" if stacked else "learned"

    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in [*sources, "all"]:
        mask = np.ones(n, dtype=bool) if name == "all" else source == name
        y = gold[mask]
        table[name] = {
            "keywords": rates(baselines["keywords"][mask], y),
            "scorecard": rates(baselines["scorecard"][mask], y),
            f"{learned}, grouped CV": rates((ngram_prob[mask] > 0.5).astype(int), y),
            f"{learned}, leave-one-source-out": rates((loso[mask] > 0).astype(int), y) if name != "all" else {},
        }
        if stacked:
            table[name]["n-gram + encoder (encoder=true), grouped CV"] = rates((stacked["cv"][mask] > 0.5).astype(int), y)
            if name != "all" and "loso" in stacked:
                table[name]["n-gram + encoder, leave-one-source-out"] = rates((stacked["loso"][mask] > 0.5).astype(int), y)
    if blind_records:
        blind_pred = (ngram_blind > 0).astype(int)
        blind_gold = np.array([r.label for r in blind_records])
        blind_source = np.array([r.source for r in blind_records])
        blind_base = baseline_predictions(judge, blind_records)
        for name in blind:
            mask = blind_source == name
            table[f"{name} (blind)"] = {
                "keywords": rates(blind_base["keywords"][mask], blind_gold[mask]),
                "scorecard": rates(blind_base["scorecard"][mask], blind_gold[mask]),
                f"{learned}, trained on all": rates(blind_pred[mask], blind_gold[mask]),
            }
            if stacked:
                table[f"{name} (blind)"]["n-gram + encoder (encoder=true), trained on all"] = rates(
                    (stacked["blind"][mask] > 0.5).astype(int), blind_gold[mask])

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
    calibration = {"brier": float(((oof_prob - gold) ** 2).mean()), "ece": ece}
    if stacked:  # the stack's default band, for its card line
        undecided = np.abs(stacked["cv"] - 0.5) < BANDS[0]
        calibration["stack_band"] = (float(undecided.mean()), float(((stacked["cv"] > 0.5) == gold).mean()),
                                     float(((stacked["cv"][~undecided] > 0.5) == gold[~undecided]).mean()))
        calibration["stack_brier"] = float(((stacked["cv"] - gold) ** 2).mean())
    return {"judge": judge, "encoder": stacked is not None, "groups": groups, "C": c, "balance": balance, "upweight": config["upweight"], "table": table, "bands": bands,
            "base_agreement": base_agreement, "calibration": calibration,
            "sources": {k: len(v) for k, v in sources.items()}}


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN check without math


def markdown(result: dict[str, object]) -> str:
    stack = "; with encoder=true, stacked with the fine-tuned encoder" if result["encoder"] else ""
    lines = [f"### `{result['judge']}`: n-gram features {', '.join(result['groups'])}; C={result['C']}; class balance {result['balance']}; upweighted {result['upweight'] or 'none'}{stack}", ""]  # type: ignore[arg-type]
    lines += ["| source | n (human True) | scorer | agreement | sensitivity | specificity | kappa |",
              "|---|---|---|---|---|---|---|"]
    table: dict[str, dict[str, dict[str, float]]] = result["table"]  # type: ignore[assignment]
    for name, scorers in table.items():
        for scorer, r in scorers.items():
            if not r:
                continue
            lines.append(f"| {name} | {r['n']} ({r['pos']}) | {scorer} | {_fmt(r['agreement'])} | "
                         f"{_fmt(r['sensitivity'])} | {_fmt(r['specificity'])} | {_fmt(r['kappa'])} |")
    kind = " of the default (n-gram) model" if result["encoder"] else ""
    lines += ["", f"Uncertain band (grouped-CV probabilities{kind}; agreement with no band: {result['base_agreement']:.3f}):", "",
              "| band around 0.5 | held back | agreement on decided | held back per source |", "|---|---|---|---|"]
    for band in result["bands"]:  # type: ignore[attr-defined]
        per = ", ".join(f"{k} {v:.1%}" for k, v in band["per_source_held_back"].items())
        lines.append(f"| ±{band['band']} | {band['held_back']:.1%} | {band['agreement_decided']:.3f} | {per} |")
    cal = result["calibration"]
    lines += ["", f"Calibration of the grouped-CV probabilities: Brier {cal['brier']:.3f}, "  # type: ignore[index]
              f"ECE (10 bins) {cal['ece']:.3f}.", ""]
    if "stack_band" in cal:  # type: ignore[operator]
        held, plain, decided = cal["stack_band"]  # type: ignore[index]
        lines += [f"With encoder=true: Brier {cal['stack_brier']:.3f}; the ±{BANDS[0]} band holds back {held:.1%} "  # type: ignore[index]
                  f"and agreement goes from {plain:.3f} to {decided:.3f} on the rest.", ""]
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
    parser.add_argument("--no-encoder", action="store_true", help="the n-gram models alone (no torch; minutes, not hours)")
    args = parser.parse_args(argv)
    evaluate_one: Callable[[str, bool], dict[str, object]] = evaluate
    text = "\n".join(markdown(evaluate_one(judge, not args.no_encoder)) for judge in args.judges.split(","))
    print(text)
    if args.card:
        write_card(args.card, text)
        print(f"written into {args.card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
