"""The service client's pooled connections (gridfs.service.transport), against a real server."""

from __future__ import annotations

import http.server
import os
import resource
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from gridfs.errors import InvalidArgument
from gridfs.service.transport import Server

_PAST_SELECT = 1100  # descriptor numbers from here on are past select()'s FD_SETSIZE (1024)


class _Answers(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 0.2  # an idle connection is closed by the server soon

    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no line per request on stderr."""


@pytest.fixture
def url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def many_files_open() -> Iterator[None]:
    """A process with over a thousand files open, as a busy mount is: new sockets number past it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, _PAST_SELECT + 100), hard))
    held = []
    try:
        while (fd := os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)) < _PAST_SELECT:
            held.append(fd)
        held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_is_kept_and_one_the_server_closed_is_not_reused(
    url: str, many_files_open: None
) -> None:
    server = Server(url, ssl.create_default_context(), {}, 10)
    try:
        assert server.request("GET", "/one").read() == b"/one"
        assert server.request("GET", "/two").read() == b"/two"  # on the idle connection
        time.sleep(0.5)  # the server closes the idle connection meanwhile
        assert server.request("GET", "/three").read() == b"/three"  # on a new one
    finally:
        server.close()


def test_a_proxy_url_that_is_not_http_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "socks5://proxy.example:1080")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(InvalidArgument, match="https_proxy is not an http:// proxy URL"):
        Server("https://catalog.example:8443", ssl.create_default_context(), {}, 10)
