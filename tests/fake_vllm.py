"""A stand-in for the ``vllm`` package that checks how srlab calls it, for tests without a GPU.

It keeps to vLLM's real signatures (vllm/entrypoints/llm.py ``LLM.__init__`` / ``LLM.chat``,
vllm/sampling_params.py ``SamplingParams``): an argument vLLM does not take is a TypeError, a
value it rejects is a ValueError, as in vLLM. Every call is recorded in ``CALLS`` (and, when
``FAKE_VLLM_LOG`` names a file, appended to it as JSON, for engines built in other processes).

Replies are a fixed function of the request, so a test can assert exact outputs:
``<think>seed=S temperature=T</think>echo: LAST USER MESSAGE``, cut to ``max_tokens`` words
(finish_reason ``length``) when longer.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

__version__ = "0.0.0+fake"

CALLS: list[dict[str, Any]] = []


def _record(call: dict[str, Any]) -> None:
    CALLS.append(call)
    log = os.environ.get("FAKE_VLLM_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(call, default=str) + "\n")


@dataclasses.dataclass
class EngineArgs:
    """The EngineArgs fields the fake knows (``LLM(**kwargs)`` passes its extras here)."""

    model: str = ""
    data_parallel_size: int = 1
    distributed_executor_backend: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    enforce_eager: bool = False


class SamplingParams:
    def __init__(
        self,
        *,
        n: int = 1,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        repetition_penalty: float = 1.0,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        min_p: float = 0.0,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        stop_token_ids: list[int] | None = None,
        ignore_eos: bool = False,
        max_tokens: int | None = 16,
        min_tokens: int = 0,
        logprobs: int | None = None,
        prompt_logprobs: int | None = None,
        detokenize: bool = True,
        skip_special_tokens: bool = True,
        spaces_between_special_tokens: bool = True,
        include_stop_str_in_output: bool = False,
    ) -> None:
        if temperature < 0.0:
            raise ValueError(f"temperature must be non-negative, got {temperature}.")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}.")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.n, self.temperature, self.top_p, self.top_k, self.seed = n, temperature, top_p, top_k, seed
        self.max_tokens, self.stop, self.skip_special_tokens = max_tokens, stop, skip_special_tokens

    def as_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed,
                "max_tokens": self.max_tokens, "skip_special_tokens": self.skip_special_tokens}


@dataclasses.dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclasses.dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True


class LLM:
    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        tokenizer_mode: str = "auto",
        skip_tokenizer_init: bool = False,
        trust_remote_code: bool = False,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        quantization: str | None = None,
        revision: str | None = None,
        tokenizer_revision: str | None = None,
        seed: int | None = None,
        gpu_memory_utilization: float = 0.9,
        **kwargs: Any,
    ) -> None:
        known = {f.name for f in dataclasses.fields(EngineArgs)}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        if dtype not in ("auto", "half", "float16", "bfloat16", "float", "float32"):
            raise ValueError(f"Unknown dtype: {dtype!r}")
        dp = kwargs.get("data_parallel_size", 1)
        if dp > 1 and kwargs.get("distributed_executor_backend") != "external_launcher":
            # vLLM >= 0.11.1 (PR #27282): the offline LLM class refuses in-process data parallel.
            raise ValueError(
                f"LLM(data_parallel_size={dp}) is not supported for single-process usage and may hang. Please use "
                "the explicit multi-process data-parallel example at 'examples/offline_inference/data_parallel.py'."
            )
        self.init = {"model": model, "tokenizer": tokenizer, "tensor_parallel_size": tensor_parallel_size,
                     "dtype": dtype, "revision": revision, "tokenizer_revision": tokenizer_revision,
                     "trust_remote_code": trust_remote_code, **kwargs,
                     "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_DP_")}}
        _record({"call": "LLM", **self.init})

    def chat(
        self,
        messages: list[dict[str, Any]] | list[list[dict[str, Any]]],
        sampling_params: SamplingParams | list[SamplingParams] | None = None,
        use_tqdm: bool = True,
        lora_request: Any = None,
        chat_template: str | None = None,
        chat_template_content_format: str = "auto",
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
        tools: list[dict[str, Any]] | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
    ) -> list[RequestOutput]:
        conversations = messages if messages and isinstance(messages[0], list) else [messages]
        for conversation in conversations:
            for message in conversation:  # type: ignore[union-attr]
                if not isinstance(message, dict) or set(message) - {"role", "content", "name"}:
                    raise ValueError(f"not a chat message: {message!r}")
                if message["role"] not in ("system", "user", "assistant", "tool"):
                    raise ValueError(f"unknown role {message['role']!r}")
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params or SamplingParams()] * len(conversations)
        if len(params) != len(conversations):
            raise ValueError("The lengths of prompts and sampling_params must be the same.")
        _record({"call": "chat", "messages": conversations, "sampling_params": [p.as_dict() for p in params],
                 "use_tqdm": use_tqdm, "chat_template": chat_template, "add_generation_prompt": add_generation_prompt,
                 "continue_final_message": continue_final_message, "chat_template_kwargs": chat_template_kwargs,
                 "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_DP_")}})
        return [_reply(i, conversation, p) for i, (conversation, p) in enumerate(zip(conversations, params, strict=True))]


def _reply(index: int, conversation: list[dict[str, Any]], params: SamplingParams) -> RequestOutput:
    last = conversation[-1]["content"]
    words = f"<think>seed={params.seed} temperature={params.temperature:g}</think>echo: {last}".split(" ")
    limit = params.max_tokens or len(words)
    finish = "length" if len(words) > limit else "stop"
    words = words[:limit]
    prompt_ids = list(range(sum(len(m["content"].split()) for m in conversation)))
    return RequestOutput(str(index), None, prompt_ids,
                         [CompletionOutput(0, " ".join(words), list(range(len(words))), finish)])
