"""The doctor against real NGINX with the rendered config, in front of stand-in upstreams:
each way traffic can stop is produced for real, and named with its next step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import doctor
from workbench.config import WorkbenchConfig
from workbench.local.runner import ProcessSpec, Supervisor, loopback_target, start_nginx
from workbench.render import port_map, render_bundle
from workbench.services import public_services, services

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
CONFIG = WorkbenchConfig()


class Workbench:
    """The rendered NGINX on a loopback port, a stand-in upstream on each service's port, all
    under the runner's supervisor (as the live tests and `make local` run them)."""

    def __init__(self, tmp: Path, *, edit_conf=None, unavailable=None) -> None:
        self.target = loopback_target(CONFIG, tmp, unavailable=unavailable)
        self.bundle = render_bundle(CONFIG, tmp / "bundle", target=self.target)
        Path(self.target.nginx_runtime).mkdir(parents=True)
        if edit_conf:
            conf = self.bundle / "nginx.conf"
            conf.write_text(edit_conf(conf.read_text()))
        self.ports = port_map(CONFIG, self.target)
        self.supervisor = Supervisor(tmp / "logs")

    def start(self) -> Workbench:
        for s in services(CONFIG):
            port = self.ports[s.name]
            self.supervisor.start(
                ProcessSpec(
                    name=s.name,
                    argv=[sys.executable, "-m", "tests.standins.upstream", str(port), s.name],
                    cwd=ROOT,
                    ready_url=f"http://127.0.0.1:{port}/",
                )
            )
        start_nginx(self.supervisor, self.bundle / "nginx.conf", self.target)
        return self

    def stop_upstream(self, name: str) -> None:
        self.supervisor.stop(name)

    def stop_nginx(self) -> None:
        self.supervisor.stop("nginx")

    def close(self) -> None:
        self.supervisor.stop_all()

    @property
    def port(self) -> int:
        return int(self.target.listen.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://{self.target.listen}"


@pytest.fixture
def workbench(tmp_path):
    bench = Workbench(tmp_path).start()
    yield bench
    bench.close()


def diagnose(url: str, config: WorkbenchConfig = CONFIG, timeout: float = 3.0):
    target = doctor.target_from_url(url)
    return target, doctor.diagnose(target, config, timeout=timeout)


def by_target(checks, check_type: str) -> dict[str, doctor.Check]:
    return {c.target: c for c in checks if c.check == check_type}


def test_healthy_workbench_passes_every_check(workbench):
    _, checks = diagnose(workbench.url)
    assert [c for c in checks if c.verdict != doctor.OK] == []
    http = by_target(checks, "http")
    for service in public_services(CONFIG):
        assert http[service.path].evidence["location"] == service.location
    assert by_target(checks, "websocket")  # the penguins app's upgrade was tried and passed


def test_stopped_upstream_is_a_502_naming_the_service_and_its_unit(workbench, capsys):
    workbench.stop_upstream("penguins")
    target, checks = diagnose(workbench.url)
    (failed,) = [c for c in by_target(checks, "http").values() if c.verdict == doctor.FAIL]
    assert failed.target == "/penguins/"
    assert failed.summary == "502: NGINX is up but Penguin Mass Predictor is not answering"
    assert failed.next_step == "`sudo systemctl status shiny-server` (it listens on 127.0.0.1:3838)"
    assert failed.evidence["status"] == 502
    others = [c for c in checks if c.evidence.get("service") not in ("penguins",)]
    assert all(c.verdict == doctor.OK for c in others)
    hints = doctor.tunnel_hints(target, CONFIG, checks)
    assert hints == [
        "Penguin Mass Predictor: ssh -N -L 3838:localhost:3838 ubuntu@127.0.0.1  "
        "then open http://localhost:3838/"
    ]
    # The whole command, as a user runs it: exit 1 and the table.
    code = doctor.main(["--url", workbench.url, "--timeout", "3"], config=CONFIG)
    out = capsys.readouterr().out
    assert code == 1
    assert "502: NGINX is up but Penguin Mass Predictor is not answering" in out
    assert "next: `sudo systemctl status shiny-server`" in out
    print(out, file=sys.stderr)


def test_a_service_left_out_on_purpose_is_skipped_not_failed(tmp_path, capsys):
    # Local mode leaves RStudio out: its page says so, and the doctor does not cry wolf.
    bench = Workbench(tmp_path, unavailable={"rstudio": "RStudio Server has no package here."})
    bench.start()
    try:
        bench.stop_upstream("rstudio")
        _, checks = diagnose(bench.url)
        code = doctor.main(["--url", bench.url, "--timeout", "3"], config=CONFIG)
    finally:
        bench.close()
    (skipped,) = [c for c in checks if c.verdict == doctor.SKIP]
    assert skipped.target == "/rstudio/"
    assert skipped.summary == "RStudio Server is not available on this target (by design)"
    assert [c for c in checks if c.verdict == doctor.FAIL] == []
    assert code == 0
    assert "no check failed (1 skipped: not on this target)" in capsys.readouterr().out


def test_path_without_a_location_is_a_404_diagnosis(workbench):
    # The doctor expects /api/ (public); this NGINX was rendered with the API private.
    public_api = WorkbenchConfig(penguin_api_public=True)
    _, checks = diagnose(workbench.url, public_api)
    failed = [c for c in checks if c.verdict == doctor.FAIL]
    assert {c.target for c in failed} == {"/api", "/api/ping"}
    for check in failed:
        assert check.summary == "404: NGINX has no location for this path"
        assert "nginx -T" in check.next_step


def test_stopped_nginx_is_refused(workbench):
    workbench.stop_nginx()
    _, checks = diagnose(workbench.url)
    tcp = checks[-1]
    assert tcp.check == "tcp" and tcp.verdict == doctor.FAIL
    assert tcp.summary == f"refused: nothing listens on {workbench.port} (HTTP to NGINX)"
    assert tcp.next_step == "is nginx running? `sudo systemctl status nginx`"
    assert len(checks) == 2, "no HTTP checks after the port is refused"


def test_websocket_location_without_upgrade_headers_fails_only_the_upgrade(tmp_path):
    def drop_upgrade_headers(conf: str) -> str:
        return "\n".join(
            line
            for line in conf.splitlines()
            if "proxy_set_header Upgrade" not in line and "proxy_set_header Connection" not in line
        )

    bench = Workbench(tmp_path, edit_conf=drop_upgrade_headers).start()
    try:
        _, checks = diagnose(bench.url)
    finally:
        bench.close()
    assert all(c.verdict == doctor.OK for c in checks if c.check != "websocket")
    (ws,) = [c for c in checks if c.check == "websocket"]
    assert ws.verdict == doctor.FAIL
    assert ws.summary == "200 instead of 101: the upgrade did not get through"
    assert "proxy_set_header Upgrade $http_upgrade" in ws.next_step


NETNS = "wb-doctor-test"


@pytest.fixture
def netns():
    """A network namespace of our own whose firewall drops one TCP port."""
    subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    run = ["ip", "netns", "exec", NETNS]
    subprocess.run([*run, "ip", "link", "set", "lo", "up"], check=True)
    yield run
    subprocess.run(["ip", "netns", "delete", NETNS], check=True)


def test_firewall_that_drops_packets_is_a_timeout(netns):
    port = 8080
    nft = [*netns, "nft"]
    subprocess.run([*nft, "add", "table", "inet", "wb"], check=True)
    subprocess.run(
        [*nft, "add", "chain", "inet", "wb", "input",
         "{ type filter hook input priority 0; policy accept; }"],
        check=True,
    )  # fmt: skip
    subprocess.run([*nft, "add", "rule", "inet", "wb", "input", "tcp", "dport", str(port), "drop"])
    # Something listens behind the firewall, as NGINX would on a real instance.
    listener = subprocess.Popen([*netns, sys.executable, "-m", "http.server", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        result = subprocess.run(
            [*netns, sys.executable, "-m", "workbench", "doctor", "--url",
             f"http://127.0.0.1:{port}", "--timeout", "1", "--json"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    finally:
        listener.terminate()
        listener.wait()
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    tcp = report["checks"][-1]
    assert tcp["check"] == "tcp"
    assert tcp["summary"] == "timed out after 1 s: a firewall drops it"
    assert "security group" in tcp["next_step"] and "TCP 8080" in tcp["next_step"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://example.com"], "error: --url: got 'ftp://example.com'; expected http://"),
        (["--url", "http://host:99999"], "error: --url: got 'http://host:99999'; expected http://"),
        (["--url", "http://127.0.0.1", "--timeout", "0"], "error: --timeout: got 0; expected"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert doctor.main(argv, config=CONFIG) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1
