"""A minimal upstream for proxy tests: answers any GET with 200 and any websocket upgrade with a
real RFC 6455 handshake (101 + Sec-WebSocket-Accept), then echoes one text frame.

Run: python -m tests.standins.upstream PORT [NAME]
Every response carries `X-Upstream: NAME` and echoes the request line and headers it received,
so a test can see exactly what the proxy passed on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    upgrade = headers.get("upgrade", "").lower() == "websocket"
    connection = "upgrade" in headers.get("connection", "").lower()
    if upgrade and connection and "sec-websocket-key" in headers:
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()
        ).decode()
        writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\nX-Upstream: {name}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        await _echo_one_frame(reader, writer)
        writer.close()
        return
    body = json.dumps({"upstream": name, "request": request_line, "headers": headers}).encode()
    status = "400 Bad Request" if upgrade else "200 OK"  # an upgrade that lost its Connection
    writer.write(
        (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Upstream: {name}\r\nConnection: close\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    writer.close()


async def _echo_one_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        first, second = await asyncio.wait_for(reader.readexactly(2), timeout=5)
    except (TimeoutError, asyncio.IncompleteReadError):
        return
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(length)))
    header = bytes([0x80 | (first & 0x0F)])
    if len(payload) < 126:
        header += bytes([len(payload)])
    else:
        header += bytes([126]) + len(payload).to_bytes(2, "big")
    writer.write(header + payload)
    await writer.drain()


async def serve(port: int, name: str) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, name), host="127.0.0.1", port=port
    )
    async with server:
        print(f"upstream {name} listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "upstream"))
