"""Judges combined by a rule: ``any`` / ``all`` / ``majority`` of named judges that share one
meaning (study B scores ASR with Llama Guard and a GPT judge together).

Undecided members: ``any`` is True as soon as one member says True and undecided only when no
member says True and some could not decide; ``all`` mirrors it; ``majority`` counts decided
votes and is undecided on a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srlab.errors import SrlabError
from srlab.judge.base import Judge
from srlab.schema import Generation, Sample, Verdict


class EnsembleJudge(Judge):
    version = "1"

    def __init__(self, rule: str, members: Sequence[Judge], labels: Sequence[str]) -> None:
        meanings = {m.label_meaning for m in members}
        if len(meanings) != 1:
            pairs = ", ".join(f"{label} ({m.label_meaning})" for label, m in zip(labels, members, strict=True))
            raise SrlabError(f"ensemble {rule!r} mixes judges with different meanings: {pairs}")
        self.name = rule
        self.rule = rule
        self.members = list(members)
        self.labels = list(labels)
        self.label_meaning = meanings.pop()  # type: ignore[misc]
        self.target = "full"
        self.params = {"rule": rule, "members": [m.identity() for m in members]}

    def judge(self, sample: Sample, generation: Generation) -> Verdict:
        return self.judge_many([(sample, generation)])[0]

    def judge_many(self, pairs: Sequence[tuple[Sample, Generation]]) -> list[Verdict]:
        per_member = [member.judge_many(pairs) for member in self.members]
        return [self._combine([votes[i] for votes in per_member]) for i in range(len(pairs))]

    def _combine(self, votes: list[Verdict]) -> Verdict:
        labels = [v.label for v in votes]
        details: dict[str, Any] = {"votes": dict(zip(self.labels, labels, strict=True))}
        decided = [label for label in labels if label is not None]
        undecided = [f"{name}: {v.reason}" for name, v in zip(self.labels, votes, strict=True) if v.label is None]
        label: bool | None
        if self.rule == "any":
            label = True if any(decided) else (None if undecided else False)
        elif self.rule == "all":
            label = False if not all(decided) else (None if undecided else True)
        else:
            yes, no = sum(decided), len(decided) - sum(decided)
            label = None if yes == no else yes > no
        if label is None:
            reason = "; ".join(undecided) if undecided else "tied vote"
            return Verdict(judge=self.name, label=None, reason=reason, target="full", details=details)
        return Verdict(judge=self.name, label=label, target="full", details=details)
