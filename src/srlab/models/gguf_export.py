"""A fine-tuned HF model as a float32 GGUF, so trained variants run on the llama.cpp backend too.

A variant trained from a GGUF model (the embedded SmolLM2) keeps its base's architecture, shapes,
tokenizer and chat template; only the weights change. So the export copies the base's float32
GGUF (``llamacpp_backend.float32_gguf``) and writes the trained weights over its tensors in place:
every offset, shape and metadata field stays the base's, and nothing has to be re-encoded. The
names and the rotary permutation of the query and key rows are llama.cpp's
(``convert_hf_to_gguf.py``, ``LlamaModel``); exporting the untrained base reproduces its float32
GGUF bit for bit (``tests/test_gguf_export.py``).

Only the ``llama`` architecture with float32 tensors is handled, and only when the trained chat
template is the base's; anything else raises ``ExportUnsupported`` and the variant runs on HF.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from srlab.errors import SrlabError

log = logging.getLogger(__name__)

_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_TOP_NAMES = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
              "lm_head.weight": "output.weight"}


class ExportUnsupported(SrlabError):
    """The model cannot be written over this base GGUF (another architecture, tensor type or template)."""


def gguf_name(hf_name: str) -> str:
    """llama.cpp's tensor name for a HF llama tensor name."""
    if hf_name in _TOP_NAMES:
        return _TOP_NAMES[hf_name]
    parts = hf_name.split(".")
    if len(parts) >= 5 and parts[:2] == ["model", "layers"] and parts[-1] == "weight":
        key = ".".join(parts[3:-1])
        if key in _LAYER_NAMES:
            return f"blk.{parts[2]}.{_LAYER_NAMES[key]}.weight"
    raise ExportUnsupported(f"no llama.cpp name for tensor {hf_name!r}")


def permute_rotary(weights: np.ndarray, heads: int) -> np.ndarray:
    """HF's query/key row order to llama.cpp's: within each head, the two rotary halves interleave."""
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _hf_tensors(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    import torch
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ExportUnsupported(f"{folder} holds no .safetensors weights")
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                yield name, handle.get_tensor(name).to(torch.float32).numpy()


def _field_text(reader: Any, key: str) -> str | None:
    field = reader.fields.get(key)
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def _check_compatible(folder: Path, reader: Any) -> dict[str, Any]:
    from srlab.models.llamacpp_backend import float32_tensors

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    architecture = _field_text(reader, "general.architecture")
    if architecture != "llama" or config.get("model_type") != "llama":
        raise ExportUnsupported(f"export handles llama models; base is {architecture!r}, trained is {config.get('model_type')!r}")
    if not float32_tensors(reader):
        raise ExportUnsupported("the base GGUF is not all float32")
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(str(folder)).chat_template
    if template != _field_text(reader, "tokenizer.chat_template"):
        raise ExportUnsupported("the trained model's chat template is not its base's")
    return config


def export_gguf(folder: str | Path, base_gguf: str | Path, target: str | Path) -> Path:
    """Write the HF model in ``folder`` over a copy of ``base_gguf`` (float32) at ``target``; once.

    The copy is written under a temporary name and renamed into place, so a killed export never
    leaves a file a later run would load.
    """
    from gguf import GGUFReader

    folder, base_gguf, target = Path(folder), Path(base_gguf), Path(target)
    if target.is_file():
        return target
    reader = GGUFReader(str(base_gguf))
    config = _check_compatible(folder, reader)
    heads, kv_heads = int(config["num_attention_heads"]), int(config.get("num_key_value_heads") or config["num_attention_heads"])
    tensors = {t.name: t for t in reader.tensors}
    partial = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_gguf, partial)
    try:
        out = np.memmap(partial, dtype=np.uint8, mode="r+")
        written: set[str] = set()
        for hf_name, weights in _hf_tensors(folder):
            name = gguf_name(hf_name)
            if name == "output.weight" and name not in tensors and config.get("tie_word_embeddings"):
                continue  # tied: llama.cpp reads the output projection from token_embd
            if name not in tensors:
                raise ExportUnsupported(f"the base GGUF has no tensor {name} (for {hf_name})")
            if hf_name.endswith("q_proj.weight"):
                weights = permute_rotary(weights, heads)
            elif hf_name.endswith("k_proj.weight"):
                weights = permute_rotary(weights, kv_heads)
            tensor = tensors[name]
            data = np.ascontiguousarray(weights, dtype="<f4").reshape(-1).view(np.uint8)
            if data.size != tensor.n_bytes:
                raise ExportUnsupported(f"{hf_name}: {weights.shape} does not fit {name} ({tensor.n_bytes} bytes)")
            out[tensor.data_offset: tensor.data_offset + tensor.n_bytes] = data
            written.add(name)
        missing = sorted(set(tensors) - written)
        if missing:
            raise ExportUnsupported(f"the trained model has no weights for {', '.join(missing[:3])}")
        out.flush()
        del out
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported %s to %s for the llama.cpp backend", folder, target)
    return target
