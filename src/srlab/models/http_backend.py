"""OpenAI-compatible chat-completions backend (vLLM serve, llama.cpp server, hosted APIs).

Requests go through one pooled ``httpx`` client, on a bounded set of worker threads. Every
request ends in one of three ways:

- a generation (the server answered);
- a *failed* generation, ``Generation.error`` set, stored like any other and retried by a rerun:
  the provider refused this prompt (HTTP 400 content filter, prompt too long) or it still
  failed after ``max_retries`` (5xx, 429, timeouts, truncated or malformed bodies);
- an ``SrlabError`` that stops the whole batch at once, naming the model and URL, for faults no
  prompt can fix: a wrong URL or key (401/403/404), a redirect, an unknown or unreachable host.

Each attempt has a real deadline, ``timeout_s`` from connecting to the last byte, even against a
server that trickles bytes. Redirects are never followed. The API key is read from the
environment at call time, sent only over https:// or to a loopback host (unless the spec sets
``allow_insecure_key``), and never stored on the backend, logged, or put in an exception.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import os
import queue
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

from srlab.errors import SrlabError
from srlab.generate import think
from srlab.models.base import (
    ModelBackend,
    ModelSpec,
    ProgressCallback,
    check_base_url,
    failed_generation,
    in_request_order,
    redact_url,
)
from srlab.models.reasoning import make_generation
from srlab.schema import Generation, GenerationRequest

log = logging.getLogger(__name__)

# Worth another try: timeouts, rate limiting and server-side failures.
_RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
# Wrong URL, key or model name: every other request would fail the same way, so stop at once.
_FATAL_STATUSES = {
    401: "check the API key in ${env}",
    403: "check the API key in ${env} and its permissions",
    404: "check base_url (it usually ends in /v1) and the model name",
    405: "check base_url (it usually ends in /v1)",
    407: "the proxy needs credentials",
}
# Any other 4xx (400 content filter, 413 / 422 prompt too long) is about this one request.
_MAX_ERROR_BODY = 500  # characters of a server's error body worth quoting
_MAX_BODY_BYTES = 32 * 1024 * 1024  # a completion this large is a broken server, not an answer
_MAX_RETRY_AFTER_S = 600.0  # a buggy Retry-After of hours should not hang a run silently
_CONNECT_TIMEOUT_S = 15.0
_POLL_S = 0.1  # how often blocked reads and the collecting thread look at the stop flag


# -- the per-request deadline, enforced under httpx at the socket -------------------------------

_current = threading.local()  # .deadline (time.monotonic) and .stop (Event) of this thread's attempt


class _Interrupted(Exception):
    """The run is stopping (Ctrl-C or a fatal error elsewhere); abandon this request."""


def _remaining(timeout: float | None) -> float | None:
    deadline = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose reads and writes stop at the thread's deadline or stop flag.

    httpx's own timeouts bound each read, so a server sending one byte a second would keep a
    request alive forever; here every read waits in short slices and gives up at the deadline.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        while True:
            stop = getattr(_current, "stop", None)
            if stop is not None and stop.is_set():
                raise httpcore.ReadError("interrupted")
            left = _remaining(timeout)
            try:
                return self._inner.read(max_bytes, _POLL_S if left is None else min(left, _POLL_S))
            except httpcore.ReadTimeout:
                if left is not None and left <= _POLL_S:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineNetwork(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _remaining(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _remaining(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _install_deadlines(client: httpx.Client) -> bool:
    """Put the deadline stream under every transport of ``client`` (proxies included).

    httpx has no public hook for the network layer; its transports keep an httpcore pool whose
    ``_network_backend`` is swapped here. If a future httpx moves it, reads fall back to httpx's
    per-read timeout and the body is still cut at the deadline between chunks.
    """
    transports = [client._transport, *client._mounts.values()]
    installed = True
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if inner is None:
            installed = False
            continue
        if not isinstance(inner, _DeadlineNetwork):
            pool._network_backend = _DeadlineNetwork(inner)  # type: ignore[union-attr]
    return installed


# -- outcomes of one attempt ---------------------------------------------------------------------


class _RetryableError(Exception):
    """One failed attempt that may succeed if repeated; ``retry_after`` is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable  # the server could not be reached at all


class _RequestFailed(Exception):
    """The server refused this one request (e.g. HTTP 400 content filter); not worth repeating."""


class _Fatal(SrlabError):
    """Every request would fail the same way; the batch stops."""


