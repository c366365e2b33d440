"""llama.cpp backend: GGUF models in process on CPU, with continuous batching.

Up to ``batch_size`` requests are in flight at once, each in its own KV-cache stream. Every step
decodes one token for every running request in a single ``llama_decode`` call; a request that
ends (EOS or ``max_new_tokens``) frees its stream at once and the next waiting request's prompt is
prefilled into it, so no slot computes padding after its row has ended. The running requests are
kept in streams 0..n-1, in order (``_compact``): llama.cpp runs a step as one forward pass per run
of consecutive stream ids, so a gap would cost a whole extra pass.

``dtype`` picks the numerics:

- ``auto`` / ``float32`` (the default, as the HF backend on CPU): the GGUF is dequantized once
  to a float32 GGUF in the user cache (for the embedded SmolLM2 its weights are then bit for bit
  the HF backend's float32 weights), and the KV cache is float32. Only the order of float
  operations differs from the HF backend, so greedy texts match it until a near-exact tie
  (63 of 64 GSM8K texts at 256 tokens). Prompts are tokenized by llama.cpp's tokenizer, which
  splits a few rare characters differently from HF's (" ¾": 1 of those 64 prompts).
- ``gguf``: the file's own tensor types (the embedded SmolLM2 is Q4_1), a float16 KV cache, and
  llama.cpp's 8-bit quantization of activations inside quantized matrix products. Greedy texts
  follow the float32 ones only for a while (4 of 64 GSM8K texts identical at 256 tokens).

Output guarantees, kept from the HF backend in both modes:

- Greedy output depends on the prompt only, not on which requests share the batch: the KV cache
  is not unified (``kv_unified=False``: attention never spans another request's cells), every
  prompt is prefilled in ``llama_decode`` calls of its own, and the token is the first argmax of
  the logits. ``tests/test_llamacpp_backend.py`` pins this.
- A sampled output depends on the request's own seed: each request draws from its own
  ``numpy`` generator (temperature, then nucleus top-p, as in the HF backend).

The identity says ``engine: llama.cpp`` and the dtype, so no two engines share cached generations.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import os
import sys
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srlab.errors import SrlabError, UnknownNameError
from srlab.generate import think
from srlab.models import smollm2
from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback, in_request_order
from srlab.models.reasoning import cut_at_stop, join_prefill, make_generation
from srlab.paths import cache_dir
from srlab.schema import DecodingConfig, Generation, GenerationRequest

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "llama-cpp-python==0.3.36"'
_CTX_ROUND = 256  # per-request context is rounded up to this many tokens
_PREFILL_CHUNK = 512  # prompt tokens per llama_decode call (also the context's n_batch)
_GGML_LEVELS = {3: logging.WARNING, 4: logging.ERROR}  # ggml: 1 debug, 2 info, 5 continuation -> DEBUG
_DTYPES = ("auto", "float32", "gguf")
_GGML_TYPE_F32, _GGML_TYPE_F16 = 0, 1
_LLAMA_FTYPE_ALL_F32 = 0
_FLASH_ATTN_DISABLED = 0
_log_callback: Any = None  # the ctypes callback must outlive every llama.cpp call


def _llama_cpp() -> Any:
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        # ggml's threads meet at OpenMP barriers hundreds of times per token, and libgomp spins
        # ~300k times before it sleeps: on a busy machine each barrier then waits out another
        # process's time slice (measured 3x slower on 2 shared cores). A short spin costs little
        # on idle cores. libgomp reads this when it loads, so it only helps before that.
        os.environ["GOMP_SPINCOUNT"] = "10000"
    try:
        import llama_cpp
    except ImportError as exc:
        raise SrlabError(f"the llamacpp backend needs llama-cpp-python: {INSTALL_HINT}") from exc
    global _log_callback
    if _log_callback is None:
        # llama.cpp writes its load report to stderr; route it to logging (debug) instead.
        @llama_cpp.llama_log_callback
        def forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            log.log(_GGML_LEVELS.get(level, logging.DEBUG), "%s", text.decode("utf-8", "replace").rstrip())

        _log_callback = forward
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
    return llama_cpp


def resolve_gguf(name: str) -> tuple[Path, dict[str, Any]]:
    """The GGUF file a model name stands for, and its machine-independent identity.

    ``smollm2-135m`` is the embedded GGUF (``smollm2.gguf_path()``); any other name must be a
    ``.gguf`` file. Like a local HF folder, a file is identified by its name, size and mtime.
    """
    if name == smollm2.ALIAS:
        return smollm2.gguf_path(), {"name": name, "source": "embedded", "package": smollm2.PACKAGE}
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        stat = path.stat()
        digest = hashlib.sha256(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        return path.resolve(), {"name": path.name, "source": "local", "fingerprint": digest}
    raise SrlabError(
        f"the llamacpp backend loads GGUF files: {name!r} is neither {smollm2.ALIAS!r} nor an existing .gguf file"
    )


def float32_gguf(source: Path, identity: dict[str, Any], threads: int = 1) -> Path:
    """``source`` with every tensor dequantized to float32: converted once, kept in the user cache.

    The file is written under a unique temporary name and renamed into place, so a killed or
    concurrent conversion never leaves a half-written file that a later run would load.
    """
    if all_float32(source):
        return source  # already float32 (e.g. a trained variant exported by models.gguf_export)
    llama_cpp = _llama_cpp()
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    target = cache_dir() / "models" / "llamacpp" / f"{source.stem}.{key}.f32.gguf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True  # "requantizing" a quantized tensor to float32 dequantizes it
    params.pure = True  # every tensor, embeddings and output included
    params.output_tensor_type = _GGML_TYPE_F32
    params.token_embedding_type = _GGML_TYPE_F32
    params.nthread = threads
    log.info("dequantizing %s to float32 (once) into %s", source.name, target)
    try:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
        if status != 0:
            raise SrlabError(f"llama.cpp could not convert {source} to float32 (status {status})")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def all_float32(path: Path) -> bool:
    """Whether every tensor of a GGUF is float32 (read from its header; the data is not touched)."""
    stat = Path(path).stat()
    return _all_float32_file(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def float32_tensors(reader: Any) -> bool:
    """``all_float32`` for a ``gguf.GGUFReader`` the caller already has. Building one parses the
    whole vocabulary (about 4 s for SmolLM2's 49k tokens), so a caller that needs one anyway asks
    it instead of paying twice."""
    return all(int(t.tensor_type) == _GGML_TYPE_F32 for t in reader.tensors)


@functools.lru_cache(maxsize=64)
def _all_float32_file(path: str, size: int, mtime_ns: int) -> bool:
    # Keyed by size and mtime as well, so a file replaced in place is read again. An experiment
    # asks about its base GGUF once per trained variant and once per load.
    try:
        from gguf import GGUFReader
    except ImportError:  # without the gguf package, convert (a float32 file converts to itself)
        return False
    return float32_tensors(GGUFReader(path))


@dataclass
class _Row:
    """One request in flight: its stream (``seq``), tokens so far and sampler."""

    index: int
    seq: int
    prompt: list[int]
    decoding: DecodingConfig
    rng: np.random.Generator | None
    stop: tuple[str, ...] = ()
    tokens: list[int] = field(default_factory=list)
    stopped: bool = False  # ended at a stop string


class LlamaCppBackend(ModelBackend):
    """Loads the GGUF once at construction; ``generate`` may be called many times.

    Requests may carry a prefill, stop strings and template switches, so think budgets
    (``srlab.generate.think``) run here.
    """

    supports_prefill = True

    def __init__(self, spec: ModelSpec) -> None:
        llama_cpp = _llama_cpp()
        self.spec = spec
        if spec.revision is not None:
            raise SrlabError(f"the llamacpp backend loads local GGUF files; remove revision={spec.revision!r}")
        if spec.device not in ("auto", "cpu"):
            raise SrlabError(f"the llamacpp backend runs on the CPU; device {spec.device!r} is not supported")
        if spec.dtype not in _DTYPES:
            raise UnknownNameError("dtype", spec.dtype, _DTYPES)
        self.dtype = "float32" if spec.dtype == "auto" else spec.dtype
        self.source, identity = resolve_gguf(spec.name)
        self.threads = spec.threads or _cpu_threads()
        self.path = self.source if self.dtype == "gguf" else float32_gguf(self.source, identity, self.threads)
        # float32 keeps the KV cache in float32 too, as the HF backend does; gguf keeps llama.cpp's default.
        self._kv_type = _GGML_TYPE_F32 if self.dtype == "float32" else _GGML_TYPE_F16
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        model = llama_cpp.llama_model_load_from_file(str(self.path).encode(), params)
        if not model:
            raise SrlabError(f"llama.cpp could not load {self.path} (is it a valid GGUF file?)")
        self._lib = llama_cpp
        self._model = model
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._ctx: Any = None
        self._ctx_shape: tuple[int, int] = (0, 0)  # (streams, tokens per stream)
        self._batch: Any = None
        self._batch_size = 0
        template = llama_cpp.llama_model_chat_template(model, None)
        if not template:
            self.close()
            raise SrlabError(
                f"model {spec.name!r} has no chat template in its GGUF metadata; srlab sends chat "
                "messages, so use an instruction-tuned model's GGUF"
            )
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._template = template.decode("utf-8")
        self._formatter = Jinja2ChatFormatter(
            self._template,
            eos_token=self._token_text(llama_cpp.llama_vocab_eos(self._vocab)),
            bos_token=self._token_text(llama_cpp.llama_vocab_bos(self._vocab)),
            add_generation_prompt=True,
        )
        self._identity = {**identity, "engine": "llama.cpp", "dtype": self.dtype}

    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def close(self) -> None:
        lib = self.__dict__.get("_lib")
        if lib is None:
            return
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            lib.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        # At interpreter exit the ctypes functions may already be gone; the OS frees the memory.
        if not sys.is_finalizing():
            with contextlib.suppress(Exception):
                self.close()

    # --- tokens -------------------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (self._lib.llama_vocab_get_text(self._vocab, token) or b"").decode("utf-8", "replace")

    def encode(self, request: GenerationRequest) -> list[int]:
        """Prompt token ids: the GGUF's chat template (and the request's prefill), tokenized with special tokens parsed."""
        text = self._formatter(messages=request.messages, **(request.chat_template_kwargs or {})).prompt
        text = join_prefill(text, request.prefill) if request.prefill else text
        return self._tokenize(text)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def _tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        # The template already writes any BOS token, as in the HF backend: add no special tokens.
        buffer = (self._lib.llama_token * (len(data) + 8))()
        count = self._lib.llama_tokenize(self._vocab, data, len(data), buffer, len(buffer), False, True)
        if count < 0:
            raise SrlabError(f"llama.cpp could not tokenize a prompt of {len(data)} bytes")
        return list(buffer[:count])

    def decode_tokens(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens``, special tokens kept (reasoning tags may be special tokens)."""
        if not tokens:
            return ""
        array = (self._lib.llama_token * len(tokens))(*tokens)
        size = 16 * len(tokens) + 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            written = self._lib.llama_detokenize(self._vocab, array, len(tokens), buffer, size, False, True)
            if written >= 0:
                return buffer.raw[:written].decode("utf-8", "replace")
            size = -written + 1

    # --- generation ---------------------------------------------------------------------------

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        return in_request_order(self.iter_generate(requests, progress=progress), len(requests))

    def iter_generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> Iterator[tuple[int, Generation]]:
        if self._model is None:
            raise SrlabError(f"backend for {self.spec.name!r} was closed; build a new one")
        if any(r.think is not None for r in requests):
            # A think budget takes several rounds per request: its results come all at once.
            yield from enumerate(think.drive(
                self._generate_raw, requests, progress,
                count_tokens=self.count_tokens, thinking_off=think.thinking_switch(self._template),
            ))
            return
        for index, generation in self._iter_raw(requests, progress):
            think.count_trace(generation, self.count_tokens)
            yield index, generation

    def _generate_raw(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        return in_request_order(self._iter_raw(requests, progress), len(requests))

    def _iter_raw(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None
    ) -> Iterator[tuple[int, Generation]]:
        if not requests:
            return
        import numpy as np

        lib = self._lib
        prompts = [self.encode(r) for r in requests]
        streams = min(self.spec.batch_size, len(requests), int(lib.llama_max_parallel_sequences()))
        longest = max(len(p) + r.decoding.max_new_tokens for p, r in zip(prompts, requests, strict=True))
        self._ensure_context(streams, longest)
        memory = lib.llama_get_memory(self._ctx)
        lib.llama_memory_clear(memory, True)
        waiting = deque(range(len(requests)))
        free = list(range(streams - 1, -1, -1))  # stream ids, popped lowest first
        running: list[_Row] = []
        while waiting or running:
            while waiting and free:
                index = waiting.popleft()
                decoding = requests[index].decoding
                rng = np.random.default_rng(decoding.seed) if decoding.temperature > 0 else None
                row = _Row(index, free.pop(), prompts[index], decoding, rng, requests[index].stop)
                self._prefill(row)
                row.tokens.append(self._choose(row, self._logits(-1)))
                running.append(row)
            finished = [row for row in running if self._is_done(row)]
            for row in finished:
                running.remove(row)
                lib.llama_memory_seq_rm(memory, row.seq, -1, -1)
                free.append(row.seq)
                free.sort(reverse=True)
                if progress is not None:
                    progress(1)
                yield row.index, self._to_generation(row)
            if not running or (waiting and free):
                continue  # refill the freed streams before the next step
            self._compact(running, free, memory)
            batch = self._batch
            for slot, row in enumerate(running):
                batch.token[slot] = row.tokens[-1]
                batch.pos[slot] = len(row.prompt) + len(row.tokens) - 1
                batch.n_seq_id[slot] = 1
                batch.seq_id[slot][0] = row.seq
                batch.logits[slot] = 1
            batch.n_tokens = len(running)
            self._decode()
            for slot, row in enumerate(running):
                row.tokens.append(self._choose(row, self._logits(slot)))

    def _compact(self, running: list[_Row], free: list[int], memory: Any) -> None:
        """Keep the running rows in streams 0..n-1, in stream order within the batch.

        llama.cpp splits a step over separate streams into one micro-batch per run of consecutive
        stream ids in batch order (``split_equal(..., sequential=true)``), and each micro-batch is
        a whole forward pass. Once rows end with nobody waiting, gaps would turn one step into many
        (measured: steps twice as slow as the batch emptied). So the row in the highest stream moves
        into the lowest free one; a cross-stream copy moves the whole stream, cells and positions
        unchanged, so the row's attention, and its tokens, stay what they were.
        """
        lib = self._lib
        running.sort(key=lambda row: row.seq)
        while free and running and free[-1] < running[-1].seq:
            row, target = running.pop(), free.pop()
            lib.llama_memory_seq_cp(memory, row.seq, target, -1, -1)
            lib.llama_memory_seq_rm(memory, row.seq, -1, -1)
            free.append(row.seq)
            free.sort(reverse=True)
            row.seq = target
            running.insert(target, row)

    def _ensure_context(self, streams: int, longest: int) -> None:
        """A context of ``streams`` separate KV streams holding ``longest`` tokens each."""
        lib = self._lib
        per_stream = -(-longest // _CTX_ROUND) * _CTX_ROUND
        have_streams, have_tokens = self._ctx_shape
        if self._ctx is not None and have_streams >= streams and have_tokens >= per_stream:
            return
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        streams, per_stream = max(streams, have_streams), max(per_stream, have_tokens)
        params = lib.llama_context_default_params()
        params.n_seq_max = streams
        params.n_ctx = streams * per_stream
        params.n_batch = max(_PREFILL_CHUNK, streams)
        params.n_ubatch = max(_PREFILL_CHUNK, streams)
        # One stream per request: no request ever attends over (or is laid out around) another's cells.
        params.kv_unified = False
        params.type_k = self._kv_type
        params.type_v = self._kv_type
        # Plain attention (softmax of a matrix product) was ~10% faster than flash attention here,
        # and splits its work by output rows only, so no sum depends on the thread count.
        params.flash_attn_type = _FLASH_ATTN_DISABLED
        params.n_threads = self.threads
        params.n_threads_batch = self.threads
        params.no_perf = True
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            raise SrlabError(
                f"llama.cpp could not allocate a context of {streams} x {per_stream} tokens; "
                "lower batch_size or max_new_tokens"
            )
        self._ctx = ctx
        self._ctx_shape = (streams, per_stream)
        if self._batch is None or self._batch_size < params.n_batch:
            if self._batch is not None:
                lib.llama_batch_free(self._batch)
            self._batch = lib.llama_batch_init(params.n_batch, 0, 1)
            self._batch_size = params.n_batch

    def _prefill(self, row: _Row) -> None:
        """The prompt alone, in chunks that depend on the prompt only, logits for its last token."""
        batch = self._batch
        for start in range(0, len(row.prompt), _PREFILL_CHUNK):
            chunk = row.prompt[start: start + _PREFILL_CHUNK]
            for offset, token in enumerate(chunk):
                batch.token[offset] = token
                batch.pos[offset] = start + offset
                batch.n_seq_id[offset] = 1
                batch.seq_id[offset][0] = row.seq
                batch.logits[offset] = 0
            batch.logits[len(chunk) - 1] = int(start + len(chunk) == len(row.prompt))
            batch.n_tokens = len(chunk)
            self._decode()

    def _decode(self) -> None:
        status = self._lib.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise SrlabError(f"llama_decode failed with status {status}")

    def _logits(self, slot: int) -> np.ndarray:
        import numpy as np

        pointer = self._lib.llama_get_logits_ith(self._ctx, slot)
        if not pointer:
            raise SrlabError(f"llama.cpp returned no logits for batch position {slot}")
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def _choose(self, row: _Row, logits: np.ndarray) -> int:
        if row.rng is None:
            return int(logits.argmax())  # the first maximum: ties break the same way every time
        return sample_token(logits, row.decoding, row.rng)

    def _is_done(self, row: _Row) -> bool:
        if row.stop and not self._lib.llama_vocab_is_eog(self._vocab, row.tokens[-1]):
            # A stop string ends within the last few tokens: decode only those (each token has
            # at least one byte, so the longest stop string's length in tokens is enough).
            window = max(len(s.encode("utf-8")) for s in row.stop) + 1
            row.stopped = cut_at_stop(self.decode_tokens(row.tokens[-window:]), row.stop) is not None
        return row.stopped or bool(self._lib.llama_vocab_is_eog(self._vocab, row.tokens[-1])) or (
            len(row.tokens) >= row.decoding.max_new_tokens
        )

    def _to_generation(self, row: _Row) -> Generation:
        if row.stopped:
            text = cut_at_stop(self.decode_tokens(row.tokens), row.stop)
            return make_generation(
                text or "", prompt_tokens=len(row.prompt), completion_tokens=len(row.tokens), finish_reason="stop"
            )
        ended = bool(self._lib.llama_vocab_is_eog(self._vocab, row.tokens[-1]))
        body = row.tokens[:-1] if ended else row.tokens  # the EOS token counts but is not text
        hit_limit = not ended
        return make_generation(
            self.decode_tokens(body),
            prompt_tokens=len(row.prompt),
            completion_tokens=len(row.tokens),
            hit_token_limit=hit_limit,
            finish_reason="length" if hit_limit else "stop",
        )


def sample_token(logits: np.ndarray, decoding: DecodingConfig, rng: np.random.Generator) -> int:
    """Temperature then nucleus (top-p) sampling, in float64, one draw from ``rng``."""
    import numpy as np

    scaled = logits.astype(np.float64) / decoding.temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if decoding.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        sorted_probs = probs[order]
        # Keep a token if the mass before it is below top_p: the most likely token always stays.
        keep = (np.cumsum(sorted_probs) - sorted_probs) < decoding.top_p
        kept = sorted_probs[keep]
        cumulative = np.cumsum(kept)
        choice = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        return int(order[min(choice, len(kept) - 1)])
    cumulative = np.cumsum(probs)
    choice = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(choice, len(probs) - 1)


def _cpu_threads() -> int:
    """Default threads: the CPUs this process may run on (llama.cpp's own default is 4).

    On cores shared with other busy processes fewer threads can be much faster (ggml's threads
    wait for each other hundreds of times per token); ``ModelSpec.threads`` sets the count.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
