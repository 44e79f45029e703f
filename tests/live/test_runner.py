"""workbench.local.runner: readiness, errors naming the service and its log, clean stops."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.live.helpers import wait_for
from workbench.config import WorkbenchConfig
from workbench.local.runner import (
    ProcessSpec,
    RunnerError,
    Supervisor,
    _proc_start_time,
    free_port,
    start_workbench,
)

PY = sys.executable


def http_server(name: str, port: int, **kwargs) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready_url=f"http://127.0.0.1:{port}/",
        **kwargs,
    )


def test_a_server_is_ready_when_it_answers_and_stops_on_exit(tmp_path):
    port = free_port()
    with Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(http_server("web", port))
        assert supervisor.is_running("web")
        pid = supervisor._running["web"].process.pid
    assert _proc_start_time(pid) is None, "still running after the supervisor exited"


def test_an_early_exit_names_the_service_its_code_and_its_log(tmp_path):
    spec = ProcessSpec(
        name="broken",
        argv=[PY, "-c", "import sys; print('no config file'); sys.exit(3)"],
        ready_url=f"http://127.0.0.1:{free_port()}/",
    )
    with Supervisor(tmp_path / "logs") as supervisor, pytest.raises(RunnerError) as error:
        supervisor.start(spec)
    message = str(error.value)
    assert message.startswith("broken exited with code 3 before answering http://127.0.0.1:")
    assert str(tmp_path / "logs" / "broken.log") in message and "no config file" in message


def test_a_server_that_never_answers_times_out_with_its_log(tmp_path):
    spec = ProcessSpec(
        name="silent",
        argv=[PY, "-c", "import time; print('listening nowhere', flush=True); time.sleep(60)"],
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=1,
    )
    with Supervisor(tmp_path / "logs") as supervisor, pytest.raises(RunnerError) as error:
        supervisor.start(spec)
    assert "silent did not answer" in str(error.value) and "listening nowhere" in str(error.value)


def start_escaping_parent(supervisor: Supervisor, pidfile: Path) -> int:
    """Start "parent", which starts a grandchild in a session of its own (as JupyterHub's
    spawner does) once, the first time; return the grandchild's pid."""
    escaping = (
        "import os, subprocess, sys, time\n"
        f"if not os.path.exists({str(pidfile)!r}):\n"
        "    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        f"    open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    supervisor.start(ProcessSpec(name="parent", argv=[PY, "-c", escaping]))
    wait_for(
        lambda: pidfile.exists() and pidfile.read_text(), 10, "the grandchild's pid", every=0.05
    )
    grandchild = int(pidfile.read_text())
    assert os.getpgid(grandchild) != supervisor._running["parent"].process.pid
    return grandchild


def test_stop_ends_the_group_and_descendants_that_left_it(tmp_path):
    """JupyterHub's spawned servers run in their own session: they must not outlive a stop."""
    with Supervisor(tmp_path / "logs") as supervisor:
        grandchild = start_escaping_parent(supervisor, tmp_path / "grandchild.pid")
        supervisor.stop("parent")
    assert _proc_start_time(grandchild) is None, "the escaped grandchild survived the stop"


def test_a_restart_keeps_what_left_the_group_until_stop_all(tmp_path):
    """A hub restart must not end the users' servers (their own sessions), and nothing may
    outlive the supervisor."""
    with Supervisor(tmp_path / "logs") as supervisor:
        grandchild = start_escaping_parent(supervisor, tmp_path / "grandchild.pid")
        first = supervisor._running["parent"].process.pid
        supervisor.restart("parent")
        assert supervisor._running["parent"].process.pid != first
        assert _proc_start_time(first) is None, "the old process ended"
        assert _proc_start_time(grandchild) is not None, "what it started in its own session runs"
    assert _proc_start_time(grandchild) is None, "stop_all ended it"


def test_unknown_service_names_are_refused(tmp_path):
    with Supervisor(tmp_path / "logs") as supervisor, pytest.raises(RunnerError) as error:
        start_workbench(WorkbenchConfig(), tmp_path, supervisor, only=["rstudio"])
    assert str(error.value) == (
        "only: got 'rstudio'; expected services that run here: jupyterhub, api, penguins"
    )
