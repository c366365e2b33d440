"""Build a training mixture: sources -> responses -> filters -> hygiene -> JSONL + manifest.

Order matters for cost: every source's pool of prompts is loaded and its size checked first (an
impossible size fails before any model runs), prompts are decontaminated and de-duplicated before
responses are generated, and teacher / base-model answers are cached in the store chunk by chunk,
so a killed build resumes without regenerating (and a rebuild asks no model anything new; LLM
filter judges are cached in the same store).

Distillation: the teacher receives the recipe's instruction around the request; the training
record keeps the request alone. A teacher output that failed, was cut at ``max_new_tokens``, has
no answer, or (for a reasoning recipe) no trace is dropped; every drop is counted per source and
reason in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from srlab.data.benign import BenignPrompt, load_benign_prompts
from srlab.data.decontam import DecontamConfig, EvalIndex, normalize
from srlab.data.filters import (
    ResponseFilter,
    filter_judge_versions,
    length_stats,
    tokenizer_counter,
    whitespace_tokens,
)
from srlab.data.manifest import Manifest, SourceReport
from srlab.data.mixture_spec import (
    BenignSource,
    FileSource,
    GSM8KSource,
    MixtureSpec,
    ReasoningGymSource,
    SafetySource,
    load_mixture_spec,
)
from srlab.data.reasoning_sources import FIELD_PRESETS, load_gsm8k, load_mapped, load_reasoning_gym
from srlab.data.recipes import get_recipe
from srlab.data.records import TrainingRecord, make_record
from srlab.data.safety_prompts import (
    SafetyPrompt,
    load_harmful_samples,
    to_safety_prompts,
    wrap_with_jailbreaks,
)
from srlab.errors import MissingDataError, SrlabError, UnknownNameError
from srlab.generate.runner import describe_failures
from srlab.paths import data_dir as resolve_data_dir
from srlab.schema import DecodingConfig, Generation, GenerationRequest
from srlab.store import Store

log = logging.getLogger(__name__)

MIXTURE_FILE = "mixture.jsonl"
MANIFEST_FILE = "manifest.json"

# Stable reasons a generated response is dropped before the filters (counted in the manifest).
GENERATION_FAILED = "generation failed"
TRUNCATED = "truncated at max_new_tokens"
EMPTY_ANSWER = "empty answer"
NO_REASONING = "no reasoning trace"


@dataclass(frozen=True)
class Dropped:
    """A prompt whose response cannot become a record: a stable ``reason`` and its ``detail``."""

    reason: str
    detail: str | None = None


Responder = Callable[[Sequence[Any]], list[TrainingRecord | Dropped]]


class MixtureSizeError(SrlabError):
    """A source cannot supply the number of records the spec asks for."""


@dataclass
class _Pool:
    """What one source can offer before responses exist: candidates plus how to answer them."""

    source: Any
    items: list[Any]  # TrainingRecord (complete) or SafetyPrompt / BenignPrompt (to answer)
    origin: str
    respond: Responder | None = None  # None: items are complete records
    kind: str = "reasoning"
    recipe: str | None = None
    excluded_benchmarks: dict[str, str] = field(default_factory=dict)


def build_mixture(
    spec_path_or_obj: str | Path | dict[str, Any] | MixtureSpec,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
) -> Manifest:
    """Build the mixture a spec describes into ``out_dir`` (``mixture.jsonl`` + ``manifest.json``)."""
    spec = load_mixture_spec(spec_path_or_obj)
    data = resolve_data_dir(data_dir)
    sizes = spec.sizes()
    out = Path(out_dir)

    pools = [_load_pool(source, spec, data) for source in spec.sources]
    for pool in pools:  # fail on impossible sizes before anything expensive runs
        wanted = sizes[pool.source.name]
        if wanted > len(pool.items):
            raise MixtureSizeError(
                f"sources.{spec.sources.index(pool.source)}.size: source {pool.source.name!r} asks for "
                f"{wanted} records but holds {len(pool.items)} ({pool.origin})"
            )

    excluded = {name: reason for pool in pools for name, reason in pool.excluded_benchmarks.items()}
    index, checked, missing = _eval_index(spec.decontamination, data, excluded)
    counter, counter_name = (
        tokenizer_counter(spec.length_tokenizer) if spec.length_tokenizer else (whitespace_tokens, "whitespace words")
    )

    seen: dict[str, str] = {}  # normalised prompt -> record id, for de-duplication across sources
    removed: list[dict[str, Any]] = []
    filtered: list[dict[str, Any]] = []
    reports: list[SourceReport] = []
    all_records: list[TrainingRecord] = []
    for position, pool in enumerate(pools):
        records = _select(pool, sizes[pool.source.name], spec, index, seen, removed, filtered)
        dropped = Counter(r["reason"] for r in filtered if r["source"] == pool.source.name)
        if len(records) < sizes[pool.source.name]:
            why = describe_failures(dropped, limit=len(dropped)) or "none"
            raise MixtureSizeError(
                f"sources.{position}.size: source {pool.source.name!r} asks for {sizes[pool.source.name]} records "
                f"but only {len(records)} of {len(pool.items)} survived de-duplication, decontamination and "
                f"filters (dropped by filters: {why}); lower the size or add prompts"
            )
        reports.append(
            SourceReport(
                name=pool.source.name,
                type=pool.source.type,
                kind=pool.kind,
                recipe=pool.recipe,
                origin=pool.origin,
                pool=len(pool.items),
                requested=sizes[pool.source.name],
                selected=len(records),
                removed=sum(1 for r in removed if r["source"] == pool.source.name),
                filtered=sum(dropped.values()),
                sha256=_records_hash(records),
                length=length_stats(records, counter),
                dropped=dict(sorted(dropped.items())),
            )
        )
        all_records.extend(records)

    random.Random(spec.seed).shuffle(all_records)
    out.mkdir(parents=True, exist_ok=True)
    mixture_path = out / MIXTURE_FILE
    _write_atomic(mixture_path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in all_records))
    by_recipe: dict[str, list[TrainingRecord]] = {}
    for record in all_records:
        by_recipe.setdefault(record.recipe or record.kind, []).append(record)
    manifest = Manifest.create(
        spec=spec,
        mixture_path=mixture_path,
        filter_judges=filter_judge_versions(spec.filters),
        mixture_sha256=hashlib.sha256(mixture_path.read_bytes()).hexdigest(),
        sources=reports,
        counts={kind: sum(1 for r in all_records if r.kind == kind) for kind in ("reasoning", "safety", "benign")}
        | {"total": len(all_records)},
        decontamination={
            "ngram": spec.decontamination.ngram,
            "threshold": spec.decontamination.threshold,
            "boilerplate_fraction": spec.decontamination.boilerplate_fraction,
            "benchmarks_checked": checked,
            "benchmarks_excluded": excluded,
            "benchmarks_missing": missing,
            "removed": removed,
        },
        filtered=filtered,
        length_stats={name: length_stats(records, counter) for name, records in sorted(by_recipe.items())},
        token_counter=counter_name,
    )
    _write_atomic(out / MANIFEST_FILE, json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
    log.info("wrote %d records to %s", len(all_records), mixture_path)
    return manifest


# -- pools -----------------------------------------------------------------------------------
def _load_pool(source: Any, spec: MixtureSpec, data: Path | None) -> _Pool:
    if isinstance(source, GSM8KSource):
        records = load_gsm8k(data, source.split, source.name)
        return _Pool(source, records, f"gsm8k:{source.split}")
    if isinstance(source, ReasoningGymSource):
        pool_size = source.pool or 4 * (source.size or 0) or 1000
        records = load_reasoning_gym(source.task, source.config, pool_size, source.seed, source.name)
        return _Pool(source, records, f"reasoning-gym:{source.task} seed={source.seed} n={pool_size}")
    if isinstance(source, FileSource):
        mapping = dict(FIELD_PRESETS.get(source.preset, {})) if source.preset else {}
        if source.preset and source.preset not in FIELD_PRESETS:
            raise UnknownNameError("field preset", source.preset, FIELD_PRESETS)
        mapping.update(source.fields)
        if not mapping:
            raise SrlabError(f"source {source.name!r}: give a 'preset' or 'fields' mapping")
        records, origin = load_mapped(source.dataset, source.split, source.revision, mapping, data, source.name)
        for record in records:
            record.kind = source.kind
        return _Pool(source, records, origin, kind=source.kind)
    if isinstance(source, SafetySource):
        return _safety_pool(source, spec, data)
    if isinstance(source, BenignSource):
        return _benign_pool(source, spec)
    raise AssertionError(f"unhandled source type {type(source).__name__}")


def _safety_pool(source: SafetySource, spec: MixtureSpec, data: Path | None) -> _Pool:
    from srlab.jailbreaks import load_jailbreak_templates

    recipe = get_recipe(source.recipe)  # the spec checked that an offline source's recipe has a generator
    prompts: list[SafetyPrompt] = []
    for name in source.prompts:
        prompts.extend(to_safety_prompts(load_harmful_samples(name, data)))
    templates = load_jailbreak_templates(source.jailbreak_templates) if source.jailbreak_fraction else []
    prompts = wrap_with_jailbreaks(prompts, templates, source.jailbreak_fraction, spec.seed)
    # Training on a benchmark's prompts rules it out as an evaluation set: say so in the manifest.
    excluded = {name: f"training prompts of source {source.name!r}: do not evaluate on it" for name in source.prompts}

    def respond(items: Sequence[SafetyPrompt]) -> list[TrainingRecord | Dropped]:
        answers: list[tuple[str | None, str] | Dropped]
        if source.generator == "offline":
            answers = [recipe.generate_offline(item, spec.seed) for item in items]
        else:
            answers = _distil(source, spec, [recipe.teacher_prompt(item.prompt) for item in items],
                              need_reasoning=recipe.think == "reasoning" and source.require_reasoning)
        # The record's prompt is the request alone: the recipe's instruction went to the teacher only.
        return [
            answer if isinstance(answer, Dropped) else make_record(
                item.id, item.prompt, answer[0], answer[1], source=source.name, kind="safety", recipe=recipe.name,
                meta={"category": item.category, "benchmark": item.benchmark, "jailbreak": item.jailbreak},
            )
            for item, answer in zip(items, answers, strict=True)
        ]

    origin = f"{'+'.join(source.prompts)} jailbreak_fraction={source.jailbreak_fraction} {source.generator}"
    return _Pool(source, prompts, origin, respond, "safety", recipe.name, excluded)


def _distil(source: SafetySource, spec: MixtureSpec, prompts: list[str], *, need_reasoning: bool
            ) -> list[tuple[str | None, str] | Dropped]:
    """Teacher answers to the recipe's teacher prompts, cached in the store."""
    assert source.teacher is not None
    generations = _generate_cached(source.teacher, spec.store, prompts, source.decoding, f"distil {source.name}")
    return [_usable(g, need_reasoning) for g in generations]


