"""The mixture manifest: what went in, what was removed and why, and hashes that prove it."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srlab.hashing import canonical_json


@dataclass
class SourceReport:
    name: str
    type: str
    kind: str
    recipe: str | None
    origin: str
    pool: int
    requested: int
    selected: int
    removed: int
    filtered: int
    sha256: str
    length: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)  # filter reason -> records dropped for it


@dataclass
class Manifest:
    name: str
    created: float
    spec: dict[str, Any]
    spec_sha256: str
    mixture_path: str
    mixture_sha256: str
    seed: int
    sources: list[SourceReport]
    counts: dict[str, int]
    decontamination: dict[str, Any]
    filtered: list[dict[str, Any]]
    length_stats: dict[str, dict[str, Any]]
    token_counter: str
    provenance: dict[str, Any] = field(default_factory=dict)
    filter_judges: dict[str, str] = field(default_factory=dict)  # judge name -> version the filters ran

    @classmethod
    def create(cls, *, spec: Any, mixture_path: Path, **fields: Any) -> Manifest:
        from srlab.provenance import collect_provenance

        spec_dict = spec.model_dump(mode="json")
        return cls(
            name=spec.name,
            created=time.time(),
            spec=spec_dict,
            spec_sha256=hashlib.sha256(canonical_json(spec_dict).encode("utf-8")).hexdigest(),
            mixture_path=str(mixture_path),
            seed=spec.seed,
            provenance=collect_provenance(seeds={"mixture": spec.seed}),
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def removed(self) -> list[dict[str, Any]]:
        return list(self.decontamination.get("removed", []))
