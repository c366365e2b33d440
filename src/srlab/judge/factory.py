"""The one way judges are built from specs: name, target, params and (for LLM judges) a model.

Experiments, ``srlab eval``, calibration and mixture filters all build judges here, so every
judge that scores, calibrates or filters is built the same way and keys its verdicts the same
way. An LLM judge loads its model on first use, so planning and validation load none.
"""

from __future__ import annotations

import inspect
from typing import Any

from srlab.errors import SrlabError, UnknownNameError
from srlab.judge import JUDGES
from srlab.judge.base import Judge
from srlab.judge.ensemble import EnsembleJudge
from srlab.judge.spec import ENSEMBLE_RULES, JudgeSpec
from srlab.models.base import ModelSpec
from srlab.store import Store

# Constructor arguments the factory fills itself; the rest are a judge's ``params``.
_WIRED = {"self", "backend", "store", "target", "decoding", "refusal_judge"}


def judge_class(name: str) -> type[Judge]:
    return JUDGES.get(name)


def is_llm_judge(name: str) -> bool:
    from srlab.judge.llm_base import LLMJudge

    cls = JUDGES.get(name)
    return isinstance(cls, LLMJudge) or (isinstance(cls, type) and issubclass(cls, LLMJudge))


def calls_model(spec: JudgeSpec) -> bool:
    """Whether the spec's judge (or any member of its ensemble) asks a model, read off the classes."""
    if spec.name in ENSEMBLE_RULES:
        return any(calls_model(member) for member in spec.of)
    return is_llm_judge(spec.name)


def judge_params(cls: type[Judge]) -> list[str]:
    """The settings a judge takes as ``params`` (its constructor's keyword arguments)."""
    signature = inspect.signature(cls.__init__)
    return [p for p in signature.parameters if p not in _WIRED and not p.startswith("_")]


def with_target(spec: JudgeSpec, target: str) -> JudgeSpec:
    """``spec`` reading ``target``, unless it names its own or its judge reads a fixed part."""
    if spec.target is not None or spec.of:
        return spec
    cls = JUDGES.get(spec.name)
    if isinstance(cls, Judge) or "target" not in inspect.signature(cls.__init__).parameters:
        return spec
    return spec.model_copy(update={"target": target})


def meaning_of(spec: JudgeSpec) -> str:
    """What the spec's True means, read off the classes: no model is loaded."""
    if spec.name in ENSEMBLE_RULES:
        meanings = {meaning_of(m) for m in spec.of}
        if len(meanings) != 1:
            raise SrlabError(f"ensemble {spec.label!r} mixes judges with different meanings: {', '.join(sorted(meanings))}")
        return meanings.pop()
    return str(JUDGES.get(spec.name).label_meaning)


def spec_problems(spec: JudgeSpec, where: str, judge_model: ModelSpec | None) -> list[str]:
    """Everything wrong with a spec, each naming its config path; checked before any model loads."""
    if spec.name in ENSEMBLE_RULES:
        problems = []
        for i, member in enumerate(spec.of):
            problems += spec_problems(member, f"{where}.of.{i}", judge_model)
        if not problems:
            try:
                meaning_of(spec)
            except SrlabError as exc:
                problems.append(f"{where}: {exc}")
        return problems
    if spec.name not in JUDGES:
        valid = ", ".join([*JUDGES.names(), *ENSEMBLE_RULES])
        return [f"{where}.name: unknown judge {spec.name!r}; valid: {valid}"]
    cls = JUDGES.get(spec.name)
    if isinstance(cls, Judge):  # a ready instance (srlab.evaluate(judges=...)): used as it is
        extra = [f for f in ("model", "target") if getattr(spec, f) is not None] + (["params"] if spec.params else [])
        return [f"{where}.{f}: judge {spec.name!r} was given ready-made; set its {f} on the object" for f in extra]
    problems = []
    accepted = set(inspect.signature(cls.__init__).parameters)
    if spec.target is not None and "target" not in accepted:
        problems.append(f"{where}.target: judge {spec.name!r} always reads its {cls.target}; it takes no target")
    valid_params = judge_params(cls)
    for param in spec.params:
        if param not in valid_params:
            problems.append(
                f"{where}.params.{param}: judge {spec.name!r} has no parameter {param!r}; "
                f"valid: {', '.join(valid_params) or 'none'}"
            )
    if is_llm_judge(spec.name):
        if spec.model is None and judge_model is None and getattr(cls, "default_model", None) is None:
            problems.append(
                f"{where}: judge {spec.name!r} is an LLM judge and needs a model: set {where}.model "
                "(or judge_model for all LLM judges; on the command line --judge-model, with --judge-base-url "
                "for an OpenAI-compatible server)"
            )
    elif spec.model is not None:
        problems.append(f"{where}.model: judge {spec.name!r} is offline and takes no model")
    return problems


class JudgeFactory:
    """Builds judges from specs, once each, and closes their models together."""

    def __init__(self, store: Store | None = None, judge_model: ModelSpec | None = None) -> None:
        self.store = store
        self.judge_model = judge_model
        self._built: dict[str, Judge] = {}

    def build(self, spec: JudgeSpec | str) -> Judge:
        spec = JudgeSpec.coerce(spec)
        key = spec.model_dump_json()
        if key not in self._built:
            self._built[key] = self._make(spec)
        return self._built[key]

    def _make(self, spec: JudgeSpec) -> Judge:
        if spec.name not in JUDGES and spec.name not in ENSEMBLE_RULES:
            raise UnknownNameError("judge", spec.name, [*JUDGES.names(), *ENSEMBLE_RULES])
        problems = spec_problems(spec, f"judge {spec.label}", self.judge_model)
        if problems:
            raise SrlabError("; ".join(problems))
        if spec.name in ENSEMBLE_RULES:
            return EnsembleJudge(spec.name, [self.build(m) for m in spec.of], [m.label for m in spec.of])
        cls = JUDGES.get(spec.name)
        if isinstance(cls, Judge):
            return cls
        kwargs: dict[str, Any] = dict(spec.params)
        if spec.target is not None:
            kwargs["target"] = spec.target
        if is_llm_judge(spec.name):
            model = spec.model or self.judge_model
            if model is not None:
                kwargs["backend"] = model
            kwargs["store"] = self.store
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, UnknownNameError):
                raise
            raise SrlabError(f"judge {spec.label}: {exc}") from exc

    def close(self) -> None:
        for judge in self._built.values():
            judge.close()
        self._built.clear()