def _usable(generation: Generation, need_reasoning: bool) -> tuple[str | None, str] | Dropped:
    """``(reasoning, answer)`` of a finished generation, or why it cannot be trained on."""
    if generation.error is not None:
        return Dropped(GENERATION_FAILED, generation.error)
    if generation.truncated:  # cut mid-thought or mid-answer: no finished answer to learn from
        return Dropped(TRUNCATED, f"finish_reason {generation.finish_reason}, {generation.completion_tokens} tokens")
    if not generation.answer.strip():
        return Dropped(EMPTY_ANSWER)
    if need_reasoning and not (generation.reasoning or "").strip():
        return Dropped(NO_REASONING, "the recipe's think block holds reasoning; set require_reasoning: false "
                       "to keep a non-reasoning teacher's answers")
    return generation.reasoning, generation.answer


def _generate_cached(model: Any, store_path: str, prompts: list[str], decoding: DecodingConfig, desc: str
                     ) -> list[Generation]:
    from srlab.generate.runner import generate_cached
    from srlab.models import load_backend

    requests = [GenerationRequest([{"role": "user", "content": p}], decoding) for p in prompts]
    backend = load_backend(model)
    try:
        with Store(store_path) as store:
            results = generate_cached(backend, store, requests, desc=desc)
    finally:
        backend.close()
    return [g for _, g in results]


