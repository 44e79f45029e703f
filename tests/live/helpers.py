"""Small clients for the live tests: a raw websocket handshake, the landing page's links, and
polling until something holds."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import ssl
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def websocket_handshake(
    url: str,
    *,
    origin: str | None = None,
    cookies: str = "",
    host: str | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str]]:
    """Send a browser-like websocket upgrade to `url`; return the status and response headers.

    A 101 whose Sec-WebSocket-Accept matches the key is a real upgrade; anything else raises.
    An https:// (wss) `url` goes through TLS with `context` (which says what to trust).
    """
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {host or parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin or f'{parts.scheme}://{parts.netloc}'}",
    ]
    if cookies:
        lines.append(f"Cookie: {cookies}")
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(
            socket.create_connection((parts.hostname, parts.port), timeout=10)
        )
        if parts.scheme == "https":
            sock = stack.enter_context(
                (context or ssl.create_default_context()).wrap_socket(
                    sock, server_hostname=parts.hostname
                )
            )
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 101:
        expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        assert headers.get("sec-websocket-accept") == expected.decode(), headers
    return status, headers


def cookie_header(session) -> str:
    """Every cookie of a requests session, as one Cookie header (paths ignored)."""
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.service_links: list[str] = []
        self.all_links: list[str] = []
        self._in_services = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "ul" and "services" in (attributes.get("class") or "").split():
            self._in_services += 1
        if tag == "a" and attributes.get("href"):
            self.all_links.append(attributes["href"])
            if self._in_services:
                self.service_links.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "ul" and self._in_services:
            self._in_services -= 1


def service_links(html: str) -> list[str]:
    """The hrefs listed in the landing page's services list, in order."""
    parser = _Links()
    parser.feed(html)
    return parser.service_links


def wait_for(condition, timeout: float, what: str, *, every: float = 0.2) -> float:
    """Poll `condition` every `every` seconds until true; return the seconds it took. Fails the
    test, naming `what`, if it is not true within `timeout` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout} s")
