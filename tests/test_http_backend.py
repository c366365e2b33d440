"""OpenAIBackend: fault injection on a scripted fake server, then a real llama.cpp server."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator

import pytest
from fake_openai_server import FakeOpenAIServer, Reply, echo_completion
from llama_server import free_port, llama_server, require_llama_server
from pydantic import ValidationError

from srlab.errors import SrlabError
from srlab.models import load_backend
from srlab.models.base import ModelSpec
from srlab.models.http_backend import OpenAIBackend
from srlab.schema import DecodingConfig, GenerationRequest

SECRET = "sk-test-5f1e9c0d-do-not-leak"
KEY_ENV = "SRLAB_TEST_HTTP_KEY"


def request(prompt: str, max_new_tokens: int = 16, **decoding: float) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": prompt}],
        decoding=DecodingConfig(max_new_tokens=max_new_tokens, **decoding),  # type: ignore[arg-type]
    )


class Sleeps(list[float]):
    """Records backoff delays instead of waiting them out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_backend(
    base_url: str, sleeps: Sleeps | None = None, **spec: object
) -> OpenAIBackend:
    fields: dict[str, object] = {"name": "served-model", "base_url": base_url, "api_key_env": KEY_ENV}
    fields.update(spec)
    return OpenAIBackend(
        ModelSpec(**fields),  # type: ignore[arg-type]
        backoff_base_s=1.0,
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(0),
    )


# -- request format and parsing ------------------------------------------------------------


def test_request_body_and_parsed_generation(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    backend = make_backend(server.base_url + "/")  # trailing slash must not double up
    [gen] = backend.generate([request("hi there", max_new_tokens=7, temperature=0.7, top_p=0.9, seed=42)])

    [received] = server.received
    assert received.path == "/v1/chat/completions"
    assert received.body == {
        "model": "served-model",
        "messages": [{"role": "user", "content": "hi there"}],
        "max_tokens": 7,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 42,
    }
    assert "Authorization" not in received.headers  # no key set: no header at all
    assert (gen.text, gen.answer, gen.reasoning) == ("echo: hi there", "echo: hi there", None)
    assert (gen.prompt_tokens, gen.completion_tokens) == (8, 3)
    assert (gen.truncated, gen.finish_reason) == (False, "stop")


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field_is_split_from_answer(server: FakeOpenAIServer, field: str) -> None:
    body = echo_completion({"messages": [{"content": "q"}]}, **{field: " 2 and 2 make 4 "})
    body["choices"][0]["message"]["content"] = "4"
    server.replies = [Reply(body=body)]
    [gen] = make_backend(server.base_url).generate([request("q")])
    assert (gen.reasoning, gen.answer) == ("2 and 2 make 4", "4")
    assert gen.text == "<think>\n2 and 2 make 4\n</think>\n\n4"


def test_finish_reason_length_marks_truncated(server: FakeOpenAIServer) -> None:
    body = echo_completion({"messages": [{"content": "long"}]})
    body["choices"][0]["finish_reason"] = "length"
    server.replies = [Reply(body=body)]
    [gen] = make_backend(server.base_url).generate([request("long")])
    assert (gen.truncated, gen.finish_reason, gen.answer) == (True, "length", "echo: long")


def test_think_tags_in_content_are_split(server: FakeOpenAIServer) -> None:
    body = echo_completion({"messages": [{"content": "x"}]})
    body["choices"][0]["message"]["content"] = "<think>carry the one</think>Answer: 12"
    server.replies = [Reply(body=body)]
    [gen] = make_backend(server.base_url).generate([request("x")])
    assert (gen.reasoning, gen.answer) == ("carry the one", "Answer: 12")


def test_response_without_choices_is_retried_then_a_failed_generation(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(body={"object": "list", "data": []}) for _ in range(3)]
    [gen] = make_backend(server.base_url, max_retries=2).generate([request("x")])
    assert (gen.text, gen.finish_reason) == ("", "error")
    assert gen.error == "malformed response: no choices[0] (keys: data, object) (after 3 attempt(s))"
    assert len(server.received) == 3


# -- retries -------------------------------------------------------------------------------


def test_429_then_success_is_retried(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(status=429, body={"error": {"message": "slow down"}})]
    sleeps = Sleeps()
    [gen] = make_backend(server.base_url, sleeps, max_retries=2).generate([request("again")])
    assert gen.answer == "echo: again"
    assert len(server.received) == 2
    # First retry: full-jitter backoff in [0.5, 1.0] x base (1 s); rng seeded so it is fixed.
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_retry_after_header_is_honoured(server: FakeOpenAIServer) -> None:
    server.replies = [
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=503, headers={"Retry-After": "0"}),
    ]
    sleeps = Sleeps()
    [gen] = make_backend(server.base_url, sleeps, max_retries=3).generate([request("wait")])
    assert gen.answer == "echo: wait"
    # 7 s from the header beats the 1 s backoff; "0" leaves the 2nd backoff (1-2 s) in charge.
    assert sleeps[0] == 7.0
    assert 1.0 <= sleeps[1] <= 2.0


