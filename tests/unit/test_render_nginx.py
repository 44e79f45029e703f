"""The rendered nginx.conf as policy: parsed back with crossplane, then checked by nginx -t.

Render-then-parse (as The Littlest JupyterHub tests its Traefik config): each rule below reads
the structure NGINX will see, and names the location that breaks it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import crossplane
import pytest

from workbench.config import WorkbenchConfig
from workbench.render import Target, render_bundle
from workbench.services import public_services, services

CONFIGS = {
    "default": WorkbenchConfig(),
    "api_public": WorkbenchConfig(penguin_api_public=True),
    "no_penguins": WorkbenchConfig(penguins_app=False),
}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def parse(conf: Path) -> list[dict]:
    payload = crossplane.parse(str(conf), single=True)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def find(block: list[dict], directive: str) -> list[dict]:
    return [d for d in block if d["directive"] == directive]


def one(block: list[dict], directive: str) -> dict:
    found = find(block, directive)
    assert len(found) == 1, f"expected one {directive}, found {len(found)}"
    return found[0]


def headers(location: dict) -> dict[str, str]:
    return {
        d["args"][0]: " ".join(d["args"][1:]) for d in find(location["block"], "proxy_set_header")
    }


class Rendered:
    def __init__(self, config: WorkbenchConfig, dest: Path, target: Target | None = None):
        self.config = config
        self.bundle = render_bundle(config, dest, target=target or Target())
        self.conf = self.bundle / "nginx.conf"
        main = parse(self.conf)
        self.main = main
        self.http = one(main, "http")["block"]
        self.server = one(self.http, "server")["block"]
        self.locations = {tuple(d["args"]): d for d in find(self.server, "location")}
        self.upstreams = {d["args"][0]: d["block"] for d in find(self.http, "upstream")}

    def upstream(self, location: str) -> str:
        """Where a location's proxy_pass goes, through its upstream block: `127.0.0.1:8000`."""
        target = one(self.prefix(location)["block"], "proxy_pass")["args"][0]
        assert target.startswith("http://") and "/" not in target[7:], f"{location}: {target}"
        block = self.upstreams[target[7:]]
        return one(block, "server")["args"][0]

    def prefix(self, path: str) -> dict:
        return self.locations[(path,)]

    def exact(self, path: str) -> dict | None:
        return self.locations.get(("=", path))


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def rendered(request, tmp_path_factory) -> Rendered:
    return Rendered(CONFIGS[request.param], tmp_path_factory.mktemp(request.param))


def test_every_public_service_has_exactly_one_location(rendered):
    proxied = {args for args, d in rendered.locations.items() if find(d["block"], "proxy_pass")}
    expected = {(s.location,) for s in public_services(rendered.config)}
    assert proxied == expected


def test_private_services_have_no_location(rendered):
    for s in services(rendered.config):
        if not s.public:
            assert (s.location,) not in rendered.locations, f"{s.name} is private but proxied"
            assert rendered.exact(s.path) is None, f"{s.name} is private but redirected"


def test_bare_paths_redirect_to_the_trailing_slash(rendered):
    for s in public_services(rendered.config):
        location = rendered.exact(s.path)
        assert location is not None, f"{s.path} has no redirect: it would 404"
        assert one(location["block"], "return")["args"] == ["301", f"{s.location}$is_args$args"]


def test_every_proxied_location_speaks_http_1_1(rendered):
    for s in public_services(rendered.config):
        block = rendered.prefix(s.location)["block"]
        assert one(block, "proxy_http_version")["args"] == ["1.1"], s.location


def test_every_websocket_location_passes_upgrade_and_connection(rendered):
    assert find(rendered.http, "map")[0]["args"] == ["$http_upgrade", "$connection_upgrade"]
    websocket_services = [s for s in public_services(rendered.config) if s.websockets]
    assert websocket_services, "no websocket service to check"
    for s in websocket_services:
        sent = headers(rendered.prefix(s.location))
        assert sent.get("Upgrade") == "$http_upgrade", s.location
        assert sent.get("Connection") == "$connection_upgrade", s.location


def test_upstream_connections_are_kept_alive(rendered):
    for s in public_services(rendered.config):
        target = one(rendered.prefix(s.location)["block"], "proxy_pass")["args"][0]
        assert find(rendered.upstreams[target[7:]], "keepalive"), s.location
        # Keepalive needs HTTP/1.1 and no `Connection: close` for plain requests.
        connection = headers(rendered.prefix(s.location))["Connection"]
        assert connection in ("", "$connection_upgrade"), s.location
    (upgrade_map,) = find(rendered.http, "map")
    no_upgrade = [d["args"] for d in upgrade_map["block"] if d["directive"] == ""]
    assert no_upgrade == [[""]], "a request without Upgrade must send an empty Connection"


def test_long_lived_services_get_long_read_timeouts(rendered):
    for s in public_services(rendered.config):
        if s.long_timeout:
            timeout = one(rendered.prefix(s.location)["block"], "proxy_read_timeout")["args"][0]
            assert timeout == "20d", f"{s.location}: {timeout} (under 30 s gives 504s)"


