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

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = {
    **os.environ,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
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
            "synth time vs the minimal app",
            "at most 1.5x",
            f"{ratio:.2f}x ({workbench.median:.2f} s vs {minimal.median:.2f} s; "
            f"jsii floor {floor.median:.2f} s)",
            ratio <= 1.5,
        )
    )


# -- 2. tests -----------------------------------------------------------------------------------

LAYERS = ("unit", "stack", "aws", "live")


def bench_tests(results: Results, runs: int) -> None:
    """The whole suite as `make test` runs it (everything installed), and each layer's share.

    A layer's figure is the sum of its tests' durations (setup, call and teardown) in the same
    full run, so the layers add up to the suite without running it twice more.
    """
    import xml.etree.ElementTree as ET

    totals: list[float] = []
    layers: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for _ in range(max(1, min(runs, 2))):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "junit.xml"
            totals.append(
                timed([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"])
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
            "make test, warm, 2 cores", "at most 90 s", f"{suite.median:.0f} s", suite.median <= 90
        )
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
        "node": out(["node", "--version"]),
    }


def write(results: Results, started: float) -> None:
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "figures": [f.as_dict() for f in results.figures],
        "goals": [asdict(g) for g in results.goals],
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
        "Each figure: median, min and max of n runs.",
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


SECTIONS = {"synth": bench_synth, "tests": bench_tests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (5)")
    parser.add_argument(
        "--only", choices=sorted(SECTIONS), action="append", help="run only these sections"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50:
        print(f"error: --runs: got {args.runs}; expected a whole number from 1 to 50")
        return 2
    started = time.perf_counter()
    results = Results()
    for name, bench in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}]", flush=True)
        bench(results, args.runs)
    write(results, started)
    print(f"wrote bench/results.json and BENCHMARKS.md in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
