"""The mixture YAML, validated by pydantic; errors name the field path (``sources.2.size``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from srlab.config_files import read_yaml_mapping, validate
from srlab.data.decontam import DecontamConfig
from srlab.data.filters import FilterConfig
from srlab.errors import SrlabError
from srlab.models.base import ModelSpec
from srlab.schema import DecodingConfig


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="Label of this source in the manifest and on each record.")
    size: int | None = Field(None, ge=1, description="Records to take from this source.")
    ratio: float | None = Field(None, gt=0, description="Share of the mixture's 'total' (instead of size).")

    @model_validator(mode="after")
    def _size_or_ratio(self) -> _Source:
        if (self.size is None) == (self.ratio is None):
            raise ValueError("give exactly one of 'size' or 'ratio'")
        return self


class GSM8KSource(_Source):
    type: Literal["gsm8k"]
    split: str = Field("train", description="Never the split you evaluate on.")


class ReasoningGymSource(_Source):
    type: Literal["reasoning-gym"]
    task: str = Field(..., description="A reasoning-gym task name, e.g. chain_sum.")
    config: dict[str, Any] = Field(default_factory=dict, description="The task's config options.")
    seed: int = Field(1234, description="Generation seed; keep it apart from the evaluation seed.")
    pool: int | None = Field(None, ge=1, description="Items generated to choose from (default 4 x size).")


class FileSource(_Source):
    type: Literal["file"]
    dataset: str = Field(..., description="A JSONL/JSON file (absolute or under the data dir) or a hub dataset id.")
    split: str = "train"
    revision: str | None = Field(None, description="Hub revision (commit) to pin.")
    preset: str | None = Field(None, description="Field mapping preset: alpaca, openo1-sft, sky-t1, lrm-safety-study.")
    fields: dict[str, Any] = Field(default_factory=dict, description="Field mapping; overrides the preset.")
    kind: Literal["reasoning", "safety", "benign"] = "reasoning"


class SafetySource(_Source):
    type: Literal["safety"]
    prompts: list[str] = Field(["harmbench", "donotanswer"], min_length=1, description="Harmful benchmarks.")
    recipe: str = Field(..., description="Safety response recipe (see `srlab data recipes`).")
    generator: Literal["offline", "teacher"] = "offline"
    teacher: ModelSpec | None = Field(
        None, description="Teacher model when generator is 'teacher', e.g. {name, base_url} of an OpenAI-compatible server."
    )
    decoding: DecodingConfig = Field(
        default_factory=lambda: DecodingConfig(max_new_tokens=2048),
        description="Teacher decoding; an output cut at max_new_tokens is dropped (counted in the manifest).",
    )
    require_reasoning: bool = Field(
        True,
        description="For recipes whose think block holds reasoning: drop teacher outputs with no trace "
        "(a reasoning teacher that skipped it). False keeps a non-reasoning teacher's plain answers.",
    )
    jailbreak_fraction: float = Field(0.0, ge=0.0, le=1.0, description="Share of prompts wrapped in a template.")
    jailbreak_templates: str | None = Field(None, description="Templates JSONL; default: the shipped file.")

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str) -> str:
        from srlab.data.recipes import RECIPES

        if value not in RECIPES:
            raise ValueError(f"unknown recipe {value!r}; valid: {', '.join(RECIPES.names())}")
        return value

    @model_validator(mode="after")
    def _teacher_given(self) -> SafetySource:
        from srlab.data.recipes import get_recipe

        if self.generator == "teacher" and self.teacher is None:
            raise ValueError("generator 'teacher' needs a 'teacher' model")
        if self.generator == "offline" and get_recipe(self.recipe).offline is None:
            raise ValueError(
                f"recipe {self.recipe!r} has no offline generator; set generator: teacher and a teacher model"
            )
        return self


class BenignSource(_Source):
    type: Literal["benign"]
    prompts: str | None = Field(None, description="JSONL of benign prompts; default: the shipped file.")
    answers: Literal["model", "shipped"] = Field("model", description="model: the base model's own answers.")
    model: ModelSpec | None = Field(None, description="Model that answers (default smollm2-135m).")
    decoding: DecodingConfig = Field(default_factory=lambda: DecodingConfig(max_new_tokens=256))


SourceSpec = Annotated[
    GSM8KSource | ReasoningGymSource | FileSource | SafetySource | BenignSource, Field(discriminator="type")
]


class MixtureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "mixture"
    seed: int = 0
    total: int | None = Field(None, ge=1, description="Mixture size when sources give ratios.")
    sources: list[SourceSpec] = Field(..., min_length=1)
    decontamination: DecontamConfig = Field(default_factory=DecontamConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    length_tokenizer: str | None = Field(
        None, description="Tokenizer for length statistics (smollm2-135m, folder, hub id); default: words."
    )
    store: str = Field(".srlab/store.sqlite", description="Where teacher and base-model answers are cached.")

    @model_validator(mode="after")
    def _check(self) -> MixtureSpec:
        names = [s.name for s in self.sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicated)}")
        if any(s.ratio is not None for s in self.sources) and self.total is None:
            raise ValueError("sources give a 'ratio', so the mixture needs a 'total'")
        return self

    def sizes(self) -> dict[str, int]:
        """Records per source: sizes as given, ratios turned into counts by largest remainder."""
        fixed = {s.name: s.size for s in self.sources if s.size is not None}
        ratio_sources = [s for s in self.sources if s.ratio is not None]
        if not ratio_sources:
            return fixed  # type: ignore[return-value]
        assert self.total is not None
        remaining = self.total - sum(fixed.values())  # type: ignore[arg-type]
        if remaining < 0:
            raise SrlabError(f"total: {self.total} is smaller than the fixed sizes ({sum(fixed.values())})")  # type: ignore[arg-type]
        weight = sum(s.ratio for s in ratio_sources)  # type: ignore[misc]
        exact = {s.name: remaining * s.ratio / weight for s in ratio_sources}  # type: ignore[operator]
        counts = {name: int(value) for name, value in exact.items()}
        leftovers = sorted(exact, key=lambda n: (counts[n] - exact[n], n))
        for name in leftovers[: remaining - sum(counts.values())]:
            counts[name] += 1
        return {s.name: fixed.get(s.name, counts.get(s.name, 0)) for s in self.sources}  # type: ignore[misc]


def load_mixture_spec(spec: str | Path | dict[str, Any] | MixtureSpec) -> MixtureSpec:
    """A MixtureSpec from a YAML path, a dict or an existing spec; bad fields are named by path."""
    if isinstance(spec, MixtureSpec):
        return spec
    if isinstance(spec, str | Path):
        return validate(MixtureSpec, read_yaml_mapping(spec, "mixture spec"), str(spec), "mixture spec")
    return validate(MixtureSpec, spec, "mixture spec", "mixture spec")
