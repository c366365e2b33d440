"""The Attack contract: harmful samples in, attacked samples out, each traceable to its original."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from srlab.schema import Sample

ID_SEPARATOR = "::"


class Attack(ABC):
    """Turns each harmful Sample into one or more attacked Samples.

    An attacked sample's id is ``f"{original id}::{attack}::{variant}"`` (stable across runs:
    caching and resume depend on it) and its ``meta`` records ``attack``, ``original_id``,
    ``original_prompt`` and what made the prompt (``template``, ``technique``, ...). Attacks that
    call models take their backends and a Store in the constructor and cache every call.
    """

    name: str
    # The models the attack calls, by role ("attacker", "judge", "target": the model under
    # evaluation); callers build each from the config's model of that role and pass it by name.
    model_roles: ClassVar[tuple[str, ...]] = ()
    # Roles it can do without (PAP on advbench50 reads the published paraphrases).
    optional_roles: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def attack(self, samples: Sequence[Sample]) -> list[Sample]:
        """Attacked samples, grouped by original sample in input order."""


def attacked_id(sample: Sample, attack: str, variant: str) -> str:
    return f"{sample.id}{ID_SEPARATOR}{attack}{ID_SEPARATOR}{variant}"


def attacked_sample(sample: Sample, attack: str, variant: str, prompt: str, **meta: Any) -> Sample:
    """A copy of ``sample`` whose (last) user turn is ``prompt``, with its provenance in ``meta``."""
    if isinstance(sample.prompt, str):
        new_prompt: str | list[dict[str, str]] = prompt
    else:
        messages = sample.messages()
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        if users:
            messages[users[-1]] = {**messages[users[-1]], "content": prompt}
        else:
            messages.append({"role": "user", "content": prompt})
        new_prompt = messages
    return Sample(
        id=attacked_id(sample, attack, variant),
        prompt=new_prompt,
        benchmark=sample.benchmark,
        category=sample.category,
        reference=sample.reference,
        meta={
            **sample.meta,
            "attack": attack,
            "variant": variant,
            "original_id": sample.id,
            "original_prompt": sample.meta.get("original_prompt", sample.user_text()),
            **meta,
        },
    )
