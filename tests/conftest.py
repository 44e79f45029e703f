from __future__ import annotations

import pytest

from tests.synth import synth, synth_image

# The files whose tests use the live layer's session workbench (tests/live/conftest.py). They run
# on one worker, so it starts once per session rather than once per worker (about 10 s each).
SHARE_THE_WORKBENCH = frozenset(
    f"tests/live/test_{name}.py"
    for name in ("browser", "doctor", "penguins", "proxy", "rstudio", "tls")
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with SHARE_THE_WORKBENCH as one file. (xdist's own `loadgroup` sets
    the group in `item._nodeid`, which pytest 9.2's items no longer read.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "the session workbench" if path in SHARE_THE_WORKBENCH else path

    return FileScheduling(config, log)


def pytest_collection_modifyitems(items):
    """A new file that uses the session workbench joins SHARE_THE_WORKBENCH (else the workbench
    starts on every worker, and nobody notices but the clock)."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        defs = getattr(item, "_fixtureinfo", None)
        uses = defs is not None and any(
            d.baseid == "tests/live" for d in defs.name2fixturedefs.get("workbench", ())
        )
        if uses and path not in SHARE_THE_WORKBENCH:
            raise pytest.UsageError(
                f"{path} uses the session workbench: add it to SHARE_THE_WORKBENCH "
                "in tests/conftest.py"
            )


# Contexts the stack and aws layers look at; each is synthesized once per session.
CONTEXTS = {
    "default": {},
    "restricted": {"ssh_cidr": "203.0.113.4/32"},
    "closed": {"ssh_cidr": "none"},
    # Also a team: one synth covers both.
    "existing_key": {
        "key_name": "workbench-test",
        "penguin_api_public": True,
        "users": ["alice", "bob"],
        "admins": "alice",
    },
    # A change of the bundle only (in place), and of the image (a replacement): second deploys
    # (tests/stack/test_redeploy.py, tests/aws/test_update.py).
    "api": {"penguin_api_public": True},
    "pinned": {"ami_id": "ami-0123456789abcdef0"},
    "https_domain": {
        "https": "workbench.example.org",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "hosted_zone_name": "example.org",
    },
    "restore": {
        "home_snapshot_id": "snap-0123456789abcdef0",
        "home_volume_gb": 50,
        "idle_stop_minutes": 0,
    },
    "baked": {"image": "baked"},
}


@pytest.fixture(scope="session")
def _synths(tmp_path_factory):
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            workdir = tmp_path_factory.mktemp(name)
            config, template = synth(workdir, **CONTEXTS[name])
            cache[name] = (config, template, workdir / "cdk.out")
        return cache[name]

    return get


@pytest.fixture(scope="session")
def synthesized(_synths):
    """`synthesized(name)` -> (config, template dict) for one of CONTEXTS, cached."""
    return lambda name: _synths(name)[:2]


@pytest.fixture(scope="session")
def cloud_assembly(_synths):
    """`cloud_assembly(name)` -> the cdk.out directory of the same synth (manifest.json, ...)."""
    return lambda name: _synths(name)[2]


@pytest.fixture(scope="session")
def image_synthesized(tmp_path_factory):
    """(config, template, bundle dir) of the image stack for cdk.json's context: one synth."""
    return synth_image(tmp_path_factory.mktemp("image"))
