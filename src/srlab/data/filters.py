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
from srlab.errors import SrlabError
from srlab.judge.base import Judge
from srlab.judge.factory import JudgeFactory, with_target
from srlab.judge.spec import JudgeSpec
from srlab.models.base import ModelSpec
from srlab.schema import Generation, Sample


class FilterConfig(BaseModel):
    """The judges that filter distilled data. ``answer_judge`` must mean refusal (its True keeps
    safety data and drops benign data); ``reasoning_judge`` reads the trace and may mean refusal
    (True = the trace refuses) or harmful (True = the trace works out the harm): its declared
    meaning says which way it points, so no flag has to restate it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    answer_judge: JudgeSpec = Field(
        default_factory=lambda: JudgeSpec(name="refusal"), description="Judge of the answer; must mean refusal."
    )
    reasoning_judge: JudgeSpec | None = Field(
        default_factory=lambda: JudgeSpec(name="refusal"),
        description="Judge of the reasoning trace (target reasoning unless set); None skips it.",
    )
    judge_model: ModelSpec | None = Field(None, description="Model behind LLM filter judges that name none.")
    keep_undecided: bool = Field(False, description="Keep samples whose answer the judge could not decide.")

    def specs(self) -> dict[str, JudgeSpec]:
        """The filter's judges by role, each reading its own part unless the spec says otherwise."""
        out = {"answer": with_target(self.answer_judge, "answer")}
        if self.reasoning_judge is not None:
            out["reasoning"] = with_target(self.reasoning_judge, "reasoning")
        return out


def filter_judge_versions(config: FilterConfig) -> dict[str, str]:
    """The identities (cache versions) of the judges a filter runs: a mixture built by other
    judges, other versions or other weights is stale."""
    if not config.enabled:
        return {}
    factory = JudgeFactory(judge_model=config.judge_model)
    try:
        return {f"{role}:{spec.label}": factory.build(spec).cache_version() for role, spec in config.specs().items()}
    finally:
        factory.close()


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
        self._factory = JudgeFactory(judge_model=config.judge_model)
        self._answer: Judge | None = None
        self._reasoning: Judge | None = None
        if config.enabled:
            specs = config.specs()
            self._answer = self._factory.build(specs["answer"])
            if self._answer.label_meaning != "refusal":
                raise SrlabError(
                    f"filters.answer_judge: {specs['answer'].label!r} means {self._answer.label_meaning!r}; "
                    "the answer filter needs a judge whose True means refusal"
                )
            if want_refusal and "reasoning" in specs:
                self._reasoning = self._factory.build(specs["reasoning"])
                if self._reasoning.label_meaning not in ("refusal", "harmful"):
                    raise SrlabError(
                        f"filters.reasoning_judge: {specs['reasoning'].label!r} means {self._reasoning.label_meaning!r}; "
                        "it must mean refusal or harmful"
                    )

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
                # A refusal judge's False, or a harm judge's True, is a trace that works on the request.
                complies = verdict.label if self._reasoning.label_meaning == "harmful" else not verdict.label
                if complies:
                    decisions[i] = FilterDecision(False, "reasoning judged to comply with the harmful request")
        return decisions

    def close(self) -> None:
        self._factory.close()


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
