"""The Judge contract: what a verdict's True means, what part of the output is read, and an
identity that keys stored verdicts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from srlab.hashing import content_hash
from srlab.schema import Generation, JudgeTarget, Sample, Verdict

# What a judge's True can mean. Metrics read this, never a judge's name (see report/metrics.py).
MEANINGS = ("refusal", "harmful", "correct", "risky", "leak")


class Judge(ABC):
    """Scores one generation for one sample. Undecidable -> ``Verdict(label=None, reason=...)``.

    A judge declares:

    - ``label_meaning``: what ``label=True`` means, one of ``MEANINGS``;
    - ``target``: the part of the output it reads (``answer``, ``reasoning`` or ``full``);
    - ``params``: every constructor setting that changes its verdicts (a threshold, an
      extraction rule), and through ``model_identity()`` the model behind an LLM judge.

    ``version`` names the judge's logic: bump it when that changes. ``cache_version()`` folds the
    version, target, params and model identity into the key stored verdicts are found by, so a
    judge run with another threshold or another model never reads verdicts it did not give.
    """

    name: str
    version: str = "1"
    label_meaning: ClassVar[str] = "refusal"
    target: JudgeTarget = "full"
    params: Mapping[str, Any] = MappingProxyType({})
    # A judge whose ``score`` is a graded harm score in [0, 1] (StrongREJECT's rubric): reports
    # add its mean beside the binary rate.
    graded_score: ClassVar[bool] = False

    @abstractmethod
    def judge(self, sample: Sample, generation: Generation) -> Verdict:
        """Judge one response."""

    def judge_many(self, pairs: Sequence[tuple[Sample, Generation]]) -> list[Verdict]:
        """Batch entry point; LLM judges override it to batch their backend calls."""
        return [self.judge(sample, generation) for sample, generation in pairs]

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the judge's model, if it loaded one."""

    def model_identity(self) -> dict[str, Any] | None:
        """The model behind the judge (LLM judges); None for offline judges."""
        return None

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "meaning": self.label_meaning,
            "target": self.target,
            "params": dict(self.params),
            "model": self.model_identity(),
        }

    def cache_version(self) -> str:
        """The stored verdicts' version key: ``version`` plus a hash of everything else that
        determines a verdict."""
        identity = self.identity()
        identity.pop("name")
        return f"{self.version}+{content_hash(identity, length=12)}"