def _benign_pool(source: BenignSource, spec: MixtureSpec) -> _Pool:
    prompts = load_benign_prompts(source.prompts)
    if source.answers == "shipped":
        lacking = [p.id for p in prompts if not p.answer]
        if lacking:
            raise SrlabError(f"source {source.name!r}: answers: shipped, but prompts lack an 'answer': {lacking[:5]}")

    def respond(items: Sequence[BenignPrompt]) -> list[TrainingRecord | Dropped]:
        answers: list[tuple[str | None, str] | Dropped]
        if source.answers == "shipped":
            answers = [(None, item.answer or "") for item in items]
        else:
            model = source.model or "smollm2-135m"
            generations = _generate_cached(model, spec.store, [i.prompt for i in items], source.decoding,
                                           f"benign answers {source.name}")
            answers = [_usable(g, need_reasoning=False) for g in generations]
        return [
            answer if isinstance(answer, Dropped) else make_record(
                item.id, item.prompt, answer[0], answer[1], source=source.name, kind="benign", recipe="benign"
            )
            for item, answer in zip(items, answers, strict=True)
        ]

    return _Pool(source, prompts, source.prompts or "shipped benign prompts", respond, "benign", "benign")


# -- selection -------------------------------------------------------------------------------
def _prompt_of(item: Any) -> tuple[str, str]:
    if isinstance(item, TrainingRecord):
        return item.id, item.prompt_text()
    return item.id, item.prompt


