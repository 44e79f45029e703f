"""Train the penguin model and save it where the API reads it.

    python train.py [MODEL_DIR]     # default: $PENGUIN_MODEL_DIR, else /opt/penguin-api/model

Deterministic (ordinary least squares on a fixed data set): training twice writes the same model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import penguin_model


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(f"usage: train.py [MODEL_DIR]; got {len(argv)} arguments", file=sys.stderr)
        return 2
    directory = Path(argv[0]) if argv else penguin_model.model_dir()
    trained = penguin_model.train()
    penguin_model.save(trained, directory)
    features, target = penguin_model.training_data()
    r_squared = trained.model.score(features, target)
    print(
        f"penguin-api: trained on {len(target)} penguins, R^2 {r_squared:.3f}, saved to {directory}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
