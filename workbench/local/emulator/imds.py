"""The instance metadata service of an emulated instance: IMDSv2 on a loopback port of its own.

What a script on the instance asks 169.254.169.254 (assets/identity.sh: its instance ID, region,
zone and public address), answered from the emulator's EC2 as EC2 would answer it: a session
token first (PUT /latest/api/token with a TTL header), then each read with the token, 401
without it. An instance agent points the scripts it runs at `url` (WORKBENCH_IMDS).
"""

from __future__ import annotations

import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from moto.ec2.models import ec2_backends

from workbench.local.emulator import loopback

TOKEN_PATH = "/latest/api/token"
METADATA_PREFIX = "/latest/meta-data/"


class MetadataService:
    """IMDSv2 for one instance. Start with `start()`, stop with `stop()`."""

    def __init__(self, instance_id: str, *, account: str, region: str) -> None:
        self.instance_id = instance_id
        self.account = account
        self.region = region
        self.tokens: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    def answer(self, path: str) -> str | None:
        """The value EC2 gives for a metadata path (None: 404)."""
        backend = ec2_backends[self.account][self.region]
        instance = backend.get_instance(self.instance_id)
        values = {
            "instance-id": instance.id,
            "ami-id": instance.image_id,
            "instance-type": instance.instance_type,
            "placement/region": self.region,
            "placement/availability-zone": instance.placement.zone,
            "local-ipv4": instance.private_ip,
            "public-ipv4": instance.public_ip,
        }
        value = values.get(path)
        return None if value is None else str(value)

    def start(self) -> str:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                if self.path != TOKEN_PATH or not self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                ):
                    return self._reply(400, "")
                token = secrets.token_urlsafe(24)
                service.tokens.add(token)
                self._reply(200, token)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") not in service.tokens:
                    return self._reply(401, "")
                if not self.path.startswith(METADATA_PREFIX):
                    return self._reply(404, "")
                value = service.answer(self.path.removeprefix(METADATA_PREFIX))
                self._reply(404, "") if value is None else self._reply(200, value)

            def _reply(self, code: int, body: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args) -> None:
                return

        self._server = loopback.serve(Handler, f"imds {self.instance_id}")
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return loopback.url(self._server)

    def stop(self) -> None:
        if self._server is not None:
            loopback.close(self._server)
            self._server = None
