"""Quality filters on generated training responses, and length statistics.

Safety data: the answer must be judged a refusal, the reasoning must not be judged to comply
with the harmful request (a trace that works out the harmful details teaches exactly what the
recipe is meant to remove), and, when a ``safety_judge`` is set, the whole output must not be
judged harmful (study B filters its distilled data with a safety classifier such as Llama
Guard). Benign data: the answer must not be judged a refusal. A judge that cannot decide keeps
nothing by default: an undecided answer is not evidence of a refusal, nor of safety.

Every drop has a stable ``reason`` (counted per source in the manifest) and a ``detail`` (the
judge's own words), so counts stay comparable while the audit trail keeps the specifics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from srlab.data.records import TrainingRecord
from srlab.judge.base import Judge
from srlab.judge.factory import JudgeFactory, calls_model, meaning_of, spec_problems, with_target
from srlab.judge.spec import JudgeSpec
from srlab.models.base import ModelSpec
from srlab.schema import Generation, Sample, Verdict
from srlab.store import Store

# (field, the meanings its judge may have, the role in error messages)
_ROLES = (
    ("answer_judge", ("refusal",), "the answer filter"),
    ("reasoning_judge", ("refusal", "harmful"), "the reasoning filter"),
    ("safety_judge", ("harmful",), "the safety filter (e.g. llama-guard)"),
)


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
    safety_judge: JudgeSpec | None = Field(
        None,
        description="Judge of safety records' whole output (target full unless set); must mean harmful, "
        "e.g. llama-guard. A record it calls harmful is dropped.",
    )
    judge_model: ModelSpec | None = Field(
        None, description="Model behind LLM filter judges that name none, e.g. {name, base_url} of a server."
    )
    keep_undecided: bool = Field(
        False, description="Keep records whose answer or safety judge could not decide."
    )

    @model_validator(mode="after")
    def _judges_fit_their_roles(self) -> FilterConfig:
        """Unknown judges, missing models and judges whose True points the wrong way fail here,
        before any model loads, each naming its field."""
        for field_name, allowed, role in _ROLES:
            spec = getattr(self, field_name)
            if spec is None:
                continue
            problems = spec_problems(spec, field_name, self.judge_model)
            if problems:
                raise ValueError("; ".join(problems))
            meaning = meaning_of(spec)
            if meaning not in allowed:
                raise ValueError(
                    f"{field_name}: {spec.label!r} means {meaning!r}; {role} needs a judge whose True means "
                    f"{' or '.join(allowed)}"
                )
        return self

    def specs(self) -> dict[str, JudgeSpec]:
        """The filter's judges by role, each reading its own part unless the spec says otherwise."""
        out = {"answer": with_target(self.answer_judge, "answer")}
        if self.reasoning_judge is not None:
            out["reasoning"] = with_target(self.reasoning_judge, "reasoning")
        if self.safety_judge is not None:
            out["safety"] = with_target(self.safety_judge, "full")
        return out

    def uses_llm(self) -> bool:
        """Whether any judge of the filter calls a model (its calls are then cached in the store)."""
        return self.enabled and any(calls_model(spec) for spec in self.specs().values())


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


# Stable drop reasons: the manifest counts records per reason.
ANSWER_UNDECIDED = "answer undecided"
NOT_A_REFUSAL = "answer judged not a refusal"
BENIGN_REFUSED = "answer judged a refusal of a benign prompt"
REASONING_COMPLIES = "reasoning judged to comply with the harmful request"
SAFETY_UNDECIDED = "safety judge undecided"
JUDGED_HARMFUL = "output judged harmful"


@dataclass(frozen=True)
class FilterDecision:
    keep: bool
    reason: str | None = None  # one of the stable reasons above when a record is dropped
    detail: str | None = None  # the judge and its own reason, for the audit trail


def _record_to_pair(record: TrainingRecord) -> tuple[Sample, Generation]:
    reasoning, answer = record.reasoning_and_answer()
    sample = Sample(record.id, record.prompt_text(), record.source)
    return sample, Generation(text=record.assistant_text(), answer=answer, reasoning=reasoning)


class ResponseFilter:
    """Judges records in batches and says which to keep and why the others go.

    ``store`` caches LLM judges' calls, so rebuilding a mixture asks the judge model nothing new.
    """

    def __init__(self, config: FilterConfig, want_refusal: bool, store: Store | None = None) -> None:
        self.config = config
        self.want_refusal = want_refusal
        self._factory = JudgeFactory(store=store, judge_model=config.judge_model)
        self._answer: Judge | None = None
        self._reasoning: Judge | None = None
        self._safety: Judge | None = None
        if config.enabled:
            specs = config.specs()  # meanings were checked when the config was validated
            self._answer = self._factory.build(specs["answer"])
            if want_refusal and "reasoning" in specs:
                self._reasoning = self._factory.build(specs["reasoning"])
            if want_refusal and "safety" in specs:
                self._safety = self._factory.build(specs["safety"])

    def decide(self, records: Sequence[TrainingRecord]) -> list[FilterDecision]:
        if self._answer is None:
            return [FilterDecision(True) for _ in records]
        pairs = [_record_to_pair(r) for r in records]
        answer_verdicts = self._answer.judge_many(pairs)
        decisions = []
        for verdict in answer_verdicts:
            if verdict.label is None:
                if not self.config.keep_undecided:
                    decisions.append(FilterDecision(False, ANSWER_UNDECIDED, _detail(verdict)))
                    continue
            elif verdict.label != self.want_refusal:
                reason = NOT_A_REFUSAL if self.want_refusal else BENIGN_REFUSED
                decisions.append(FilterDecision(False, reason, _detail(verdict)))
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
                    decisions[i] = FilterDecision(False, REASONING_COMPLIES, _detail(verdict))
        if self._safety is not None:
            todo = [i for i, d in enumerate(decisions) if d.keep]
            verdicts = self._safety.judge_many([pairs[i] for i in todo])
            for i, verdict in zip(todo, verdicts, strict=True):
                if verdict.label is None and not self.config.keep_undecided:
                    decisions[i] = FilterDecision(False, SAFETY_UNDECIDED, _detail(verdict))
                elif verdict.label:
                    decisions[i] = FilterDecision(False, JUDGED_HARMFUL, _detail(verdict))
        return decisions

    def close(self) -> None:
        self._factory.close()


def _detail(verdict: Verdict) -> str:
    return f"{verdict.judge}: {verdict.reason or f'label {verdict.label}'}"


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
