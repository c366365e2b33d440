"""The small typed records every stage passes along (see DESIGN.md, "Contracts")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

ChatMessage = dict[str, str]
"""``{"role": "system" | "user" | "assistant", "content": str}``."""

BenchmarkKind = Literal["reasoning", "harmful", "benign", "privacy"]


@dataclass(frozen=True)
class Sample:
    """One evaluation or training item. ``id`` is stable across runs: caching depends on it."""

    id: str
    prompt: str | list[ChatMessage]
    benchmark: str
    category: str | None = None
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def messages(self) -> list[ChatMessage]:
        if isinstance(self.prompt, str):
            return [{"role": "user", "content": self.prompt}]
        return [dict(m) for m in self.prompt]

    def user_text(self) -> str:
        """The last user turn: what a judge reads as "the request"."""
        if isinstance(self.prompt, str):
            return self.prompt
        users = [m["content"] for m in self.prompt if m.get("role") == "user"]
        return users[-1] if users else ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        return cls(**data)


class DecodingConfig(BaseModel):
    """Decoding settings; part of every generation's cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(512, ge=1, description="Generation stops here and is flagged truncated.")
    temperature: float = Field(0.0, ge=0.0, description="0 means greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int = Field(0, strict=True, description="Sampling seed (ignored when greedy).")
    n: int = Field(
        1, ge=1, strict=True,
        description="Samples per prompt; sample i is its own request with seed + i. n > 1 needs temperature > 0.",
    )

    @model_validator(mode="after")
    def _sampling_needs_temperature(self) -> DecodingConfig:
        if self.n > 1 and self.temperature == 0:
            raise ValueError(
                f"n={self.n} samples per prompt need temperature > 0 (greedy decoding gives the same "
                "answer every time); set temperature, e.g. 0.6, or n: 1"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_single_sample(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # One sample per prompt dumps as it did before ``n`` existed, so every cache key, run id
        # and judge identity made from a decoding stays valid for stores written before it.
        data: dict[str, Any] = handler(self)
        if data.get("n") == 1:
            del data["n"]
        return data

    def for_sample(self, index: int) -> DecodingConfig:
        """The one-sample decoding of sample ``index`` (0-based): seed + index, n = 1."""
        if not 0 <= index < self.n:
            raise ValueError(f"sample index {index} out of range for n={self.n}")
        return self.model_copy(update={"seed": self.seed + index, "n": 1})


ThinkMode = Literal["default", "no-think", "short-think", "extended"]
THINK_MODES: tuple[str, ...] = ("default", "no-think", "short-think", "extended")


class ThinkBudget(BaseModel):
    """How long a reasoning model may think (see ``srlab.generate.think``); part of the cache key.

    ``no-think``: the chat template's switch (``enable_thinking=False``) where it has one, else an
    empty ``<think></think>`` prefilled. ``short-think``: at most ``budget_tokens`` trace tokens,
    then the trace is closed and the answer forced (budget forcing, as in s1). ``extended``: each
    time the model closes its trace, ``wait_text`` replaces the close, ``extend_times`` times
    (``budget_tokens``, when set, still caps the trace). ``default``: the model as it is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ThinkMode = "default"
    budget_tokens: int | None = Field(None, ge=1, strict=True, description="Trace tokens (short-think, extended).")
    extend_times: int | None = Field(None, ge=1, strict=True, description="Times wait_text replaces a close (extended).")
    wait_text: str = Field("Wait", min_length=1, description="Appended when the trace closes early (extended).")

    @model_validator(mode="after")
    def _fields_fit_the_mode(self) -> ThinkBudget:
        if self.mode == "short-think" and self.budget_tokens is None:
            raise ValueError("think mode short-think needs budget_tokens (trace tokens before the answer is forced)")
        if self.mode == "extended" and self.extend_times is None:
            raise ValueError("think mode extended needs extend_times (how often 'Wait' replaces an early close)")
        if self.mode in ("default", "no-think") and self.budget_tokens is not None:
            raise ValueError(f"think mode {self.mode} takes no budget_tokens; use mode short-think")
        if self.mode != "extended" and self.extend_times is not None:
            raise ValueError(f"think mode {self.mode} takes no extend_times; use mode extended")
        return self

    @classmethod
    def parse(cls, text: str) -> ThinkBudget:
        """``no-think``, ``default``, ``short-think:256`` or ``extended:2`` (times; ``extended:2:4096``
        also caps the trace at 4096 tokens)."""
        mode, _, rest = text.strip().partition(":")
        numbers = rest.split(":") if rest else []
        if mode not in THINK_MODES or not all(n.strip().isdigit() for n in numbers):
            raise ValueError(
                f"think budget {text!r}: expected no-think, default, short-think:TOKENS or extended:TIMES[:TOKENS]"
            )
        values = [int(n) for n in numbers]
        if mode == "short-think" and len(values) == 1:
            return cls(mode="short-think", budget_tokens=values[0])
        if mode == "extended" and len(values) in (1, 2):
            return cls(mode="extended", extend_times=values[0], budget_tokens=values[1] if len(values) == 2 else None)
        if mode in ("default", "no-think") and not values:
            return cls(mode=mode)  # type: ignore[arg-type]
        raise ValueError(
            f"think budget {text!r}: expected no-think, default, short-think:TOKENS or extended:TIMES[:TOKENS]"
        )

    @property
    def label(self) -> str:
        """A short name for report rows: ``no-think``, ``short-think-256``, ``extended-2``."""
        if self.mode == "short-think":
            return f"short-think-{self.budget_tokens}"
        if self.mode == "extended":
            cap = f"-{self.budget_tokens}" if self.budget_tokens is not None else ""
            return f"extended-{self.extend_times}{cap}"
        return self.mode


@dataclass(frozen=True)
class GenerationRequest:
    """What a backend is asked to complete: chat messages plus decoding settings.

    ``think`` asks for a think budget (``srlab.generate.think`` drives it). ``prefill``,
    ``stop`` and ``chat_template_kwargs`` are the lower-level controls that driver sends to a
    backend that ``supports_prefill``: the reply continues ``prefill`` (text after the chat
    template's generation prompt), ends at the first ``stop`` string (not included), and the
    template is rendered with ``chat_template_kwargs`` (e.g. ``enable_thinking=False``).
    """

    messages: list[ChatMessage]
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    think: ThinkBudget | None = None
    prefill: str = ""
    stop: tuple[str, ...] = ()
    chat_template_kwargs: dict[str, Any] | None = None

    def key_extras(self) -> dict[str, Any]:
        """What the cache key adds to model, decoding and messages: only the controls that are set,
        so a plain request keeps the key it had before these fields existed."""
        extras: dict[str, Any] = {}
        if self.think is not None:
            extras["think"] = self.think.model_dump(mode="json")
        if self.prefill:
            extras["prefill"] = self.prefill
        if self.stop:
            extras["stop"] = list(self.stop)
        if self.chat_template_kwargs:
            extras["chat_template_kwargs"] = dict(self.chat_template_kwargs)
        return extras

    @property
    def plain(self) -> bool:
        """No prefill, stop strings or template switches: any backend's ``generate`` answers it."""
        return not (self.prefill or self.stop or self.chat_template_kwargs)


@dataclass
class Generation:
    """A backend's output, split into the reasoning trace and the final answer."""

    text: str
    answer: str
    reasoning: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False
    finish_reason: str | None = None
    error: str | None = None  # set (with finish_reason "error") when the request failed for good
    reasoning_tokens: int | None = None  # tokens in the trace, where a think budget counted them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        return cls(**data)


JudgeTarget = Literal["full", "answer", "reasoning"]


@dataclass(frozen=True)
class Verdict:
    """A judge's decision. ``label`` is ``None`` when it cannot decide; ``reason`` then says why.

    The meaning of ``label`` is the judge's own positive class: ``refusal`` -> the response
    refuses; ``gsm8k-answer`` -> the answer is correct; safety classifiers -> the output is unsafe.
    """

    judge: str
    label: bool | None
    reason: str | None = None
    score: float | None = None
    target: JudgeTarget = "full"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label is None and not self.reason:
            raise ValueError(f"judge {self.judge!r} returned an undecided verdict without a reason")

    @property
    def decided(self) -> bool:
        return self.label is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(**data)
