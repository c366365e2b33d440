"""vLLM offline backend (GPU): one ``LLM.chat`` call per batch of requests; vLLM schedules it.

vLLM is optional and imported here only, so the core installs and imports without a GPU.

Data parallel (``data_parallel_size: N``): vLLM's offline ``LLM`` refuses
``LLM(data_parallel_size=N)`` in one process (vLLM >= 0.11.1: "not supported for
single-process usage and may hang"). Its supported offline route, which this follows
(vLLM's examples/offline_inference/data_parallel.py), is one process per data-parallel rank,
each told its rank through ``VLLM_DP_RANK`` / ``VLLM_DP_SIZE`` / ``VLLM_DP_MASTER_*`` and building
a plain ``LLM`` (of ``tensor_parallel_size`` GPUs). Each batch is split across the ranks in order;
a rank left without a request gets a one-token placeholder, because the ranks of a
mixture-of-experts model step together.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from srlab.errors import SrlabError
from srlab.generate import think
from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback
from srlab.models.reasoning import join_prefill, make_generation
from srlab.models.resolve import ModelSource, resolve_model
from srlab.schema import DecodingConfig, Generation, GenerationRequest

REPLICA_START_TIMEOUT_S = 3600.0  # loading a large model onto its GPUs can take many minutes
PLACEHOLDER = GenerationRequest([{"role": "user", "content": "."}], DecodingConfig(max_new_tokens=1))


def _import_vllm(spec: ModelSpec) -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise SrlabError(
            f"model {spec.name!r} asks for backend 'vllm', but vllm is not installed: "
            "pip install vllm (needs a CUDA GPU); or use backend: hf"
        ) from exc
    return vllm


class VLLMBackend(ModelBackend):
    """vLLM's offline engine. Requests with a prefill, stop strings or template switches (think
    budgets, ``srlab.generate.think``) are rendered with the engine's tokenizer, exactly as the HF
    backend renders them, and sent as token ids: vLLM's ``continue_final_message`` would pass the
    prefill through the template, which rewrites ``<think>`` blocks in assistant turns."""

    supports_prefill = True

    def __init__(self, spec: ModelSpec) -> None:
        vllm = _import_vllm(spec)
        self.spec = spec
        self.source: ModelSource = resolve_model(spec.name, spec.revision)
        if spec.device != "auto" and not spec.device.startswith("cuda"):
            raise SrlabError(f"backend 'vllm' runs on CUDA GPUs; device {spec.device!r} is not supported, use backend: hf")
        self.dtype = spec.dtype  # vLLM's "auto" takes the checkpoint's dtype (bf16 for most models)
        self._vllm = vllm
        self._identity = {**self.source.identity, "engine": "vllm", "dtype": spec.dtype}
        self._replicas: _Replicas | None = None
        if spec.data_parallel_size > 1:
            self._replicas = _Replicas(spec)
            return
        self.llm = vllm.LLM(
            model=self.source.load_from,
            revision=self.source.revision,
            # Recent vLLM defaults the tokenizer's revision to the model's; pinned for every version.
            tokenizer_revision=self.source.revision,
            tensor_parallel_size=spec.tensor_parallel_size,
            dtype=spec.dtype,
        )

    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        if not requests:
            return []
        if all(r.think is None for r in requests):
            # Plain requests keep their one LLM.chat call; their traces are not counted here.
            return self._generate_raw(requests, progress)
        # Data-parallel ranks hold the tokenizer: in this process traces are counted by the
        # rounds' completion tokens, and no-think prefills an empty trace.
        tokenizer = self.llm.get_tokenizer() if "llm" in self.__dict__ else None
        return think.drive(
            self._generate_raw, requests, progress,
            count_tokens=None if tokenizer is None else (lambda text: len(tokenizer.encode(text, add_special_tokens=False))),
            thinking_off=None if tokenizer is None else think.thinking_switch(getattr(tokenizer, "chat_template", None)),
        )

    def _generate_raw(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        if self._replicas is not None:
            generations = self._replicas.generate(list(requests))
        else:
            generations = self._generate_here(requests)
        if progress is not None:
            progress(len(requests))
        return generations

    def _generate_here(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        plain = [i for i, r in enumerate(requests) if r.plain]
        rendered = [i for i, r in enumerate(requests) if not r.plain]
        outputs: list[Any] = [None] * len(requests)
        if plain:
            params = [self._sampling_params(requests[i].decoding) for i in plain]
            answered = self.llm.chat([requests[i].messages for i in plain], sampling_params=params, use_tqdm=False)
            for i, output in zip(plain, answered, strict=True):
                outputs[i] = output
        if rendered:
            tokenizer = self.llm.get_tokenizer()
            prompts = []
            for i in rendered:
                request = requests[i]
                text = tokenizer.apply_chat_template(
                    request.messages, add_generation_prompt=True, tokenize=False, **(request.chat_template_kwargs or {})
                )
                text = join_prefill(text, request.prefill)
                # The template writes any BOS token itself, as in the HF backend.
                prompts.append({"prompt_token_ids": tokenizer.encode(text, add_special_tokens=False)})
            params = [self._sampling_params(requests[i].decoding, requests[i].stop) for i in rendered]
            answered = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
            for i, output in zip(rendered, answered, strict=True):
                outputs[i] = output
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            hit_limit = completion.finish_reason == "length"
            generations.append(
                make_generation(
                    completion.text,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    hit_token_limit=hit_limit,
                    finish_reason=completion.finish_reason,
                )
            )
        return generations

    def _sampling_params(self, decoding: DecodingConfig, stop: tuple[str, ...] = ()) -> Any:
        extra = {"stop": list(stop)} if stop else {}  # vLLM leaves the stop string out of the text
        return self._vllm.SamplingParams(
            **extra,
            max_tokens=decoding.max_new_tokens,
            temperature=decoding.temperature,
            top_p=decoding.top_p,
            # Greedy ignores the seed; a per-request seed makes sampled outputs reproducible.
            seed=decoding.seed if decoding.temperature > 0 else None,
            # Reasoning tags such as <think> are special tokens in some tokenizers; keep them.
            skip_special_tokens=False,
        )

    def close(self) -> None:
        if self._replicas is not None:
            self._replicas.close()
        # Dropping the last reference lets vLLM free its KV cache and weights on the GPU.
        if self.__dict__.pop("llm", None) is not None:
            import gc

            gc.collect()


def shard(count: int, ranks: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, end)`` slices of ``count`` items over ``ranks``, sizes differing by at most one."""
    floor, extra = divmod(count, ranks)
    bounds, start = [], 0
    for rank in range(ranks):
        end = start + floor + (1 if rank < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


class _Replicas:
    """One engine process per data-parallel rank, fed over pipes."""

    def __init__(self, spec: ModelSpec) -> None:
        import atexit
        import multiprocessing
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
        size = spec.data_parallel_size
        self.connections: list[Any] = []
        self.processes: list[Any] = []
        single = spec.model_copy(update={"data_parallel_size": 1}).model_dump()
        for rank in range(size):
            parent, child = context.Pipe()
            process = context.Process(
                # Not a daemon: vLLM starts an engine-core process of its own, which a daemon may not.
                target=_replica_main, args=(single, rank, size, port, child), name=f"srlab-vllm-dp{rank}"
            )
            process.start()
            child.close()
            self.connections.append(parent)
            self.processes.append(process)
        atexit.register(self.close)  # a run that ends without close() must not leave GPUs held
        try:
            for rank, connection in enumerate(self.connections):
                self._receive(rank, connection, REPLICA_START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    def _receive(self, rank: int, connection: Any, timeout: float | None = None) -> Any:
        if timeout is not None and not connection.poll(timeout):
            raise SrlabError(f"vLLM data-parallel rank {rank} did not start within {timeout:g}s")
        try:
            status, value = connection.recv()
        except EOFError:
            raise SrlabError(f"vLLM data-parallel rank {rank} exited (see its log above)") from None
        if status == "error":
            raise SrlabError(f"vLLM data-parallel rank {rank}: {value}")
        return value

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        bounds = shard(len(requests), len(self.connections))
        for connection, (start, end) in zip(self.connections, bounds, strict=True):
            connection.send(requests[start:end] or [PLACEHOLDER])
        generations: list[Generation] = []
        for rank, (connection, (start, end)) in enumerate(zip(self.connections, bounds, strict=True)):
            answered = self._receive(rank, connection)
            generations.extend(answered if end > start else [])
        return generations

    def close(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(OSError, ValueError):  # that rank is gone already
                connection.send(None)
        for process in self.processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
        self.connections, self.processes = [], []


def _replica_main(spec: dict[str, Any], rank: int, size: int, port: int, connection: Any) -> None:
    """A data-parallel rank: vLLM reads its place from these variables, then serves batches until told to stop."""
    os.environ.update({
        "VLLM_DP_RANK": str(rank), "VLLM_DP_RANK_LOCAL": str(rank), "VLLM_DP_SIZE": str(size),
        "VLLM_DP_MASTER_IP": "127.0.0.1", "VLLM_DP_MASTER_PORT": str(port),
    })
    try:
        backend = VLLMBackend(ModelSpec(**spec))
    except Exception as exc:  # reported to the parent, which raises it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ready", None))
    while (requests := connection.recv()) is not None:
        try:
            connection.send(("ok", backend.generate(requests)))
        except Exception as exc:
            connection.send(("error", f"{type(exc).__name__}: {exc}"))
    backend.close()
