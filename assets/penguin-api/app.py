"""The penguin model API: vetiver's FastAPI app around the trained model.

How it runs (on the instance, by the `penguin-api` systemd unit):

    /opt/penguin-api/venv/bin/python /opt/workbench/penguin-api/train.py /opt/penguin-api/model
    PENGUIN_MODEL_DIR=/opt/penguin-api/model \\
      /opt/penguin-api/venv/bin/uvicorn app:app --app-dir /opt/workbench/penguin-api \\
      --host 127.0.0.1 --port <api port> [--root-path /api]

- The venv gets `requirements.txt` beside this file (every package pinned).
- `train.py` writes the model, a vetiver pin named `penguin_model`, into the folder given
  (default `$PENGUIN_MODEL_DIR`, else /opt/penguin-api/model). It lives outside
  /opt/workbench, which each deploy replaces. Training takes about a second.
- The port is the registry's (workbench/services.py, service `api`); `--root-path /api` is added
  only when NGINX publishes the API at /api (penguin_api_public), so that /api/docs finds
  /api/openapi.json.
- Endpoints: `POST /predict` with a JSON list of records
  `{"bill_length_mm": 45.0, "species_Chinstrap": false, "species_Gentoo": true,
  "sex_male": true}` -> `{"predict": [<grams>, ...]}`; `GET /ping` -> `{"ping": "pong"}`
  (health); `/docs` (OpenAPI), `/metadata`, `/prototype`.

vetiver 0.2.6 works with FastAPI 0.162 and pydantic 2.14 (the live tests run it), so this is the
book's vetiver API, not a re-implementation.
"""

from __future__ import annotations

import penguin_model
import vetiver

app = vetiver.VetiverAPI(penguin_model.load(penguin_model.model_dir()), check_prototype=True).app
