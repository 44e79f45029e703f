"""provision.sh as text: shellcheck-clean, strict, structured as named steps, every download pinned.

Its behaviour is run for real in test_provision_run.py; these are the rules it is held to.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.unit.provision_sandbox import bootstrap_script, pins
from workbench.config import WorkbenchConfig
from workbench.deployment import BOOTSTRAP_PATH
from workbench.provisioning import (
    INSTALL_STEPS,
    configure_steps,
    install_pins,
    needed_install_steps,
)
from workbench.render import render_bundle, render_text

VARIANTS = {
    "default": WorkbenchConfig(),
    "api-public": WorkbenchConfig(penguin_api_public=True),
    "no-penguins": WorkbenchConfig(penguins_app=False),
    "jammy": WorkbenchConfig(ubuntu_release="22.04", penguins_app=False, penguin_api_public=True),
    "https-ip": WorkbenchConfig(https="ip"),
    "https-domain": WorkbenchConfig(https="workbench.example.org", acme_email="a@example.org"),
    "team": WorkbenchConfig(users=("alice", "bob"), admins=("alice",), idle_cull_minutes=0),
}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("provision")
    return {
        name: (render_bundle(config, base / name) / "provision.sh").read_text()
        for name, config in VARIANTS.items()
    }


# shellcheck takes about 0.65 s per rendered provision.sh and the variants differ in a few lines:
# these three take every branch of the template (release, penguins app, API, HTTPS off, for an
# address and for a domain, one user and a team), where VARIANTS spells them out one by one.
SHELLCHECK_VARIANTS = {
    "default": VARIANTS["default"],
    "https-ip": VARIANTS["https-ip"],
    "every-other-branch": WorkbenchConfig(
        ubuntu_release="22.04",
        penguins_app=False,
        penguin_api_public=True,
        https="workbench.example.org",
        acme_email="a@example.org",
        users=("alice", "bob"),
        admins=("alice",),
        idle_cull_minutes=0,
    ),
}


def test_shellcheck_passes_on_every_branch_and_the_bootstrap(tmp_path_factory):
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "make system installs shellcheck (Debian package)"
    base = tmp_path_factory.mktemp("shellcheck")
    paths = [
        str(render_bundle(config, base / name) / "provision.sh")
        for name, config in SHELLCHECK_VARIANTS.items()
    ]
    bootstrap = base / "bootstrap.sh"
    bootstrap.write_text(bootstrap_script())
    user_data = base / "user-data.sh"
    user_data.write_text(
        render_text("user-data.sh.j2", bootstrap=bootstrap_script(), bootstrap_path=BOOTSTRAP_PATH)
    )
    paths += [str(bootstrap), str(user_data)]
    done = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_strict_mode_and_a_trap_that_names_the_failed_step(scripts):
    for name, script in scripts.items():
        assert script.startswith("#!/bin/bash\n"), name
        assert "\nset -Eeuo pipefail\n" in script, f"{name}: errexit, errtrace, nounset, pipefail"
        assert "\ntrap 'on_error $? $LINENO \"$BASH_COMMAND\"' ERR\n" in script, name
        assert 'signal FAILURE "step-${CURRENT_STEP}-failed"' in script, name
        # A step that knows its reason (tls: certbot's) adds it after the exit status.
        assert (
            '"step ${CURRENT_STEP} failed (exit ${status})${FAIL_REASON:+: ${FAIL_REASON}}; see'
            in script
        ), name
        assert "set -x" not in script, f"{name}: tracing would print the password"


def test_every_step_is_defined_and_every_defined_step_runs(scripts):
    for name, script in scripts.items():
        config = VARIANTS[name]
        defined = {
            s.replace("_", "-") for s in re.findall(r"^step_([a-z_]+)\(\) \{$", script, re.M)
        }
        install = [step.name for step in INSTALL_STEPS]
        assert defined == {"swap", *install, *configure_steps(config)}, name
        assert _array(script, "INSTALL_STEPS") == install, name
        assert _array(script, "NEEDED_INSTALL_STEPS") == list(needed_install_steps(config)), name
        configure = _array(script, "CONFIGURE_STEPS")
        assert configure == list(configure_steps(config)), name
        assert configure[:3] == ["identity", "home", "users"], (
            f"{name}: /home is attached, then mounted, before the users"
        )
        # With HTTPS, tls comes between: NGINX's port 80 answers its challenge.
        tls = ["tls"] if config.https_on else []
        assert configure[-2 - len(tls) :] == ["nginx", *tls, "health"], name
        assert (
            'signal SUCCESS "workbench-ready" "the workbench answers on every public path"'
            in (script[script.index("phase_configure() {") :])
        ), name


def test_every_install_step_is_pinned_by_its_versions_and_files(scripts):
    for name, script in scripts.items():
        release = VARIANTS[name].ubuntu_release
        block = re.search(r"^declare -A PIN=\(\n(.*?)^\)$", script, re.M | re.S).group(1)
        found = dict(re.findall(r"^  \[([a-z]+)\]=([0-9a-f]{16})$", block, re.M))
        assert found == install_pins(release), name


def test_no_install_step_is_pinned_by_a_template():
    """A rendered config file (rserver.conf, shiny-server.conf) belongs to its configure step,
    which puts it again and restarts for it: pinning its template to an install step would make
    every edit of it re-run that install step on a baked image."""
    for step in INSTALL_STEPS:
        assert not [f for f in step.files if f.endswith(".j2")], step.name


def test_the_install_phase_is_the_same_for_every_configuration(scripts):
    """What an image bakes must suit every configuration of its release: the install steps and
    their pins render alike whatever else the configuration says."""

    def install_part(script: str) -> tuple:
        steps = script[script.index("# --- install steps") : script.index("# --- configure steps")]
        return (
            tuple(_array(script, "INSTALL_STEPS")),
            re.search(r"^declare -A PIN=.*?^\)$", script, re.M | re.S).group(),
            steps,
        )

    noble = [n for n, c in VARIANTS.items() if c.ubuntu_release == "24.04"]
    assert len(noble) > 1
    assert len({install_part(scripts[n]) for n in noble}) == 1


def _array(script: str, name: str) -> list[str]:
    return re.search(rf"^{name}=\(([^)]*)\)$", script, re.M).group(1).split()


def test_every_download_is_pinned_to_a_sha256_and_checked(scripts):
    for name, script in scripts.items():
        found = pins(script)
        urls = {k.removesuffix("_URL"): v for k, v in found.items() if k.endswith("_URL")}
        assert {"RSTUDIO", "NODE"} <= set(urls), name
        for pin, url in urls.items():
            assert url.startswith("https://"), f"{name}: {pin}_URL is {url}"
            assert HEX64.match(found.get(f"{pin}_SHA256", "")), f"{name}: {pin}_SHA256"
            assert f'"${pin}_URL" "${pin}_SHA256"' in script, f"{name}: {pin} goes through fetch"
        # Every curl that saves a file is the one in fetch(), which compares the sha256.
        assert len(re.findall(r"^\s*curl .*-o ", script, re.M)) == 1, name
        assert "sha256sum" in script


def test_versions_in_urls_match_the_version_pins(scripts):
    found = pins(scripts["default"])
    assert f"v{found['NODE_VERSION']}/node-v{found['NODE_VERSION']}-linux-x64" in found["NODE_URL"]
    assert "/jammy/amd64/rstudio-server-" in found["RSTUDIO_URL"], "noble uses the jammy build"
    # Shiny Server's pin is in every script (the install phase suits every configuration);
    # whether a configuration installs it is NEEDED_INSTALL_STEPS's business.
    assert pins(scripts["no-penguins"])["SHINY_URL"] == found["SHINY_URL"]


def test_r_is_pinned_per_ubuntu_release(scripts):
    assert pins(scripts["default"])["R_VERSION"] == "4.3.3-2build2"
    assert pins(scripts["jammy"])["R_VERSION"] == "4.1.2-1ubuntu2"


# Absolute paths that name no file the script writes: arguments for useradd, the unit PATH, ...
# /proc/$$/fd: this process's own descriptors (the inherited lock).
_NOT_WRITTEN = (
    "/bin/bash",
    "/usr/sbin/nologin",
    "/nonexistent",
    "/dev/null",
    "/swapfile ",
    "/proc/$$/",
    # The shared folder's path on the instance: the target of each user's ~/shared link (the
    # link itself and every use of the folder go through SYSROOT).
    "/home/shared\n",
)


def test_every_system_path_goes_through_sysroot(scripts):
    """The sandbox can only prove what the script does if no path escapes WORKBENCH_SYSROOT."""
    system = re.compile(
        r"(?<![\w$}./:-])/(?:etc|opt|var|usr|srv|home|proc|run|swapfile)\b[^\s\"';)]*"
    )
    for name, script in scripts.items():
        for number, line in enumerate(script.splitlines(), 1):
            code = line.split(" #", 1)[0]
            # Comments, log lines, change labels and patterns that only read are not paths used.
            if code.lstrip().startswith("#") or re.search(r"\blog |CHANGED\+=|\bgrep ", code):
                continue
            for match in system.finditer(code):
                before = code[: match.start()]
                if before.endswith(("$SYSROOT", "${SYSROOT}")):
                    continue
                if any((code[match.start() :] + "\n").startswith(p) for p in _NOT_WRITTEN):
                    continue
                pytest.fail(f"{name}: line {number} uses {match.group()} outside SYSROOT: {line}")


def test_the_secret_is_read_once_into_a_variable_and_piped(scripts):
    script = scripts["default"]
    assert script.count("aws secretsmanager get-secret-value") == 1
    assert 'printf \'%s:%s\\n\' "$user" "$password" | chpasswd' in script
    assert not re.search(r"(echo|log)[^\n]*\$\{?password", script), "never printed"
    # Each secret by the name the stack gives it.
    assert """secret_name() { printf '%s' "Workbench/users/$1/password"; }""" in script


def test_the_users_step_never_traces(scripts):
    """`bash -x provision.sh` traces every command: not where a password or a token is."""
    for name, script in scripts.items():
        for function in ("step_users", "proxy_token"):
            body = script[script.index(f"\n{function}() {{") :].split("\n}\n", 1)[0]
            assert "\n  set +x\n" in body, f"{name}: {function} turns tracing off"
            assert "\n  local -" in body, f"{name}: {function} restores it on return"
