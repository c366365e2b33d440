"""Sweeps and repeats: one config entry that stands for several systems.

A trained variant may carry ``sweep: {field: mixture.sources.safety.size, values: [20, 40, 80]}``
(any mixture or training setting, by dotted path; a list of named entries is indexed by name) and
``seeds: [0, 1, 2]`` (the training run repeated over TRL's ``seed``). A strategy entry may carry
``sweep: {field: think, values: [no-think, short-think:256, default]}`` (``think``, ``k`` or
``safety_ratio``). The loader expands each into plain entries before validation, one per value
(and per seed), each remembering where it came from (``SweepPoint``, ``RepeatOf``), so the plan,
the runner and the cache see ordinary variants and strategies, and the report can draw the curve
(metric against the swept value) and the spread between seeds.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Scalar = int | float | str | bool

# What a strategy sweep may vary: the StrategyEntry settings that change the prompt.
STRATEGY_FIELDS = ("think", "k", "safety_ratio")
_SIMPLE_VALUE = re.compile(r"^[A-Za-z0-9_.+\-]+$")


class Sweep(BaseModel):
    """One swept setting: ``field`` takes each of ``values`` in turn (one system per value)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(..., min_length=1, description="Dotted path: mixture.<...> or train.<...> (variants); "
                       "think, k or safety_ratio (strategies).")
    values: list[Scalar] = Field(..., min_length=2, description="The values, in the curve's order.")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]+$",
                             description="The swept value's name in system names; default: the field's last part.")

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: list[Scalar]) -> list[Scalar]:
        if len({repr(v) for v in values}) != len(values):
            raise ValueError("values must be distinct")
        return values

    @property
    def key(self) -> str:
        return self.name or self.field.rsplit(".", 1)[-1]


class SweepPoint(BaseModel):
    """Where an expanded entry sits on a sweep: the entry it was expanded from, the field, the value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    of: str  # the entry's name (variant) or label (strategy) before expansion
    field: str
    key: str
    value: Scalar
    index: int  # position in the sweep's values: the curve's order


class RepeatOf(BaseModel):
    """An expanded variant's place among repeats over training seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    of: str  # the name shared by every seed's run (after any sweep)
    seed: int


def set_path(data: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """Set ``data[a][b]... = value`` for ``dotted`` = ``a.b...``; a list is indexed by an entry's
    ``name`` or by position (a missing entry is an error)."""
    parts = dotted.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            names = [e.get("name") for e in node if isinstance(e, dict)]
            if part in names:
                index = names.index(part)
            elif part.isdigit() and int(part) < len(node):
                index = int(part)
            else:
                raise ValueError(f"{where}: {here!r}: no entry named {part!r} (entries: {', '.join(map(str, names))})")
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                # A mapping not in the file (``lora`` from a preset) is created; the spec's own
                # validation names a misspelt key.
                node = node.setdefault(part, {})
        else:
            raise ValueError(f"{where}: {here!r}: {'.'.join(parts[:depth])!r} is a value, not a mapping or list")


def _format(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _sweep(raw: Any, where: str) -> Sweep:
    try:
        return Sweep.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}{'.' + loc if loc else ''}: {first['msg']}") from None


def expand_variants(raw: Any) -> Any:
    """Raw ``variants`` entries with ``sweep`` and ``seeds`` expanded into one entry per value x seed.

    An expanded entry is named ``<name>@<key>=<value>`` (then ``@seed=<seed>``) and carries its
    ``overrides`` (dotted path -> value, applied to the mixture or training spec when loaded)."""
    if not isinstance(raw, list):
        return raw
    out: list[Any] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or ("sweep" not in entry and "seeds" not in entry):
            out.append(entry)
            continue
        entry = dict(entry)
        name = str(entry.get("name", ""))
        if entry.get("mixture") is None or entry.get("train") is None:
            raise ValueError(f"{i}: variant {name!r}: sweep and seeds need a trained variant (mixture and train)")
        points: list[tuple[str, dict[str, Any], SweepPoint | None]] = [(name, {}, None)]
        if "sweep" in entry:
            sweep = _sweep(entry.pop("sweep"), f"{i}.sweep")
            if sweep.field.split(".", 1)[0] not in ("mixture", "train") or "." not in sweep.field:
                raise ValueError(f"{i}.sweep.field: {sweep.field!r} must start with 'mixture.' or 'train.'")
            points = []
            for j, value in enumerate(sweep.values):
                text = _format(value)
                if not _SIMPLE_VALUE.match(text):
                    raise ValueError(f"{i}.sweep.values.{j}: {value!r} cannot be part of a variant name (letters, digits, _.+-)")
                point = SweepPoint(of=name, field=sweep.field, key=sweep.key, value=value, index=j)
                points.append((f"{name}@{sweep.key}={text}", {sweep.field: value}, point))
        seeds = entry.pop("seeds", None)
        if seeds is not None and (not isinstance(seeds, list) or len(seeds) < 2
                                  or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
                                  or len(set(seeds)) != len(seeds)):
            raise ValueError(f"{i}.seeds: give at least two distinct integer training seeds, e.g. [0, 1, 2]")
        for point_name, overrides, point in points:
            for seed in seeds or [None]:
                expanded = copy.deepcopy(entry)
                expanded["overrides"] = dict(overrides)
                expanded["name"] = point_name
                if point is not None:
                    expanded["swept"] = point.model_dump()
                if seed is not None:
                    expanded["name"] = f"{point_name}@seed={seed}"
                    expanded["overrides"]["train.seed"] = seed
                    expanded["repeat"] = RepeatOf(of=point_name, seed=seed).model_dump()
                out.append(expanded)
    return out


def expand_strategies(raw: Any) -> Any:
    """Raw ``strategies`` entries (mappings) with ``sweep`` expanded into one entry per value,
    labelled ``<label or name>@<key>=<value>``."""
    if not isinstance(raw, list):
        return raw
    out: list[Any] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "sweep" not in entry:
            out.append(entry)
            continue
        entry = dict(entry)
        sweep = _sweep(entry.pop("sweep"), f"{i}.sweep")
        if sweep.field not in STRATEGY_FIELDS:
            raise ValueError(f"{i}.sweep.field: a strategy sweeps one of {', '.join(STRATEGY_FIELDS)}, not {sweep.field!r}")
        if entry.get(sweep.field) is not None:
            raise ValueError(f"{i}.sweep.field: {sweep.field!r} is also set on the entry; set it in one place")
        of = str(entry.get("label") or entry.get("name", ""))
        for j, value in enumerate(sweep.values):
            expanded = {**entry, sweep.field: value, "label": f"{of}@{sweep.key}={_format(value)}"}
            expanded["swept"] = SweepPoint(of=of, field=sweep.field, key=sweep.key, value=value, index=j).model_dump()
            out.append(expanded)
    return out


def apply_overrides(spec: dict[str, Any], overrides: dict[str, Any], section: str, where: str) -> dict[str, Any]:
    """A copy of a loaded ``section`` spec (``mixture`` or ``train``) with the overrides under it set."""
    mine = {path.split(".", 1)[1]: value for path, value in overrides.items() if path.split(".", 1)[0] == section}
    if not mine:
        return spec
    out = copy.deepcopy(spec)
    for path, value in mine.items():
        set_path(out, path, value, where)
    return out
