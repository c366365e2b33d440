"""How a config names a judge: a registered name, its model, target and parameters, or an
ensemble of named judges. The same spec is written in experiment YAML and built from
``srlab eval --judge`` flags."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from srlab.models.base import ModelSpec
from srlab.schema import JudgeTarget

ENSEMBLE_RULES = ("any", "all", "majority")


class JudgeSpec(BaseModel):
    """``name`` is a registered judge or an ensemble rule (``any``, ``all``, ``majority``) over
    the judges in ``of``. ``model`` is the model behind an LLM judge (default: the config's
    ``judge_model``, then the judge's own default); ``target`` the part of the output it reads;
    ``params`` the judge's other settings (e.g. ``threshold`` of ``strongreject-rubric``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: ModelSpec | None = None
    target: JudgeTarget | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    of: list[JudgeSpec] = Field(default_factory=list, description="Members of an ensemble.")

    @model_validator(mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ensemble_shape(self) -> JudgeSpec:
        if self.name in ENSEMBLE_RULES:
            if len(self.of) < 2:
                raise ValueError(f"ensemble {self.name!r} needs at least two judges in 'of'")
        elif self.of:
            raise ValueError(f"'of' is only for ensembles ({', '.join(ENSEMBLE_RULES)}), not judge {self.name!r}")
        return self

    @classmethod
    def coerce(cls, value: str | dict[str, Any] | JudgeSpec) -> JudgeSpec:
        if isinstance(value, JudgeSpec):
            return value
        return cls(name=value) if isinstance(value, str) else cls.model_validate(value)

    @property
    def label(self) -> str:
        """The judge's name in reports: ``refusal``, ``llama-guard@answer``, ``any(a,b)``."""
        if self.of:
            return f"{self.name}({','.join(m.label for m in self.of)})"
        return f"{self.name}@{self.target}" if self.target else self.name


def judge_specs(value: Any) -> list[JudgeSpec]:
    """One spec or a list of them, names as shorthand."""
    items = value if isinstance(value, list) else [value]
    return [JudgeSpec.coerce(v) for v in items]
