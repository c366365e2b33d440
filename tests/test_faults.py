"""Fault injection: a scripted server on 127.0.0.1 fails in every way a long run meets.

Driven through the backend, through ``generate_cached`` and the store, and through ``srlab eval``
in a subprocess (Ctrl-C, kill -9). Each test asserts that the run ends, that nothing finished is
lost, that the API key never reaches another port, and that a rerun does exactly the missing work.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, Reply
from llama_server import free_port

from srlab.errors import SrlabError
from srlab.generate.runner import failed, generate_cached
from srlab.models.base import ModelSpec
from srlab.models.http_backend import OpenAIBackend
from srlab.schema import DecodingConfig, GenerationRequest
from srlab.store import Store

SECRET = "sk-fault-3b9d-never-elsewhere"
KEY_ENV = "SRLAB_FAULT_KEY"
REPO = Path(__file__).resolve().parents[1]


def request(prompt: str) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": prompt}], DecodingConfig(max_new_tokens=8))


def backend(base_url: str, **spec: object) -> OpenAIBackend:
    fields: dict[str, object] = {"name": "served", "base_url": base_url, "api_key_env": KEY_ENV,
                                 "timeout_s": 0.5, "max_retries": 1}
    fields.update(spec)
    return OpenAIBackend(ModelSpec(**fields), sleep=lambda _: None)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


# -- every fault, one request at a time, between two healthy ones ------------------------------

BLOCKED = {"error": {"message": "blocked by content filter", "type": "invalid_request_error"}}
FAULTS = {
    # name: (reply, attempts the client makes, the stored error; None: a good answer)
    "5xx": (Reply(status=500, body={"error": {"message": "boom"}}), 2, "HTTP 500: boom (after 2 attempt(s))"),
    "503 Retry-After": (Reply(status=503, headers={"Retry-After": "0"}), 2, "HTTP 503: Service Unavailable (after 2 attempt(s))"),
    "400 content filter": (Reply(status=400, body=BLOCKED), 1, "HTTP 400: blocked by content filter"),
    "422 prompt too long": (Reply(status=422, body={"detail": "too many tokens"}), 1, "HTTP 422: too many tokens"),
    "hang": (Reply(delay_s=30), 2, "timed out: no complete answer within 0.5s (after 2 attempt(s))"),
    "trickle": (Reply(trickle_s=0.05), 2, "timed out: no complete answer within 0.5s (after 2 attempt(s))"),
    "truncated body": (Reply(truncate_to=10), 2, "RemoteProtocolError: peer closed connection without sending complete message body"),
    "dropped connection": (Reply(drop=True), 2, "RemoteProtocolError: Server disconnected without sending a response."),
    "not JSON": (Reply(raw=b"<html>oops"), 2, "malformed response: not JSON: '<html>oops' (after 2 attempt(s))"),
    "JSON array": (Reply(body=[1, 2]), 2, "malformed response: JSON list, not an object (after 2 attempt(s))"),
    "no choices": (Reply(body={"object": "error"}), 2, "malformed response: no choices[0] (keys: object) (after 2 attempt(s))"),
    "message a string": (Reply(body={"choices": [{"message": "hi"}]}), 2, "malformed response: choices[0].message is str, not an object (after 2 attempt(s))"),
    "content a number": (Reply(body={"choices": [{"message": {"content": 7}}]}), 2, "malformed response: choices[0].message.content is int (after 2 attempt(s))"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_only_its_request_and_the_batch_ends(server: FakeOpenAIServer, fault: str) -> None:
    reply, attempts, error = FAULTS[fault]
    server.reply_for = {"bad": reply}
    started = time.monotonic()
    gens = backend(server.base_url).generate([request("a"), request("bad"), request("b")])
    elapsed = time.monotonic() - started

    assert [(g.answer, g.error) for g in (gens[0], gens[2])] == [("echo: a", None), ("echo: b", None)]
    assert (gens[1].text, gens[1].finish_reason) == ("", "error")
    assert gens[1].error is not None and gens[1].error.startswith(error)
    assert server.prompts().count("bad") == attempts
    assert elapsed < 4.0  # two 0.5 s deadlines at most, even for a server that never stops trickling


@pytest.mark.parametrize(
    ("body", "answer", "tokens"),
    [
        ({"choices": [{"message": {"content": "ok"}}], "usage": "lots"}, "ok", (0, 0)),
        ({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}, "ab", (0, 0)),
        ({"choices": [{"message": {"content": None, "refusal": "I can't help with that."}}],
          "usage": {"prompt_tokens": 5, "completion_tokens": "9"}}, "I can't help with that.", (5, 0)),
    ],
)
def test_odd_but_usable_bodies_are_read(server: FakeOpenAIServer, body: dict[str, object], answer: str, tokens: tuple[int, int]) -> None:
    server.replies = [Reply(body=body)]
    [gen] = backend(server.base_url).generate([request("x")])
    assert (gen.answer, gen.error, (gen.prompt_tokens, gen.completion_tokens)) == (answer, None, tokens)


def test_429_retry_after_is_waited_then_the_request_succeeds(server: FakeOpenAIServer) -> None:
    server.replies = [Reply(status=429, headers={"Retry-After": "3"})]
    sleeps: list[float] = []
    spec = ModelSpec(name="served", base_url=server.base_url, max_retries=2)
    [gen] = OpenAIBackend(spec, sleep=sleeps.append).generate([request("x")])
    assert (gen.answer, sleeps) == ("echo: x", [3.0])


# -- redirects and the key ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_not_followed_and_the_key_never_reaches_the_other_port(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAIServer() as elsewhere:
        target = f"{elsewhere.base_url}/chat/completions"
        server.replies = [Reply(status=status, headers={"Location": target})]
        with pytest.raises(SrlabError) as info:
            backend(server.base_url).generate([request("x")])
        assert str(info.value) == (
            f"model 'served': POST {server.base_url}/chat/completions answered HTTP {status} redirecting to "
            f"{target}; srlab does not follow redirects for API calls (the key would go along): "
            "set base_url to the final URL"
        )
        assert (elsewhere.received, elsewhere.gets) == ([], [])  # neither a POST nor a GET went there
    assert [r.headers.get("Authorization") for r in server.received] == [f"Bearer {SECRET}"]
    assert SECRET not in str(info.value)


def test_key_goes_over_plain_http_to_a_remote_host_only_when_allowed(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The fake server stands in as an HTTP proxy, so a request "to" a remote host lands here and
    # shows exactly what would have gone over the wire.
    proxy = server.base_url.removesuffix("/v1")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, SECRET)
    remote = "http://192.0.2.10:8000/v1"  # TEST-NET-1: never a real host
    with caplog.at_level(logging.WARNING, logger="srlab"):
        [gen] = backend(remote).generate([request("x")])
        [insecure] = backend(remote, allow_insecure_key=True).generate([request("y")])
    assert (gen.answer, insecure.answer) == ("echo: x", "echo: y")
    assert [r.path for r in server.received] == [f"{remote}/chat/completions"] * 2
    assert [r.headers.get("Authorization") for r in server.received] == [None, f"Bearer {SECRET}"]
    assert f"not sending ${KEY_ENV} to {remote}" in caplog.text
    assert SECRET not in caplog.text


def test_unset_key_variable_that_was_asked_for_is_warned_about(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger="srlab"):
        backend(server.base_url)
    assert f"api_key_env is {KEY_ENV} but ${KEY_ENV} is not set" in caplog.text


# -- through the store: nothing finished is lost, a rerun does exactly the missing work -----------


def test_failed_requests_are_stored_and_a_rerun_retries_exactly_those(server: FakeOpenAIServer, tmp_path: Path) -> None:
    prompts = [f"p{i}" for i in range(6)]
    server.reply_for = {"p2": Reply(status=400, body=BLOCKED), "p4": Reply(status=502)}
    with Store(tmp_path / "s.sqlite") as store:
        first = generate_cached(backend(server.base_url), store, [request(p) for p in prompts])
        assert failed(first) == {"HTTP 400: blocked by content filter": 1, "HTTP 502: Bad Gateway (after 2 attempt(s))": 1}
        assert [g.error is None for _, g in first] == [True, True, False, True, False, True]
        assert store.count("generations") == 6

        kept = generate_cached(backend(server.base_url), store, [request(p) for p in prompts], keep_failed=True)
        assert [g for _, g in kept] == [g for _, g in first]
        assert len(server.received) == 1 + 1 + 2 + 3  # keep_failed sent nothing more

        server.reply_for = {}
        server.received.clear()
        second = generate_cached(backend(server.base_url), store, [request(p) for p in prompts])
        assert sorted(server.prompts()) == ["p2", "p4"]
        assert [g.answer for _, g in second] == [f"echo: {p}" for p in prompts]
        assert failed(second) == {}

        server.received.clear()
        generate_cached(backend(server.base_url), store, [request(p) for p in prompts])
        assert server.received == []  # all done: nothing is asked again
        assert store.count("generations") == 6


def test_fatal_error_mid_run_keeps_what_finished(server: FakeOpenAIServer, tmp_path: Path) -> None:
    prompts = [f"p{i}" for i in range(6)]
    server.reply_for = {"p3": Reply(status=401, body={"error": {"message": "key revoked"}})}
    one_at_a_time = backend(server.base_url, max_concurrency=1)
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(SrlabError, match=r"^model 'served': POST .* returned HTTP 401: key revoked"):
            generate_cached(one_at_a_time, store, [request(p) for p in prompts], chunk_size=32)
        assert server.prompts() == ["p0", "p1", "p2", "p3"]
        assert store.count("generations") == 3  # stored as they came, not at the end of the chunk

        server.reply_for = {}
        server.received.clear()
        results = generate_cached(backend(server.base_url), store, [request(p) for p in prompts])
        assert sorted(server.prompts()) == ["p3", "p4", "p5"]
        assert [g.answer for _, g in results] == [f"echo: {p}" for p in prompts]


def test_unreachable_server_stops_the_run_with_a_clear_message(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(SrlabError) as info:
        generate_cached(backend(url), store, [request("x"), request("y")])
    assert str(info.value).startswith(f"model 'served': POST {url}/chat/completions failed after 2 attempt(s): cannot connect")
    assert str(info.value).endswith("; is the server running?")


def test_unknown_host_stops_at_once_without_retrying() -> None:
    started = time.monotonic()
    with pytest.raises(SrlabError, match=r"cannot resolve the host of http://no-such-host\.invalid/v1/chat/completions"):
        backend("http://no-such-host.invalid/v1", max_retries=4).generate([request("x")])
    assert time.monotonic() - started < 10


# -- through `srlab eval` in a subprocess ---------------------------------------------------------

LIMIT = 6


def _eval(base_url: str, store: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "srlab.cli", "eval", "--model", "served", "--base-url", base_url,
        "--benchmarks", "gsm8k", "--strategy", "direct", "--limit", str(LIMIT),
        "--store", str(store), "--output", str(output), "--max-retries", "0", *extra,
    ]


def _env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "SRLAB_DATA_DIR": str(data_dir), KEY_ENV: SECRET, "PYTHONPATH": str(REPO / "src")}
    env.pop("OPENAI_API_KEY", None)
    return env


def _rows(store: Path) -> dict[str, str | None]:
    """Stored generations: request prompt -> error (None for a success)."""
    with sqlite3.connect(store, timeout=5) as conn:
        rows = conn.execute("SELECT request, error FROM generations").fetchall()
    return {json.loads(r)["messages"][-1]["content"]: e for r, e in rows}


def _count(store: Path) -> int:
    try:
        return len(_rows(store))
    except sqlite3.Error:  # not created yet
        return 0


def test_eval_completes_despite_a_refused_prompt_and_the_rerun_retries_only_it(
    server: FakeOpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    store, env = tmp_path / "s.sqlite", _env(data_dir)
    server.replies = [Reply(status=400, body=BLOCKED)]  # whichever prompt comes first is refused
    first = subprocess.run(_eval(server.base_url, store, tmp_path / "a.json", "--api-key-env", KEY_ENV),
                           env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"1 of {LIMIT} requests failed (1x HTTP 400: blocked by content filter); a rerun retries them" in first.stderr
    rows = _rows(store)
    assert len(rows) == LIMIT
    refused = [p for p, e in rows.items() if e is not None]
    assert [rows[p] for p in refused] == ["HTTP 400: blocked by content filter"]
    assert "Traceback" not in first.stderr and SECRET not in first.stderr + first.stdout
    with sqlite3.connect(store) as conn:  # the key is in no stored config, provenance or row
        stored_text = json.dumps([list(r) for t in ("runs", "generations") for r in conn.execute(f"SELECT * FROM {t}")])
    assert KEY_ENV in stored_text and SECRET not in stored_text

    server.received.clear()
    again = subprocess.run(_eval(server.base_url, store, tmp_path / "b.json"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert server.prompts() == refused  # exactly the missing work
    assert set(_rows(store).values()) == {None}


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupted_eval_keeps_finished_responses_and_resumes(
    server: FakeOpenAIServer, data_dir: Path, tmp_path: Path, how: str
) -> None:
    store, env = tmp_path / "s.sqlite", _env(data_dir)
    # Two prompts are answered; every later one hangs far past any test timeout.
    server.replies = [Reply(), Reply(), *[Reply(delay_s=600) for _ in range(LIMIT)]]
    proc = subprocess.Popen(
        _eval(server.base_url, store, tmp_path / "a.json", "--max-concurrency", "2", "--request-timeout", "300"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while _count(store) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    time.sleep(0.3)  # the two hanging requests are in flight now
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
    try:
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    took = time.monotonic() - sent
    if how == "sigint":
        assert proc.returncode == 130, stderr
        assert took < 2.0, f"Ctrl-C took {took:.1f}s"
        assert "interrupted; finished work is stored" in stderr and "Traceback" not in stderr
        with sqlite3.connect(store, timeout=5) as conn:
            assert [r[0] for r in conn.execute("SELECT status FROM runs")] == ["interrupted"]
    answered = sorted(_rows(store))
    assert len(answered) == 2 and set(_rows(store).values()) == {None}  # both finished ones kept

    server.replies = []
    server.received.clear()
    done = subprocess.run(_eval(server.base_url, store, tmp_path / "b.json"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(server.received) == LIMIT - 2 and not set(server.prompts()) & set(answered)
    assert len(_rows(store)) == LIMIT and set(_rows(store).values()) == {None}
