"""srlab: measure and improve the safety-reasoning trade-off of language models.

``srlab.evaluate(model=..., benchmarks=[...], judges=..., strategy=...)`` and
``srlab.run("experiment.yaml")`` are the CLI's two jobs as functions; both return a ``Report``.
The registries (``BACKENDS``, ``BENCHMARKS``, ``STRATEGIES``, ``ATTACKS``, ``JUDGES``) take new
definitions by decorator or through entry points (see ``srlab.registry``).
"""

from __future__ import annotations

from typing import Any

from srlab.errors import DataFormatError, MissingDataError, SrlabError, UnknownNameError
from srlab.schema import DecodingConfig, Generation, GenerationRequest, Sample, Verdict

__version__ = "0.1.0"

# Imported on first use, so ``import srlab`` stays light (no torch, no model code).
_LAZY = {
    "evaluate": "srlab.api:evaluate",
    "run": "srlab.api:run",
    "Report": "srlab.report.model:Report",
    "ModelSpec": "srlab.models.base:ModelSpec",
    "ModelBackend": "srlab.models.base:ModelBackend",
    "Benchmark": "srlab.benchmarks.base:Benchmark",
    "PromptStrategy": "srlab.generate.strategies:PromptStrategy",
    "Attack": "srlab.generate.attacks.base:Attack",
    "Judge": "srlab.judge.base:Judge",
    "JudgeSpec": "srlab.judge.spec:JudgeSpec",
    "BACKENDS": "srlab.models:BACKENDS",
    "BENCHMARKS": "srlab.benchmarks:BENCHMARKS",
    "STRATEGIES": "srlab.generate.strategies:STRATEGIES",
    "ATTACKS": "srlab.generate.attacks:ATTACKS",
    "JUDGES": "srlab.judge:JUDGES",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'srlab' has no attribute {name!r}")
    import importlib

    module, _, attr = _LAZY[name].partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


__all__ = [
    "DataFormatError",
    "DecodingConfig",
    "Generation",
    "GenerationRequest",
    "MissingDataError",
    "Sample",
    "SrlabError",
    "UnknownNameError",
    "Verdict",
    "__version__",
    *_LAZY,
]
