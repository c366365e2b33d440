"""Applying an attack to harmful samples, with the helper models it calls built once per run."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from srlab.models import ModelBackend, ModelSpec, load_backend
from srlab.schema import Sample
from srlab.store import Store


def apply_attack(
    name: str,
    samples: list[Sample],
    *,
    store: Store,
    target: ModelBackend,
    helpers: dict[str, ModelBackend],
    models: dict[str, ModelSpec] | None = None,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
) -> list[Sample]:
    """The samples as attack ``name`` rewrites them; attacker/judge calls are cached in ``store``.

    ``helpers`` maps a model spec (as JSON) to its loaded backend, so an attacker shared by several
    cells loads once; the caller closes them. PAIR's target is the model under evaluation.
    """
    if name == "none":
        return samples
    from srlab.generate.attacks import ATTACKS, build_attack

    backends: dict[str, ModelBackend] = {"target": target}
    for role, spec in (models or {}).items():
        key = spec.model_dump_json()
        if key not in helpers:
            helpers[key] = load_backend(spec)
        backends[role] = helpers[key]
    # Run-wide defaults, offered only to attacks whose constructor takes them.
    accepted = inspect.signature(ATTACKS.get(name)).parameters
    defaults = {"seed": seed, "data_dir": data_dir}
    kwargs = {k: v for k, v in defaults.items() if k in accepted} | (options or {})
    return build_attack(name, models=backends, store=store, **kwargs).attack(samples)
