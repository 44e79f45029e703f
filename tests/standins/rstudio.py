"""An RStudio Server stand-in: RStudio cannot be installed here, so the live tests run this instead.

It behaves like RStudio Server (open source) behind a proxy in the ways the proxy depends on:
- Its root path comes from the `X-RStudio-Root-Path` request header (what NGINX sets); without
  it, `/`.
- Every redirect is absolute, built from the Host header plus that root path, as RStudio does:
  an anonymous `GET /` answers 302 to `http://<Host><root>/auth-sign-in?appUri=%2F` (`https://`
  when X-Forwarded-Proto says https). A proxy that
  sends the wrong Host (e.g. `$host`, which drops a non-default port) sends the browser to the
  wrong place; one that drops the root-path header loses the prefix.
- Sign-in (`POST /auth-do-sign-in`) checks the CSRF cookie against the form field and the Origin
  header against Host, and on a mismatch sends the browser back to the sign-in page: the sign-in
  loop of rstudio/rstudio #10118, #10022, #9768.
- A signed-in websocket upgrade (any path) is answered `101 Switching Protocols`, after the
  same Origin check.
- `GET /__standin/requests` (not RStudio's; for the tests, straight to its port) lists the
  requests it saw: method, path, headers.

    python -m tests.standins.rstudio --port 8787 --password secret [--user workbench]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import secrets
import sys
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlsplit

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SESSION_COOKIE = "user-id"
CSRF_COOKIE = "rs-csrf-token"


class RStudioStandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RStudio"
    user = "workbench"
    password = ""
    # Shared by every request's handler instance (one process serves one stand-in).
    seen: ClassVar[list[dict[str, object]]] = []
    sessions: ClassVar[set[str]] = set()
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"rstudio-standin: {self.command} {self.path} -> {format % args}\n")

    # -- what RStudio derives from the request --------------------------------------------
    def root_path(self) -> str:
        root = self.headers.get("X-RStudio-Root-Path", "/")
        return root if root.endswith("/") else root + "/"

    def absolute(self, path: str) -> str:
        """An absolute URL under the root path, from Host, as RStudio writes its Location."""
        host = self.headers.get("Host", "")
        return f"{self.scheme()}://{host}{self.root_path()}{path.lstrip('/')}"

    def scheme(self) -> str:
        """Behind a TLS proxy RStudio takes the scheme from X-Forwarded-Proto: without it, its
        redirects send the browser back to http:// (the proxy's redirect port)."""
        return self.headers.get("X-Forwarded-Proto", "http")

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return {key: morsel.value for key, morsel in jar.items()}

    def signed_in(self) -> bool:
        return self.cookies().get(SESSION_COOKIE) in self.sessions

    def origin_matches_host(self) -> bool:
        """RStudio's origin check: the browser's Origin must name the Host it was sent to."""
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # not a browser cross-site request (curl, same-origin GET)
        return urlsplit(origin).netloc == self.headers.get("Host", "")

    # -- responses ------------------------------------------------------------------------
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, path: str, cookies: tuple[str, ...] = ()) -> None:
        self.send_response(302)
        self.send_header("Location", self.absolute(path))
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def record(self) -> None:
        with self.lock:
            self.seen.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
            )
            del self.seen[:-50]

    # -- routes ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path == "/__standin/requests":
            with self.lock:
                body = json.dumps(self.seen).encode()
            self.send(200, body, {"Content-Type": "application/json"})
            return
        self.record()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
            return
        path = urlsplit(self.path).path
        if path == "/auth-sign-in":
            self.sign_in_page()
        elif not self.signed_in():
            self.redirect(f"auth-sign-in?appUri={quote(path, safe='')}")
        else:
            page = "<!doctype html><title>RStudio</title><p>RStudio (stand-in): signed in</p>"
            self.send(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def do_POST(self) -> None:
        self.record()
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path != "/auth-do-sign-in":
            self.send(404)
            return
        csrf_ok = form.get(CSRF_COOKIE) and form.get(CSRF_COOKIE) == self.cookies().get(CSRF_COOKIE)
        if not (csrf_ok and self.origin_matches_host()):
            # What makes people loop: back to the sign-in page, no session.
            self.redirect("auth-sign-in?error=2")
            return
        if (form.get("username"), form.get("password")) != (self.user, self.password):
            self.redirect("auth-sign-in?error=1")
            return
        session = secrets.token_hex(16)
        with self.lock:
            self.sessions.add(session)
        cookie = f"{SESSION_COOKIE}={session}; Path={self.root_path()}; HttpOnly"
        self.redirect(form.get("appUri", "/").lstrip("/"), cookies=(cookie,))

    def sign_in_page(self) -> None:
        token = secrets.token_hex(16)
        app_uri = parse_qs(urlsplit(self.path).query).get("appUri", ["/"])[0]
        page = (
            "<!doctype html><title>RStudio Sign In</title>"
            '<form method="post" action="auth-do-sign-in">'
            f'<input type="hidden" name="{CSRF_COOKIE}" value="{token}">'
            f'<input type="hidden" name="appUri" value="{app_uri}">'
            '<input name="username"><input name="password" type="password">'
            "<button>Sign In</button></form>"
        )
        cookie = f"{CSRF_COOKIE}={token}; Path={self.root_path()}"
        self.send(
            200, page.encode(), {"Content-Type": "text/html; charset=utf-8", "Set-Cookie": cookie}
        )

    def websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        if not key or "upgrade" not in self.headers.get("Connection", "").lower():
            self.send(400, b"websocket upgrade without Sec-WebSocket-Key or Connection: upgrade")
            return
        if not (self.signed_in() and self.origin_matches_host()):
            self.send(403, b"websocket refused: not signed in, or Origin does not match Host")
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RStudio Server stand-in for the live tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--user", default="workbench")
    args = parser.parse_args(argv)
    RStudioStandIn.user, RStudioStandIn.password = args.user, args.password
    server = ThreadingHTTPServer(("127.0.0.1", args.port), RStudioStandIn)
    server.daemon_threads = True
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