class OpenAIBackend(ModelBackend):
    """POSTs each request to ``{base_url}/chat/completions``; ``generate`` keeps request order.

    ``sleep`` and ``rng`` are injectable so tests can check backoff without waiting.

    Think budgets need the server to continue a partial assistant message: the prefill goes as a
    final assistant turn with ``continue_final_message: true, add_generation_prompt: false``
    (vLLM's server takes these). A server that ignores them (llama-cpp-python's does) would
    answer a fresh turn instead, so the first such batch checks (two one-token requests whose
    prompt lengths must differ) and stops with an error naming the budget when it does not.
    """

    supports_prefill = True

    def __init__(
        self,
        spec: ModelSpec,
        *,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not spec.base_url:
            raise SrlabError(
                f"model {spec.name!r}: the openai backend needs base_url "
                "(e.g. http://127.0.0.1:8080/v1); set model.base_url or use backend: hf"
            )
        try:
            check_base_url(spec.base_url)
        except ValueError as exc:
            raise SrlabError(f"model {spec.name!r}: base_url {exc}") from None
        self.spec = spec
        self.url = spec.base_url.rstrip("/") + "/chat/completions"
        self._shown_url = redact_url(self.url)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()  # random.Random is not documented thread-safe
        self._key_allowed = _key_may_go_to(spec.base_url) or spec.allow_insecure_key
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._continues: bool | None = None  # whether the server continues a final assistant turn
        self._probe_lock = threading.Lock()
        self._warn_about_key()

    def identity(self) -> dict[str, Any]:
        return {"name": self.spec.name, "backend": "openai", "base_url": redact_url(self.spec.base_url or "")}

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        return in_request_order(self.iter_generate(requests, progress), len(requests))

    def iter_generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> Iterator[tuple[int, Generation]]:
        """Yield each request's outcome the moment it finishes.

        Workers are daemon threads: on Ctrl-C (or a fatal error) the stop flag ends their reads
        within ``_POLL_S`` and nothing waits for requests still in flight.
        """
        if not requests:
            return
        client = self._http()
        continued = next((r for r in requests if think.needs_prefill(r.think) or not r.plain), None)
        if continued is not None:
            self._require_continuation(client, continued)
        stop = threading.Event()
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(requests)):
            todo.put(index)
        done: queue.SimpleQueue[tuple[int, Generation | BaseException]] = queue.SimpleQueue()
        workers = min(self.spec.max_concurrency, len(requests))
        for n in range(workers):
            threading.Thread(
                target=self._work, args=(client, requests, todo, done, stop),
                name=f"srlab-http-{n}", daemon=True,
            ).start()
        try:
            for _ in range(len(requests)):
                while True:
                    try:
                        index, outcome = done.get(timeout=_POLL_S)  # short waits: Ctrl-C lands at once
                        break
                    except queue.Empty:
                        continue
                if isinstance(outcome, BaseException):
                    raise outcome
                if progress is not None:
                    progress(1)
                yield index, outcome
        finally:
            stop.set()

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- workers -----------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                size = self.spec.max_concurrency
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.spec.timeout_s, connect=min(_CONNECT_TIMEOUT_S, self.spec.timeout_s)),
                    limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                    follow_redirects=False,  # a redirect would carry the key (and a GET) elsewhere
                )
                if not _install_deadlines(self._client):
                    log.debug("httpx internals changed: per-read timeouts only, deadline checked per chunk")
            return self._client

    def _work(
        self,
        client: httpx.Client,
        requests: Sequence[GenerationRequest],
        todo: queue.SimpleQueue[int],
        done: queue.SimpleQueue[tuple[int, Generation | BaseException]],
        stop: threading.Event,
    ) -> None:
        _current.stop = stop
        while not stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, self._complete(client, requests[index], stop)))
            except _Interrupted:
                return
            except BaseException as error:  # fatal, or a bug: the collecting thread raises it
                stop.set()
                done.put((index, error))
                return

    def _complete(self, client: httpx.Client, request: GenerationRequest, stop: threading.Event) -> Generation:
        if request.think is None:
            return self._complete_one(client, request, stop)
        # A think budget's rounds, one after another for this request (other workers run other requests).
        rounds = think.run(lambda batch: [self._complete_one(client, r, stop) for r in batch], [request])
        return rounds[0]

    def _require_continuation(self, client: httpx.Client, request: GenerationRequest) -> None:
        with self._probe_lock:
            if self._continues is None:
                self._continues = self._probe_continuation(client)
        if not self._continues:
            wanted = f"think budget {request.think.label!r}" if request.think else "an assistant prefill"
            raise SrlabError(
                f"model {self.spec.name!r} (backend openai, {self._shown_url}): {wanted} needs the server to "
                "continue a partial assistant message (continue_final_message: true, add_generation_prompt: "
                "false, as vLLM's server does), and this server ignores that (llama-cpp-python's server does); "
                "use think mode default here, or backend hf, llamacpp or vllm, or a vLLM server"
            )

    def _probe_continuation(self, client: httpx.Client) -> bool:
        """Whether the server continues a final assistant turn: a continued turn is rendered without
        its end-of-turn and a new generation prompt, so its prompt has fewer tokens."""
        turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        body: dict[str, Any] = {"model": self.spec.name, "messages": turns, "max_tokens": 1, "temperature": 0.0}
        counts = []
        for extra in ({}, {"continue_final_message": True, "add_generation_prompt": False}):
            try:
                data = self._post(client, json.dumps({**body, **extra}).encode("utf-8"), threading.Event())
            except (_RequestFailed, _RetryableError) as error:
                log.warning("POST %s: checking prefill continuation failed: %s", self._shown_url, error)
                return False
            usage = data.get("usage")
            counts.append(_count(usage.get("prompt_tokens")) if isinstance(usage, dict) else 0)
        return 0 < counts[1] < counts[0]

    def _complete_one(self, client: httpx.Client, request: GenerationRequest, stop: threading.Event) -> Generation:
        payload = self._payload(request)
        made = 0
        while True:
            made += 1
            try:
                return self._parse(self._post(client, payload, stop), raw=not request.plain)
            except _RequestFailed as error:
                return failed_generation(str(error))
            except _RetryableError as error:
                if stop.is_set():
                    raise _Interrupted from None
                if made > self.spec.max_retries:
                    message = f"{error} (after {made} attempt(s))"
                    if error.unreachable:  # no prompt gets through to a server that is down
                        raise _Fatal(
                            f"model {self.spec.name!r}: POST {self._shown_url} failed after {made} attempt(s): "
                            f"{error}; is the server running?"
                        ) from None
                    log.warning("POST %s: giving up on one request: %s", self._shown_url, message)
                    return failed_generation(message)
                delay = self._delay(made - 1, error.retry_after)
                log.warning(
                    "POST %s: %s; retry %d/%d in %.1fs",
                    self._shown_url, error, made, self.spec.max_retries, delay,
                )
                if self._sleep is not None:
                    self._sleep(delay)
                elif stop.wait(delay):
                    raise _Interrupted from None

    # -- one attempt ---------------------------------------------------------------------------

    def _payload(self, request: GenerationRequest) -> bytes:
        decoding = request.decoding
        messages = [dict(m) for m in request.messages]
        if request.prefill:
            messages.append({"role": "assistant", "content": request.prefill})
        body: dict[str, Any] = {
            "model": self.spec.name,
            "messages": messages,
            "max_tokens": decoding.max_new_tokens,
            "temperature": decoding.temperature,
            "top_p": decoding.top_p,
            "seed": decoding.seed,
        }
        if request.prefill:
            # The reply continues the final assistant turn (vLLM's continue_final_message).
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        if request.stop:
            body["stop"] = list(request.stop)
        if request.chat_template_kwargs:
            body["chat_template_kwargs"] = dict(request.chat_template_kwargs)
        return json.dumps(body).encode("utf-8")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.spec.api_key_env)
        if key and self._key_allowed:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, client: httpx.Client, payload: bytes, stop: threading.Event) -> dict[str, Any]:
        timeout = self.spec.timeout_s
        deadline = time.monotonic() + timeout
        _current.deadline = deadline
        try:
            with client.stream("POST", self.url, content=payload, headers=self._headers()) as response:
                raw = bytearray()
                for chunk in response.iter_raw():
                    raw += chunk
                    if len(raw) > _MAX_BODY_BYTES:
                        raise _RetryableError(f"response body over {_MAX_BODY_BYTES // 2**20} MiB")
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("deadline passed")
                status, headers = response.status_code, response.headers
        except httpx.TimeoutException:
            if stop.is_set():
                raise _Interrupted from None
            raise _RetryableError(f"timed out: no complete answer within {timeout:g}s") from None
        except httpx.ConnectError as error:
            if stop.is_set():
                raise _Interrupted from None
            if _is_unknown_host(error):
                raise _Fatal(
                    f"model {self.spec.name!r}: cannot resolve the host of {self._shown_url}; check base_url"
                ) from None
            raise _RetryableError(f"cannot connect: {self._scrub(_reason(error))}", unreachable=True) from None
        except httpx.HTTPError as error:  # reset, truncated body, protocol violation
            if stop.is_set():
                raise _Interrupted from None
            raise _RetryableError(f"{type(error).__name__}: {self._scrub(_reason(error))}") from None
        finally:
            _current.deadline = None
        if 300 <= status < 400:
            location = redact_url(headers.get("Location", "")) or "nowhere"
            raise _Fatal(
                f"model {self.spec.name!r}: POST {self._shown_url} answered HTTP {status} redirecting to "
                f"{location}; srlab does not follow redirects for API calls (the key would go along): "
                "set base_url to the final URL"
            )
        if status >= 400:
            message = f"HTTP {status}: {self._scrub(_error_message(bytes(raw), status))}"
            if status in _FATAL_STATUSES:
                hint = _FATAL_STATUSES[status].replace("${env}", f"${self.spec.api_key_env}")
                if status in (401, 403) and not self._key_allowed and os.environ.get(self.spec.api_key_env):
                    hint = (
                        f"the key in ${self.spec.api_key_env} was not sent over plain http:// to a "
                        "non-loopback host; use https:// or allow_insecure_key (--allow-insecure-key)"
                    )
                raise _Fatal(f"model {self.spec.name!r}: POST {self._shown_url} returned {message} ({hint})")
            if status in _RETRY_STATUSES:
                raise _RetryableError(message, _retry_after(headers.get("Retry-After")))
            raise _RequestFailed(message)
        try:
            data = json.loads(bytes(raw))
        except (ValueError, RecursionError):
            preview = bytes(raw[:_MAX_ERROR_BODY]).decode("utf-8", "replace")
            raise _RetryableError(f"malformed response: not JSON: {self._scrub(preview)!r}") from None
        if not isinstance(data, dict):
            raise _RetryableError(f"malformed response: JSON {type(data).__name__}, not an object")
        return data

    def _parse(self, data: dict[str, Any], *, raw: bool = False) -> Generation:
        """The generation in a response; ``raw`` (a prefilled round of a think budget) keeps the
        continuation's text as it came, a reasoning parser's split undone."""
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _RetryableError(
                f"malformed response: no choices[0] (keys: {', '.join(sorted(map(str, data))) or 'none'})"
            )
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            raise _RetryableError(
                f"malformed response: choices[0].message is {type(message).__name__}, not an object"
            )
        content = _content_text(message.get("content"))
        if content is None:
            raise _RetryableError(
                f"malformed response: choices[0].message.content is {type(message.get('content')).__name__}"
            )
        if not content and isinstance(message.get("refusal"), str):
            content = message["refusal"]  # OpenAI puts a model's refusal here, content null
        # vLLM and DeepSeek use reasoning_content; OpenRouter and newer vLLM use reasoning.
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        finish_reason = choice.get("finish_reason")
        finish_reason = finish_reason if isinstance(finish_reason, str) else None
        if raw:
            # A server's reasoning parser may split a continued trace off as reasoning: it is text here.
            text = (reasoning if isinstance(reasoning, str) else "") + content
            return Generation(
                text=text, answer=text, prompt_tokens=_count(usage.get("prompt_tokens")),
                completion_tokens=_count(usage.get("completion_tokens")),
                truncated=finish_reason == "length", finish_reason=finish_reason,
            )
        return make_generation(
            content,
            reasoning_field=reasoning if isinstance(reasoning, str) else None,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            hit_token_limit=finish_reason == "length",
            finish_reason=finish_reason,
        )

    def _delay(self, retry_index: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff; a server's Retry-After is a floor, not a suggestion."""
        with self._rng_lock:
            jitter = self._rng.random()
        ceiling = min(self._backoff_max_s, self._backoff_base_s * (2**retry_index))
        delay = ceiling * (0.5 + 0.5 * jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
        return delay

    def _scrub(self, text: str) -> str:
        """Remove the API key from text that came from the server (some echo the bad key back)."""
        key = os.environ.get(self.spec.api_key_env)
        if key:
            text = text.replace(key, "***")
        return text

    def _warn_about_key(self) -> None:
        env = self.spec.api_key_env
        key = os.environ.get(env)
        if key and not self._key_allowed:
            log.warning(
                "model %r: not sending $%s to %s: plain http:// to a non-loopback host would expose it; "
                "use https://, or allow_insecure_key (--allow-insecure-key) on a network you trust",
                self.spec.name, env, redact_url(self.spec.base_url or ""),
            )
        elif not key and "api_key_env" in self.spec.model_fields_set:
            log.warning("model %r: api_key_env is %s but $%s is not set; requests go without a key",
                        self.spec.name, env, env)


def _key_may_go_to(base_url: str) -> bool:
    """https://, or http:// to this machine: nobody else can read the key on the way."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_unknown_host(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    return "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _content_text(content: Any) -> str | None:
    """The message text: a string, null, or OpenAI's list of ``{"type": "text", "text": ...}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
        return "".join(p.get("text", "") for p in content)
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _error_message(body: bytes, status: int) -> str:
    """The server's own error text: OpenAI's ``{"error": {"message": ...}}``, else the raw body."""
    text = body[: 64 * 1024].decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        detail = data.get("error", data.get("detail", data.get("message")))
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
        text = (detail if isinstance(detail, str) else json.dumps(detail)) if detail else ""
    text = text.strip() or httpx.codes.get_reason_phrase(status) or "no body"
    return text[:_MAX_ERROR_BODY]


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
