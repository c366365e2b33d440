"""One evaluation cell: a system's responses to one benchmark's (attacked) samples, judged.

``srlab run`` and ``srlab eval`` both evaluate through ``evaluate_cell``: generate what the
store lacks, judge what it lacks, and record the cell's run items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from srlab.benchmarks import Benchmark, get_benchmark, select_subset
from srlab.generate.runner import failed, generate_cached, per_sample
from srlab.generate.strategies import STRATEGIES, PromptStrategy, StrategyConfig
from srlab.generate.think import effective
from srlab.judge.base import Judge
from srlab.judge.runner import judge_cached
from srlab.models import ModelBackend
from srlab.schema import DecodingConfig, GenerationRequest, Sample
from srlab.store import RunItem, Store, sample_key

FEWSHOT_FALLBACK = "gsm8k"  # worked examples for benchmarks without a train split of their own


def load_samples(benchmark: Benchmark, data_dir: Path | None, limit: int | None, seed: int) -> list[Sample]:
    return select_subset(benchmark.load(data_dir, split="test"), limit, seed)


def build_strategy(name: str, config: StrategyConfig, benchmark: Benchmark, data_dir: Path | None) -> PromptStrategy:
    strategy_cls = STRATEGIES.get(name)
    pool: list[Sample] = []
    if strategy_cls.needs_fewshot and config.k > 0:
        source = benchmark if benchmark.has_train_split else get_benchmark(FEWSHOT_FALLBACK)
        pool = source.load(data_dir, split="train")
    return strategy_cls(config, fewshot_pool=pool)


def evaluate_cell(
    backend: ModelBackend,
    store: Store,
    benchmark: Benchmark,
    samples: Sequence[Sample],
    strategy: PromptStrategy,
    decoding: DecodingConfig,
    judges: Sequence[Judge],
    run_item: tuple[str, str, str, str],
    *,
    keep_failed: bool = False,
) -> Counter[str]:
    """Generate (cached), judge (cached) and record one cell; returns its failed requests per reason.

    ``run_item`` is (run id, system label, strategy label, attack label) for the run's items.
    """
    store.put_samples(samples)
    # The strategy's think budget rides on each request (and so on its cache key); "default" is none.
    think = effective(strategy.config.think)
    requests = [GenerationRequest(messages=strategy.render(s), decoding=decoding, think=think) for s in samples]
    # decoding.n samples per prompt: a request each (sample i seeded seed + i), cached apart.
    drawn = [(s, i, r) for s, request in zip(samples, requests, strict=True) for i, r in enumerate(per_sample(request))]
    generated = generate_cached(
        backend, store, [r for _, _, r in drawn], desc=f"{benchmark.name}: generate", keep_failed=keep_failed
    )
    triples = [(key, s, g) for (s, _, _), (key, g) in zip(drawn, generated, strict=True)]
    for judge in judges:
        judge_cached(judge, store, triples, desc=f"{benchmark.name}: {judge.name}")
    run_id, label, strategy_label, attack = run_item
    store.put_run_items([
        RunItem(run_id, benchmark.name, s.id, sample_key(s), label, strategy_label, attack, key, index)
        for (s, index, _), (key, _) in zip(drawn, generated, strict=True)
    ])
    return failed(generated)
