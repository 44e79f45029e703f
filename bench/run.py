"""`make bench`: what synth, the tests and the proxy cost, each beside its floor in the same run.

Writes bench/results.json and BENCHMARKS.md. Every figure is the median of several runs with
min and max; goals are reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.toolchain import NODE, tool_env

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# The project's Node (node_modules/.bin/node) for the CLI and jsii, as `make` runs them.
ENV = {
    **tool_env(),
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass
class Figure:
    section: str
    name: str
    unit: str
    runs: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "median": round(self.median, 4),
            "min": round(min(self.runs), 4),
            "max": round(max(self.runs), 4),
        }


@dataclass
class Goal:
    section: str
    name: str
    target: str
    measured: str
    met: bool
    note: str = ""


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(
            f"  {figure.section:<6} {figure.name:<48} median {figure.median:10.3f} {figure.unit}"
            f"  (min {min(figure.runs):.3f}, max {max(figure.runs):.3f}, n={len(figure.runs)})",
            flush=True,
        )
        return figure


def timed(command: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env or ENV, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    return time.perf_counter() - started


def repeat(runs: int, measure: Callable[[], float]) -> list[float]:
    return [measure() for _ in range(runs)]


def interleaved(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    """A, B, A, B, ...: a figure and its baseline see the same machine noise."""
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for sample, measure in zip(samples, measures, strict=True):
            sample.append(measure())
    return samples


# -- 1. synth ------------------------------------------------------------------------------------


def bench_synth(results: Results, runs: int) -> None:
    def synth(script: str) -> float:
        with tempfile.TemporaryDirectory() as out:
            env = {**ENV, "CDK_OUTDIR": out}
            return timed([PY, script], env=env)

    floor_runs, minimal_runs, workbench_runs = interleaved(
        runs,
        lambda: timed([PY, "-c", "import aws_cdk; aws_cdk.App()"]),
        lambda: synth("bench/minimal_app.py"),
        lambda: synth("app.py"),
    )
    floor = results.add(Figure("synth", "jsii floor: import aws_cdk; App()", "s", floor_runs))
    minimal = results.add(
        Figure("synth", "minimal app (VPC, SG, instance, cdk-nag)", "s", minimal_runs)
    )
    workbench = results.add(Figure("synth", "workbench: python app.py", "s", workbench_runs))
    ratio = workbench.median / minimal.median
    results.goals.append(
        Goal(
            "synth",
            "synth time vs the minimal app",
            "at most 1.5x",
            f"{ratio:.2f}x ({workbench.median:.2f} s vs {minimal.median:.2f} s; "
            f"jsii floor {floor.median:.2f} s)",
            ratio <= 1.5,
        )
    )


# -- 2. tests -----------------------------------------------------------------------------------

LAYERS = ("unit", "stack", "aws", "live")
# As the Makefile's `test` target runs it.
MAKE_TEST = [PY, "-m", "pytest", "-n", "2", "--dist", "loadfile"]


def bench_tests(results: Results, runs: int) -> None:  # runs: --test-runs
    """The whole suite as `make test` runs it (everything installed), and each layer's share.

    A layer's figure is the sum of its tests' durations (setup, call and teardown) in the same
    full run, so the layers add up to the suite without running it twice more.
    """
    import xml.etree.ElementTree as ET

    totals: list[float] = []
    layers: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "junit.xml"
            totals.append(
                timed([*MAKE_TEST, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"])
            )
            spent = dict.fromkeys(LAYERS, 0.0)
            for case in ET.parse(report).iter("testcase"):
                parts = case.get("classname", "").split(".")
                if len(parts) > 1 and parts[0] == "tests" and parts[1] in spent:
                    spent[parts[1]] += float(case.get("time", 0))
            for layer, seconds in spent.items():
                layers[layer].append(seconds)
    suite = results.add(Figure("tests", "make test (whole suite, installed)", "s", totals))
    for layer in LAYERS:
        results.add(Figure("tests", f"layer {layer} (its tests' durations)", "s", layers[layer]))
    results.goals.append(
        Goal(
            "tests",
            "make test, warm, 2 cores",
            "at most 90 s",
            f"{suite.median:.0f} s",
            suite.median <= 90,
        )
    )


# -- 3. proxy overhead ---------------------------------------------------------------------------

WRK_SECONDS = 3
STATIC_BODY = b"x" * 1024  # a small static response: the proxy's cost dominates, not the bytes
WS_MESSAGES = 1000


def wrk(url: str, connections: int) -> dict[str, float]:
    """Requests per second and p50/p99 latency (ms) from one wrk run."""
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{WRK_SECONDS}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = {"rps": float(out.split("Requests/sec:")[1].split()[0])}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            result[f"p{parts[0][:-1]}"] = _ms(parts[1])
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk {url}: some responses failed:\n{out}")
    return result


def _ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    raise ValueError(value)


def ws_round_trips(url: str) -> float:
    """Seconds for WS_MESSAGES sequential send-and-receive round trips on one connection."""
    from websockets.sync.client import connect

    with connect(url) as connection:
        started = time.perf_counter()
        for i in range(WS_MESSAGES):
            connection.send(f"message {i}")
            connection.recv()
        return time.perf_counter() - started


def bench_proxy(results: Results, runs: int) -> None:
    from workbench.config import WorkbenchConfig
    from workbench.local.runner import ProcessSpec, Supervisor, nginx_binary, start_workbench

    config = WorkbenchConfig()
    with tempfile.TemporaryDirectory() as tmp, Supervisor(Path(tmp) / "logs") as supervisor:
        work = Path(tmp)
        wb = start_workbench(config, work / "wb", supervisor, only=["jupyterhub"])
        # The static upstream takes RStudio's place (a prefix-stripping location), the echo
        # server the penguins app's (a websocket location): the rendered locations, unchanged.
        static_port, echo_port = wb.ports["rstudio"], wb.ports["penguins"]
        (work / "static").mkdir()
        (work / "static" / "file.html").write_bytes(STATIC_BODY)
        conf = work / "static.conf"
        conf.write_text(
            f"pid {work}/static.pid; error_log stderr; worker_processes 1;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events {}\nhttp { access_log off; client_body_temp_path "
            f"{work}/cb; proxy_temp_path {work}/pt; server {{ listen 127.0.0.1:{static_port}; "
            f"root {work}/static; }} }}\n"
        )
        supervisor.start(
            ProcessSpec(name="static", argv=[nginx_binary(), "-c", str(conf), "-p", str(work), "-g",
                        "daemon off;"], ready_url=f"http://127.0.0.1:{static_port}/file.html")
        )  # fmt: skip
        supervisor.start(
            ProcessSpec(name="echo", argv=[PY, "-m", "bench.echo", str(echo_port)], cwd=ROOT)
        )
        time.sleep(0.5)
        hub = wb.ports["jupyterhub"]
        cases = {
            "static": (f"http://127.0.0.1:{static_port}/file.html", f"{wb.url}/rstudio/file.html"),
            "jupyterhub login": (
                f"http://127.0.0.1:{hub}/jupyter/hub/login",
                f"{wb.url}/jupyter/hub/login",
            ),
        }
        for case, (direct_url, proxied_url) in cases.items():
            for connections in (1, 64):
                direct, proxied = interleaved_dicts(
                    runs, lambda u=direct_url, c=connections: wrk(u, c),
                    lambda u=proxied_url, c=connections: wrk(u, c),
                )  # fmt: skip
                label = f"{case}, {connections} conn"
                for key, unit in (("rps", "req/s"), ("p50", "ms"), ("p99", "ms")):
                    d = results.add(Figure("proxy", f"{label}: {key} direct", unit, direct[key]))
                    p = results.add(
                        Figure("proxy", f"{label}: {key} via NGINX", unit, proxied[key])
                    )
                    if key == "rps":
                        ratio = p.median / d.median
                        results.goals.append(Goal(
                            "proxy", f"proxied throughput, {case}, {connections} conn",
                            "at least 0.9x",
                            f"{ratio:.2f}x ({p.median:.0f} vs {d.median:.0f} req/s)", ratio >= 0.9,
                        ))  # fmt: skip
                    if case == "static" and key == "p50" and connections == 1:
                        added = p.median - d.median
                        results.goals.append(Goal(
                            "proxy", "p50 latency added by NGINX, static, 1 conn", "under 0.3 ms",
                            f"{added:.3f} ms ({p.median:.3f} vs {d.median:.3f} ms)", added < 0.3,
                        ))  # fmt: skip
        direct_ws, proxied_ws = interleaved(
            runs,
            lambda: ws_round_trips(f"ws://127.0.0.1:{echo_port}/"),
            lambda: ws_round_trips(f"ws://{wb.target.listen}/penguins/"),
        )
        d = results.add(
            Figure("proxy", f"websocket echo, {WS_MESSAGES} round trips: direct", "s", direct_ws)
        )
        p = results.add(
            Figure("proxy", f"websocket echo, {WS_MESSAGES} round trips: via NGINX", "s",
                   proxied_ws)
        )  # fmt: skip
        ratio = p.median / d.median
        results.goals.append(
            Goal("proxy", "websocket round trip via NGINX", "at most 1.2x direct",
                 f"{ratio:.2f}x ({p.median * 1000 / WS_MESSAGES:.3f} vs "
                 f"{d.median * 1000 / WS_MESSAGES:.3f} ms per round trip)", ratio <= 1.2)
        )  # fmt: skip
        bench_tls(results, runs, work, plain_url=wb.url)


FRESH_REQUESTS = 200


def fresh_connections(url: str, context=None) -> float:
    """Milliseconds per GET of `url` on a new connection each time: TCP, the full TLS handshake
    for https (no session resumption: a new visitor), the request, close."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    started = time.perf_counter()
    for _ in range(FRESH_REQUESTS):
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port)
        conn.request("GET", parts.path or "/", headers={"Connection": "close"})
        conn.getresponse().read()
        conn.close()
    return (time.perf_counter() - started) * 1000 / FRESH_REQUESTS


