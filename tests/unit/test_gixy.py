"""gixy (PyPI gixy-ng), the NGINX analyser users run in their pipelines, on every rendered
nginx.conf: each finding is fixed, or explained in the template right above the line it names,
as `# gixy <check>: <why>`; an explanation whose finding is gone goes too.

Fixed: worker_rlimit_nofile (twice worker_connections), try_files without open_file_cache.
Explained: host_spoofing ($http_host on purpose), hsts_header (none for an IP address).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.config import WorkbenchConfig
from workbench.render import render_bundle

GIXY = Path(sys.executable).with_name("gixy")
CONFIGS = {
    "default": WorkbenchConfig(),
    "api-public": WorkbenchConfig(penguin_api_public=True),
    "https-ip": WorkbenchConfig(https="ip"),
    "https-domain": WorkbenchConfig(https="workbench.example.org"),
}
# How far above the line gixy names an explanation may start (a comment of a few lines).
REACH = 8
MIN_REASON_CHARS = 60
EXPLANATION = re.compile(r"^\s*# gixy ([a-z_]+): (.*)$")


def findings(*confs: Path) -> list[dict]:
    """gixy's findings for the files, every severity, as its JSON report gives them."""
    done = subprocess.run(
        [str(GIXY), "-f", "json", *map(str, confs)], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip().startswith("["), done.stdout + done.stderr
    return json.loads(done.stdout)


def explanations(conf: Path) -> dict[int, tuple[str, str]]:
    """line number -> (check, reason) of each `# gixy <check>: ...` comment, continuation
    comment lines joined to its reason."""
    lines = conf.read_text().splitlines()
    found = {}
    for number, line in enumerate(lines, 1):
        match = EXPLANATION.match(line)
        if not match:
            continue
        reason = [match.group(2)]
        for following in lines[number:]:
            if not following.strip().startswith("#") or EXPLANATION.match(following):
                break
            reason.append(following.strip().lstrip("#").strip())
        found[number] = (match.group(1), " ".join(reason))
    return found


def unreasoned(conf: Path, report: list[dict]) -> list[str]:
    explained = explanations(conf)
    missing = []
    for finding in (f for f in report if Path(f["path"]) == conf):
        line, check = finding["line"], finding["plugin"]
        near = [
            reason
            for number, (name, reason) in explained.items()
            if name == check and line - REACH <= number < line
        ]
        if not any(len(reason) >= MIN_REASON_CHARS for reason in near):
            missing.append(
                f"{conf.name}:{line} {check} ({finding['severity']}): {finding['summary']}"
            )
    return missing


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[Path]:
    base = tmp_path_factory.mktemp("gixy")
    return [
        conf
        for name, config in CONFIGS.items()
        for conf in sorted(render_bundle(config, base / name).glob("nginx*.conf"))
    ]


@pytest.fixture(scope="module")
def report(rendered) -> list[dict]:
    return findings(*rendered)


def test_every_gixy_finding_is_fixed_or_explained_beside_its_line(rendered, report):
    missing = [problem for conf in rendered for problem in unreasoned(conf, report)]
    assert missing == [], "fix each, or explain it above its line as `# gixy <check>: why`"


def test_every_explanation_still_has_its_finding(rendered, report):
    stale = []
    for conf in rendered:
        checks = {f["plugin"] for f in report if Path(f["path"]) == conf}
        stale += [
            f"{conf.name}:{number} {check}"
            for number, (check, _) in explanations(conf).items()
            if check not in checks
        ]
    assert stale == [], "an explanation whose finding is gone is noise: remove it"


def test_an_unexplained_finding_fails(rendered, tmp_path):
    # The default config without its host_spoofing explanations: gixy still finds $http_host,
    # and the rule above reports exactly that.
    conf = tmp_path / "nginx.conf"
    kept = [
        line
        for line in rendered[0].read_text().splitlines(keepends=True)
        if "gixy host_spoofing" not in line
    ]
    conf.write_text("".join(kept))
    problems = unreasoned(conf, findings(conf))
    assert len(problems) == 1 and " host_spoofing (MEDIUM): " in problems[0], problems