def test_5xx_after_max_retries_is_a_failed_generation_with_status(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(status=500, body={"error": {"message": "boom"}}) for _ in range(10)]
    sleeps = Sleeps()
    backend = make_backend(server.base_url, sleeps, max_retries=3)
    [gen] = backend.generate([request("x")])
    assert (gen.error, gen.finish_reason, gen.answer) == ("HTTP 500: boom (after 4 attempt(s))", "error", "")
    assert len(server.received) == 4
    # Exponential: each ceiling doubles (1, 2, 4 s) and jitter keeps each within [c/2, c].
    assert len(sleeps) == 3
    assert [c / 2 <= s <= c for s, c in zip(sleeps, [1.0, 2.0, 4.0], strict=True)] == [True] * 3


def test_400_content_filter_fails_that_request_at_once_with_server_message(server: FakeOpenAIServer) -> None:
    server.reply_for = {"bad": Reply(status=400, body={"error": {"message": "flagged by content filter"}})}
    sleeps = Sleeps()
    gens = make_backend(server.base_url, sleeps, max_retries=5).generate([request("ok"), request("bad")])
    assert [(g.answer, g.error) for g in gens] == [
        ("echo: ok", None), ("", "HTTP 400: flagged by content filter")
    ]
    assert sorted(server.prompts()) == ["bad", "ok"] and sleeps == []  # not retried


@pytest.mark.parametrize(("status", "hint"), [(401, "check the API key"), (404, "check base_url"), (403, "check the API key")])
def test_wrong_url_or_key_stops_at_once_naming_model_and_url(server: FakeOpenAIServer, status: int, hint: str) -> None:
    server.replies = [Reply(status=status, body={"error": {"message": "nope"}})]
    with pytest.raises(SrlabError) as info:
        make_backend(server.base_url, max_retries=5).generate([request("x")])
    assert str(info.value).startswith(
        f"model 'served-model': POST {server.base_url}/chat/completions returned HTTP {status}: nope ({hint}"
    )
    assert len(server.received) == 1


def test_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(delay_s=1.0)]  # the first answer comes too late
    sleeps = Sleeps()
    backend = make_backend(server.base_url, sleeps, timeout_s=0.2, max_retries=1)
    [gen] = backend.generate([request("slow")])
    assert gen.answer == "echo: slow"
    assert len(server.received) == 2 and len(sleeps) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    sleeps = Sleeps()
    with pytest.raises(SrlabError) as info:
        make_backend(url, sleeps, max_retries=2).generate([request("x")])
    assert str(info.value).startswith(
        f"model 'served-model': POST {url}/chat/completions failed after 3 attempt(s): cannot connect"
    )
    assert str(info.value).endswith("is the server running?")
    assert len(sleeps) == 2


# -- API key ---------------------------------------------------------------------------------


def test_api_key_sent_as_bearer_and_never_exposed(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    backend = make_backend(server.base_url, max_retries=1)
    # A 503 (logged retry) and then a 401 whose body echoes the key, as some gateways do.
    server.replies = [
        Reply(status=503, body={"error": {"message": f"overloaded for {SECRET}"}}),
        Reply(status=401, body={"error": {"message": f"invalid key {SECRET}"}}),
    ]
    with caplog.at_level(logging.DEBUG, logger="srlab"), pytest.raises(SrlabError) as info:
        backend.generate([request("x")])

    assert [r.headers["Authorization"] for r in server.received] == [f"Bearer {SECRET}"] * 2
    assert str(info.value).endswith(f"returned HTTP 401: invalid key *** (check the API key in ${KEY_ENV})")
    assert "overloaded for ***" in caplog.text
    for exposed in (str(info.value), caplog.text, json.dumps(backend.identity()), repr(backend.spec)):
        assert SECRET not in exposed
    assert backend.identity() == {"name": "served-model", "backend": "openai", "base_url": server.base_url}


def test_credentials_in_url_are_refused_naming_the_option_to_use() -> None:
    from srlab.config_files import validate

    with pytest.raises(SrlabError) as info:  # how configs and CLI flags are checked
        validate(ModelSpec, {"name": "m", "base_url": "http://user:sk-secret@127.0.0.1:9/v1"}, "cfg", "model")
    assert "base_url: Value error, credentials in the URL are not allowed" in str(info.value)
    assert "api_key_env (--api-key-env)" in str(info.value)
    assert "sk-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:8080", "'localhost:8080' is not an http(s) URL"),
        ("ftp://127.0.0.1/v1", "'ftp://127.0.0.1/v1' is not an http(s) URL"),
        ("http://127.0.0.1:99999/v1", "port must be between 1 and 65535"),
        ("http://127.0.0.1:0/v1", "port must be between 1 and 65535"),
        ("http://127.0.0.1:http/v1", "port must be between 1 and 65535"),
    ],
)
def test_bad_base_url_is_refused_by_the_spec(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match="base_url") as info:
        ModelSpec(name="m", base_url=url)
    assert message in str(info.value)


