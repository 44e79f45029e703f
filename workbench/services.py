"""The service registry: the one place that knows each service's name, port, path and proxying.

The NGINX config, the landing page, the stack outputs, local mode, the doctor and the tests all
derive from `services(config)`. Nothing else hard-codes a port or a public path.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.config import WorkbenchConfig

HTTP_PORT = 80
"""The one public web port: NGINX listens here, the security group opens it to the world."""
HTTPS_PORT = 443
"""NGINX's TLS port when `https` is on; the security group opens it to the world only then."""
SSH_PORT = 22
"""SSH, for administration and tunnels; open to `ssh_cidr` only (closed with `none`)."""
SSH_USER = "ubuntu"
"""The login of Canonical's Ubuntu AMIs."""


CERT_NAME = "workbench"
"""certbot's name for the certificate (its `live/<name>/` directory), whatever names it holds."""
ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/"
"""What port 80 still answers when HTTPS is on: http-01 challenges, from certbot's webroot."""
TLS_STATUS_PATH = "/_workbench/tls-status.json"
"""The last certificate request's outcome (tls.sh writes it, NGINX serves it over HTTPS): how
the doctor, which runs elsewhere, sees a renewal that failed."""


def certificate_names(config: WorkbenchConfig, *, address: str) -> tuple[str, ...]:
    """The names on the workbench's certificate: the public `address` with `https=ip` (on the
    instance, the Elastic IP; locally 127.0.0.1), the domain otherwise; none with HTTPS off."""
    if not config.https_on:
        return ()
    return (config.domain,) if config.domain else (address,)


def expiry_warning_days(lifetime_days: float) -> int:
    """Days left under which a certificate deserves a warning: about a third of a short-lived
    (6-day) certificate's life, two renewal periods of a 90-day one. certbot renews at half the
    life of a certificate of under 10 days and at two thirds of a longer one, so a certificate
    this close to expiry has missed several renewals."""
    return 2 if lifetime_days < 10 else 14


def ssh_tunnel(port: int, host: str, *, key_file: str | None = None) -> str:
    """The chapter's tunnel ("the syntax ... defies my memory"): `port` on `host`'s loopback
    appears on this machine's localhost:`port`."""
    key = f"-i {key_file} " if key_file else ""
    return f"ssh {key}-N -L {port}:localhost:{port} {SSH_USER}@{host}"


