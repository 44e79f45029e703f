from __future__ import annotations

import pytest

from tests.synth import synth

# Contexts the stack and aws layers look at; each is synthesized once per session.
CONTEXTS = {
    "default": {},
    "restricted": {"ssh_cidr": "203.0.113.4/32"},
    "closed": {"ssh_cidr": "none"},
    "existing_key": {"key_name": "workbench-test", "penguin_api_public": True},
    "restore": {
        "home_snapshot_id": "snap-0123456789abcdef0",
        "home_volume_gb": 50,
        "idle_stop_minutes": 0,
    },
}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    """`synthesized(name)` -> (config, template dict) for one of CONTEXTS, cached."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = synth(tmp_path_factory.mktemp(name), **CONTEXTS[name])
        return cache[name]

    return get
