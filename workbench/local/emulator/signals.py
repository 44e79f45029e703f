"""Wait condition handles as real endpoints: what an emulated instance PUTs its result to.

On AWS a handle's `Ref` is a presigned S3 URL; provision.sh PUTs JSON to it
(`{"Status", "UniqueId", "Reason", "Data"}`) and the wait condition counts the signals. With an
instance agent registered (workbench/local/emulator/agent.py), handles get URLs on this loopback
server instead, shaped the same way ('&'-separated query string included), and a wait condition
waits until its handle holds enough SUCCESS signals, fails at the first FAILURE (with AWS's
message), or times out.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit

from workbench.local.emulator import loopback

# Emulated time is short: a real instance takes 15 minutes, an agent a few seconds.
MAX_WAIT_SECONDS = 60.0


class WaitConditionFailed(Exception):
    """A FAILURE signal, or the timeout: the reason CloudFormation would give."""


class _Signals:
    def __init__(self) -> None:
        self.by_handle: dict[str, dict[str, dict]] = {}
        self.changed = threading.Condition()

    def put(self, path: str, signal: dict) -> None:
        with self.changed:
            unique_id = str(signal.get("UniqueId", ""))
            # A second signal with the same UniqueId replaces the first, as on AWS.
            self.by_handle.setdefault(path, {})[unique_id] = signal
            self.changed.notify_all()

    def received(self, path: str) -> list[dict]:
        with self.changed:
            return list(self.by_handle.get(path, {}).values())

    def wait(self, path: str, count: int, timeout: float) -> list[dict]:
        with self.changed:
            while True:
                signals = list(self.by_handle.get(path, {}).values())
                failed = [s for s in signals if s.get("Status") == "FAILURE"]
                if failed:
                    first = failed[0]
                    raise WaitConditionFailed(
                        f"WaitCondition received failed message: '{first.get('Reason', '')}' "
                        f"for uniqueId: {first.get('UniqueId', '')}"
                    )
                done = [s for s in signals if s.get("Status") == "SUCCESS"]
                if len(done) >= count:
                    return done
                if not self.changed.wait(timeout):
                    raise WaitConditionFailed(
                        f"WaitCondition timed out. Received {len(done)} conditions when "
                        f"expecting {count}"
                    )


SIGNALS = _Signals()


class _Handler(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            signal = json.loads(body)
            if not isinstance(signal, dict) or signal.get("Status") not in ("SUCCESS", "FAILURE"):
                raise ValueError("Status must be SUCCESS or FAILURE")
        except ValueError as error:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(error).encode())
            return
        SIGNALS.put(urlsplit(self.path).path, signal)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:
        return  # quiet: tests read the signals, not a request log


_server: list[ThreadingHTTPServer] = []


def start() -> str:
    """Start the endpoint (once); return its base URL."""
    if not _server:
        _server.append(loopback.serve(_Handler, "wait-signals"))
    return loopback.url(_server[0])


def stop() -> None:
    while _server:
        loopback.close(_server.pop())


def handle_path(stack_id: str, logical_id: str) -> str:
    return "/" + quote(f"{stack_id}/{logical_id}", safe="")


def handle_url(stack_id: str, logical_id: str, base: str | None = None) -> str:
    """What a `Ref` to a wait condition handle gives: an address shaped like AWS's presigned S3
    URL, with '&'-separated query parameters (a dummy signature), on this endpoint or on `base`
    (without an agent: CloudFormation's bucket for the region, as on AWS)."""
    return (
        f"{base or start()}{handle_path(stack_id, logical_id)}"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86399&X-Amz-Signature=emulated"
    )