def bench_tls(results: Results, runs: int, work: Path, *, plain_url: str) -> None:
    """HTTPS through NGINX next to plain HTTP: the landing page (the same static file through
    the same rendered config) on a new connection per request, and kept alive (wrk); and the
    time to a first certificate from a local Pebble through tls.sh, as provisioning gets it."""

    from workbench.local.acme import start_pebble
    from workbench.local.runner import Supervisor, free_port

    with Supervisor(work / "tls-logs") as supervisor:
        http_port = free_port()
        pebble = start_pebble(supervisor, work / "pebble", http_port=http_port)
        _bench_tls(results, runs, supervisor, pebble, work, plain_url=plain_url)


def _bench_tls(results, runs, supervisor, pebble, work: Path, *, plain_url: str) -> None:
    import ssl

    from workbench.config import WorkbenchConfig
    from workbench.local.runner import start_workbench

    config = WorkbenchConfig(https="ip")
    started = time.perf_counter()
    tls = start_workbench(config, work / "tls", supervisor, only=[], pebble=pebble)
    results.add(
        Figure("proxy", "HTTPS: first certificate from Pebble (tls.sh, NGINX start incl.)", "s",
               [time.perf_counter() - started])
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(pebble.root))
    plain, https = interleaved(
        runs,
        lambda: fresh_connections(f"{plain_url}/"),
        lambda: fresh_connections(f"{tls.url}/", context),
    )
    d = results.add(Figure("proxy", "landing page, new connection each: HTTP", "ms", plain))
    p = results.add(
        Figure("proxy", "landing page, new connection each: HTTPS (full handshake)", "ms", https)
    )
    added = p.median - d.median
    results.goals.append(Goal(
        "proxy", "TLS handshake cost through NGINX (new connection, TLS 1.3, ECDSA P-256)",
        "under 5 ms", f"{added:.2f} ms ({p.median:.2f} vs {d.median:.2f} ms per request)",
        added < 5,
    ))  # fmt: skip
    kept_plain, kept_https = interleaved_dicts(
        runs, lambda: wrk(f"{plain_url}/", 1), lambda: wrk(f"{tls.url}/", 1)
    )
    d = results.add(Figure("proxy", "landing page, 1 conn kept alive: rps HTTP", "req/s",
                           kept_plain["rps"]))  # fmt: skip
    p = results.add(Figure("proxy", "landing page, 1 conn kept alive: rps HTTPS", "req/s",
                           kept_https["rps"]))  # fmt: skip
    ratio = p.median / d.median
    results.goals.append(Goal(
        "proxy", "HTTPS throughput on a kept-alive connection", "at least 0.8x HTTP",
        f"{ratio:.2f}x ({p.median:.0f} vs {d.median:.0f} req/s)", ratio >= 0.8,
    ))  # fmt: skip


