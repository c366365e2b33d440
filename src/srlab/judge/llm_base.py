"""The shared machinery of judges that ask a language model (through any backend).

A subclass says how to build the judge's chat messages and how to turn its reply into a
verdict; this base picks the text to judge (whole output, reasoning alone or answer alone),
batches every call of ``judge_many`` into one backend call, caches calls in the store when one
is given, and turns unreadable replies into undecided verdicts that carry the reason and the
raw reply.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from srlab.errors import SrlabError, UnknownNameError
from srlab.judge.base import Judge
from srlab.models.base import ModelBackend, ModelSpec
from srlab.models.cached import CachedBackend, resolve_backend
from srlab.schema import (
    ChatMessage,
    DecodingConfig,
    Generation,
    GenerationRequest,
    JudgeTarget,
    Sample,
    Verdict,
)
from srlab.store import Store

TARGETS: tuple[JudgeTarget, ...] = ("full", "answer", "reasoning")
RAW_LIMIT = 2000  # characters of the judge's reply kept in a verdict, for audit


def text_to_judge(generation: Generation, target: JudgeTarget) -> tuple[str | None, str | None]:
    """The part of ``generation`` a judge reads, or ``(None, reason)`` when that part is empty."""
    if target == "reasoning":
        text = (generation.reasoning or "").strip()
        return (text, None) if text else (None, "no reasoning trace")
    if target == "answer":
        text = generation.answer.strip()
        if text:
            return text, None
        return None, "truncated before answer" if generation.truncated else "empty answer"
    text = generation.text.strip()
    return (text, None) if text else (None, "empty response")


def behavior_of(sample: Sample) -> str:
    """The request as the benchmark wrote it: an attacked sample keeps its original in ``meta``.

    Rubric judges (StrongREJECT, HarmBench) grade against the behavior, not the jailbreak
    wrapper around it, as their papers do.
    """
    original = sample.meta.get("original_prompt")
    return original if isinstance(original, str) and original.strip() else sample.user_text()


class LLMJudge(Judge):
    """A judge backed by a model. ``backend`` may be a backend, a ModelSpec or a model name.

    ``label_meaning`` names the positive class (``"harmful"``, ``"refusal"``) so metrics know
    what a verdict counts towards without knowing each judge.
    """

    default_model: ClassVar[str | None] = None  # the judge's own model, when it has one (Llama Guard)
    label_meaning: ClassVar[str] = "harmful"
    max_new_tokens: ClassVar[int] = 64

    def __init__(
        self,
        backend: ModelBackend | ModelSpec | str | None = None,
        *,
        target: JudgeTarget | str = "full",
        store: Store | None = None,
        decoding: DecodingConfig | None = None,
    ) -> None:
        if target not in TARGETS:
            raise UnknownNameError(f"{self.name} judge target", str(target), TARGETS)
        self.target: JudgeTarget = target  # type: ignore[assignment]
        self._backend_arg = backend if backend is not None else self.default_model
        if self._backend_arg is None:
            raise SrlabError(
                f"judge {self.name!r} needs a judge model: pass backend= (a backend, ModelSpec or model name; "
                "on the command line --judge-model, with --base-url for an OpenAI-compatible server)"
            )
        self._backend: ModelBackend | None = None
        self.store = store
        # Greedy: a judge must give the same verdict for the same response.
        self.decoding = decoding or DecodingConfig(max_new_tokens=self.max_new_tokens, temperature=0.0)

    def model_identity(self) -> dict[str, Any]:
        """The judge model as it determines verdicts: name, revision, server and decoding, never
        operational settings (batch size, timeouts) or credentials."""
        arg = self._backend_arg
        if isinstance(arg, ModelBackend):
            model: dict[str, Any] = dict(arg.identity())
        elif isinstance(arg, ModelSpec):
            model = {"name": arg.name, "revision": arg.revision, "base_url": arg.base_url,
                     "backend": arg.resolved_backend()}
        else:
            model = {"name": str(arg)}
        return {**model, "decoding": self.decoding.model_dump(mode="json")}

    @property
    def backend(self) -> ModelBackend:
        """Built on first use, so naming a judge never loads a model it will not call."""
        if self._backend is None:
            assert self._backend_arg is not None  # checked in __init__
            self._backend = CachedBackend(resolve_backend(self._backend_arg), self.store, f"judge/{self.name}")
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def build(self, sample: Sample, generation: Generation) -> list[ChatMessage] | str:
        """The judge's messages for one item, or the reason it cannot be judged."""
        text, why_not = text_to_judge(generation, self.target)
        if text is None:
            return why_not or "nothing to judge"
        return self.messages(sample, text)

    @abstractmethod
    def messages(self, sample: Sample, text: str) -> list[ChatMessage]:
        """The judge's chat input for a request (``sample``) and the text under judgement."""

    @abstractmethod
    def read_output(self, output: str) -> Verdict:
        """A verdict from the judge's reply; unparseable -> ``label=None`` with the parse reason."""

    def judge(self, sample: Sample, generation: Generation) -> Verdict:
        return self.judge_many([(sample, generation)])[0]

    def judge_many(self, pairs: Sequence[tuple[Sample, Generation]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(pairs)
        requests: list[GenerationRequest] = []
        positions: list[int] = []
        for index, (sample, generation) in enumerate(pairs):
            built = self.build(sample, generation)
            if isinstance(built, str):
                verdicts[index] = self.undecided(built)
                continue
            requests.append(GenerationRequest(messages=built, decoding=self.decoding))
            positions.append(index)
        if requests:
            outputs = self.backend.generate(requests)
            for index, output in zip(positions, outputs, strict=True):
                verdicts[index] = self._finish(output)
        return [v for v in verdicts if v is not None]

    def _finish(self, output: Generation) -> Verdict:
        if output.error is not None:  # the judge's own call failed for good: not a parse failure
            return self.undecided(f"judge call failed: {output.error}")
        # Judges are not reasoning models as a rule; when one is, its verdict is in the answer.
        reply = output.answer if output.answer.strip() else output.text
        verdict = self.read_output(reply)
        details = {**verdict.details, "raw": reply[:RAW_LIMIT]}
        reason = verdict.reason
        if verdict.label is None and output.truncated:
            reason = f"{reason} (judge output hit the token limit)"
        return Verdict(
            judge=self.name,
            label=verdict.label,
            reason=reason,
            score=verdict.score,
            target=self.target,
            details=details,
        )

    def undecided(self, reason: str) -> Verdict:
        return Verdict(judge=self.name, label=None, reason=reason, target=self.target)
