"""provision.sh's phases and its lock, run for real in the sandbox (provision_sandbox.py).

- `install` then `configure` does what one `provision.sh` (phase `all`, a stock image) does: the
  same commands that change the machine, the same files;
- `configure` alone on a root where `install` ran (a baked image, its stamps present) installs
  nothing: no apt-get, no download, no venv, no npm;
- a pin that changed since the image was baked makes `configure` run exactly that install step;
- two runs never overlap: a run waits for the lock a running one holds, and a run started by the
  bootstrap (which holds the lock itself) inherits it instead of waiting for itself.
"""

from __future__ import annotations

import collections
import fcntl
import re
import shutil
import threading
import time

import pytest

from tests.unit.provision_sandbox import Sandbox
from tests.unit.test_provision_run import DEFAULT, failure_reason, is_read_only
from workbench import pins, provisioning
from workbench.provisioning import INSTALL_STEPS, configure_steps, needed_install_steps

INSTALL = [step.name for step in INSTALL_STEPS]


def changing_calls(sandbox: Sandbox, *runs) -> collections.Counter:
    """What the runs did to the machine, as a multiset (reads and the signal left out), with the
    sandbox's own paths written as <sandbox> and mktemp's random names as XXXXXX."""
    return collections.Counter(
        tuple(_same(sandbox, arg) for arg in call)
        for run in runs
        for call in run.calls
        if not is_read_only(call)
    )


def _same(sandbox: Sandbox, text: str) -> str:
    text = text.replace(str(sandbox.tmp), "<sandbox>")
    return re.sub(r"([/_]workbench-[a-z]+)\.[A-Za-z0-9]{6}\b", r"\1.XXXXXX", text)


def snapshot(sandbox: Sandbox) -> dict:
    return {
        _same(sandbox, name): tuple(_same(sandbox, str(v)) for v in value)
        for name, value in sandbox.snapshot().items()
        # When the volume was first formatted: a timestamp; the proxy's API token: random. By
        # design (the token file's mode still compares).
        if name != "/home/.workbench-home"
    } | {"/etc/jupyterhub/proxy.env": sandbox.snapshot()["/etc/jupyterhub/proxy.env"][1]}


def ok(run):
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Sandbox:
    """A root where the install phase ran, as an image build runs it."""
    sandbox = Sandbox(tmp_path_factory.mktemp("baked"))
    sandbox.render(DEFAULT)
    run = ok(sandbox.run("install"))
    assert run.steps() == ["swap", *INSTALL]
    assert run.signals() == [], "an image build has no wait condition to signal"
    return sandbox


def test_install_then_configure_does_what_one_run_does(tmp_path):
    # The same scratch path for both, one after the other: files that name it compare equal.
    one = Sandbox(tmp_path / "machine")
    one.render(DEFAULT)
    single = ok(one.run())
    single_calls, single_files = changing_calls(one, single), snapshot(one)
    shutil.rmtree(tmp_path / "machine")
    two = Sandbox(tmp_path / "machine")
    two.render(DEFAULT)
    install, configure = ok(two.run("install")), ok(two.run("configure"))
    assert changing_calls(two, install, configure) == single_calls
    assert snapshot(two) == single_files
    assert configure.steps() == ["swap", *configure_steps(DEFAULT)], "nothing left to install"
    assert configure.statuses() == single.statuses() == [("SUCCESS", "workbench-ready")]


def test_configure_on_a_baked_image_installs_nothing(baked):
    run = ok(baked.run("configure"))
    assert run.steps() == ["swap", *configure_steps(DEFAULT)]
    assert not run.called("apt-get")
    assert not run.downloads(), "no download"
    assert not run.called("python3", "-m", "venv")
    assert not [c for c in run.calls if c[0].endswith(("/pip", "/npm"))]
    assert run.statuses() == [("SUCCESS", "workbench-ready")]


