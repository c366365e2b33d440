"""Planning: expand an experiment config into the grid of work, checking every name first."""

from __future__ import annotations

from dataclasses import dataclass, field

from srlab.benchmarks import BENCHMARKS, get_benchmark
from srlab.errors import SrlabError, UnknownNameError
from srlab.experiment.calibration import calibration_problems
from srlab.experiment.config import ExperimentConfig, VariantConfig
from srlab.generate.strategies import STRATEGIES
from srlab.models import ModelSpec


@dataclass(frozen=True)
class EvalCell:
    """One evaluated system on one benchmark: (model, variant, strategy, attack) x benchmark."""

    model: str
    variant: str
    strategy: str
    attack: str
    benchmark: str
    kind: str
    limit: int | None

    @property
    def system(self) -> str:
        """The name a report row carries."""
        parts = [self.variant]
        if self.strategy:
            parts.append(self.strategy)
        if self.attack != "none":
            parts.append(self.attack)
        return "/".join(parts)


@dataclass
class Plan:
    config: ExperimentConfig
    trainings: list[tuple[ModelSpec, VariantConfig]] = field(default_factory=list)
    cells: list[EvalCell] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"experiment {self.config.name}: {len(self.trainings)} training run(s), {len(self.cells)} evaluation cell(s)"]
        for spec, variant in self.trainings:
            lines.append(f"  train  {spec.name} -> {variant.name}")
        for judge, entry in self.config.calibration.items():
            lines.append(f"  calibrate {judge} on {entry.labels}")
        for cell in self.cells:
            n = "all" if cell.limit is None else str(cell.limit)
            lines.append(
                f"  eval   {cell.model:<16} {cell.variant:<20} {cell.strategy:<20} {cell.attack:<12} "
                f"{cell.benchmark:<16} ({cell.kind}, n={n})"
            )
        return "\n".join(lines)


def _attack_names() -> list[str]:
    try:
        from srlab.generate.attacks import ATTACKS
    except ModuleNotFoundError:
        return ["none"]
    return ATTACKS.names()


def _attack_roles(name: str) -> tuple[str, ...]:
    from srlab.generate.attacks import MODEL_ROLES

    return MODEL_ROLES.get(name, ())


def check_names(config: ExperimentConfig) -> None:
    """Fail before any work with the field path of every unknown or misplaced name."""
    problems: list[str] = []
    primary: set[str] = set()  # the judges that score some benchmark's metric
    for kind, name in config.benchmarks.all():
        try:
            bench = get_benchmark(name)  # also resolves rg:<task> and benchmark YAML files
            actual = bench.kind
            primary.add(bench.default_judges[0])
        except UnknownNameError:
            problems.append(f"benchmarks.{kind}: unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS.names())}")
            continue
        if actual != kind:
            problems.append(f"benchmarks.{kind}: {name!r} is a {actual} benchmark; list it under benchmarks.{actual}")
    for i, entry in enumerate(config.strategies):
        if entry.name not in STRATEGIES:
            problems.append(f"strategies.{i}.name: unknown strategy {entry.name!r}; valid: {', '.join(STRATEGIES.names())}")
    attacks = _attack_names()
    for i, entry in enumerate(config.attacks):
        if entry.name not in attacks:
            problems.append(f"attacks.{i}.name: unknown attack {entry.name!r}; valid: {', '.join(attacks)}")
            continue
        for role in _attack_roles(entry.name):
            if role != "target" and getattr(entry, role) is None and not (entry.name == "pap" and role == "attacker"):
                problems.append(f"attacks.{i}.{role}: attack {entry.name!r} needs a model for its {role} role")
    from srlab.judge import JUDGES

    for kind, names in config.extra_judges.items():
        for i, name in enumerate(names):
            if name not in JUDGES:
                problems.append(f"extra_judges.{kind}.{i}: unknown judge {name!r}; valid: {', '.join(JUDGES.names())}")
    problems += calibration_problems(config.calibration, primary)
    for name in config.limits:
        if name not in {n for _, n in config.benchmarks.all()}:
            problems.append(f"limits.{name}: not one of the experiment's benchmarks")
    if problems:
        raise SrlabError("invalid experiment config\n  " + "\n  ".join(problems))


def make_plan(config: ExperimentConfig) -> Plan:
    """The grid: every model x variant x strategy; attacks only cross the harmful benchmarks."""
    check_names(config)
    plan = Plan(config)
    for spec in config.models:
        for variant in config.variants:
            if variant.trained:
                plan.trainings.append((spec, variant))
            for strategy in (entry.display for entry in config.strategies):
                for kind, benchmark in config.benchmarks.all():
                    attacks = [a.display for a in config.attacks] if kind == "harmful" else ["none"]
                    for attack in attacks:
                        plan.cells.append(
                            EvalCell(spec.name, variant.name, strategy, attack, benchmark, kind, config.limit_for(benchmark))
                        )
    return plan
