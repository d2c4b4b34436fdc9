"""A TCP proxy in front of a real server that can be paused: while paused it holds
every byte clients send (the server sees nothing, clients wait for their reply),
like a server stuck in a long fork, a GC pause or a network partition.

Unlike Redis's CLIENT PAUSE it stalls only the connections made through it, so it
is safe on a Redis other tests share.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class StallProxy:
    """``with StallProxy(host, port) as proxy``: connect to ``proxy.port``;
    ``proxy.pause()`` / ``proxy.resume()``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._open = threading.Event()
        self._open.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._closed = False
        self.held = threading.Event()  # a client sent bytes while paused
        threading.Thread(target=self._accept, daemon=True).start()

    def pause(self) -> None:
        self.held.clear()
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if upstream and not self._open.is_set():
                    self.held.set()
                    self._open.wait()
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self._listener.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> StallProxy:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
