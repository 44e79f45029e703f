"""The book's "Penguin Mass Predictor" as a Shiny for Python app: species, sex and bill length
in, the model API's predicted body mass out.

Served by Shiny Server from /opt/workbench/penguins-app (its `python` directive) behind NGINX at
/penguins/; locally by `shiny run app.py`. Every URL the page uses is relative, so it works under
any prefix. The API's address comes from `settings.json` beside this file, which the renderer
writes from the service registry (the API's port): nothing here hard-codes a port.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests
from shiny import App, reactive, render, ui

SETTINGS = Path(__file__).resolve().parent / "settings.json"
SPECIES = ("Adelie", "Chinstrap", "Gentoo")
SEXES = ("Male", "Female")


def predict_url() -> str:
    try:
        return json.loads(SETTINGS.read_text())["predict_url"]
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(
            f"penguins-app: cannot read predict_url from {SETTINGS} ({error}); render the bundle"
        ) from None


PREDICT_URL = predict_url()


def features(bill_length: float, species: str, sex: str) -> dict[str, object]:
    """One request record, in the model's terms (dummy-coded, Adelie and female as baselines)."""
    return {
        "bill_length_mm": float(bill_length),
        "species_Chinstrap": species == "Chinstrap",
        "species_Gentoo": species == "Gentoo",
        "sex_male": sex == "Male",
    }


def predict_mass(record: dict[str, object], *, url: str = PREDICT_URL) -> float:
    """Ask the model API for one penguin's body mass in grams."""
    response = requests.post(url, json=[record], timeout=10)
    response.raise_for_status()
    return float(response.json()["predict"][0])


app_ui = ui.page_sidebar(
    ui.sidebar(
        ui.input_slider("bill_length", "Bill length (mm)", min=30, max=60, value=45, step=0.1),
        ui.input_select("sex", "Sex", list(SEXES)),
        ui.input_select("species", "Species", list(SPECIES)),
        ui.input_action_button("predict", "Predict"),
    ),
    ui.h2("Penguin parameters"),
    ui.output_code("vals"),
    ui.h2("Predicted penguin mass (g)"),
    ui.output_text("pred"),
    title="Penguin Mass Predictor",
)


def server(input, output, session):
    @reactive.calc
    def record() -> dict[str, object]:
        return features(input.bill_length(), input.species(), input.sex())

    @render.code
    def vals() -> str:
        return json.dumps(record(), indent=2)

    @render.text
    @reactive.event(input.predict)
    def pred() -> str:
        try:
            return f"{predict_mass(record()):.0f}"
        except (requests.RequestException, KeyError, ValueError) as error:
            return f"The model API did not answer ({type(error).__name__}): is penguin-api running?"


app = App(app_ui, server)
