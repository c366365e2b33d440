"""Hidden-state features of (prompt, response) pairs from the embedded SmolLM2-135M-Instruct.

A candidate input for the learned offline judges (issue #10: "features from the embedded SmolLM2
with a small trained head"). Each pair is written as a chat, without the default system prompt
(20 tokens that say nothing about the pair)::

    <|im_start|>user\\n{first PROMPT_TOKENS tokens of the request}<|im_end|>\\n
    <|im_start|>assistant\\n{first RESPONSE_TOKENS tokens of the response}

and run through the model's first ``max(layers)`` decoder layers only (the rest of the forward
pass is never computed, which is where the speed comes from). From each layer in ``layers`` it
keeps, per response window in ``windows`` (the first 32, 64, ... response tokens), the mean of
the response tokens' hidden states and the hidden state of the window's last token. The model is
causal, so a shorter window's features come out of the same pass unchanged: one extraction
measures every window.

Needs torch and transformers (the ``hf`` extra) and the converted model
(``srlab.models.smollm2.ensure_converted``). Features are cached on disk per pair (sha256 of the
configuration and the two texts) so training and evaluation reruns are cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROMPT_TOKENS = 48
RESPONSE_TOKENS = 96
FEATURE_VERSION = "1"


@dataclass(frozen=True)
class LMFeatureConfig:
    """What is extracted; part of every cache key."""

    layers: tuple[int, ...] = (8, 12, 16)
    windows: tuple[int, ...] = (32, 64, 96)  # response tokens; the last is RESPONSE_TOKENS
    prompt_tokens: int = PROMPT_TOKENS
    dtype: str = "bfloat16"  # bfloat16 halves the CPU time against float32 (measured)
    version: str = FEATURE_VERSION

    def __post_init__(self) -> None:
        if not self.layers or min(self.layers) < 1:
            raise ValueError(f"layers must be decoder layer numbers >= 1, got {self.layers}")
        if not self.windows or list(self.windows) != sorted(set(self.windows)) or self.windows[0] < 1:
            raise ValueError(f"windows must be increasing response-token counts >= 1, got {self.windows}")
        if self.dtype not in ("bfloat16", "float32"):
            raise ValueError(f"dtype must be bfloat16 or float32, got {self.dtype!r}")

    @property
    def response_tokens(self) -> int:
        return self.windows[-1]

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def names(self) -> list[str]:
        """Feature block names, in the order of ``LMFeatureExtractor.extract``'s columns."""
        return [f"L{layer}/{kind}{window}" for layer in self.layers for window in self.windows
                for kind in ("mean", "last")]


@dataclass
class LMFeatureExtractor:
    """Runs the truncated model over batches of pairs; ``extract`` returns one row per pair.

    ``threads`` sets torch's intra-op threads (1 leaves the other core to the rest of the job).
    ``cache_dir`` (optional) holds one ``.npy`` per pair.
    """

    config: LMFeatureConfig = field(default_factory=LMFeatureConfig)
    threads: int = 1
    batch_size: int = 16
    cache_dir: Path | None = None
    _model: Any = None
    _tokenizer: Any = None

    @property
    def hidden_size(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    def width(self) -> int:
        return len(self.config.names()) * self.hidden_size

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from srlab.models.smollm2 import ensure_converted

        path = ensure_converted()
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        base = model.model
        depth = max(self.config.layers)
        if depth > len(base.layers):
            raise ValueError(f"layer {depth} asked for; the model has {len(base.layers)}")
        # Drop the layers above the deepest one read, and the LM head: never computed.
        base.layers = base.layers[:depth]
        base.config.num_hidden_layers = depth
        if self.config.dtype == "bfloat16":
            base.to(torch.bfloat16)
        base.eval()
        self._model = base
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))

    # --- token layout --------------------------------------------------------------------------

    def _ids(self, prompt: str, response: str) -> tuple[list[int], int]:
        """Token ids of the chat text and where the response starts."""
        tok = self._tokenizer
        head = tok("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
        middle = tok("<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        prompt_ids = tok(prompt[:2000], add_special_tokens=False)["input_ids"][: self.config.prompt_tokens]
        response_ids = tok(response[:4000], add_special_tokens=False)["input_ids"][: self.config.response_tokens]
        if not response_ids:  # an empty response still has a place to read
            response_ids = middle[-1:]
        ids = [*head, *prompt_ids, *middle, *response_ids]
        return ids, len(ids) - len(response_ids)

    def _forward(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        import torch

        self._load()
        torch.set_num_threads(self.threads)
        laid = [self._ids(p, r) for p, r in pairs]
        cfg = self.config
        out = np.zeros((len(pairs), self.width()), dtype=np.float32)
        # Similar lengths together: less padding (right padding; causal, so it changes nothing before it).
        order = sorted(range(len(laid)), key=lambda i: len(laid[i][0]))
        pad = self._tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            longest = max(len(laid[i][0]) for i in batch)
            ids = torch.full((len(batch), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for row, i in enumerate(batch):
                seq = laid[i][0]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            with torch.inference_mode():
                hidden = self._model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            for row, i in enumerate(batch):
                seq, begin = laid[i]
                blocks = []
                for layer in cfg.layers:
                    states = hidden[layer][row].float()  # hidden_states[0] is the embeddings
                    for window in cfg.windows:
                        end = min(len(seq), begin + window)
                        blocks.append(states[begin:end].mean(dim=0))
                        blocks.append(states[end - 1])
                out[i] = torch.cat(blocks).numpy()
        return out

    # --- cached entry point --------------------------------------------------------------------

    def _path(self, prompt: str, response: str) -> Path:
        assert self.cache_dir is not None
        digest = hashlib.sha256(f"{prompt}\x1f{response}".encode()).hexdigest()
        return self.cache_dir / self.config.key() / digest[:2] / f"{digest}.npy"

    def extract(self, pairs: Sequence[tuple[str, str]], chunk: int = 256,
                progress: bool = False) -> np.ndarray:
        """Features of (prompt, response) pairs, one float32 row each (cached ones read from disk)."""
        rows: list[np.ndarray | None] = [None] * len(pairs)
        todo = list(range(len(pairs)))
        if self.cache_dir is not None:
            todo = []
            for i, (prompt, response) in enumerate(pairs):
                path = self._path(prompt, response)
                if path.is_file():
                    rows[i] = np.load(path)
                else:
                    todo.append(i)
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            features = self._forward([pairs[i] for i in part])
            for i, row in zip(part, features, strict=True):
                # Rounded to float16 whether fresh or cached: a rerun reads exactly what was computed.
                rows[i] = row.astype(np.float16)
                if self.cache_dir is not None:
                    path = self._path(*pairs[i])
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp.npy")
                    np.save(tmp, row.astype(np.float16))
                    tmp.replace(path)
            if progress:
                print(f"lm features: {min(start + chunk, len(todo))}/{len(todo)} computed", flush=True)
        if not pairs:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([np.asarray(r, dtype=np.float32) for r in rows])  # type: ignore[arg-type]

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """Column indices of the named blocks (``config.names()``) in an ``extract`` row."""
        all_names = self.config.names()
        size = self.hidden_size
        index = []
        for name in names:
            if name not in all_names:
                raise ValueError(f"unknown LM feature block {name!r}; known: {', '.join(all_names)}")
            k = all_names.index(name)
            index.extend(range(k * size, (k + 1) * size))
        return np.asarray(index, dtype=np.int64)
