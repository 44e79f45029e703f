"""The Shiny penguins app behind NGINX at /penguins: page, assets, websocket, prediction path."""

from __future__ import annotations

import importlib.util
import re

import requests

from tests.live.helpers import websocket_handshake


def test_app_page_and_its_assets_load_under_the_prefix(workbench):
    page = requests.get(workbench.url("/penguins/"), timeout=10)
    assert page.status_code == 200 and "Penguin Mass Predictor" in page.text
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
    assert assets, "no assets found on the page"
    for asset in assets:
        assert not asset.startswith("/"), f"{asset} is root-relative: it would skip /penguins/"
    for asset in assets[:5]:
        assert requests.get(workbench.url(f"/penguins/{asset}"), timeout=10).status_code == 200


def test_app_websocket_upgrades_through_nginx(workbench):
    status, headers = websocket_handshake(workbench.url("/penguins/websocket/"))
    assert status == 101, headers


def test_the_apps_prediction_path_returns_a_number(workbench):
    """The app's own code, with the rendered settings, asks the running API."""
    spec = importlib.util.spec_from_file_location(
        "penguins_app", workbench.wb.bundle / "penguins-app" / "app.py"
    )
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    assert f"http://127.0.0.1:{workbench.wb.ports['api']}/predict" == app.PREDICT_URL
    grams = app.predict_mass(app.features(45.0, "Gentoo", "Male"))
    assert isinstance(grams, float) and 4500 < grams < 6000
