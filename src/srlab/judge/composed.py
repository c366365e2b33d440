"""Judges built on other registered judges: the piece they share."""

from __future__ import annotations

from typing import Any

from srlab.judge.base import Judge


def answer_refusal_judge() -> tuple[Judge, dict[str, Any]]:
    """The registered ``refusal`` judge on the answer, and params naming its identity.

    Built by name from the registry, so a retrained refusal judge is picked up as it is; its
    identity (version, weights fingerprint) in the composing judge's params keys that judge's
    stored verdicts, so they are recomputed when the refusal judge changes.
    """
    from srlab.judge import get_judge

    refusal = get_judge("refusal", target="answer")
    return refusal, {"refusal": refusal.identity()}