def test_the_stamps_record_each_install_steps_pin(baked):
    stamps = baked.root / provisioning.STAMP_DIR.lstrip("/")
    recorded = {path.name: path.read_text().strip() for path in stamps.iterdir()}
    assert recorded == provisioning.install_pins(DEFAULT.ubuntu_release)


def test_a_pin_changed_since_the_image_makes_configure_run_exactly_that_step(tmp_path, monkeypatch):
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    ok(sandbox.run("install"))
    ok(sandbox.run("configure"))  # the first boot of the baked image
    # RStudio Server's next release, pinned after the image was baked.
    newer = pins.Download(
        name="RSTUDIO",
        version="2026.09.0-174",
        url="https://download2.rstudio.org/server/jammy/amd64/rstudio-server-2026.09.0-174-amd64.deb",
        sha256="168bc577ef2f68abab1ad2ed684e830da1d244618b25b69fd20448e60716c5ba",
    )
    monkeypatch.setattr(pins, "DOWNLOADS", (newer, pins.SHINY, pins.NODE))
    monkeypatch.setattr(provisioning, "RSTUDIO", newer)
    sandbox.render(DEFAULT)
    run = ok(sandbox.run("configure"))
    assert run.steps() == ["swap", "rstudio", *configure_steps(DEFAULT)]
    assert "[rstudio] pin " in run.log and "is not installed (stamp: " in run.log
    assert run.downloads() == [newer.url]
    assert {c[-1] for c in run.called("systemctl", "restart")} == {"rstudio-server"}
    stamp = sandbox.root / provisioning.STAMP_DIR.lstrip("/") / "rstudio"
    assert stamp.read_text().strip() == provisioning.install_pins("24.04")["rstudio"]


def test_configure_installs_only_what_the_configuration_needs(tmp_path):
    config = DEFAULT.__class__(penguins_app=False)
    sandbox = Sandbox(tmp_path)
    sandbox.render(config)
    run = ok(sandbox.run("configure"))
    assert run.steps() == ["swap", *needed_install_steps(config), *configure_steps(config)]
    assert "shiny" not in run.steps()


def test_an_unknown_phase_is_one_line_and_changes_nothing(tmp_path):
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    run = sandbox.run("bake")
    assert run.returncode == 2
    assert run.output == "provision.sh: got phase 'bake'; expected install, configure or all\n"
    assert run.calls == [] and run.puts == []


# --- the lock ---------------------------------------------------------------------------------


def _hold(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def test_a_run_waits_for_the_run_that_holds_the_lock(tmp_path):
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    held = _hold(sandbox.lock_file)
    released = []

    def release_later():
        time.sleep(1.0)
        released.append(time.monotonic())
        held.close()

    threading.Thread(target=release_later).start()
    run = ok(sandbox.run())
    done = time.monotonic()
    assert released and done > released[0], "it ran only after the other run let go"
    assert "[lock] waiting for another provisioning run to finish" in run.log
    assert run.log.index("waiting for another") < run.log.index("[swap] begin")
    assert run.statuses() == [("SUCCESS", "workbench-ready")]


def test_a_run_that_cannot_get_the_lock_fails_naming_it(tmp_path):
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    with _hold(sandbox.lock_file):
        run = sandbox.run(WORKBENCH_LOCK_WAIT="1")
    assert run.returncode == 1
    assert run.statuses() == [("FAILURE", "step-lock-failed")]
    assert run.signals()[0]["Reason"] == failure_reason("lock")
    assert run.steps() == [], "nothing ran"
    assert "[lock] waiting for another provisioning run to finish" in run.log


def test_a_run_the_bootstrap_started_inherits_its_lock(tmp_path):
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    with _hold(sandbox.lock_file) as bootstrap:
        run = ok(sandbox.run(lock_fd=bootstrap.fileno(), WORKBENCH_LOCK_WAIT="1"))
    assert "waiting for another" not in run.log
    assert run.statuses() == [("SUCCESS", "workbench-ready")]
