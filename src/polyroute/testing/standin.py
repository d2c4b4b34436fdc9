"""Local stand-in endpoints with scripted faults, for tests and the offline demo.

``StandinServer`` is a small loopback HTTP/1.1 server on a background thread.
What it answers is decided by a provider plugin's *responder*, which speaks
that provider's wire format (normal answers, error bodies, stream events). The
faults are generic: queue them with ``server.push(...)`` and the next requests
get them in order, then normal answers resume.

    with StandinServer(OpenAIResponder()) as server:
        server.push(Fault.status(429, retry_after=0), Fault.status(500))
        ...  # point a provider's base_url at server.url
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

__all__ = [
    "Fault", "Reply", "Responder", "StandinRequest", "StandinServer", "echo", "message_text",
    "ndjson", "sse",
]


@dataclass
class StandinRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def wants_stream(self) -> bool:
        data = self.json() if self.body.startswith(b"{") else None
        return bool(isinstance(data, dict) and data.get("stream")) or "stream" in self.path.lower()


@dataclass
class Reply:
    """What to send back: a whole ``body``, or streamed ``chunks`` (already framed)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: list[bytes] | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            {"content-type": "application/json", **(headers or {})},
            json.dumps(data).encode(),
        )


class Responder(Protocol):
    """Speaks one provider's wire format for the stand-in."""

    def answer(self, request: StandinRequest) -> Reply:
        """A normal, successful answer (a stream if the request asks for one)."""

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        """The provider's error response for ``status``."""

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        """One framed in-band error event, as the provider sends mid-stream."""


@dataclass
class Fault:
    """A scripted misbehaviour for one request."""

    kind: str
    code: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    after_chunks: int = 0
    message: str = "injected fault"

    @classmethod
    def status(
        cls, status: int, *, retry_after: float | None = None, message: str | None = None,
        headers: dict[str, str] | None = None, retry_after_ms: float | None = None,
    ) -> Fault:
        """An error status (429, 500, 502, 503, 529, ...) in the provider's error format,
        with ``retry-after`` (seconds) or ``retry-after-ms`` if given."""
        h = dict(headers or {})
        if retry_after is not None:
            h["retry-after"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            h["retry-after-ms"] = f"{retry_after_ms:g}"
        return cls("status", code=status, headers=h, message=message or f"injected {status}")

    @classmethod
    def stall(cls, after_chunks: int, seconds: float) -> Fault:
        """Stream ``after_chunks`` chunks, send nothing for ``seconds``, then the rest."""
        return cls("stall", after_chunks=after_chunks, seconds=seconds)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """Send nothing for ``seconds`` (then a normal answer)."""
        return cls("hang", seconds=seconds)

    @classmethod
    def slow_first_chunk(cls, seconds: float) -> Fault:
        """Send headers at once, then wait before the first stream chunk."""
        return cls("slow_first_chunk", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """200 with a body that is not valid JSON."""
        return cls("malformed")

    @classmethod
    def cut_stream(cls, after_chunks: int = 0) -> Fault:
        """Stream ``after_chunks`` chunks, then drop the connection."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def truncate_stream(cls, after_chunks: int) -> Fault:
        """Stream ``after_chunks`` chunks, then end the body cleanly (no terminal event)."""
        return cls("truncate", after_chunks=after_chunks)

    @classmethod
    def in_band_error(cls, after_chunks: int = 0, message: str = "injected stream error") -> Fault:
        """Stream ``after_chunks`` chunks, then the provider's in-band error event."""
        return cls("in_band_error", after_chunks=after_chunks, message=message)

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection without answering."""
        return cls("reset")


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent first
    # connections (a 40-thread test) overflows it and the kernel drops SYNs, so a
    # client waits out SYN retransmits (1 s, 3 s, 7 s...). Real servers listen with
    # a deep backlog; so does the stand-in.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout test) is not a stand-in failure.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class StandinServer:
    """A loopback server answering through ``responder``, with scripted faults."""

    def __init__(self, responder: Responder, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.responder = responder
        self.requests: list[StandinRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        handler = _make_handler(self)
        self._httpd = _Server((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def push(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def start(self) -> StandinServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        self._closing.wait(seconds)


def _make_handler(server: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle's algorithm the body waits
        # for the ACK of the headers, which the client delays (~40 ms on Linux): every
        # sync call to a stand-in took 44 ms. Real servers set TCP_NODELAY too.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            try:
                self._serve()
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test): nothing left to answer.
                self.close_connection = True

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            req = StandinRequest(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            with server._lock:
                server.requests.append(req)
            fault = server._next_fault()
            responder = server.responder
            if fault is None:
                self._send(responder.answer(req))
            elif fault.kind == "status":
                reply = responder.error(req, fault.code, fault.message)
                reply.headers.update(fault.headers)
                self._send(reply)
            elif fault.kind == "hang":
                server.sleep(fault.seconds)
                self._send(responder.answer(req))
            elif fault.kind == "malformed":
                self._send(Reply(200, {"content-type": "application/json"}, b'{"id": "x", "cho'))
            elif fault.kind == "reset":
                self._abort()
            else:
                self._send(responder.answer(req), fault)

        def _abort(self) -> None:
            # SO_LINGER 0: close with a TCP reset, as a crashed upstream would.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            self.close_connection = True
            self.connection.close()

        def _send(self, reply: Reply, fault: Fault | None = None) -> None:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.chunks is None:
                body = reply.body or b""
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            chunks = reply.chunks
            if fault is not None and fault.kind == "slow_first_chunk":
                server.sleep(fault.seconds)
            if fault is not None and fault.kind in ("cut", "truncate", "in_band_error"):
                chunks = chunks[: fault.after_chunks]
            for i, chunk in enumerate(chunks):
                if fault is not None and fault.kind == "stall" and i == fault.after_chunks:
                    server.sleep(fault.seconds)
                self._chunk(chunk)
            if fault is not None and fault.kind == "in_band_error":
                req = server.requests[-1]
                self._chunk(server.responder.stream_error_event(req, fault.message))
            if fault is not None and fault.kind == "cut":
                # Drop the connection mid-body with a FIN, not a reset: a reset makes the
                # client's kernel discard chunks it has received but not yet read, so
                # under load "cut after n chunks" would turn into "cut before any".
                self.wfile.flush()
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_WR)
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            if server._closing.is_set():
                raise BrokenPipeError("stand-in stopping")
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def sse(data: Any, event: str | None = None) -> bytes:
    """One framed SSE event; ``data`` that is not a string is JSON-encoded."""
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def ndjson(data: Any) -> bytes:
    """One NDJSON line."""
    return json.dumps(data).encode() + b"\n"


def message_text(content: Any) -> str:
    """The text of an OpenAI-shaped message ``content``: the string, or the ``text`` parts
    of a part list joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content
                        if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def echo(messages: Sequence[Mapping[str, Any]], greeting: str, words: int = 12) -> str:
    """``greeting`` and the first ``words`` words of the last user message (`` …`` when
    cut): the answer a stand-in gives, so a test can tell which question it answered."""
    user: Mapping[str, Any] = next(
        (m for m in reversed(messages) if m.get("role") == "user"), {})
    said = message_text(user.get("content")).split()
    return (greeting + " ".join(said[:words]) + (" …" if len(said) > words else "")).rstrip()
