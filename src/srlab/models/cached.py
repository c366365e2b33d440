"""Cached model calls, for any stage that calls a helper model (LLM judges, attackers).

``CachedBackend`` wraps any backend: each request is looked up in the store's cache by a
content hash of (model identity, messages, decoding) and only misses reach the model. Every
finished batch is written before the next starts, so a killed PAIR run or judge pass resumes
where it stopped, and a rerun of a finished one makes no model calls at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback
from srlab.schema import Generation, GenerationRequest
from srlab.store import Store, generation_key


class CachedBackend(ModelBackend):
    """A backend that answers from ``store``'s cache when it can. ``calls`` counts model requests."""

    def __init__(self, backend: ModelBackend, store: Store | None, namespace: str) -> None:
        self.backend = backend
        self.store = store
        self.namespace = namespace
        self.spec: ModelSpec = backend.spec
        self.calls = 0

    def identity(self) -> dict[str, object]:
        return self.backend.identity()

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        identity = self.backend.identity()
        keys = [generation_key(identity, r) for r in requests]
        found: dict[str, Generation] = {}
        if self.store is not None:
            for key in dict.fromkeys(keys):
                cached = self.store.cache_get(self.namespace, key)
                if cached is not None:
                    found[key] = Generation.from_dict(cached)
        todo: dict[str, GenerationRequest] = {}
        for key, request in zip(keys, requests, strict=True):
            if key not in found and key not in todo:
                todo[key] = request
        if progress is not None and len(keys) > len(todo):
            progress(len(keys) - len(todo))
        if todo:
            outputs = self.backend.generate(list(todo.values()), progress=progress)
            if len(outputs) != len(todo):
                raise RuntimeError(f"backend returned {len(outputs)} generations for {len(todo)} requests")
            self.calls += len(todo)
            for key, output in zip(todo, outputs, strict=True):
                found[key] = output
                if self.store is not None and output.error is None:  # a failed call is retried next time
                    self.store.cache_put(self.namespace, key, output.to_dict())
        return [found[key] for key in keys]

    def close(self) -> None:
        self.backend.close()


def resolve_backend(backend: ModelBackend | ModelSpec | str) -> ModelBackend:
    """A ready backend from a backend, a spec, or a model name (``"smollm2-135m"``, a hub id)."""
    if isinstance(backend, ModelBackend):
        return backend
    from srlab.models import load_backend

    return load_backend(backend)