@dataclass(frozen=True, kw_only=True)
class Service:
    name: str
    """Short identifier: used in output names, file names and the `ports` render parameter."""
    title: str
    summary: str
    """One line for the landing page."""
    port: int
    """The loopback port the service listens on, on the instance."""
    path: str
    """Public path prefix, without a trailing slash (`/jupyter`)."""
    unit: str
    """The systemd unit that runs it (what the 502 page and the doctor tell people to check)."""
    public: bool
    """Whether NGINX exposes it on port 80. Private services are reached by SSH tunnel only."""
    strip_prefix: bool
    """True: NGINX removes the path prefix before proxying (the service thinks it is at `/`)."""
    websockets: bool
    long_timeout: bool
    """Long-lived connections (kernels, R sessions, Shiny): short read timeouts give 504s."""
    buffering: bool = True
    host_header: str = "$http_host"
    """What NGINX sends as Host. `$http_host` is exactly what the browser sent, port included when
    it is not 80: JupyterHub's and RStudio's origin checks compare it with the Origin header."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    redirect_to_prefix: bool = False
    """Rewrite upstream redirects to `/` back under the prefix (Shiny Server redirects)."""
    root_path_arg: bool = False
    """The service is told its prefix itself (uvicorn --root-path) rather than by a header."""
    health_path: str = "/"
    """Path under the prefix that answers 200 (or a redirect) when the service is healthy."""
    websocket_probes: tuple[str, ...] = ()
    """Paths under the location where the real service answers an anonymous websocket upgrade
    with 101 (what `doctor` tries). Empty where every websocket needs a login first."""
    local: bool = True
    """Whether `make local` and the live tests can run the real thing on this kind of machine."""
    uses_home: bool = False
    """Users' sessions run in their /home (notebook servers, R sessions): a failed replacement
    stops the unit before it unmounts /home and hands the volume back (assets/identity.sh)."""
    internal_ports: tuple[tuple[str, int], ...] = ()
    """Loopback ports the service also binds besides `port` (never proxied), by role. Render
    parameters name them `<service>.<role>` (e.g. `jupyterhub.hub`)."""

    def port_names(self) -> tuple[str, ...]:
        """Every port name of this service, as the `ports` render parameter spells them."""
        return (self.name, *(f"{self.name}.{role}" for role, _ in self.internal_ports))

    def default_ports(self) -> dict[str, int]:
        return {self.name: self.port} | {
            f"{self.name}.{role}": port for role, port in self.internal_ports
        }

    @property
    def location(self) -> str:
        return self.path + "/"

    @property
    def slug(self) -> str:
        return self.name.replace("-", "_")


def services(config: WorkbenchConfig) -> tuple[Service, ...]:
    """Every service that runs on the instance for this configuration, public or not."""
    result = [
        Service(
            name="jupyterhub",
            title="JupyterHub",
            summary="JupyterLab notebooks for Python, one server per user.",
            port=8000,
            path="/jupyter",
            unit="jupyterhub",
            public=True,
            # bind_url carries /jupyter, so the prefix is kept.
            strip_prefix=False,
            websockets=True,
            long_timeout=True,
            buffering=False,
            health_path="/hub/login",
            # X-Forwarded-Proto does not survive configurable-http-proxy, which appends its own
            # scheme ("https,http"; tornado reads the last): X-Scheme, which tornado reads
            # first, tells the hub that the browser came over HTTPS (Secure cookies).
            extra_headers=(("X-Scheme", "$scheme"),),
            # JupyterHub's own defaults, named so that tests and local runs can move them.
            internal_ports=(("hub", 8081), ("proxy-api", 8001)),
            uses_home=True,
        ),
        Service(
            name="rstudio",
            title="RStudio Server",
            summary="The RStudio IDE for R in the browser.",
            port=8787,
            path="/rstudio",
            unit="rstudio-server",
            public=True,
            strip_prefix=True,
            websockets=True,
            long_timeout=True,
            # RStudio builds its absolute redirects (auth-sign-in) from Host and rejects a sign-in
            # whose Origin differs from Host: Host must be what the browser sent, or sign-in
            # loops (rstudio/rstudio #10118, #10022, #9768). Posit's examples use `$host`, which
            # equals `$http_host` on port 80 but drops the port when the proxy is reached on
            # another one (an SSH tunnel to port 80, a local run): `$http_host` works for both.
            host_header="$http_host",
            extra_headers=(("X-RStudio-Root-Path", "/rstudio"),),
            health_path="/",
            local=False,
            uses_home=True,
        ),
    ]
    if config.penguins_app:
        result.append(
            Service(
                name="penguins",
                title="Penguin Mass Predictor",
                summary="A Shiny app: predict a penguin's body mass from species, sex and bill.",
                port=3838,
                path="/penguins",
                unit="shiny-server",
                public=True,
                strip_prefix=True,
                websockets=True,
                long_timeout=True,
                buffering=False,
                redirect_to_prefix=True,
                # Shiny for Python's own endpoint, then Shiny Server's SockJS raw websocket.
                websocket_probes=("websocket/", "__sockjs__/000/doctor00/websocket"),
            )
        )
    result.append(
        Service(
            name="api",
            title="Penguin model API",
            summary="The penguin body-mass model as an HTTP API (FastAPI docs at /api/docs).",
            port=8080,
            path="/api",
            unit="penguin-api",
            # The chapter's advice: if only the Shiny app calls the model, keep it private.
            public=config.penguin_api_public,
            strip_prefix=True,
            websockets=False,
            long_timeout=False,
            root_path_arg=True,
            health_path="/ping",
        )
    )
    return tuple(result)


def catalog() -> dict[str, Service]:
    """Every service any configuration can run, by name, as the default configuration with every
    optional service on describes it: for what must not depend on the configuration (the install
    phase, which a baked image runs once for all configurations)."""
    return {s.name: s for s in services(WorkbenchConfig(penguins_app=True))}


def public_services(config: WorkbenchConfig) -> tuple[Service, ...]:
    return tuple(s for s in services(config) if s.public)


def service(config: WorkbenchConfig, name: str) -> Service:
    for candidate in services(config):
        if candidate.name == name:
            return candidate
    raise KeyError(name)
