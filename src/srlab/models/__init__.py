"""Model backends behind one contract. Heavy backends are imported only when used."""

from __future__ import annotations

from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback
from srlab.models.reasoning import make_generation, split_reasoning
from srlab.registry import Registry

BACKENDS: Registry[type[ModelBackend]] = Registry("backend", group="srlab.backends", base=ModelBackend)
BACKENDS.register("hf", "srlab.models.hf_backend:HFBackend")
BACKENDS.register("llamacpp", "srlab.models.llamacpp_backend:LlamaCppBackend")
BACKENDS.register("openai", "srlab.models.http_backend:OpenAIBackend")
BACKENDS.register("vllm", "srlab.models.vllm_backend:VLLMBackend")


def load_backend(spec: ModelSpec | str) -> ModelBackend:
    """Build the backend a spec asks for (``"smollm2-135m"`` alone is a valid spec)."""
    if isinstance(spec, str):
        spec = ModelSpec(name=spec)
    backend_cls = BACKENDS.get(spec.resolved_backend())
    return backend_cls(spec)  # type: ignore[call-arg]


__all__ = [
    "BACKENDS",
    "ModelBackend",
    "ModelSpec",
    "ProgressCallback",
    "load_backend",
    "make_generation",
    "split_reasoning",
]
