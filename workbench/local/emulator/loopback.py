"""An HTTP server on a free loopback port, served from a daemon thread: what the emulator's
endpoints for an emulated instance (imds.py, signals.py) run on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler], name: str) -> ThreadingHTTPServer:
    """Start `handler` on 127.0.0.1 at a port the kernel picks, in a daemon thread `name`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def close(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()
