"""A fast fake OpenAI Chat Completions server for the benchmark (loopback only).

A raw asyncio ``Protocol`` speaking just enough HTTP/1.1 (keep-alive,
``Content-Length`` bodies, pipelining-safe) to answer ``POST
.../chat/completions`` with one fixed, realistic ``chat.completion`` body. The
answer bytes are built once, so a request costs the server a ``find`` and a
``write``: it must never be what limits the clients being measured.

Paths:
  ``/v1/chat/completions``       200, the fixed completion
  ``/fail/v1/chat/completions``  500, an OpenAI ``server_error`` body (failover scenario)
  ``/stream/v1/chat/completions`` 200, the same answer streamed: OpenAI ``chat.completion.chunk``
                                 SSE events (role, 12 content pieces, finish, usage,
                                 ``[DONE]``), one HTTP/1.1 chunk each, written at once
  anything else                  404

Run: ``python bench/fakeserver.py --port 0 --cpu 1`` prints ``PORT <n>`` once it listens.
The benchmark driver starts it in its own process, pinned to its own core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

COMPLETION = {
    "id": "chatcmpl-BENCH0000000000000000000000001",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-4.1-mini-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": (
                    "Here is a unit test for parse_date. It checks an ISO date, a date with "
                    "a time zone offset, and that an empty string raises ValueError. Each "
                    "case is a separate test function so a failure names the case; run "
                    "them with pytest -q."
                ),
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 42,
        "completion_tokens": 48,
        "total_tokens": 90,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_bench00001",
}
ERROR_500 = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-request-id: req_bench\r\n"
        "openai-processing-ms: 1\r\n"
        "\r\n"
    )
    return head.encode() + body


OK = _response("200 OK", json.dumps(COMPLETION).encode())


def _stream_events() -> list[bytes]:
    """The answer as OpenAI streams it with ``stream_options.include_usage``."""
    text = COMPLETION["choices"][0]["message"]["content"]  # type: ignore[index]
    words = text.split(" ")
    pieces = [" ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
              for i in range(0, len(words), 4)]
    base = {k: COMPLETION[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": p}) for p in pieces]
    events.append(chunk({}, "stop"))
    events.append({**base, "choices": [], "usage": COMPLETION["usage"]})
    return [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


STREAM = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\nx-request-id: req_bench\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in _stream_events())
    + b"0\r\n\r\n"
)
FAIL = _response("500 Internal Server Error", json.dumps(ERROR_500).encode())
NOT_FOUND = _response(
    "404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}'
)


class FakeOpenAI(asyncio.Protocol):
    __slots__ = ("buf", "transport")

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            lower = head.lower()
            cl = lower.find(b"\r\ncontent-length:")
            if cl >= 0:
                eol = lower.find(b"\r\n", cl + 2)
                length = int(lower[cl + 17 : eol if eol >= 0 else len(lower)])
            total = end + 4 + length
            if len(buf) < total:
                break
            line_end = head.find(b"\r\n")
            path = head[: line_end if line_end >= 0 else len(head)].split(b" ", 2)[1]
            if path.endswith(b"/chat/completions"):
                out.append(FAIL if path.startswith(b"/fail/") else
                           STREAM if path.startswith(b"/stream/") else OK)
            else:
                out.append(NOT_FOUND)
            buf = buf[total:]
        self.buf = buf
        if out:
            assert self.transport is not None
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def serve(host: str, port: int, watch: int, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeOpenAI, host, port, backlog=1024, reuse_address=True)
    sock = server.sockets[0]
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The server stops by itself: on a signal, when the process it serves goes
    # away, or after --max-seconds.
    until = loop.time() + max_seconds
    while not stop.is_set() and loop.time() < until:
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            if not _alive(watch):
                break
    server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cpu", type=int, default=None, help="pin to this core")
    ap.add_argument("--watch-pid", type=int, default=None,
                    help="stop when this process is gone (default: the parent)")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="stop after this long")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the fake server listens on loopback only")
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    try:
        import uvloop  # the server must be faster than any client under test

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(serve(args.host, args.port, args.watch_pid or os.getppid(), args.max_seconds))


if __name__ == "__main__":
    main()
