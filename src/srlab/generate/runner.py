"""Generation stage: send prompts to a backend, storing each response the moment it arrives."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from tqdm.auto import tqdm

from srlab.models.base import ModelBackend
from srlab.schema import Generation, GenerationRequest
from srlab.store import Store, generation_key

log = logging.getLogger(__name__)


def generate_cached(
    backend: ModelBackend,
    store: Store,
    requests: Sequence[GenerationRequest],
    *,
    chunk_size: int | None = None,
    desc: str = "generate",
    keep_failed: bool = False,
) -> list[tuple[str, Generation]]:
    """Return ``(key, generation)`` per request, generating only what the store lacks.

    Each response is stored as soon as the backend yields it, so a killed or interrupted run
    loses no finished work. A request that failed for good comes back as a generation with
    ``error`` set (see ``failed``); it is stored too, and a rerun asks for it again unless
    ``keep_failed``. Identical requests within one call are generated once. ``chunk_size`` bounds
    how many requests one backend call receives (default: twice the backend's batch size).
    """
    several = next((r for r in requests if r.decoding.n > 1), None)
    if several is not None:
        # A backend answers each request once; n samples are n requests (see ``per_sample``).
        raise ValueError(f"a request with decoding.n={several.decoding.n}: split it with per_sample() first")
    identity = backend.identity()
    keys = [generation_key(identity, r) for r in requests]
    stored = store.get_generations(keys)
    missing: dict[str, GenerationRequest] = {}
    for key, request in zip(keys, requests, strict=True):
        if key in missing:
            continue
        found = stored.get(key)
        if found is None or (found.error is not None and not keep_failed):
            missing[key] = request
    retried = sum(1 for key in missing if key in stored)
    log.info(
        "%s: %d of %d prompts already stored; generating %d%s",
        desc, len(keys) - len(missing), len(keys), len(missing),
        f" ({retried} failed before)" if retried else "",
    )
    if missing:
        size = chunk_size or max(1, getattr(backend.spec, "batch_size", 16)) * 2
        todo = list(missing.items())
        with tqdm(total=len(todo), desc=desc, unit="prompt", disable=None) as bar:
            for start in range(0, len(todo), size):
                chunk = todo[start : start + size]
                seen = 0
                for index, generation in backend.iter_generate([r for _, r in chunk], progress=bar.update):
                    key, request = chunk[index]
                    store.put_generations([(key, identity, request, generation)])
                    stored[key] = generation
                    seen += 1
                if seen != len(chunk):
                    raise RuntimeError(f"backend returned {seen} generations for {len(chunk)} requests")
    results = [(key, stored[key]) for key in keys]
    failures = failed(results)
    if failures:
        log.warning("%s: %d of %d requests failed (%s)%s", desc, sum(failures.values()), len(keys),
                    describe_failures(failures), "" if keep_failed else "; a rerun retries them")
    return results


def per_sample(request: GenerationRequest) -> list[GenerationRequest]:
    """The ``decoding.n`` one-sample requests of ``request``: sample i is seeded ``seed + i``.

    Each sample is a request of its own, so each is cached (and resumed) on its own, and sample 0
    has the key a one-sample run with the same decoding has.
    """
    return [replace(request, decoding=request.decoding.for_sample(i)) for i in range(request.decoding.n)]


def failed(results: Sequence[tuple[str, Generation]]) -> Counter[str]:
    """How many results failed, per reason (``Generation.error``); empty when none did."""
    return Counter(g.error for _, g in results if g.error is not None)


def describe_failures(failures: Counter[str], limit: int = 3) -> str:
    """``"2x HTTP 400: content filter; 1x timed out"`` — the commonest reasons first (failed
    requests here; dropped mixture records in ``srlab.data.build``)."""
    parts = [f"{count}x {reason}" for reason, count in failures.most_common(limit)]
    if len(failures) > limit:
        parts.append(f"{len(failures) - limit} more reason(s)")
    return "; ".join(parts)