def _select(
    pool: _Pool,
    size: int,
    spec: MixtureSpec,
    index: EvalIndex,
    seen: dict[str, str],
    removed: list[dict[str, Any]],
    filtered: list[dict[str, Any]],
) -> list[TrainingRecord]:
    """Take ``size`` clean records from a pool in seeded order, answering prompts in chunks."""
    name = pool.source.name
    order = list(pool.items)
    random.Random(f"{spec.seed}:{name}").shuffle(order)
    chosen: list[TrainingRecord] = []
    position = 0
    with _response_filter(pool, spec) as response_filter, \
            tqdm(total=size, desc=f"source {name}", unit="record", disable=None) as bar:
        while len(chosen) < size and position < len(order):
            # Ask for a little more than is missing: some answers will be filtered out.
            want = size - len(chosen)
            chunk: list[Any] = []
            while position < len(order) and len(chunk) < max(8, want + want // 4):
                item = order[position]
                position += 1
                item_id, prompt = _prompt_of(item)
                key = " ".join(normalize(prompt))
                if key in seen:
                    removed.append({"source": name, "id": item_id, "reason": "duplicate within mixture",
                                    "duplicate_of": seen[key], "prompt": prompt[:300]})
                    continue
                match = index.match(prompt)
                if match is not None:
                    removed.append(match.to_dict() | {"source": name, "id": item_id, "prompt": prompt[:300],
                                                      "reason": f"{match.reason} of evaluation prompt"})
                    continue
                seen[key] = item_id
                chunk.append(item)
            if not chunk:
                break
            records = pool.respond(chunk) if pool.respond else list(chunk)
            candidates = []
            for item, record in zip(chunk, records, strict=True):
                if isinstance(record, Dropped):
                    filtered.append({"source": name, "id": _prompt_of(item)[0], "reason": record.reason,
                                     "detail": record.detail})
                else:
                    candidates.append(record)
            decisions = response_filter.decide(candidates) if response_filter else []
            for i, record in enumerate(candidates):
                if decisions and not decisions[i].keep:
                    filtered.append({"source": name, "id": record.id, "reason": decisions[i].reason,
                                     "detail": decisions[i].detail})
                    continue
                if len(chosen) < size:
                    chosen.append(record)
                    bar.update(1)
    return chosen


@contextmanager
def _response_filter(pool: _Pool, spec: MixtureSpec) -> Iterator[ResponseFilter | None]:
    """The filter of a pool's generated responses (None for complete records), closed after use;
    its LLM judges cache their calls in the mixture's store."""
    if pool.respond is None:
        yield None
        return
    store = Store(spec.store) if spec.filters.uses_llm() else None
    response_filter = ResponseFilter(spec.filters, want_refusal=pool.kind == "safety", store=store)
    try:
        yield response_filter
    finally:
        response_filter.close()
        if store is not None:
            store.close()


def _eval_index(
    config: DecontamConfig, data: Path | None, excluded: dict[str, str]
) -> tuple[EvalIndex, dict[str, int], dict[str, str]]:
    from srlab.benchmarks import BENCHMARKS, get_benchmark

    index = EvalIndex(config.ngram, config.threshold, config.boilerplate_fraction, config.min_boilerplate_prompts)
    names = config.benchmarks if config.benchmarks is not None else BENCHMARKS.names()
    for name in config.exclude:
        excluded.setdefault(name, "excluded in the spec")
    checked: dict[str, int] = {}
    missing: dict[str, str] = {}
    for name in tqdm(names, desc="decontamination index", unit="benchmark", disable=None):
        if name in excluded:
            continue
        try:
            samples = get_benchmark(name).load(data, "test")
        except MissingDataError as exc:
            if config.missing_is_error():
                raise MissingDataError(
                    f"decontamination needs benchmark {name!r}: {exc}; provide its data, or add it to "
                    "decontamination.exclude, or set decontamination.on_missing: warn"
                ) from None
            log.warning("decontamination: skipping %s: %s", name, exc)
            missing[name] = str(exc)
            continue
        index.add(name, ((s.id, s.user_text()) for s in samples))
        checked[name] = len(samples)
    return index, checked, missing


def _records_hash(records: Sequence[TrainingRecord]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    from srlab.fileio import write_text_atomic

    write_text_atomic(path, text)


def read_mixture(path: str | Path) -> list[TrainingRecord]:
    """Records of a mixture JSONL (what ``srlab train`` reads)."""
    from srlab.benchmarks.files import read_jsonl

    return [TrainingRecord.from_dict(row) for row in read_jsonl(path, required=("id", "messages"))]
