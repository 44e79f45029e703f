"""The chapter's penguin model: body mass from species, sex and bill length, trained on the
palmerpenguins data that the `palmerpenguins` package ships (no download).

Shared by `train.py` (writes the model) and `app.py` (serves it) so that both agree on the
features. The features are the book's: `pd.get_dummies(..., drop_first=True)` of bill length,
species and sex, so a request names `bill_length_mm`, `species_Chinstrap`, `species_Gentoo` and
`sex_male` (Adelie and female are the baselines).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pins
import vetiver
from palmerpenguins import load_penguins
from sklearn.linear_model import LinearRegression

MODEL_NAME = "penguin_model"
MODEL_DIR_VARIABLE = "PENGUIN_MODEL_DIR"
DEFAULT_MODEL_DIR = "/opt/penguin-api/model"
FEATURES = ("bill_length_mm", "species_Chinstrap", "species_Gentoo", "sex_male")


def model_dir() -> Path:
    return Path(os.environ.get(MODEL_DIR_VARIABLE) or DEFAULT_MODEL_DIR)


def training_data() -> tuple[pd.DataFrame, pd.Series]:
    penguins = load_penguins().dropna()
    features = pd.get_dummies(
        penguins[["bill_length_mm", "species", "sex"]], drop_first=True, dtype=bool
    )
    return features[list(FEATURES)], penguins["body_mass_g"]


def train() -> vetiver.VetiverModel:
    features, target = training_data()
    model = LinearRegression().fit(features, target)
    return vetiver.VetiverModel(model, model_name=MODEL_NAME, prototype_data=features)


def _board(directory: Path) -> pins.boards.BaseBoard:
    # vetiver stores scikit-learn models as joblib pickles; the folder is ours alone.
    return pins.board_folder(str(directory), allow_pickle_read=True)


def save(model: vetiver.VetiverModel, directory: Path) -> None:
    # Training again replaces the model rather than piling up versions. (pins 0.9's own
    # `versioned=False` deletes the only copy when the hash has not changed: not used.)
    shutil.rmtree(directory / MODEL_NAME, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    vetiver.vetiver_pin_write(_board(directory), model)
    # Trained by root at provisioning, read by the API's own system user.
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def load(directory: Path) -> vetiver.VetiverModel:
    board = _board(directory)
    if not board.pin_exists(MODEL_NAME):
        raise SystemExit(
            f"penguin-api: no trained model in {directory} ({MODEL_DIR_VARIABLE}); "
            f"run train.py {directory} first"
        )
    return vetiver.VetiverModel.from_pin(board, MODEL_NAME)
