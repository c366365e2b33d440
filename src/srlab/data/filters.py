"""Quality filters on generated training responses, and length statistics.

Safety data: the answer must be judged a refusal, and the reasoning must not be judged to comply
with the harmful request (a trace that works out the harmful details teaches exactly what the
recipe is meant to remove). Benign data: the answer must not be judged a refusal. A judge that
cannot decide keeps nothing by default: an undecided answer is not evidence of a refusal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from srlab.data.records import TrainingRecord
from srlab.judge import get_judge
from srlab.judge.base import Judge
from srlab.schema import Generation, Sample


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    answer_judge: str = Field("refusal", description="Judge whose positive label means 'refusal' on the answer.")
    reasoning_judge: str | None = Field(
        "refusal", description="Judge run on the reasoning trace; None skips it. Any registered judge name."
    )
    reasoning_judge_positive_is_safe: bool = Field(
        True,
        description="True for 'refusal'-style judges (positive = refuses); False for safety classifiers "
        "(positive = unsafe, e.g. Llama Guard).",
    )
    keep_undecided: bool = Field(False, description="Keep samples whose answer the judge could not decide.")


def filter_judge_versions(config: FilterConfig) -> dict[str, str]:
    """The versions of the judges a filter runs: a mixture built with other versions is stale."""
    if not config.enabled:
        return {}
    from srlab.judge import JUDGES

    names = {config.answer_judge, *([config.reasoning_judge] if config.reasoning_judge else [])}
    return {name: str(JUDGES.get(name).version) for name in sorted(names)}


@dataclass(frozen=True)
class FilterDecision:
    keep: bool
    reason: str | None = None


def _record_to_pair(record: TrainingRecord) -> tuple[Sample, Generation]:
    reasoning, answer = record.reasoning_and_answer()
    sample = Sample(record.id, record.prompt_text(), record.source)
    return sample, Generation(text=record.assistant_text(), answer=answer, reasoning=reasoning)


class ResponseFilter:
    """Judges records in batches and says which to keep and why the others go."""

    def __init__(self, config: FilterConfig, want_refusal: bool) -> None:
        self.config = config
        self.want_refusal = want_refusal
        self._answer: Judge | None = None
        self._reasoning: Judge | None = None
        if config.enabled:
            self._answer = get_judge(config.answer_judge)
            if want_refusal and config.reasoning_judge:
                kwargs = {"target": "reasoning"} if config.reasoning_judge == "refusal" else {}
                self._reasoning = get_judge(config.reasoning_judge, **kwargs)

    def decide(self, records: Sequence[TrainingRecord]) -> list[FilterDecision]:
        if self._answer is None:
            return [FilterDecision(True) for _ in records]
        pairs = [_record_to_pair(r) for r in records]
        answer_verdicts = self._answer.judge_many(pairs)
        decisions = []
        for verdict in answer_verdicts:
            if verdict.label is None:
                if not self.config.keep_undecided:
                    decisions.append(FilterDecision(False, f"answer undecided: {verdict.reason}"))
                    continue
            elif verdict.label != self.want_refusal:
                what = "not a refusal" if self.want_refusal else "a refusal of a benign prompt"
                decisions.append(FilterDecision(False, f"answer judged {what}"))
                continue
            decisions.append(FilterDecision(True))
        if self._reasoning is not None:
            todo = [i for i, d in enumerate(decisions) if d.keep and pairs[i][1].reasoning]
            verdicts = self._reasoning.judge_many([pairs[i] for i in todo])
            for i, verdict in zip(todo, verdicts, strict=True):
                if verdict.label is None:
                    continue  # "must not say compliance": undecided is not compliance
                complies = (not verdict.label) if self.config.reasoning_judge_positive_is_safe else verdict.label
                if complies:
                    decisions[i] = FilterDecision(False, "reasoning judged to comply with the harmful request")
        return decisions


# -- length statistics -----------------------------------------------------------------------
TokenCounter = Callable[[str], int]


def whitespace_tokens(text: str) -> int:
    return len(text.split())


def tokenizer_counter(name_or_path: str) -> tuple[TokenCounter, str]:
    """A token counter from a tokenizer (``smollm2-135m``, a folder or a hub id)."""
    from transformers import AutoTokenizer

    from srlab.models import smollm2

    if name_or_path == smollm2.ALIAS:
        if smollm2.is_converted():
            tokenizer = AutoTokenizer.from_pretrained(str(smollm2.hf_dir()))
        else:
            gguf = smollm2.gguf_path()
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    else:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), name_or_path


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without numpy."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def length_stats(records: Sequence[TrainingRecord], count: TokenCounter) -> dict[str, float | int]:
    """Mean and 90th percentile tokens of the assistant turn, and of its reasoning alone."""
    total = [count(r.assistant_text()) for r in records]
    reasoning = [count(r.reasoning_and_answer()[0] or "") for r in records]
    return {
        "n": len(records),
        "mean_tokens": round(sum(total) / len(total), 2) if total else 0.0,
        "p90_tokens": round(percentile(total, 90), 2),
        "mean_reasoning_tokens": round(sum(reasoning) / len(reasoning), 2) if reasoning else 0.0,
        "p90_reasoning_tokens": round(percentile(reasoning, 90), 2),
    }
