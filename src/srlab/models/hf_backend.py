"""Hugging Face transformers backend: batched chat generation on CPU or GPU.

Requests are grouped by ``max_new_tokens``, sorted by prompt length (less padding per batch) and
generated ``batch_size`` at a time with left padding; results come back in request order.
Sampling draws each request's tokens from its own ``torch.Generator`` seeded with the request's
seed, so a sampled output depends on the request, not on which batch it happened to land in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from srlab.errors import SrlabError, UnknownNameError
from srlab.generate import think
from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback
from srlab.models.reasoning import cut_at_stop, join_prefill, make_generation
from srlab.models.resolve import ModelSource, hub_unreachable_error, resolve_model
from srlab.schema import DecodingConfig, Generation, GenerationRequest

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_DTYPES = ("float32", "bfloat16", "float16")


class HFBackend(ModelBackend):
    """Loads the model once at construction; ``generate`` may be called many times.

    Requests may carry a prefill, stop strings and template switches, so think budgets
    (``srlab.generate.think``) run here.
    """

    supports_prefill = True

    def __init__(self, spec: ModelSpec) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.source: ModelSource = resolve_model(spec.name, spec.revision)
        self.device = _pick_device(spec.device)
        self.dtype = _pick_dtype(spec.dtype, self.device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source.load_from, revision=self.source.revision)
            model = AutoModelForCausalLM.from_pretrained(
                self.source.load_from, revision=self.source.revision, dtype=self.dtype
            )
        except OSError as exc:  # hub unreachable, repo or revision missing, gated repo
            if self.source.is_hub:
                raise hub_unreachable_error(spec.name, spec.revision, exc) from exc
            raise SrlabError(f"could not load model {spec.name!r} from {self.source.load_from}: {exc}") from exc
        if not tokenizer.chat_template:
            raise SrlabError(
                f"model {spec.name!r} has no chat template in its tokenizer; srlab sends chat messages, "
                "so use an instruction-tuned model or add a chat_template to tokenizer_config.json"
            )
        tokenizer.padding_side = "left"  # new tokens are appended on the right of every row
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()
        self.eos_token_ids = _eos_ids(model.generation_config.eos_token_id, tokenizer.eos_token_id)
        if not self.eos_token_ids:
            raise SrlabError(f"model {spec.name!r} defines no end-of-sequence token; generation could not stop")
        # A hub load without a pinned revision still records the commit it got, when known.
        commit = getattr(model.config, "_commit_hash", None) if self.source.is_hub else None
        self._identity = dict(self.source.identity)
        if self.source.is_hub and self._identity.get("revision") is None and commit:
            self._identity["revision"] = commit
        self._identity["dtype"] = str(self.dtype).removeprefix("torch.")

    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def close(self) -> None:
        import torch

        self.__dict__.pop("model", None)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        if "model" not in self.__dict__:
            raise SrlabError(f"backend for {self.spec.name!r} was closed; build a new one")
        return think.drive(
            self._generate_raw, requests, progress,
            count_tokens=self.count_tokens, thinking_off=think.thinking_switch(self.tokenizer.chat_template),
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate_raw(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        prompts = [self._encode(r) for r in requests]
        results: list[Generation | None] = [None] * len(requests)
        for batch in plan_batches(prompts, requests, self.spec.batch_size):
            outputs = self._generate_batch(
                [prompts[i] for i in batch], [requests[i].decoding for i in batch], requests[batch[0]].stop
            )
            for index, output in zip(batch, outputs, strict=True):
                results[index] = output
            if progress is not None:
                progress(len(batch))
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _encode(self, request: GenerationRequest) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, tokenize=False, **(request.chat_template_kwargs or {})
        )
        text = join_prefill(text, request.prefill) if request.prefill else text
        # The template already writes any BOS token; adding special tokens again would double it.
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate_batch(
        self, prompts: list[list[int]], decodings: list[DecodingConfig], stop: tuple[str, ...] = ()
    ) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        pad_id = int(self.tokenizer.pad_token_id)
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
            attention_mask[row, width - len(prompt):] = 1
        max_new_tokens = decodings[0].max_new_tokens
        # Greedy in generate() takes the argmax; the sampler below turns each sampled row's scores
        # into a one-hot choice, so greedy and sampled requests can share a batch. Everything the
        # model's own generation_config might switch on (penalties, sampling) is set off here.
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            repetition_penalty=1.0,
            eos_token_id=self.eos_token_ids,
            pad_token_id=pad_id,
            stop_strings=list(stop) or None,
        )
        processors = LogitsProcessorList()
        if any(d.temperature > 0 for d in decodings):
            processors.append(PerRowSampler(decodings, device=self.device))
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                generation_config=config,
                logits_processor=processors,
                # generate() matches stop strings over the tokenizer's vocabulary.
                **({"tokenizer": self.tokenizer} if stop else {}),
            )
        new_tokens = output[:, width:].tolist()
        return [
            self._to_generation(len(p), row, max_new_tokens, stop) for p, row in zip(prompts, new_tokens, strict=True)
        ]

    def _to_generation(
        self, prompt_tokens: int, new_tokens: list[int], max_new_tokens: int, stop_strings: tuple[str, ...] = ()
    ) -> Generation:
        stop = next((i for i, token in enumerate(new_tokens) if token in self.eos_token_ids), None)
        if stop is None:
            body, completion_tokens = new_tokens, len(new_tokens)
        else:
            body, completion_tokens = new_tokens[:stop], stop + 1  # the EOS token was generated too
        # Special tokens are kept: reasoning tags such as <think> are special in some tokenizers.
        text = self.tokenizer.decode(body, skip_special_tokens=False)
        before_stop = cut_at_stop(text, stop_strings) if stop_strings else None
        if before_stop is not None:
            # The row ended at a stop string (padding after it): count the tokens up to its end.
            completion_tokens = self._tokens_until_stop(body, stop_strings)
            return make_generation(
                before_stop, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, finish_reason="stop"
            )
        hit_limit = stop is None and completion_tokens >= max_new_tokens
        return make_generation(
            text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            hit_token_limit=hit_limit,
            finish_reason="length" if hit_limit else "stop",
        )

    def _tokens_until_stop(self, body: list[int], stop: tuple[str, ...]) -> int:
        return _first_prefix_with(lambda t: self.tokenizer.decode(t, skip_special_tokens=False), body, stop)


def _first_prefix_with(decode: Callable[[list[int]], str], tokens: list[int], stop: tuple[str, ...]) -> int:
    """The fewest leading ``tokens`` whose text holds a stop string (it holds one in all of them)."""
    low, high = 1, len(tokens)
    while low < high:
        middle = (low + high) // 2
        if cut_at_stop(decode(tokens[:middle]), stop) is None:
            low = middle + 1
        else:
            high = middle
    return high


def plan_batches(
    prompts: Sequence[Sequence[int]], requests: Sequence[GenerationRequest], batch_size: int
) -> list[list[int]]:
    """Indices of the requests in each batch.

    One batch shares one ``max_new_tokens`` and one set of stop strings; within a group, requests
    are sorted by prompt length (ties by position, so the plan is deterministic) so that rows in a
    batch need little padding.
    """
    groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault((request.decoding.max_new_tokens, request.stop), []).append(index)
    batches: list[list[int]] = []
    for group in sorted(groups):
        ordered = sorted(groups[group], key=lambda i: (len(prompts[i]), i))
        batches.extend(ordered[start: start + batch_size] for start in range(0, len(ordered), batch_size))
    return batches


class PerRowSampler:
    """A logits processor that samples each row with its own temperature, top-p and seed.

    It returns scores that are ``-inf`` everywhere except the sampled token, so generate()'s
    greedy step picks exactly that token. Greedy rows (temperature 0) pass through unchanged.
    """

    def __init__(self, decodings: Sequence[DecodingConfig], device: str) -> None:
        import torch

        self.decodings = list(decodings)
        self.generators: list[torch.Generator | None] = []
        for decoding in self.decodings:
            if decoding.temperature > 0:
                generator = torch.Generator(device=device)
                generator.manual_seed(decoding.seed)
                self.generators.append(generator)
            else:
                self.generators.append(None)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        import torch

        out = scores.clone()
        for row, (decoding, generator) in enumerate(zip(self.decodings, self.generators, strict=True)):
            if generator is None:
                continue
            probs = torch.softmax(scores[row].float() / decoding.temperature, dim=-1)
            token = _sample_top_p(probs, decoding.top_p, generator)
            out[row].fill_(float("-inf"))
            out[row, token] = 0.0
        return out  # type: ignore[return-value]


def _sample_top_p(probs: torch.Tensor, top_p: float, generator: torch.Generator) -> int:
    """Sample from the smallest set of tokens whose probability reaches ``top_p`` (nucleus sampling)."""
    import torch

    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Keep a token if the mass before it is below top_p: the most likely token always stays.
        keep = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) < top_p
        sorted_probs = sorted_probs * keep
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())


def _eos_ids(config_eos: int | list[int] | None, tokenizer_eos: int | None) -> list[int]:
    ids: list[int] = []
    for value in ([config_eos] if isinstance(config_eos, int) else list(config_eos or [])) + [tokenizer_eos]:
        if value is not None and value not in ids:
            ids.append(int(value))
    return ids


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SrlabError(f"device {device!r} was asked for but torch sees no CUDA GPU; use device: cpu or auto")
    if device != "cpu" and not device.startswith(("cuda", "mps", "xpu")):
        raise UnknownNameError("device", device, ["auto", "cpu", "cuda", "cuda:N", "mps"])
    return device


def _pick_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        # bf16 halves memory and is fast on GPUs; CPUs are slow (or inexact) in half precision.
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise UnknownNameError("dtype", dtype, ["auto", *_DTYPES])
    return getattr(torch, dtype)
