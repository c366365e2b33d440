"""The one contract every model backend implements."""

from __future__ import annotations

import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from srlab.schema import Generation, GenerationRequest

ProgressCallback = Callable[[int], None]
"""Called with the number of requests just finished, so the caller can advance a progress bar."""


class ModelSpec(BaseModel):
    """How to reach a model. ``name`` is an embedded alias, a hub id, a local folder or a served model name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="smollm2-135m, a HF hub id, a local model folder, or the served model name.")
    backend: str = Field(
        "auto", description="auto (openai when base_url is set, else hf), or any registered backend: hf, openai, vllm, ..."
    )
    revision: str | None = Field(None, description="Hub revision (commit) to pin.")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key.")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:0 ...")
    dtype: str = Field(
        "auto",
        description="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16; llamacpp: auto (float32) or gguf (the file's own types).",
    )
    batch_size: int = Field(16, ge=1, description="Requests per forward pass (hf, vllm) or in flight at once (llamacpp); the openai backend uses max_concurrency.")
    threads: int | None = Field(
        None, ge=1, description="CPU threads (llamacpp backend); default: every CPU this process may use."
    )
    max_concurrency: int = Field(8, ge=1, description="Concurrent HTTP requests (openai backend).")
    timeout_s: float = Field(
        120.0, gt=0, description="Deadline per request attempt, connect to last byte (openai backend)."
    )
    max_retries: int = Field(4, ge=0, description="Retries on 429/5xx/timeouts (openai backend).")
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM tensor parallelism.")
    data_parallel_size: int = Field(
        1, ge=1, description="vLLM data parallelism: N engine processes (vLLM data-parallel ranks), each of tensor_parallel_size GPUs."
    )
    allow_insecure_key: bool = Field(
        False,
        description="Send the API key over plain http:// to a non-loopback host (openai backend).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from srlab.models import BACKENDS  # the registry, plugins included

        if value != "auto" and value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; valid: auto, {', '.join(BACKENDS.names())}")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_base_url(value)
        return value

    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "openai" if self.base_url else "hf"


def check_base_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an http(s) URL with a host, a valid port and no credentials."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = redact_url(url) if "@" in url else url
        raise ValueError(f"{shown!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8080/v1")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials in the URL are not allowed (they would be stored with the config); "
            "put the key in an environment variable and name it with api_key_env (--api-key-env)"
        )
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{url!r}: port must be between 1 and 65535")


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL before it goes into a message or a cache key."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def in_request_order(pairs: Iterable[tuple[int, Generation]], count: int) -> list[Generation]:
    """The generations of ``(index into requests, generation)`` pairs, as ``iter_generate``
    yields them in any order, put back in request order; one per request."""
    results: list[Generation | None] = [None] * count
    for index, generation in pairs:
        results[index] = generation
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def failed_generation(reason: str) -> Generation:
    """The stored outcome of a request that failed for good: no text, and why."""
    return Generation(text="", answer="", finish_reason="error", error=reason)


class ModelBackend(ABC):
    """Turns a batch of chat requests into generations.

    Backends own batching, retries and device placement; callers pass whole lists and may pass a
    ``progress`` callback. ``identity()`` names the model for cache keys: two backends that would
    produce the same text for the same request must return the same identity.
    """

    spec: ModelSpec

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        """Return one Generation per request, in order."""

    def iter_generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> Iterator[tuple[int, Generation]]:
        """``(index into requests, generation)`` as each finishes, in any order, one per request.

        The caller stores each as it arrives. Backends that finish requests one by one (HTTP)
        override this; the default yields the whole batch once ``generate`` returns.
        """
        yield from enumerate(self.generate(requests, progress=progress))

    def identity(self) -> dict[str, Any]:
        return {"name": self.spec.name, "revision": self.spec.revision}

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release resources (servers, GPU memory). Safe to call twice."""
