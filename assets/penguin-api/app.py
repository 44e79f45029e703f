"""The penguin model API: vetiver's FastAPI app around the trained model.

How it runs on the instance (provision.sh and the `penguin-api` unit; paths in assets/layout.j2):
this directory is copied to /opt/penguin-api/app, the venv /opt/penguin-api/venv gets
`requirements.txt` beside this file (every package pinned), then

    cd /opt/penguin-api/app && /opt/penguin-api/venv/bin/python train.py
    cd /opt/penguin-api/app && /opt/penguin-api/venv/bin/uvicorn app:app \\
        --host 127.0.0.1 --port <api port> [--root-path /api]

- `train.py [MODEL_DIR]` writes the model, a vetiver pin named `penguin_model`, into MODEL_DIR
  (default `$PENGUIN_MODEL_DIR`, else /opt/penguin-api/model), which this app reads with the same
  default. It lives outside the code directory, which each deploy replaces; the files are
  world-readable, so a model trained by root is served by the unit's own user. About a second.
- The port is the registry's (workbench/services.py, service `api`); `--root-path /api` is added
  only when NGINX publishes the API at /api (penguin_api_public), so that /api/docs finds
  /api/openapi.json. Locally, workbench/local/runner.py starts it the same way.
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
