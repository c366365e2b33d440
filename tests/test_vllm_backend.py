"""VLLMBackend without a GPU: a fake ``vllm`` (tests/fake_vllm.py, vLLM's real signatures) checks
what srlab passes to ``vllm.LLM`` and ``LLM.chat``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fake_vllm
import pytest

from srlab.errors import SrlabError
from srlab.models import ModelSpec
from srlab.models.vllm_backend import VLLMBackend
from srlab.schema import DecodingConfig, GenerationRequest


@pytest.fixture(autouse=True)
def vllm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm)
    fake_vllm.CALLS.clear()
    return fake_vllm


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def _calls(kind: str) -> list[dict]:
    return [c for c in fake_vllm.CALLS if c["call"] == kind]


def test_engine_gets_model_revision_parallelism_and_dtype() -> None:
    backend = VLLMBackend(ModelSpec(name="org/model", revision="abc123", backend="vllm", tensor_parallel_size=2,
                                    dtype="bfloat16"))
    [init] = _calls("LLM")
    assert {k: init[k] for k in ("model", "revision", "tokenizer_revision", "tensor_parallel_size", "dtype")} == {
        "model": "org/model", "revision": "abc123", "tokenizer_revision": "abc123", "tensor_parallel_size": 2,
        "dtype": "bfloat16",
    }
    assert "data_parallel_size" not in init  # one engine: vLLM's default
    assert backend.identity() == {"name": "org/model", "source": "hub", "revision": "abc123", "engine": "vllm",
                                  "dtype": "bfloat16"}


def test_local_folder_is_loaded_by_its_resolved_path(model_dir: Path) -> None:
    VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm"))
    [init] = _calls("LLM")
    assert (init["model"], init["revision"], init["tokenizer_revision"], init["dtype"]) == (
        str(model_dir.resolve()), None, None, "auto")


def test_generate_sends_chat_messages_with_per_request_sampling(model_dir: Path) -> None:
    backend = VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm"))
    greedy = DecodingConfig(max_new_tokens=64, seed=5)
    sampled = DecodingConfig(max_new_tokens=3, temperature=0.7, top_p=0.9, seed=11)
    requests = [
        GenerationRequest([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+3?"}], greedy),
        GenerationRequest([{"role": "user", "content": "Tell me a long story"}], sampled),
    ]
    generations = backend.generate(requests)
    [chat] = _calls("chat")
    # Chat messages go to vLLM as they are; vLLM renders them with the model's own chat template.
    assert chat["messages"] == [r.messages for r in requests]
    assert (chat["chat_template"], chat["add_generation_prompt"], chat["continue_final_message"]) == (None, True, False)
    assert chat["use_tqdm"] is False
    assert chat["sampling_params"] == [
        # Greedy ignores the seed; a sampled request carries its own.
        {"temperature": 0.0, "top_p": 1.0, "seed": None, "max_tokens": 64, "skip_special_tokens": False},
        {"temperature": 0.7, "top_p": 0.9, "seed": 11, "max_tokens": 3, "skip_special_tokens": False},
    ]
    first, second = generations
    assert (first.reasoning, first.answer, first.truncated, first.finish_reason) == (
        "seed=None temperature=0", "echo: 2+3?", False, "stop")
    assert (first.prompt_tokens, first.completion_tokens) == (3, 3)
    # Cut at max_tokens: flagged truncated.
    assert (second.text, second.answer, second.truncated, second.finish_reason, second.completion_tokens) == (
        "<think>seed=11 temperature=0.7</think>echo: Tell", "echo: Tell", True, "length", 3)
    assert backend.generate([]) == [] and len(_calls("chat")) == 1


def test_progress_counts_the_batch(model_dir: Path) -> None:
    backend = VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm"))
    seen: list[int] = []
    backend.generate([GenerationRequest([{"role": "user", "content": "hi"}])] * 3, progress=seen.append)
    assert seen == [3]


def test_cpu_device_and_missing_vllm_are_explained(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SrlabError, match="backend 'vllm' runs on CUDA GPUs; device 'cpu' is not supported"):
        VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm", device="cpu"))
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(SrlabError, match="vllm is not installed: pip install vllm"):
        VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm"))


def test_in_process_data_parallel_is_what_vllm_refuses() -> None:
    # Why srlab does not pass data_parallel_size to one LLM: vLLM's own check, kept by the fake.
    with pytest.raises(ValueError, match=r"LLM\(data_parallel_size=2\) is not supported for single-process usage"):
        fake_vllm.LLM("m", data_parallel_size=2)


def test_shards_are_contiguous_and_balanced() -> None:
    from srlab.models.vllm_backend import shard

    assert shard(5, 2) == [(0, 3), (3, 5)]
    assert shard(1, 3) == [(0, 1), (1, 1), (1, 1)]


def test_data_parallel_runs_one_engine_process_per_rank(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ranks are spawned processes: they import this fake as `vllm` from a folder on sys.path.
    package = tmp_path / "fake_site" / "vllm"
    package.mkdir(parents=True)
    package.joinpath("__init__.py").write_text("from fake_vllm import *  # noqa: F403\nfrom fake_vllm import __version__\n")
    monkeypatch.syspath_prepend(str(package.parent))
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    backend = VLLMBackend(ModelSpec(name=str(model_dir), backend="vllm", data_parallel_size=2, tensor_parallel_size=2))
    try:
        requests = [GenerationRequest([{"role": "user", "content": f"q{i}"}]) for i in range(3)]
        answers = [g.answer for g in backend.generate(requests)]
        lone = backend.generate(requests[:1])  # rank 1 gets a placeholder, its reply is dropped
    finally:
        backend.close()
    assert answers == ["echo: q0", "echo: q1", "echo: q2"]  # in request order
    assert [g.answer for g in lone] == ["echo: q0"]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    inits = sorted((c for c in calls if c["call"] == "LLM"), key=lambda c: c["env"]["VLLM_DP_RANK"])
    assert [c["env"]["VLLM_DP_RANK"] for c in inits] == ["0", "1"]
    assert {c["env"]["VLLM_DP_SIZE"] for c in inits} == {"2"}
    assert len({c["env"]["VLLM_DP_MASTER_PORT"] for c in inits}) == 1
    # Each rank is a plain engine of tensor_parallel_size GPUs; vLLM takes the rank from the env.
    assert all(c["tensor_parallel_size"] == 2 and "data_parallel_size" not in c for c in inits)
    chats = {(c["env"]["VLLM_DP_RANK"], tuple(m[-1]["content"] for m in c["messages"])) for c in calls if c["call"] == "chat"}
    assert chats == {("0", ("q0", "q1")), ("1", ("q2",)), ("0", ("q0",)), ("1", (".",))}
