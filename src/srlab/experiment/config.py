"""The experiment config: one YAML describes a whole study. Errors name the field's path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from srlab.config_files import read_yaml_mapping, validate
from srlab.experiment.sweeps import (
    RepeatOf,
    SweepPoint,
    apply_overrides,
    expand_strategies,
    expand_variants,
)
from srlab.generate.strategies import StrategyConfig, ThinkSetting
from srlab.judge.labels import CalibrationEntry
from srlab.judge.spec import JudgeSpec, judge_specs
from srlab.models import ModelSpec
from srlab.schema import DecodingConfig

MAX_SAMPLES = 10_000_000
# The trade-off's axes, one per benchmark kind, in report order.
AXES: tuple[str, ...] = ("reasoning", "harmful", "benign", "privacy")
SampleCount = Annotated[int, Field(ge=1, le=MAX_SAMPLES, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BenchmarkAxes(_Strict):
    """Benchmarks per axis of the trade-off; each name must be registered with that kind."""

    reasoning: list[str] = Field(default_factory=list)
    harmful: list[str] = Field(default_factory=list)
    benign: list[str] = Field(default_factory=list)
    privacy: list[str] = Field(default_factory=list, description="Privacy probes: leakage and over-refusal.")

    @model_serializer(mode="wrap")
    def _omit_empty_privacy(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without privacy benchmarks the axes dump as before the axis existed, so every run id
        # hashed from a config stays what it was.
        data: dict[str, Any] = handler(self)
        if not data.get("privacy"):
            data.pop("privacy", None)
        return data

    def all(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind in AXES for name in getattr(self, kind)]


class _Expanded(_Strict):
    """An entry that may come from a sweep (or a seed repeat); the fields are set by the expansion."""

    swept: SweepPoint | None = Field(None, description="Set by a sweep's expansion: the entry, field and value.")

    @model_serializer(mode="wrap")
    def _omit_unexpanded(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # An entry no sweep made dumps as before sweeps existed, so every run id stays what it was.
        # This serializer replaces ThinkSetting's in StrategyEntry (one per model), so it omits an
        # unset think budget too, as that one does.
        data: dict[str, Any] = handler(self)
        for key in ("swept", "repeat", "overrides", "think"):
            if key in data and not data[key]:
                del data[key]
        return data


class VariantConfig(_Expanded):
    """A training variant: ``base`` (no training) or a mixture spec plus a training spec.

    ``mixture`` and ``train`` are a path to a YAML file (relative to the experiment file) or
    the spec inline. ``sweep`` and ``seeds`` (see ``srlab.experiment.sweeps``) expand one entry into
    several before validation; ``overrides`` then holds each one's settings.
    """

    # '@' and '=' only come from the expansion: reflective@ratio=0.2@seed=1.
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.+\-@=]+$")
    mixture: str | dict[str, Any] | None = None
    train: str | dict[str, Any] | None = None
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Dotted path -> value over the mixture (mixture.*) and training (train.*) specs."
    )
    repeat: RepeatOf | None = Field(None, description="Set by seeds' expansion: the repeated name and this run's seed.")

    @model_validator(mode="after")
    def _both_or_neither(self) -> VariantConfig:
        if (self.mixture is None) != (self.train is None):
            missing = "train" if self.train is None else "mixture"
            raise ValueError(f"a trained variant needs both mixture and train; {missing} is missing")
        return self

    @property
    def trained(self) -> bool:
        return self.mixture is not None

    def spec_data(self, section: Literal["mixture", "train"], resolve: Callable[[str], Path]) -> str | dict[str, Any]:
        """The mixture or training spec as given (a resolved path, or inline), or, with overrides, as
        a mapping with them set."""
        value = getattr(self, section)
        assert value is not None
        if isinstance(value, str):
            path = resolve(value)
            if not any(k.startswith(section + ".") for k in self.overrides):
                return str(path)
            value = read_yaml_mapping(path, f"{section} spec")
        return apply_overrides(value, self.overrides, section, f"variants.{self.name}.overrides")


class StrategyEntry(_Expanded, ThinkSetting):
    """A prompting strategy with optional per-entry settings (e.g. several safety ratios, think budgets);
    ``think`` overrides ``strategy_config.think``."""

    name: str
    label: str | None = Field(
        None, description="Row name in the report; default: the strategy name (+ the think budget's, when set)."
    )
    k: int | None = Field(None, ge=0)
    safety_ratio: float | None = Field(None, ge=0.0, le=1.0)
    system_prompt: str | None = None
    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return f"{self.name}+{self.think.label}" if self.think is not None else self.name

    def settings(self, defaults: StrategyConfig) -> StrategyConfig:
        names = ("k", "safety_ratio", "system_prompt", "think")
        overrides = {k: v for k in names if (v := getattr(self, k)) is not None}
        return defaults.model_copy(update=overrides)


class AttackEntry(_Strict):
    """An attack on the harmful benchmarks, with the models it calls and its own options.

    ``models`` gives a model per role the attack declares (``attacker``, ``judge``; the
    ``target`` is always the model under evaluation); ``attacker`` and ``judge`` are shorthand
    for those two roles. Any backend works (SmolLM2 stands in offline).
    """

    name: str
    label: str | None = Field(None, description="Row name in the report; default: the attack name.")
    models: dict[str, ModelSpec] = Field(default_factory=dict, description="Model per role, e.g. attacker: {...}.")
    attacker: ModelSpec | None = None
    judge: ModelSpec | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="Passed to the attack's constructor.")

    def role_models(self) -> dict[str, ModelSpec]:
        shorthand = {role: spec for role, spec in (("attacker", self.attacker), ("judge", self.judge)) if spec}
        return {**shorthand, **self.models}

    @property
    def display(self) -> str:
        return self.label or self.name


class ExperimentConfig(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    models: list[ModelSpec] = Field(..., min_length=1)
    variants: list[VariantConfig] = Field(default_factory=lambda: [VariantConfig(name="base")])
    strategies: list[StrategyEntry] = Field(default_factory=lambda: [StrategyEntry(name="cot")], min_length=1)
    strategy_config: StrategyConfig = Field(default_factory=StrategyConfig)
    attacks: list[AttackEntry] = Field(default_factory=lambda: [AttackEntry(name="none")], min_length=1)
    benchmarks: BenchmarkAxes
    judges: dict[str, list[JudgeSpec]] = Field(
        default_factory=dict,
        description="Scoring judges per axis (reasoning, harmful, benign, privacy) or per benchmark name, replacing the "
        "benchmark's defaults; each metric is scored by the first judge whose True means what it counts.",
    )
    extra_judges: dict[Literal["reasoning", "harmful", "benign", "privacy"], list[JudgeSpec]] = Field(
        default_factory=dict,
        description="Judges run after the scoring ones, per axis (e.g. harmful: [risky-patterns-offline]).",
    )
    judge_model: ModelSpec | None = Field(None, description="Model behind LLM judges that name none of their own.")
    calibration: dict[str, CalibrationEntry] = Field(
        default_factory=dict,
        description="Judge name -> human labels; metrics scored by that judge are also reported corrected for its error.",
    )
    # Strict ints: YAML's `true` or `1e30` (a string in YAML 1.1) is an error, not a count.
    compare: list[tuple[str, str]] = Field(
        default_factory=list,
        description="[system, baseline] pairs of report rows (e.g. [cot, direct], [base/pap, base]): paired "
        "differences on the same samples, with intervals, besides each trained variant against base.",
    )
    limit: int | None = Field(
        None, ge=1, le=MAX_SAMPLES, strict=True, description="Samples per benchmark unless limits says otherwise."
    )
    limits: dict[str, SampleCount] = Field(default_factory=dict, description="Per-benchmark sample counts.")
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    samples: dict[str, SampleCount] = Field(
        default_factory=dict,
        description="Per-benchmark samples per prompt, overriding decoding.n (e.g. {aime2024: 16}); needs temperature > 0.",
    )
    seed: int = Field(0, strict=True, description="Seed for subsets, demonstrations, mixtures and training.")
    data_dir: str | None = None
    store: str | None = Field(None, description="SQLite store; default <output_dir>/store.sqlite.")
    output_dir: str | None = Field(None, description="Default: runs/<name>.")
    base_dir: str = Field(".", description="Set by the loader: relative paths resolve from here.")

    @field_validator("models", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        # "models: [smollm2-135m]" is shorthand for "models: [{name: smollm2-135m}]".
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("judges", "extra_judges", mode="before")
    @classmethod
    def _judge_shorthand(cls, value: Any) -> Any:
        # "harmful: llama-guard" or "harmful: [llama-guard, {name: refusal, target: answer}]".
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, (str, dict)) else v for k, v in value.items()}
        return value

    @field_validator("judge_model", mode="before")
    @classmethod
    def _judge_model_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("strategies", "attacks", mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list):
            value = [{"name": v} if isinstance(v, str) else v for v in value]
        return expand_strategies(value) if info.field_name == "strategies" else value

    @field_validator("variants", mode="before")
    @classmethod
    def _expand_variants(cls, value: Any) -> Any:
        return expand_variants(value)

    @model_validator(mode="after")
    def _unique_names(self) -> ExperimentConfig:
        for field_name in ("strategies", "attacks"):
            labels = [entry.display for entry in getattr(self, field_name)]
            if len(set(labels)) != len(labels):
                raise ValueError(f"{field_name}: entries must have distinct labels (set 'label' on repeated ones)")
        names = [v.name for v in self.variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        if not any(not v.trained for v in self.variants):
            raise ValueError("variants need an untrained 'base' entry: every trained variant is compared with it")
        if not self.benchmarks.all():
            raise ValueError("benchmarks: name at least one benchmark on some axis")
        return self

    def strategy(self, label: str) -> StrategyEntry:
        return next(s for s in self.strategies if s.display == label)

    def attack(self, label: str) -> AttackEntry:
        return next(a for a in self.attacks if a.display == label)

    def base_variant(self) -> str:
        return next(v.name for v in self.variants if not v.trained)

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    # Outputs go under the working directory; only input specs resolve from the experiment file.
    def out_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / self.name

    def store_path(self) -> Path:
        return Path(self.store) if self.store else self.out_dir() / "store.sqlite"

    def scoring_judges(self, kind: str, benchmark: str, defaults: tuple[str, ...]) -> list[JudgeSpec]:
        """The judges that score a benchmark's metrics: the benchmark's entry in ``judges``, else its
        axis's, else the benchmark's own defaults."""
        if benchmark in self.judges:
            return list(self.judges[benchmark])
        if kind in self.judges:
            return list(self.judges[kind])
        return judge_specs(list(defaults))

    def judges_for(self, kind: str, benchmark: str, defaults: tuple[str, ...]) -> list[JudgeSpec]:
        """Scoring judges, then the axis's extra ones (each judge once)."""
        scoring = self.scoring_judges(kind, benchmark, defaults)
        extra = [j for j in self.extra_judges.get(kind, []) if j not in scoring]  # type: ignore[call-overload]
        return [*scoring, *extra]

    def limit_for(self, benchmark: str) -> int | None:
        return self.limits.get(benchmark, self.limit)

    def decoding_for(self, benchmark: str) -> DecodingConfig:
        """``decoding``, with ``samples``' n for the benchmarks it names."""
        if benchmark not in self.samples:
            return self.decoding
        return self.decoding.model_copy(update={"n": self.samples[benchmark]})

    @model_validator(mode="after")
    def _samples_need_temperature(self) -> ExperimentConfig:
        several = sorted(name for name, n in self.samples.items() if n > 1)
        if several and self.decoding.temperature == 0:
            raise ValueError(
                f"samples.{several[0]}: several samples per prompt need decoding.temperature > 0 "
                "(greedy decoding gives the same answer every time)"
            )
        return self


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML; every error names the file and the field path."""
    raw = read_yaml_mapping(path, "experiment config")
    raw.setdefault("base_dir", str(Path(path).resolve().parent))
    return validate(ExperimentConfig, raw, str(path), "experiment config")