# -- 4. local mode -------------------------------------------------------------------------------


def local_to_ready() -> float:
    """Seconds from `python -m workbench local` (what `make local` runs) to its ready line."""
    import signal
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as state:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PY, "-m", "workbench", "local", "--port", str(port), "--state-dir", state],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            for line in process.stdout:
                if line.startswith("ready:"):
                    return time.perf_counter() - started
            raise RuntimeError(f"make local exited with {process.wait()} before ready")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def bench_local(results: Results, runs: int) -> None:
    results.add(
        Figure("local", "make local to ready (warm)", "s", repeat(min(runs, 2), local_to_ready))
    )


def interleaved_dicts(
    runs: int, direct: Callable[[], dict], proxied: Callable[[], dict]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    samples = interleaved(runs, direct, proxied)  # type: ignore[arg-type]
    return tuple(  # type: ignore[return-value]
        {key: [run[key] for run in side] for key in side[0]} for side in samples
    )


# -- report --------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def versions() -> dict:
    def out(command: list[str]) -> str:
        try:
            result = subprocess.run(command, capture_output=True, text=True, env=ENV)
        except FileNotFoundError:
            return "not installed"
        return (result.stdout or result.stderr).strip().splitlines()[0]

    from importlib.metadata import version

    return {
        "aws-cdk-lib": version("aws-cdk-lib"),
        "cdk-nag": version("cdk-nag"),
        "aws-cdk (CLI)": out([str(ROOT / "node_modules/.bin/cdk"), "--version"]),
        "nginx": out(["nginx", "-v"]).replace("nginx version: ", ""),
        "node": out([str(NODE), "--version"]),
    }


def write(results: Results, started: float, only: list[str] | None = None) -> None:
    figures = [f.as_dict() for f in results.figures]
    goals = [asdict(g) for g in results.goals]
    previous = ROOT / "bench" / "results.json"
    full_run = None
    if only and previous.exists():
        # A partial run replaces its own sections and keeps the others' last figures.
        kept = json.loads(previous.read_text())
        full_run = kept.get("full_run") or {
            "date": kept["date"],
            "wall_seconds": kept["wall_seconds"],
        }
        figures = [f for f in kept["figures"] if f["section"] not in only] + figures
        goals = [g for g in kept["goals"] if g.get("section") not in only] + goals
        order = list(SECTIONS)
        figures.sort(key=lambda f: order.index(f["section"]))
        goals.sort(key=lambda g: order.index(g.get("section", "synth")))
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "figures": figures,
        "goals": goals,
        "sections_run": only or list(SECTIONS),
        "full_run": full_run,
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    (ROOT / "BENCHMARKS.md").write_text(markdown(payload))


def markdown(payload: dict) -> str:
    m, v = payload["machine"], payload["versions"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {payload['date']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f". `make bench` took {payload['wall_seconds']} s. "
        "Each figure: median, min and max of n runs."
        + (
            f" Sections re-measured in this run: {', '.join(payload['sections_run'])}; the others"
            f" come from the full run of {payload['full_run']['date']} "
            f"({payload['full_run']['wall_seconds']} s)."
            if payload.get("full_run")
            else ""
        ),
        "",
        "| section | what | median | min | max | n |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for f in payload["figures"]:
        lines.append(
            f"| {f['section']} | {f['name']} | {f['median']:g} {f['unit']} | {f['min']:g} | "
            f"{f['max']:g} | {len(f['runs'])} |"
        )
    lines += ["", "## Goals", "", "| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    for g in payload["goals"]:
        note = f" {g['note']}" if g["note"] else ""
        met = "yes" if g["met"] else "no"
        lines.append(f"| {g['name']} | {g['target']} | {g['measured']}{note} | {met} |")
    return "\n".join(lines) + "\n"


SECTIONS = {
    "synth": bench_synth,
    "tests": bench_tests,
    "proxy": bench_proxy,
    "local": bench_local,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (5)")
    parser.add_argument(
        "--test-runs",
        type=int,
        default=1,
        help="runs of the whole test suite (1: a run takes minutes; `make bench` stays under 10)",
    )
    parser.add_argument(
        "--only", choices=sorted(SECTIONS), action="append", help="run only these sections"
    )
    args = parser.parse_args(argv)
    for flag, value in (("--runs", args.runs), ("--test-runs", args.test_runs)):
        if not 1 <= value <= 50:
            print(f"error: {flag}: got {value}; expected a whole number from 1 to 50")
            return 2
    started = time.perf_counter()
    results = Results()
    for name, bench in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}]", flush=True)
        bench(results, args.test_runs if name == "tests" else args.runs)
    write(results, started, args.only)
    print(f"wrote bench/results.json and BENCHMARKS.md in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
