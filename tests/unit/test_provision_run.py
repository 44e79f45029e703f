"""The real rendered provision.sh, run in a sandbox (tests/unit/provision_sandbox.py).

Proven here: the script's control flow. Steps run in order and are logged with timestamps;
a first run puts /home on its volume (the real home-volume.sh, waiting for the attachment) before
the user exists, installs, writes and starts everything and PUTs SUCCESS to the wait condition's
URL after the health check; a second run changes nothing; a config change restarts only what it
concerns; each kind of failure PUTs FAILURE whose reason names its step (the passwords reaching
chpasswd and nothing else: tests/unit/test_provision_users.py).
Not proven here: that apt, dpkg, systemd, useradd, Secrets Manager, the downloads and the block
device layer behave on Ubuntu as the stubs do (tests/live/test_home_volume.py runs home-volume.sh
on a real loop device), nor that CloudFormation accepts the signal. That needs an EC2 instance
(`make deploy`).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.unit.provision_sandbox import IMDS, READY_URL, Run, Sandbox, bootstrap_env
from workbench.config import WorkbenchConfig
from workbench.provisioning import configure_steps, needed_install_steps
from workbench.services import public_services, service

DEFAULT = WorkbenchConfig()
USER = DEFAULT.users[0]
# `provision.sh` with no argument (phase all), as a stock image runs it: swap, the install steps
# the configuration needs, then the configure steps.
STEPS = ["swap", *needed_install_steps(DEFAULT), *configure_steps(DEFAULT)]
# What a run may do when there is nothing to change: look, never touch.
READ_ONLY = {
    ("dpkg-query",),
    ("getent",),
    ("id",),
    ("passwd", "--status"),
    ("swapon", "--show=NAME"),
    ("systemctl", "is-enabled"),
    ("systemctl", "is-active"),
    ("/opt/node/bin/node", "--version"),
    ("python3", "-c"),
    ("getfacl",),
    # home-volume.sh finding /home already on its volume
    ("blkid",),
    ("lsblk",),
    ("findmnt",),
    ("dumpe2fs",),
    ("blockdev",),
}


def is_read_only(call: list[str]) -> bool:
    if call[0] == "curl":
        # The health check, the signal every run sends, the instance metadata (identity.sh
        # checking that /home and the address are this instance's); not a download.
        return "-w" in call or call[-1] == READY_URL or call[-1].startswith(IMDS)
    return any(tuple(call[: len(prefix)]) == prefix for prefix in READ_ONLY)


LOG = "/var/log/workbench/provision.log"


def failure_reason(step: str, status: int = 1) -> str:
    return f"step {step} failed (exit {status}); see {LOG}"


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory) -> tuple[Sandbox, Run]:
    """One first run of the default configuration, shared by the tests that only read it."""
    sandbox = Sandbox(tmp_path_factory.mktemp("provisioned"))
    return sandbox, first_run(sandbox)


def first_run(sandbox: Sandbox, config: WorkbenchConfig = DEFAULT) -> Run:
    sandbox.render(config)
    run = sandbox.run()
    assert run.returncode == 0, run.output
    return run


def test_first_run_provisions_every_step_in_order_and_signals_success(provisioned):
    _, run = provisioned
    assert run.steps() == STEPS
    for line in run.log.splitlines():
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d \[[a-z-]+\] ", line), line
    (signal,) = run.signals()
    assert (signal["Status"], signal["UniqueId"]) == ("SUCCESS", "workbench-ready")
    assert signal["Reason"] == "the workbench answers on every public path"
    assert run.calls[-1][0] == "curl" and run.calls[-1][-1] == READY_URL, "the signal comes last"


def test_a_signal_is_a_put_of_json_to_the_presigned_url(provisioned):
    _, run = provisioned
    (put,) = run.puts
    assert (put.method, put.url) == ("PUT", READY_URL), "the URL from /etc/workbench/env, whole"
    # The URL is presigned without a content type: curl must send none.
    assert put.headers == ("Content-Type:",)
    assert set(json.loads(put.body)) == {"Status", "UniqueId", "Reason", "Data"}


def test_the_env_file_keeps_the_presigned_url_whole(provisioned):
    # Sourced unquoted, '&' would end the assignment and background the rest.
    sandbox, run = provisioned
    env = (sandbox.root / "etc/workbench/env").read_text()
    assert env == bootstrap_env()
    assert f"WORKBENCH_READY_URL='{READY_URL}'\n" in env
    assert "&" in READY_URL, "a presigned URL's query string"
    assert [p.url for p in run.puts] == [READY_URL]


def test_health_checks_every_public_path_through_nginx_before_success(provisioned):
    _, run = provisioned
    checked = [c[-1] for c in run.calls if c[0] == "curl" and "-w" in c]
    expected = ["http://127.0.0.1:80/"] + [
        f"http://127.0.0.1:80{s.path}{s.health_path}" for s in public_services(DEFAULT)
    ]
    api = service(DEFAULT, "api")
    assert checked == [*expected, f"http://127.0.0.1:{api.port}{api.health_path}"]


def test_first_run_installs_the_bundle_files_where_the_services_read_them(provisioned):
    sandbox, _ = provisioned
    root, bundle = sandbox.root, sandbox.bundle
    installed = {
        "rserver.conf": "etc/rstudio/rserver.conf",
        "shiny-server.conf": "etc/shiny-server/shiny-server.conf",
        "jupyterhub_config.py": "etc/jupyterhub/jupyterhub_config.py",
        "systemd/jupyterhub.service": "etc/systemd/system/jupyterhub.service",
        "systemd/penguin-api.service": "etc/systemd/system/penguin-api.service",
        "nginx.conf": "etc/nginx/nginx.conf",
    }
    for source, target in installed.items():
        assert (root / target).read_bytes() == (bundle / source).read_bytes(), target
    assert (root / "etc/nginx/nginx-backup.conf").read_text() == "# the distribution's nginx.conf\n"


def test_every_program_a_unit_or_config_names_is_one_provision_created(provisioned):
    sandbox, _ = provisioned
    root = sandbox.root
    units = {
        name: (root / f"etc/systemd/system/{name}.service").read_text()
        for name in ("jupyterhub", "jupyterhub-proxy", "penguin-api")
    }
    for name, text in units.items():
        program = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        assert (root / program.lstrip("/")).exists(), f"{name}.service runs {program}"
    path = re.search(r"^Environment=PATH=(\S+)", units["jupyterhub-proxy"], re.M).group(1)
    found = [d for d in path.split(":") if (root / d.lstrip("/") / "node").exists()]
    assert found, "configurable-http-proxy's node is on its unit's PATH"
    path = re.search(r"^Environment=PATH=(\S+)", units["jupyterhub"], re.M).group(1)
    singleuser = [
        d for d in path.split(":") if (root / d.lstrip("/") / "jupyterhub-singleuser").exists()
    ]
    assert singleuser, "jupyterhub-singleuser is on the hub's PATH"
    # Both read the proxy's API token from the file provisioning made: private to root.
    (token_file,) = set(re.findall(r"^EnvironmentFile=(\S+)", "".join(units.values()), re.M))
    token = root / token_file.lstrip("/")
    assert token.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"CONFIGPROXY_AUTH_TOKEN=[0-9a-f]{64}\n", token.read_text())
    shiny = (root / "etc/shiny-server/shiny-server.conf").read_text()
    python = re.search(r"^python (\S+);", shiny, re.M).group(1)
    assert (root / python.lstrip("/")).exists(), f"shiny-server.conf's python {python}"


def test_pinned_versions_are_what_gets_installed(provisioned):
    _, run = provisioned
    installs = [a for c in run.called("apt-get") if "install" in c for a in c]
    assert {"r-base=4.3.3-2build2", "r-base-core=4.3.3-2build2"} <= set(installs)
    assert run.downloads() == [
        "https://download2.rstudio.org/server/jammy/amd64/rstudio-server-2026.07.1-147-amd64.deb",
        "https://nodejs.org/dist/v22.23.2/node-v22.23.2-linux-x64.tar.xz",
        "https://download3.rstudio.org/ubuntu-20.04/x86_64/shiny-server-1.5.23.1030-amd64.deb",
    ]
    assert run.called("/opt/node/bin/npm", "ci"), "configurable-http-proxy from its lockfile"


def test_a_second_run_changes_nothing_and_succeeds(sandbox):
    first_run(sandbox)
    before = sandbox.snapshot()
    second = sandbox.run()
    assert second.returncode == 0, second.output
    assert sandbox.snapshot() == before
    touching = [c for c in second.calls if not is_read_only(c)]
    assert touching == [], f"a second run should only look: {touching}"
    assert second.log.count("nothing to change") == len(STEPS)
    assert second.statuses() == [("SUCCESS", "workbench-ready")]


def test_a_config_change_restarts_only_the_services_it_concerns(sandbox):
    first_run(sandbox)
    sandbox.render(WorkbenchConfig(penguin_api_public=True))
    run = sandbox.run()
    assert run.returncode == 0, run.output
    restarted = {c[-1] for c in run.calls if c[:2] in (["systemctl", "restart"],)}
    assert restarted == {"penguin-api"}, "the unit gained --root-path; nothing else changed"
    assert run.called("systemctl", "daemon-reload")
    assert run.called("systemctl", "reload-or-restart", "nginx"), "/api/ is now proxied"
    nginx_test = run.calls.index(run.called("nginx", "-t")[0])
    reload = run.calls.index(run.called("systemctl", "reload-or-restart", "nginx")[0])
    assert nginx_test < reload
    assert not run.called("apt-get") and not run.called("useradd")


def test_a_restart_waits_for_the_step_that_changed_the_files(sandbox):
    first_run(sandbox)
    (sandbox.root / "etc/rstudio/rserver.conf").write_text("www-address=0.0.0.0\n")
    run = sandbox.run()
    assert run.returncode == 0, run.output
    assert (sandbox.root / "etc/rstudio/rserver.conf").read_bytes() == (
        sandbox.bundle / "rserver.conf"
    ).read_bytes(), "a drifted config is put back"
    assert {c[-1] for c in run.called("systemctl", "restart")} == {"rstudio-server"}


FAILURES = {
    "packages": ({"STUB_FAIL_APT": "1"}, "Unable to locate package"),
    "users": ({"STUB_FAIL_SECRET": "1"}, "AccessDeniedException"),
    "nginx": ({"STUB_FAIL_NGINX": "1"}, "unknown directive"),
}


@pytest.mark.parametrize("step", FAILURES)
def test_a_failed_step_signals_failure_naming_it(sandbox, step):
    env, evidence = FAILURES[step]
    sandbox.render(DEFAULT)
    run = sandbox.run(**env)
    assert run.returncode != 0
    (signal,) = run.signals()
    status = run.returncode
    assert (signal["Status"], signal["UniqueId"]) == ("FAILURE", f"step-{step}-failed")
    assert signal["Reason"] == failure_reason(step, status), "what `cdk deploy` prints"
    assert run.steps()[-1] == step, "nothing runs after the failed step"
    assert re.search(rf"\[{step}\] FAILED \(exit {status}, line \d+\)", run.log), run.log
    assert evidence in run.output


def test_the_failed_command_travels_as_data_without_breaking_the_json(sandbox):
    # The command line as the script spells it: quotes, `$(`, backslash-newlines. Built by
    # string interpolation, it would break the JSON (or inject fields); here it arrives as text.
    sandbox.render(DEFAULT)
    run = sandbox.run(STUB_FAIL_SECRET="1")
    (put,) = run.puts
    signal = json.loads(put.body)
    assert set(signal) == {"Status", "UniqueId", "Reason", "Data"}
    assert signal["Status"] == "FAILURE"
    assert re.fullmatch(
        r'line \d+: password=\$\(aws secretsmanager get-secret-value --region "\$WORKBENCH_REGION"'
        r'.*--secret-id "\$secret".*\)',
        signal["Data"],
        re.S,
    ), signal["Data"]


def test_a_signal_that_does_not_get_through_is_retried(sandbox):
    sandbox.render(DEFAULT)
    run = sandbox.run(STUB_FAIL_PUTS="2")
    assert run.returncode == 0, run.output
    assert [p.delivered for p in run.puts] == [False, False, True]
    assert len({p.body for p in run.puts}) == 1, "the same signal each time"
    assert run.statuses() == [("SUCCESS", "workbench-ready")]


def test_a_signal_that_never_gets_through_is_logged_not_fatal(sandbox):
    sandbox.render(DEFAULT)
    run = sandbox.run(STUB_FAIL_PUTS="99")
    assert run.returncode == 0, run.output
    assert len(run.puts) == 5 and not run.signals()
    assert "could not signal SUCCESS to CloudFormation after 5 tries" in run.log


def test_run_by_hand_without_a_url_only_logs(sandbox):
    sandbox.render(DEFAULT)
    env_file = sandbox.root / "etc/workbench/env"
    env_file.write_text(
        "".join(
            line + "\n"
            for line in env_file.read_text().splitlines()
            if not line.startswith("WORKBENCH_READY_URL=")
        )
    )
    run = sandbox.run()
    assert run.returncode == 0, run.output
    assert run.puts == []
    assert "no wait condition to signal (run by hand): SUCCESS" in run.log


def test_a_bad_nginx_config_never_replaces_the_running_one(sandbox):
    first_run(sandbox)
    running = (sandbox.root / "etc/nginx/nginx.conf").read_bytes()
    sandbox.render(WorkbenchConfig(penguin_api_public=True))
    run = sandbox.run(STUB_FAIL_NGINX="1")
    assert run.statuses() == [("FAILURE", "step-nginx-failed")]
    assert (sandbox.root / "etc/nginx/nginx.conf").read_bytes() == running
    assert not run.called("systemctl", "reload-or-restart", "nginx")


def test_a_download_with_the_wrong_checksum_is_refused(sandbox):
    # The real pins against the sandbox's fixture: the checksum cannot match.
    sandbox.render(DEFAULT, real_pins=True)
    run = sandbox.run()
    assert run.statuses() == [("FAILURE", "step-rstudio-failed")]
    assert "checksum mismatch for https://download2.rstudio.org/" in run.log
    assert not [c for c in run.called("apt-get") if any(a.endswith(".deb") for a in c)]
    assert not list((sandbox.root / "var/cache/workbench").glob("*.deb*")), "no file kept"


def test_a_path_that_stays_down_fails_the_health_step(sandbox):
    sandbox.render(DEFAULT)
    sandbox.answer("http://127.0.0.1:80/rstudio/", 502)
    run = sandbox.run()
    assert run.statuses() == [("FAILURE", "step-health-failed")]
    assert "health: http://127.0.0.1:80/rstudio/ answered 502 after 5 minutes" in run.log
    assert len(run.called("sleep")) == 59, "60 tries, 5 s apart (sleep is a stub here)"


# The password reaching chpasswd and nothing else (under bash -x), a password changed with
# passwd surviving re-provisioning, and each user's own password: for a team, in
# test_provision_users.py.


def test_a_user_must_be_a_regular_user(sandbox):
    with (sandbox.root / "etc/passwd").open("a") as passwd:
        passwd.write(f"{USER}:x:999:999::/home/{USER}:/bin/bash\n")
    sandbox.render(DEFAULT)
    run = sandbox.run()
    assert run.statuses() == [("FAILURE", "step-users-failed")]
    assert "uid 999" in run.log
    assert not run.called("chpasswd")


def test_swap_on_small_instances_only_and_fstab_written_once(tmp_path):
    small = Sandbox(tmp_path / "small", memory_kb=3_900_000)
    first_run(small)
    small.run()
    assert (small.root / "etc/fstab").read_text().count("/swapfile none swap sw 0 0") == 1
    big = Sandbox(tmp_path / "big", memory_kb=16_000_000)
    run = first_run(big)
    assert not run.called("fallocate") and not run.called("swapon")
    assert "/swapfile" not in (big.root / "etc/fstab").read_text()


def test_the_home_volume_is_mounted_before_the_user_is_created(provisioned):
    sandbox, run = provisioned
    home = sandbox.root / "home"
    mount = run.calls.index(["mount", "--fstab", str(sandbox.root / "etc/fstab"), str(home)])
    useradd = run.calls.index(run.called("useradd", "--create-home")[0])
    assert mount < useradd
    # Right after the identity step (which attached it), the first configure step: no user, no
    # home directory, no service before it.
    assert run.steps().index("identity") == len(needed_install_steps(DEFAULT)) + 1
    assert run.steps().index("home") == run.steps().index("identity") + 1
    # The user's home directory was made on the volume, and the AMI's /home moved onto it.
    assert sandbox.mounts() == [(str(sandbox.device), str(home))]
    assert (home / USER).is_dir()
    assert (home / "ubuntu/.ssh/authorized_keys").read_text() == "ssh-ed25519 AAAA sandbox\n"
    assert sandbox.hidden_under(home) == [], "moved, not copied: nothing left on the root volume"
    assert "[home] done; changed: /home" in run.log
    fs = sandbox.volume_fs()
    assert fs["LABEL"] == "workbench-home"
    fstab = (sandbox.root / "etc/fstab").read_text()
    assert f"UUID={fs['UUID']} {home} ext4 defaults,nofail 0 2\n" in fstab


def test_provisioning_waits_for_the_volume_to_be_attached(sandbox):
    sandbox.render(DEFAULT)
    sandbox.detach()
    run = sandbox.run(STUB_ATTACH_AFTER="3")
    assert run.returncode == 0, run.output
    assert len(run.called("sleep", "2")) == 3, "polled every 2 s until the device appeared"
    assert "appeared after about 6 s" in run.log
    assert sandbox.mounts() == [(str(sandbox.device), str(sandbox.root / "home"))]
    assert run.statuses() == [("SUCCESS", "workbench-ready")]


def test_a_volume_that_never_appears_fails_the_home_step(sandbox):
    sandbox.render(DEFAULT)
    sandbox.detach()
    run = sandbox.run()
    assert run.returncode == 1
    # 5 minutes, polled every 2 s (sleep is a stub here): then the step fails, naming itself.
    assert len(run.called("sleep", "2")) == 150
    (signal,) = run.signals()
    assert (signal["Status"], signal["UniqueId"]) == ("FAILURE", "step-home-failed")
    assert signal["Reason"] == failure_reason("home")
    assert run.steps()[-1] == "home", "no user is created on the root volume's /home"
    assert not run.called("useradd")
    assert "vol-0123456789abcdef0 (attachment /dev/sdf) did not appear within 300 s" in run.log
    assert sandbox.mounts() == []


def test_without_the_penguins_app_no_shiny_server(sandbox):
    run = first_run(sandbox, WorkbenchConfig(penguins_app=False))
    assert "shiny" not in run.steps() and "shiny-service" not in run.steps()
    assert not [c for c in run.called("curl") if "shiny-server" in c[-1]]
    assert not (sandbox.root / "etc/shiny-server").exists()


def test_ubuntu_22_04_gets_its_own_r_pin(sandbox):
    run = first_run(sandbox, WorkbenchConfig(ubuntu_release="22.04"))
    installs = {a for c in run.called("apt-get") if "install" in c for a in c}
    assert "r-base-core=4.1.2-1ubuntu2" in installs
