"""GSM8K accuracy: srlab's scoring against lm-evaluation-harness's, on identical generations.

Usage:
    python scripts/compare_gsm8k_lm_eval.py [--model smollm2-135m] [--limit 64] [--max-new-tokens 256]
        [--batch-size 16] [--store .srlab/compare_gsm8k.sqlite]

srlab generates once (``srlab eval --strategy direct``, greedy) and scores the stored responses
with its default extractor and with ``extractor=strict-match``. The same response texts are then
scored by lm-evaluation-harness's own gsm8k task code, read from the installed package (its
``gsm8k.yaml``: the ``until`` stop strings its HF backend cuts generations at, the
``strict-match`` and ``flexible-extract`` filter pipelines and the ``exact_match`` metric with
its ``regexes_to_ignore``). Needs ``pip install -e ".[compare]"`` (lm-eval 0.4.13).

Both sides use the field's denominator, every sample, so a response with no final answer is
wrong. It exits 1 when srlab's strict-match accuracy differs from lm-eval's.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

import yaml

from srlab.experiment.evaluate import EvalConfig, run_eval
from srlab.models import ModelSpec
from srlab.schema import DecodingConfig
from srlab.store import Store


def lm_eval_task() -> dict:
    """lm-eval's gsm8k task definition, as the installed package ships it."""
    text = (resources.files("lm_eval") / "tasks" / "gsm8k" / "gsm8k.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def lm_eval_scores(texts: list[str], references: list[str]) -> dict[str, list[bool]]:
    """Per response and per filter of lm-eval's gsm8k task: exact_match against the reference."""
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters import build_filter_ensemble

    task = lm_eval_task()
    until = task["generation_kwargs"]["until"]
    # The HF backend cuts a generation at the first stop string; srlab stops at EOS only.
    cut = []
    for text in texts:
        for stop in until:
            text = text.split(stop)[0]
        cut.append(text)
    metric = next(m for m in task["metric_list"] if m["metric"] == "exact_match")
    options = {k: metric[k] for k in ("regexes_to_ignore", "ignore_case", "ignore_punctuation")}
    out: dict[str, list[bool]] = {}
    for entry in task["filter_list"]:
        ensemble = build_filter_ensemble(entry["name"], [(f["function"], {k: v for k, v in f.items() if k != "function"})
                                                         for f in entry["filter"]])
        resps: list = [[t] for t in cut]
        for step in ensemble.filters:
            resps = list(step().apply(resps, [{} for _ in resps]))
        out[entry["name"]] = [
            exact_match_hf_evaluate([str(pred)], [ref], **options)["exact_match"] == 1.0
            for pred, ref in zip(resps, references, strict=True)
        ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--store", default=".srlab/compare_gsm8k.sqlite")
    args = parser.parse_args()

    base = EvalConfig(
        model=ModelSpec(name=args.model, batch_size=args.batch_size), benchmarks=["gsm8k"], strategy="direct",
        limit=args.limit, decoding=DecodingConfig(max_new_tokens=args.max_new_tokens), data_dir=args.data_dir,
        store=args.store,
    )
    strict = base.model_copy(update={"judges": {"reasoning": [{"name": "gsm8k-answer",
                                                                "params": {"extractor": "strict-match"}}]}})
    srlab = {}
    for name, config in (("srlab default extractor", base), ("srlab strict-match", strict)):
        report = run_eval(config)  # the second run reuses every stored generation
        (metric,) = report.rows[0].metrics
        srlab[name] = (metric.successes, metric.n, metric.undecided)

    with Store(args.store) as store:
        items = sorted(store.run_items(base.run_id()), key=lambda i: i.sample_id)
        generations = store.get_generations([i.generation_key for i in items])
        texts = [generations[i.generation_key].text for i in items]
        references = [str(store.get_sample(i.sample_key).reference) for i in items]  # type: ignore[union-attr]
    peer = lm_eval_scores(texts, references)

    print(f"GSM8K, {len(texts)} prompts, {args.model}, greedy, {args.max_new_tokens} new tokens, identical generations")
    print(f"{'scorer':<36} {'correct':>7} {'n':>4} {'accuracy':>9}   undecided (srlab)")
    for name, (correct, n, undecided) in srlab.items():
        print(f"{name:<36} {correct:>7} {n:>4} {100 * correct / n:>8.1f}%   {undecided}")
    for name, hits in peer.items():
        print(f"{'lm-eval ' + name:<36} {sum(hits):>7} {len(hits):>4} {100 * sum(hits) / len(hits):>8.1f}%")
    same = srlab["srlab strict-match"][0] == sum(peer["strict-match"])
    print(f"\nsrlab strict-match == lm-eval strict-match: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
