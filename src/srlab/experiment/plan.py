"""Planning: expand an experiment config into the grid of work, checking every name first."""

from __future__ import annotations

from dataclasses import dataclass, field

from srlab.benchmarks import BENCHMARKS, get_benchmark
from srlab.errors import SrlabError, UnknownNameError
from srlab.experiment.calibration import calibration_problems
from srlab.experiment.config import AXES, ExperimentConfig, VariantConfig
from srlab.generate.strategies import STRATEGIES
from srlab.generate.think import fit_problem
from srlab.judge.factory import meaning_of, spec_problems
from srlab.models import ModelSpec
from srlab.report.metrics import assign_metrics, scoring_problem


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
        for kind, name in self.config.benchmarks.all():
            try:
                specs = self.config.scoring_judges(kind, name, get_benchmark(name).default_judges)
                assigned = assign_metrics(kind, [(s.label, meaning_of(s)) for s in specs])
            except SrlabError:
                continue
            scored = ", ".join(f"{metric.title} by {label}" for metric, label in assigned)
            lines.append(f"  score  {name}: {scored}")
        for cell in self.cells:
            n = "all" if cell.limit is None else str(cell.limit)
            k = self.config.decoding_for(cell.benchmark).n
            each = f", {k} samples each" if k > 1 else ""
            lines.append(
                f"  eval   {cell.model:<16} {cell.variant:<20} {cell.strategy:<20} {cell.attack:<12} "
                f"{cell.benchmark:<16} ({cell.kind}, n={n}{each})"
            )
        return "\n".join(lines)


def _attack_names() -> list[str]:
    try:
        from srlab.generate.attacks import ATTACKS
    except ModuleNotFoundError:
        return ["none"]
    return ATTACKS.names()


def _attack_roles(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from srlab.generate.attacks import model_roles

    return model_roles(name)


def check_names(config: ExperimentConfig) -> None:
    """Fail before any work with the field path of every unknown or misplaced name."""
    problems: list[str] = []
    known: list[tuple[str, str]] = []
    for kind, name in config.benchmarks.all():
        try:
            bench = get_benchmark(name)  # also resolves rg:<task> and benchmark YAML files
            actual = bench.kind
        except UnknownNameError:
            problems.append(f"benchmarks.{kind}: unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS.names())}")
            continue
        if actual != kind:
            problems.append(f"benchmarks.{kind}: {name!r} is a {actual} benchmark; list it under benchmarks.{actual}")
        else:
            known.append((kind, name))
    judge_problems, scoring = check_judges(config, known)
    problems += judge_problems
    for i, entry in enumerate(config.strategies):
        if entry.name not in STRATEGIES:
            problems.append(f"strategies.{i}.name: unknown strategy {entry.name!r}; valid: {', '.join(STRATEGIES.names())}")
        where = f"strategies.{i}.think" if entry.think is not None else "strategy_config.think"
        think_problem = fit_problem(entry.settings(config.strategy_config).think, config.decoding.max_new_tokens, where)
        if think_problem:
            problems.append(think_problem)
    attacks = _attack_names()
    for i, entry in enumerate(config.attacks):
        if entry.name not in attacks:
            problems.append(f"attacks.{i}.name: unknown attack {entry.name!r}; valid: {', '.join(attacks)}")
            continue
        roles, optional = _attack_roles(entry.name)
        given = entry.role_models()
        for role in roles:
            if role != "target" and role not in given and role not in optional:
                problems.append(f"attacks.{i}.models.{role}: attack {entry.name!r} needs a model for its {role} role")
        for role in given:
            if role not in roles:
                problems.append(
                    f"attacks.{i}.models.{role}: attack {entry.name!r} has no {role} role "
                    f"(its roles: {', '.join(roles) or 'none'})"
                )
    problems += calibration_problems(config.calibration, scoring)
    systems = _system_labels(config)
    for i, pair in enumerate(config.compare):
        for j, label in enumerate(pair):
            if label not in systems:
                problems.append(f"compare.{i}.{j}: no system {label!r}; systems: {', '.join(systems)}")
        if pair[0] == pair[1]:
            problems.append(f"compare.{i}: a system compared with itself")
    for field_name in ("limits", "samples"):
        for name in getattr(config, field_name):
            if name not in {n for _, n in config.benchmarks.all()}:
                problems.append(f"{field_name}.{name}: not one of the experiment's benchmarks")
    if problems:
        raise SrlabError("invalid experiment config\n  " + "\n  ".join(problems))


def system_label(config: ExperimentConfig, model: str, variant: str, strategy: str, attack: str) -> str:
    """The name a report row carries: the variant, then the strategy and attack where they vary."""
    parts = [f"{model}:{variant}" if len(config.models) > 1 else variant]
    if len(config.strategies) > 1:
        parts.append(strategy)
    if attack != "none":
        parts.append(attack)
    return "/".join(parts)


def _system_labels(config: ExperimentConfig) -> list[str]:
    """Every report row's label, in plan order."""
    labels: list[str] = []
    for spec in config.models:
        for variant in config.variants:
            for strategy in (s.display for s in config.strategies):
                for attack in ["none", *(a.display for a in config.attacks if a.display != "none")]:
                    label = system_label(config, spec.name, variant.name, strategy, attack)
                    if label not in labels:
                        labels.append(label)
    return labels


def check_judges(config: ExperimentConfig, benchmarks: list[tuple[str, str]]) -> tuple[list[str], set[str]]:
    """Problems with the ``judges`` and ``extra_judges`` entries, and the labels of the judges that
    score some metric. A judge whose meaning fits no metric of its axis (a correctness judge on
    harmful prompts) is rejected here, before any model loads."""
    problems: list[str] = []
    names = {name for _, name in benchmarks}
    kinds = AXES
    for key, specs in config.judges.items():
        if key not in kinds and key not in names:
            problems.append(
                f"judges.{key}: not an axis ({', '.join(kinds)}) or one of the experiment's benchmarks "
                f"({', '.join(sorted(names)) or 'none'})"
            )
            continue
        for i, spec in enumerate(specs):
            problems += spec_problems(spec, f"judges.{key}.{i}", config.judge_model)
    for kind, specs in config.extra_judges.items():
        for i, spec in enumerate(specs):
            problems += spec_problems(spec, f"extra_judges.{kind}.{i}", config.judge_model)
    if problems:
        return problems, set()
    scoring: set[str] = set()
    for kind, name in benchmarks:
        specs = config.scoring_judges(kind, name, get_benchmark(name).default_judges)
        where = f"judges.{name}" if name in config.judges else f"judges.{kind}" if kind in config.judges else None
        meanings = []
        for i, spec in enumerate(specs):
            meaning = meaning_of(spec)
            meanings.append((spec.label, meaning))
            why = scoring_problem(kind, meaning)
            if why and where:
                problems.append(f"{where}.{i}: judge {spec.label!r} on {name}: {why}")
        scoring |= {label for _, label in assign_metrics(kind, meanings)}
    return problems, scoring


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
