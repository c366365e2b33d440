"""The small typed records every stage passes along (see DESIGN.md, "Contracts")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ChatMessage = dict[str, str]
"""``{"role": "system" | "user" | "assistant", "content": str}``."""

BenchmarkKind = Literal["reasoning", "harmful", "benign"]


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


@dataclass(frozen=True)
class GenerationRequest:
    """What a backend is asked to complete: chat messages plus decoding settings."""

    messages: list[ChatMessage]
    decoding: DecodingConfig = field(default_factory=DecodingConfig)


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