def test_missing_base_url_names_the_field() -> None:
    with pytest.raises(SrlabError, match="needs base_url"):
        OpenAIBackend(ModelSpec(name="m", backend="openai"))


def test_registry_builds_openai_backend_from_base_url(server: FakeOpenAIServer) -> None:
    backend = load_backend(ModelSpec(name="m", base_url=server.base_url))
    assert isinstance(backend, OpenAIBackend)


# -- concurrency and order -----------------------------------------------------------------


def test_concurrency_bound_order_and_progress(server: FakeOpenAIServer) -> None:
    prompts = [f"p{i}" for i in range(12)]
    # Earlier prompts answer slower, so completion order is the reverse of request order.
    server.delay_for = {p: 0.1 * (12 - i) for i, p in enumerate(prompts)}  # long enough to overlap under load
    ticks: list[int] = []
    backend = make_backend(server.base_url, max_concurrency=3)
    generations = backend.generate([request(p) for p in prompts], progress=ticks.append)
    assert [g.answer for g in generations] == [f"echo: {p}" for p in prompts]
    assert server.max_in_flight == 3
    assert ticks == [1] * 12


def test_fatal_failure_stops_the_batch(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(status=401, body={"error": {"message": "bad"}})]
    backend = make_backend(server.base_url, max_concurrency=1)
    with pytest.raises(SrlabError, match="HTTP 401: bad"):
        backend.generate([request(f"p{i}") for i in range(20)])
    assert len(server.received) < 20  # queued requests were cancelled


def test_empty_batch_sends_nothing(server: FakeOpenAIServer) -> None:
    assert make_backend(server.base_url).generate([]) == []
    assert server.received == []


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_llama_server_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    import importlib.util

    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(outcome, match="missing: llama_cpp, uvicorn"):
        require_llama_server()


# -- a real, independent server: llama-cpp-python on SmolLM2 ---------------------------------

PROMPTS = ["What is the capital of France?", "What is 2 + 3?", "Name a color of the sky."]


@pytest.fixture(scope="module")
def real_backend() -> Iterator[OpenAIBackend]:
    require_llama_server()
    from srlab.models.smollm2 import ALIAS, gguf_path

    with llama_server(gguf_path(), alias=ALIAS) as (base_url, startup_s):
        print(f"llama_cpp.server ready in {startup_s:.2f}s at {base_url}")
        yield OpenAIBackend(ModelSpec(name=ALIAS, base_url=base_url, max_concurrency=3, timeout_s=60))


@pytest.mark.slow
def test_real_server_greedy_answers_in_order_and_repeatable(real_backend: OpenAIBackend) -> None:
    requests = [request(p, max_new_tokens=32, temperature=0.0) for p in PROMPTS]
    batch = real_backend.generate(requests)
    again = real_backend.generate(requests)
    # One at a time, each answer must match its slot in the concurrent batch: order is kept.
    alone = [real_backend.generate([r])[0] for r in requests]

    assert [g.text for g in batch] == [g.text for g in again] == [g.text for g in alone]
    assert len({g.text for g in batch}) == 3
    assert all(g.answer.strip() for g in batch)
    assert "5" in batch[1].answer  # SmolLM2 greedy: "2 + 3 = 5"
    assert all(g.prompt_tokens > 0 and g.completion_tokens > 0 for g in batch)
    assert all(g.finish_reason in ("stop", "length") for g in batch)


@pytest.mark.slow
def test_real_server_max_tokens_truncates(real_backend: OpenAIBackend) -> None:
    [gen] = real_backend.generate([request(PROMPTS[0], max_new_tokens=5, temperature=0.0)])
    assert (gen.truncated, gen.finish_reason, gen.completion_tokens) == (True, "length", 5)
    assert gen.answer
