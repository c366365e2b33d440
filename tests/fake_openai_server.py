"""A scriptable stand-in for an OpenAI-compatible server, used only to inject faults.

Tests queue ``Reply`` objects (status, headers, delay, and faults: a raw or truncated body, a
body trickled byte by byte, a dropped connection); ``reply_for`` scripts replies per prompt.
Once the queue is empty the server answers each request with a completion that echoes the last
user message, so tests can check which request a result came from. It records every request
(GETs too: a client that followed a redirect would send one) and the peak number in flight.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # None: the default echo completion; any other JSON value is sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (a hang, when longer than the client's deadline)
    raw: bytes | None = None  # send these bytes instead of JSON (malformed bodies)
    truncate_to: int | None = None  # announce the full length, send only this many bytes, close
    trickle_s: float = 0.0  # send the body one byte at a time, this far apart
    drop: bool = False  # close the connection without answering


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def echo_completion(body: dict[str, Any], **message_extra: Any) -> dict[str, Any]:
    """A completion whose answer is ``echo: <last user message>``; usage counts characters."""
    prompt = body["messages"][-1]["content"]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"echo: {prompt}", **message_extra},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": len(prompt), "completion_tokens": 3, "total_tokens": len(prompt) + 3},
    }


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.delay_for: dict[str, float] = {}  # per-prompt delay for default replies
        self.reply_for: dict[str, Reply] = {}  # per-prompt reply, every time that prompt comes
        self.gets: list[Received] = []  # GET requests (body empty)
        self._released = threading.Event()  # set on exit: ends every delay and trickle at once
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def prompts(self) -> list[str]:
        """The last user message of every POST received, in arrival order."""
        with self._lock:
            return [r.body["messages"][-1]["content"] for r in self.received]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        prompt = body["messages"][-1]["content"]
        with self._lock:
            if prompt in self.reply_for:
                return self.reply_for[prompt]
            if self.replies:
                return self.replies.pop(0)
        return Reply(delay_s=self.delay_for.get(prompt, 0.0))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    server.received.append(Received(self.path, dict(self.headers.items()), body))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server._next_reply(body)
                    if reply.delay_s and server._released.wait(reply.delay_s):
                        return
                    if reply.drop:
                        self.close_connection = True
                        return
                    if reply.raw is not None:
                        data = reply.raw
                    elif reply.body is not None:
                        data = json.dumps(reply.body).encode()
                    else:  # the echo completion, or an empty body for an error status
                        data = json.dumps(echo_completion(body)).encode() if reply.status < 300 else b""
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if reply.truncate_to is not None:
                        self.wfile.write(data[: reply.truncate_to])
                        self.close_connection = True
                    elif reply.trickle_s:
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            if server._released.wait(reply.trickle_s):
                                return
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def do_GET(self) -> None:  # noqa: N802
                with server._lock:
                    server.gets.append(Received(self.path, dict(self.headers.items()), {}))
                data = b'{"object": "list", "data": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
