"""The model API with the real trained model: private by default, at /api/ when public."""

from __future__ import annotations

import requests

PENGUIN = {
    "bill_length_mm": 45.0,
    "species_Chinstrap": False,
    "species_Gentoo": True,
    "sex_male": True,
}


def test_public_api_predicts_a_body_mass_through_the_proxy(public_api):
    answer = requests.post(public_api.url("/api/predict"), json=[PENGUIN], timeout=10)
    assert answer.status_code == 200, answer.text
    (grams,) = answer.json()["predict"]
    # A male Gentoo with a 45 mm bill: the linear model says about 5.3 kg.
    assert 4500 < grams < 6000


def test_public_api_health_and_bare_path(public_api):
    assert requests.get(public_api.url("/api/ping"), timeout=10).json() == {"ping": "pong"}
    bare = requests.get(public_api.url("/api"), allow_redirects=False, timeout=10)
    assert (bare.status_code, bare.headers["Location"]) == (301, "/api/")


def test_public_api_docs_find_their_schema_under_the_prefix(public_api):
    """uvicorn --root-path /api: FastAPI's docs page asks for /api/openapi.json (fastapi #15)."""
    docs = requests.get(public_api.url("/api/docs"), timeout=10)
    assert docs.status_code == 200
    assert "'/api/openapi.json'" in docs.text
    schema = requests.get(public_api.url("/api/openapi.json"), timeout=10)
    assert schema.status_code == 200 and "/predict" in schema.json()["paths"]


def test_bad_input_is_refused_with_a_reason(public_api):
    answer = requests.post(
        public_api.url("/api/predict"), json=[{"bill_length_mm": "long"}], timeout=10
    )
    assert answer.status_code == 422


def test_a_stopped_api_gets_its_friendly_502(public_api):
    """Runs last in this module: it stops the API."""
    public_api.supervisor.stop("api")
    answer = requests.get(public_api.url("/api/ping"), timeout=10)
    assert answer.status_code == 502
    assert "Penguin model API is not answering" in answer.text
    assert "sudo systemctl status penguin-api" in answer.text
