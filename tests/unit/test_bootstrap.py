"""The user-data bootstrap's readiness duties, run for real in bash: it hands provision.sh the wait
condition's URL intact, and a failure of its own PUTs FAILURE there (retried), so `cdk deploy`
ends with a reason instead of waiting out the timeout.

The bootstrap writes to /etc and /opt, so it is not run whole here: the tests run its env file
(sourced as provision.sh sources it) and its own failure path, up to the first AWS call, with
stubs for curl, sleep and aws on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stacks.storage import HOME_DEVICE
from tests.unit.provision_sandbox import READY_URL, VOLUME_ID, bootstrap_env, bootstrap_script

FAILING_AWS = "An error occurred (AccessDenied) when calling the GetObject operation"


def bootstrap() -> str:
    return bootstrap_script()


def test_the_env_file_hands_over_every_value_intact(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text(bootstrap_env())
    shown = subprocess.run(
        ["bash", "-c", f'set -euo pipefail; set -a; . "{env_file}"; set +a; env'],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in shown.splitlines() if line.startswith("WORK"))
    assert values["WORKBENCH_READY_URL"] == READY_URL, "'&' must not cut the URL short"
    assert values["WORKBENCH_HOME_VOLUME_ID"] == VOLUME_ID
    assert values["WORKBENCH_HOME_DEVICE"] == HOME_DEVICE
    assert "WORKBENCH_RESOURCE" not in values


def failure_path(tmp_path: Path, *, fail_puts: int) -> tuple[subprocess.CompletedProcess, list]:
    """Run the bootstrap's lines up to its first AWS call, with that call failing."""
    text = bootstrap()
    start = text.index("fail() {")
    end = text.index("\n", text.index("aws s3 cp")) + 1
    env_file = tmp_path / "env"
    env_file.write_text(bootstrap_env())
    script = tmp_path / "bootstrap-part.sh"
    script.write_text(
        f'#!/bin/bash\nset -euo pipefail\nset -a\n. "{env_file}"\nset +a\n{text[start:end]}'
        'echo "not reached"\n'
    )
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    puts = tmp_path / "puts"
    (stubs / "aws").write_text(f'#!/bin/bash\necho "{FAILING_AWS}" >&2\nexit 1\n')
    (stubs / "sleep").write_text("#!/bin/bash\n")
    # Records each PUT (arguments, then the body from stdin) as one JSON line; fails the first N.
    (stubs / "curl").write_text(
        f'#!/bin/bash\n"{sys.executable}" -c \'import json, sys; print(json.dumps('
        '{"args": sys.argv[1:], "body": sys.stdin.read()}))\' "$@" >>' + f'"{puts}"\n'
        f'(( $(wc -l <"{puts}") > {fail_puts} ))\n'
    )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    python3 = Path(shutil.which("python3")).parent
    done = subprocess.run(
        ["bash", str(script)],
        env={"PATH": f"{stubs}:{python3}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    recorded = [json.loads(line) for line in puts.read_text().splitlines()] if puts.exists() else []
    return done, recorded


def test_a_bootstrap_failure_signals_failure_with_its_reason(tmp_path):
    done, puts = failure_path(tmp_path, fail_puts=0)
    assert done.returncode == 1
    assert "not reached" not in done.stdout
    (put,) = puts
    args = put["args"]
    assert args[args.index("-X") + 1] == "PUT" and args[-1] == READY_URL
    assert args[args.index("-H") + 1] == "Content-Type:"
    signal = json.loads(put["body"])
    assert signal["Status"] == "FAILURE"
    assert signal["UniqueId"] == "bootstrap-failed"
    assert signal["Reason"].startswith("bootstrap failed at line ")
    assert signal["Reason"].endswith("(exit 1); see /var/log/workbench/bootstrap.log")
    assert signal["Data"].endswith(
        ': aws s3 cp --region "$WORKBENCH_REGION" "$WORKBENCH_BUNDLE" /tmp/workbench-bundle.zip'
    )


def test_a_bootstrap_failure_signal_is_retried(tmp_path):
    done, puts = failure_path(tmp_path, fail_puts=2)
    assert done.returncode == 1
    assert len(puts) == 3
    assert len({p["body"] for p in puts}) == 1
