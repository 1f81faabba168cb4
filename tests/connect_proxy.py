"""A forward proxy that tunnels CONNECT requests, as a site's HTTP proxy does, for the tests."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ConnectProxy", "connect_proxy"]


class ConnectProxy(socketserver.ThreadingTCPServer):
    """Tunnels each ``CONNECT host:port`` to 127.0.0.1 ports only; records each request's head."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.heads: list[list[str]] = []  # request line and headers, per tunnel asked for

    @property
    def url(self) -> str:
        """The proxy's URL, as ``https_proxy`` names it."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Tunnel(socketserver.StreamRequestHandler):
    server: ConnectProxy

    def handle(self) -> None:
        head = []
        while (line := self.rfile.readline().decode("latin-1").rstrip("\r\n")) != "":
            head.append(line)
        self.server.heads.append(head)
        method, target, _ = head[0].split(" ")
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host != "127.0.0.1":
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection((host, int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            back = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
            back.start()
            _pipe(self.connection, upstream)
            back.join(10)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy ``source`` to ``target`` until ``source`` ends; then end ``target``'s writing."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the other side went away: the tunnel is over


@contextmanager
def connect_proxy() -> Iterator[ConnectProxy]:
    """A running :class:`ConnectProxy`, shut down after."""
    proxy = ConnectProxy()
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(10)
