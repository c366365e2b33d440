"""LlamaCppBackend on the embedded SmolLM2 GGUF (Q4_1, 135M): few prompts, few tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp")

from srlab.errors import SrlabError  # noqa: E402
from srlab.models import ModelSpec, load_backend  # noqa: E402
from srlab.models.llamacpp_backend import LlamaCppBackend, sample_token  # noqa: E402
from srlab.schema import DecodingConfig, GenerationRequest  # noqa: E402

QUESTIONS = [
    "Hi",
    "What is the capital of France? Answer in one word, please.",
    "Write a very long and detailed story about a dragon who learns to count to ten in a castle.",
    "2+3?",
    # Longer than one prefill chunk (512 tokens): the prompt is prefilled in two calls.
    "Summarize this. " + "The quick brown fox jumps over the lazy dog near the river bank. " * 45,
]


def _requests(decoding: DecodingConfig, questions: list[str] = QUESTIONS) -> list[GenerationRequest]:
    return [GenerationRequest([{"role": "user", "content": q}], decoding) for q in questions]


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    engine = load_backend(ModelSpec(name="smollm2-135m", backend="llamacpp", batch_size=3))
    assert isinstance(engine, LlamaCppBackend)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def solo_backend() -> Iterator[LlamaCppBackend]:
    """One stream only: a request here never shares a step with another one."""
    engine = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", batch_size=1))
    yield engine
    engine.close()


def test_greedy_output_does_not_depend_on_the_batch(backend: LlamaCppBackend, solo_backend: LlamaCppBackend) -> None:
    requests = _requests(DecodingConfig(max_new_tokens=8))
    together = backend.generate(requests)
    reversed_order = backend.generate(requests[::-1])[::-1]
    alone = [solo_backend.generate([r])[0] for r in requests]
    assert [g.text for g in together] == [g.text for g in alone] == [g.text for g in reversed_order]
    assert [g.completion_tokens for g in together] == [g.completion_tokens for g in alone]
    assert together[-1].prompt_tokens > 512
    assert len({g.text for g in together}) == len(requests)  # the outputs follow the prompts


def test_rows_that_end_leave_no_gap_between_streams(solo_backend: LlamaCppBackend) -> None:
    """llama.cpp runs one forward pass per run of consecutive stream ids in a step, so the running
    rows are kept in streams 0..n-1, in order: a row that outlives a neighbour moves into its stream
    (with its KV cache), and its tokens are those it gets alone."""
    engine = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", batch_size=4))
    # Rows end at different steps; the fifth request waits for the first free stream.
    limits = [2, 12, 3, 12, 12]
    questions = [*QUESTIONS[:4], "Name three colours."]
    requests = [GenerationRequest([{"role": "user", "content": q}], DecodingConfig(max_new_tokens=n))
                for q, n in zip(questions, limits, strict=True)]
    steps: list[list[int]] = []
    decode = engine._decode

    def recording() -> None:
        batch = engine._batch
        seqs = [batch.seq_id[i][0] for i in range(batch.n_tokens)]
        if len(set(seqs)) > 1:  # a decode step (a prefill is one stream's tokens)
            steps.append(seqs)
        decode()

    engine._decode = recording  # type: ignore[method-assign]
    try:
        together = engine.generate(requests)
    finally:
        engine.close()
    assert steps and all(seqs == list(range(len(seqs))) for seqs in steps), steps
    assert sorted({len(s) for s in steps}, reverse=True)[:2] == [4, 3]  # rows ended, the rest moved up
    alone = [solo_backend.generate([r])[0] for r in requests]
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.completion_tokens for g in together] == [g.completion_tokens for g in alone]


def test_gguf_weights_keep_greedy_independent_of_the_batch() -> None:
    """dtype gguf: the file's Q4_1 weights, with llama.cpp's own quantized kernels."""
    requests = _requests(DecodingConfig(max_new_tokens=6))[:4]
    batched = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", dtype="gguf", batch_size=4))
    solo = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", dtype="gguf", batch_size=1))
    try:
        assert batched.identity()["dtype"] == "gguf"
        together = [g.text for g in batched.generate(requests)]
        assert together == [solo.generate([r])[0].text for r in requests]
    finally:
        batched.close()
        solo.close()


@pytest.mark.slow
def test_float32_greedy_matches_the_hf_backend(backend: LlamaCppBackend) -> None:
    """Same float32 weights as the HF backend: the greedy texts agree on these prompts."""
    from srlab.models.hf_backend import HFBackend

    requests = _requests(DecodingConfig(max_new_tokens=24))[:4]
    hf = HFBackend(ModelSpec(name="smollm2-135m", batch_size=4, device="cpu"))
    try:
        expected = hf.generate(requests)
    finally:
        hf.close()
    got = backend.generate(requests)
    assert [g.text for g in got] == [g.text for g in expected]
    assert [g.completion_tokens for g in got] == [g.completion_tokens for g in expected]


def test_sampled_outputs_follow_the_request_seed(backend: LlamaCppBackend, solo_backend: LlamaCppBackend) -> None:
    question = ["Write a short poem about the sea."]
    seeded = [
        _requests(DecodingConfig(max_new_tokens=10, temperature=1.0, top_p=0.95, seed=seed), question)[0]
        for seed in (1, 1, 2, 3)
    ]
    texts = [g.text for g in backend.generate(seeded)]
    assert texts[0] == texts[1]
    assert len(set(texts[1:])) == 3  # seeds 1, 2 and 3 give three different samples
    assert solo_backend.generate(seeded[:1])[0].text == texts[0]  # with or without other requests


def test_token_counts_and_truncation(backend: LlamaCppBackend) -> None:
    long_answer, short_answer = QUESTIONS[2], QUESTIONS[0]
    requests = [
        *_requests(DecodingConfig(max_new_tokens=5), [long_answer]),
        *_requests(DecodingConfig(max_new_tokens=1), [long_answer]),
        *_requests(DecodingConfig(max_new_tokens=64), [short_answer]),
    ]
    five, one, ended = backend.generate(requests)
    assert (five.completion_tokens, five.truncated, five.finish_reason) == (5, True, "length")
    assert (one.completion_tokens, one.truncated, one.finish_reason) == (1, True, "length")
    assert one.text and five.text.startswith(one.text)
    assert (ended.truncated, ended.finish_reason) == (False, "stop")
    assert 1 < ended.completion_tokens < 64
    assert "<|im_end|>" not in ended.text  # the EOS token is counted but is not text
    # The text re-encodes to its tokens: the count is what was generated plus the EOS.
    assert ended.completion_tokens == len(_token_ids(backend, ended.text)) + 1
    assert ended.prompt_tokens == len(backend.encode(requests[2]))


def _token_ids(backend: LlamaCppBackend, text: str) -> list[int]:
    data = text.encode()
    buffer = (backend._lib.llama_token * (len(data) + 8))()
    count = backend._lib.llama_tokenize(backend._vocab, data, len(data), buffer, len(buffer), False, True)
    return list(buffer[:count])


def test_iter_generate_yields_each_request_once_with_progress(backend: LlamaCppBackend) -> None:
    requests = _requests(DecodingConfig(max_new_tokens=3))[:4]
    ticks: list[int] = []
    seen = dict(backend.iter_generate(requests, progress=ticks.append))
    assert sorted(seen) == [0, 1, 2, 3] and sum(ticks) == 4
    assert [seen[i].text for i in range(4)] == [g.text for g in backend.generate(requests)]


def test_prompt_tokens_match_the_hf_tokenizer(backend: LlamaCppBackend) -> None:
    from transformers import AutoTokenizer

    from srlab.models.smollm2 import gguf_path

    gguf = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    messages = [
        [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April. How many?"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Ünïcode — and  spaces\n\ttoo?"}],
        [{"role": "user", "content": "2+2"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3"}],
    ]
    for turns in messages:
        text = tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        expected = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert backend.encode(GenerationRequest(turns)) == expected


def test_identity_names_the_engine_and_no_path(backend: LlamaCppBackend) -> None:
    identity = backend.identity()
    assert identity["engine"] == "llama.cpp" and identity["name"] == "smollm2-135m"
    assert identity["dtype"] == "float32"  # auto on CPU, as in the HF backend
    assert "/" not in str(identity)


def test_local_gguf_file_identity_is_its_name_size_and_mtime(tmp_path: Path) -> None:
    from srlab.models.llamacpp_backend import resolve_gguf
    from srlab.models.smollm2 import gguf_path

    copy = tmp_path / "model.gguf"
    copy.write_bytes(b"GGUF")
    path, identity = resolve_gguf(str(copy))
    assert path == copy.resolve() and identity["name"] == "model.gguf" and "fingerprint" in identity
    assert resolve_gguf("smollm2-135m")[0] == gguf_path()


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"name": "HuggingFaceTB/SmolLM2-135M-Instruct"}, "GGUF"),
        ({"device": "cuda"}, "CPU"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_bad_specs_fail_with_a_reason(update: dict, message: str) -> None:
    spec = ModelSpec(name="smollm2-135m", backend="llamacpp").model_copy(update=update)
    with pytest.raises(SrlabError, match=message):
        LlamaCppBackend(spec)


def test_closed_backend_refuses_to_generate() -> None:
    engine = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", threads=1))
    assert engine.threads == 1
    engine.close()
    engine.close()  # safe twice
    with pytest.raises(SrlabError, match="closed"):
        engine.generate(_requests(DecodingConfig(max_new_tokens=2))[:1])


def test_sample_token_is_seeded_and_honours_top_p() -> None:
    logits = np.array([2.0, 1.9, 0.5, -1.0], dtype=np.float32)
    wide = DecodingConfig(temperature=1.0, top_p=1.0)
    draws = [sample_token(logits, wide, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same draw
    many = {sample_token(logits, wide, rng) for rng in [np.random.default_rng(0)] for _ in range(200)}
    assert many == {0, 1, 2, 3}
    narrow = DecodingConfig(temperature=1.0, top_p=0.01)  # only the most likely token survives
    assert {sample_token(logits, narrow, np.random.default_rng(s)) for s in range(20)} == {0}
