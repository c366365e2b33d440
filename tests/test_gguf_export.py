"""Trained weights written over the base's float32 GGUF, so a trained variant runs on llama.cpp."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from srlab.experiment.runner import trained_spec  # noqa: E402
from srlab.models import ModelSpec, load_backend, smollm2  # noqa: E402
from srlab.models.gguf_export import ExportUnsupported, export_gguf, gguf_name, permute_rotary  # noqa: E402
from srlab.models.llamacpp_backend import float32_gguf, resolve_gguf  # noqa: E402
from srlab.schema import DecodingConfig, GenerationRequest  # noqa: E402

PROMPTS = ["What is 12 + 30?", "Name a colour.", "Write one sentence about the sea."]


def _base_gguf() -> Path:
    source, identity = resolve_gguf(smollm2.ALIAS)
    return float32_gguf(source, identity)


@pytest.fixture(scope="module")
def changed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model with some weights changed, as a fine-tune changes them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("changed")
    model = AutoModelForCausalLM.from_pretrained(str(smollm2.ensure_converted()), dtype=torch.float32)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        for layer in model.model.layers[:4]:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.mlp.down_proj):
                proj.weight.add_(0.05 * torch.randn(proj.weight.shape, generator=generator))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(smollm2.ensure_converted())).save_pretrained(folder)
    return folder


def test_exporting_the_untrained_base_reproduces_its_float32_gguf(tmp_path: Path) -> None:
    # The names and the query/key row permutation are right only if every byte comes back.
    base = _base_gguf()
    out = export_gguf(smollm2.ensure_converted(), base, tmp_path / "base.gguf")
    assert out.read_bytes() == base.read_bytes()


def test_names_and_the_rotary_permutation() -> None:
    assert gguf_name("model.layers.7.self_attn.k_proj.weight") == "blk.7.attn_k.weight"
    assert gguf_name("model.layers.0.mlp.down_proj.weight") == "blk.0.ffn_down.weight"
    assert gguf_name("model.embed_tokens.weight") == "token_embd.weight"
    with pytest.raises(ExportUnsupported, match="no llama.cpp name"):
        gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq")
    # One head of 4 rows: the halves [0, 1] and [2, 3] interleave to 0, 2, 1, 3.
    rows = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert permute_rotary(rows, 1)[:, 0].tolist() == [0, 4, 2, 6]


def test_a_changed_model_generates_on_llama_cpp_what_it_generates_on_hf(changed_model: Path, tmp_path: Path) -> None:
    spec = ModelSpec(name=smollm2.ALIAS, backend="llamacpp", batch_size=3)
    trained = trained_spec(spec, changed_model, tmp_path / "sft-abc")
    assert trained.backend == "llamacpp" and trained.name == str(tmp_path / "sft-abc" / "sft-abc.f32.gguf")
    # Already float32: loaded as it is, not converted into the cache again.
    assert float32_gguf(Path(trained.name), resolve_gguf(trained.name)[1]) == Path(trained.name)
    requests = [GenerationRequest([{"role": "user", "content": p}], DecodingConfig(max_new_tokens=12)) for p in PROMPTS]
    engines = {}
    for name, model_spec in (("llamacpp", trained), ("hf", ModelSpec(name=str(changed_model), backend="hf", device="cpu")),
                             ("base", spec)):
        backend = load_backend(model_spec)
        try:
            engines[name] = [g.text for g in backend.generate(requests)]
        finally:
            backend.close()
    assert engines["llamacpp"] == engines["hf"]
    assert engines["llamacpp"] != engines["base"]  # the changed weights are the ones that ran


def test_a_model_with_another_chat_template_runs_on_hf(changed_model: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path / "templated"
    shutil.copytree(changed_model, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tokenizer.save_pretrained(folder)
    caplog.set_level(logging.WARNING)
    trained = trained_spec(ModelSpec(name=smollm2.ALIAS, backend="llamacpp"), folder, tmp_path / "sft-x")
    assert (trained.backend, trained.name) == ("hf", str(folder))
    assert "chat template is not its base's" in caplog.text
    assert not list((tmp_path / "sft-x").glob("*.gguf*"))  # nothing half-written left behind


def test_a_gguf_header_is_parsed_once_per_file_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # gguf's reader parses the whole vocabulary (seconds for SmolLM2), and an experiment asks
    # about the same base file once per trained variant and once per load.
    import os
    import shutil

    import gguf

    from srlab.models import llamacpp_backend

    base = _base_gguf()
    opened: list[str] = []
    real = gguf.GGUFReader

    def counting(path: str, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(gguf, "GGUFReader", counting)
    copy = tmp_path / "base.gguf"
    shutil.copyfile(base, copy)
    assert llamacpp_backend.all_float32(copy) and llamacpp_backend.all_float32(copy)
    assert len(opened) == 1
    # The same path with new contents (a later mtime) is read again, and its answer is its own.
    quantized = smollm2.gguf_path()
    shutil.copyfile(quantized, copy)
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 1_000_000_000))
    assert llamacpp_backend.all_float32(copy) is False
    assert len(opened) == 2
