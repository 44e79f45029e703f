"""The rendered bundle's contents: the apps, their settings, the landing page."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from workbench.config import WorkbenchConfig
from workbench.render import Target, render_bundle
from workbench.services import public_services


@pytest.fixture
def bundle(tmp_path):
    return render_bundle(WorkbenchConfig(), tmp_path / "bundle")


def test_bundle_carries_both_apps_without_templates_or_bytecode(bundle):
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for expected in (
        "penguin-api/app.py",
        "penguin-api/train.py",
        "penguin-api/penguin_model.py",
        "penguin-api/requirements.txt",
        "penguins-app/app.py",
        "penguins-app/settings.json",
        "penguins-app/requirements.txt",
        "jupyterhub_config.py",
    ):
        assert expected in files, expected
    assert not [f for f in files if f.endswith((".j2", ".pyc"))]


def test_penguins_app_calls_the_api_on_its_registry_port(bundle, tmp_path):
    settings = json.loads((bundle / "penguins-app" / "settings.json").read_text())
    assert settings == {"predict_url": "http://127.0.0.1:8080/predict"}
    moved = render_bundle(
        WorkbenchConfig(), tmp_path / "moved", target=Target(ports={"api": 18080})
    )
    settings = json.loads((moved / "penguins-app" / "settings.json").read_text())
    assert settings == {"predict_url": "http://127.0.0.1:18080/predict"}


def _string_constants(path, name):
    """The value of a module-level tuple of strings, read without importing the module."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError(f"{name} not found in {path}")


def test_app_sends_exactly_the_features_the_model_was_trained_on(bundle):
    features = _string_constants(bundle / "penguin-api" / "penguin_model.py", "FEATURES")
    app = (bundle / "penguins-app" / "app.py").read_text()
    sent = re.search(r"def features\(.*?return \{(.*?)\}", app, re.S).group(1)
    assert tuple(re.findall(r'"(\w+)":', sent)) == features


def test_every_python_file_in_the_bundle_compiles(bundle):
    for path in bundle.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_requirements_are_exact_pins(bundle):
    for app in ("penguin-api", "penguins-app"):
        lines = (bundle / app / "requirements.txt").read_text().splitlines()
        pins = [line for line in lines if line and not line.startswith("#")]
        assert pins, app
        loose = [line for line in pins if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", line)]
        assert not loose, f"{app}: not pinned exactly: {loose}"


@pytest.mark.parametrize(
    "config",
    [WorkbenchConfig(), WorkbenchConfig(penguin_api_public=True, penguins_app=False)],
    ids=["default", "api-public-no-app"],
)
def test_landing_page_links_exactly_the_public_services(config, tmp_path):
    html = (render_bundle(config, tmp_path / "b") / "www" / "index.html").read_text()
    services_list = re.search(r'<ul class="services">(.*?)</ul>', html, re.S).group(1)
    links = re.findall(r'href="([^"]+)"', services_list)
    assert links == [s.location for s in public_services(config)]
    assert "<script" not in html and "fonts.googleapis" not in html


@pytest.mark.parametrize(
    ("config", "target", "port"),
    [
        (WorkbenchConfig(), Target(), "80"),
        (WorkbenchConfig(https="ip"), Target(), "443, HTTPS"),
        (WorkbenchConfig(), Target(listen="127.0.0.1:18080"), "18080"),
        (WorkbenchConfig(https="ip"), Target(https_listen="127.0.0.1:18443"), "18443, HTTPS"),
    ],
    ids=["instance", "instance-https", "loopback", "loopback-https"],
)
def test_landing_page_names_the_port_it_is_served_on(config, target, port, tmp_path):
    html = (render_bundle(config, tmp_path / "b", target=target) / "www" / "index.html").read_text()
    assert f"reached through one port ({port}) and a path per service" in html


def test_local_and_instance_run_the_same_configurable_http_proxy():
    root = Path(__file__).resolve().parents[2]
    local = json.loads((root / "package.json").read_text())["devDependencies"]
    instance = json.loads((root / "assets/jupyterhub/chp/package.json").read_text())["dependencies"]
    assert local["configurable-http-proxy"] == instance["configurable-http-proxy"]


def test_the_https_tests_run_the_certbot_the_instance_installs():
    # requirements-dev.txt repeats the pins without hashes (a hashed -r would put the whole dev
    # install in hash mode): they must stay the instance's.
    root = Path(__file__).resolve().parents[2]

    def pins(path: str) -> dict[str, str]:
        found = re.findall(r"^(certbot|acme)==(\S+)", (root / path).read_text(), re.M)
        return dict(found)

    instance = pins("assets/certbot/requirements.txt")
    assert set(instance) == {"certbot", "acme"}
    assert pins("requirements-dev.txt") == instance


def test_local_and_instance_run_the_same_jupyterhub():
    root = Path(__file__).resolve().parents[2]
    dev = (root / "requirements-dev.txt").read_text().splitlines()
    assert "-r assets/jupyterhub/requirements.txt" in dev
    assert not [line for line in dev if line.startswith(("jupyterhub==", "jupyterlab=="))]
