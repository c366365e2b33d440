"""Safety prompts for training: harmful requests from a benchmark, optionally jailbreak-wrapped.

Any registered benchmark of kind ``harmful`` can be a source (HarmBench and Do-Not-Answer are the
studies' choice), read through the benchmark registry's own loader.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from srlab.data.categories import donotanswer_category, harmbench_category, to_harm_category
from srlab.jailbreaks import JailbreakTemplate
from srlab.schema import Sample


@dataclass(frozen=True)
class SafetyPrompt:
    """A harmful request as the model will see it (``prompt``) and as it was asked (``behavior``)."""

    id: str
    prompt: str
    behavior: str
    category: str  # one of the 8 HARM_CATEGORIES
    benchmark: str
    jailbreak: str | None = None
    source_category: str | None = None


def load_harmful_samples(name: str, data_dir: Path | None) -> list[Sample]:
    """A registered benchmark's harmful prompts as Samples (its loader reports missing data)."""
    from srlab.benchmarks import get_benchmark

    return get_benchmark(name).load(data_dir, "test")


def to_safety_prompts(samples: Sequence[Sample]) -> list[SafetyPrompt]:
    out = []
    for sample in samples:
        text = sample.user_text()
        intents = sample.meta.get("intents")
        if isinstance(intents, list):
            category = donotanswer_category(intents, sample.category or "", text)
        elif sample.benchmark == "harmbench":
            category = harmbench_category(sample.category or "", text)
        else:
            category = to_harm_category(sample.category, text)
        out.append(SafetyPrompt(sample.id, text, text, category, sample.benchmark, None, sample.category))
    return out


def wrap_with_jailbreaks(
    prompts: Sequence[SafetyPrompt], templates: Sequence[JailbreakTemplate], fraction: float, seed: int
) -> list[SafetyPrompt]:
    """Wrap a seeded ``fraction`` of the prompts, each in a template drawn with the same seed."""
    if fraction <= 0 or not templates:
        return list(prompts)
    rng = random.Random(seed)
    chosen = set(rng.sample(range(len(prompts)), round(fraction * len(prompts))))
    out = []
    for index, item in enumerate(prompts):
        if index in chosen:
            template = templates[rng.randrange(len(templates))]
            out.append(
                SafetyPrompt(
                    f"{item.id}@{template.name}",
                    template.apply(item.behavior),
                    item.behavior,
                    item.category,
                    item.benchmark,
                    template.name,
                    item.source_category,
                )
            )
        else:
            out.append(item)
    return out