def test_jupyterhub_keeps_its_prefix_and_the_browser_host(rendered):
    block = rendered.prefix("/jupyter/")["block"]
    assert rendered.upstream("/jupyter/") == "127.0.0.1:8000", "no URI: prefix kept"
    assert not find(block, "rewrite")
    # JupyterHub PR #4671: $host drops the port and breaks the websocket origin check.
    assert headers(rendered.prefix("/jupyter/"))["Host"] == "$http_host"
    assert one(block, "proxy_buffering")["args"] == ["off"]


def test_rstudio_strips_its_prefix_and_is_told_its_root_path(rendered):
    location = rendered.prefix("/rstudio/")
    block = location["block"]
    assert one(block, "rewrite")["args"] == ["^/rstudio/(.*)$", "/$1", "break"]
    assert rendered.upstream("/rstudio/") == "127.0.0.1:8787"
    sent = headers(location)
    assert sent["X-RStudio-Root-Path"] == "/rstudio"
    # What the browser sent: Host matches Origin on any port (no sign-in loop).
    assert sent["Host"] == "$http_host"


def test_shiny_redirects_stay_under_the_prefix(rendered):
    if not rendered.config.penguins_app:
        assert ("/penguins/",) not in rendered.locations
        return
    block = rendered.prefix("/penguins/")["block"]
    assert one(block, "rewrite")["args"] == ["^/penguins/(.*)$", "/$1", "break"]
    redirects = [d["args"] for d in find(block, "proxy_redirect")]
    assert ["/", "/penguins/"] in redirects
    assert ["http://127.0.0.1:3838/", "/penguins/"] in redirects


def test_public_api_is_proxied_with_its_prefix_stripped(rendered):
    if not rendered.config.penguin_api_public:
        return
    block = rendered.prefix("/api/")["block"]
    assert one(block, "rewrite")["args"] == ["^/api/(.*)$", "/$1", "break"]
    assert rendered.upstream("/api/") == "127.0.0.1:8080"


def test_each_service_has_its_own_502_page_naming_its_unit(rendered):
    for s in public_services(rendered.config):
        page_args = one(rendered.prefix(s.location)["block"], "error_page")["args"]
        assert page_args == ["502", "504", f"/_errors/{s.name}.html"]
        page = (rendered.bundle / "www" / "errors" / f"{s.name}.html").read_text()
        assert s.title in page and f"systemctl status {s.unit}" in page, s.name
    errors = rendered.prefix("/_errors/")["block"]
    assert find(errors, "internal"), "error pages must not be reachable directly"


def test_server_hides_its_version_and_accepts_large_uploads(rendered):
    assert one(rendered.http, "server_tokens")["args"] == ["off"]
    size = one(rendered.http, "client_max_body_size")["args"][0]
    assert size.endswith("g") and int(size[:-1]) >= 1, f"client_max_body_size {size}"


def test_instance_config_listens_on_80_as_www_data(rendered):
    assert one(rendered.server, "listen")["args"] == ["80", "default_server"]
    assert one(rendered.main, "user")["args"] == ["www-data"]
    assert one(rendered.main, "pid")["args"] == ["/run/nginx.pid"]


def test_target_moves_only_listen_ports_and_paths(tmp_path):
    target = Target(
        listen="127.0.0.1:18080",
        ports={"jupyterhub": 18000, "rstudio": 18787},
        root=str(tmp_path / "b"),
        nginx_runtime=str(tmp_path / "run"),
        nginx_user=None,
    )
    local = Rendered(WorkbenchConfig(), tmp_path / "b", target)
    instance = Rendered(WorkbenchConfig(), tmp_path / "i")
    assert one(local.server, "listen")["args"] == ["127.0.0.1:18080", "default_server"]
    assert local.upstream("/jupyter/") == "127.0.0.1:18000"
    assert not find(local.main, "user")
    # Same locations, same headers: only ports and paths differ.
    assert set(local.locations) == set(instance.locations)
    for args, location in instance.locations.items():
        assert headers(local.locations[args]) == headers(location), args


def nginx_t(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NGINX, "-t", "-q", "-c", str(conf), "-p", str(prefix), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_real_nginx_accepts_the_instance_config(name, tmp_path):
    bundle = render_bundle(CONFIGS[name], tmp_path / "bundle")
    result = nginx_t(bundle / "nginx.conf", tmp_path)
    assert result.returncode == 0, result.stderr


def test_real_nginx_accepts_the_loopback_config(tmp_path):
    target = Target(
        listen="127.0.0.1:18080",
        root=str(tmp_path / "bundle"),
        nginx_runtime=str(tmp_path),
        nginx_user=None,
    )
    bundle = render_bundle(
        WorkbenchConfig(penguin_api_public=True), tmp_path / "bundle", target=target
    )
    result = nginx_t(bundle / "nginx.conf", tmp_path)
    assert result.returncode == 0, result.stderr


def test_real_nginx_rejects_a_broken_config(tmp_path):
    """The check above can fail: a directive NGINX does not know is refused."""
    bundle = render_bundle(WorkbenchConfig(), tmp_path / "bundle")
    conf = bundle / "nginx.conf"
    conf.write_text(conf.read_text().replace("server_tokens off;", "server_tokens off; bogus on;"))
    result = nginx_t(conf, tmp_path)
    assert result.returncode != 0 and "bogus" in result.stderr
