"""Judge stage: verdicts for stored generations, cached by (generation, sample, judge identity).

A judge's identity (``Judge.cache_version``: its version, target, params and model) is part of
the key, so a judge run with another threshold or another model never reads old verdicts. A
generation that failed (``Generation.error``) is not judged: its verdict is undecided, with
the failure as the reason, and is not stored, so a retried generation gets judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm

from srlab.judge.base import Judge
from srlab.schema import Generation, Sample, Verdict
from srlab.store import Store, sample_key


def judge_cached(
    judge: Judge,
    store: Store,
    items: Sequence[tuple[str, Sample, Generation]],
    *,
    chunk_size: int = 64,
    desc: str | None = None,
) -> list[Verdict]:
    """One verdict per ``(generation_key, sample, generation)``; only missing ones are computed.

    A judge may return several verdicts per item (e.g. answer and reasoning); this stage keeps
    the one whose target the judge was built for, so each (judge, target) has one stored row.
    """
    target = judge.target
    version = judge.cache_version()
    pairs = [(gen_key, sample_key(sample)) for gen_key, sample, _ in items]
    stored = store.get_verdicts(pairs, judge.name, version)
    results: dict[tuple[str, str], Verdict] = {}
    todo: list[tuple[str, str, Sample, Generation]] = []
    queued: set[tuple[str, str]] = set()
    for (gen_key, s_key), (_, sample, generation) in zip(pairs, items, strict=True):
        verdict = stored.get((gen_key, s_key, target))
        if generation.error is not None:
            results[(gen_key, s_key)] = Verdict(
                judge=judge.name, label=None, reason=f"generation failed: {generation.error}", target=target
            )
        elif verdict is not None:
            results[(gen_key, s_key)] = verdict
        elif (gen_key, s_key) not in queued:
            queued.add((gen_key, s_key))
            todo.append((gen_key, s_key, sample, generation))
    if todo:
        with tqdm(total=len(todo), desc=desc or f"judge {judge.name}", unit="item", disable=None) as bar:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                verdicts = judge.judge_many([(s, g) for _, _, s, g in chunk])
                store.put_verdicts([(g, s, version, v) for (g, s, _, _), v in zip(chunk, verdicts, strict=True)])
                for (g, s, _, _), v in zip(chunk, verdicts, strict=True):
                    results[(g, s)] = v
                bar.update(len(chunk))
    return [results[p] for p in pairs]


def judge_items(
    judge: Judge, items: Sequence[tuple[Sample, Generation]], *, chunk_size: int = 32, desc: str | None = None
) -> list[Verdict]:
    """One verdict per ``(sample, generation)``, nothing stored: for items outside any run,
    such as a labels file (LLM judges still cache their model calls)."""
    verdicts: list[Verdict] = []
    with tqdm(total=len(items), desc=desc or f"judge {judge.name}", unit="item", disable=None) as bar:
        for start in range(0, len(items), chunk_size):
            chunk = items[start : start + chunk_size]
            verdicts += judge.judge_many(chunk)
            bar.update(len(chunk))
    return verdicts
