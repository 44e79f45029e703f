"""A mistyped context key stops everything with one line, instead of being ignored in silence.

`-c ssh_cird=203.0.113.4/32` used to synthesize with port 22 open to the world. The check is one
function driven by PARSERS (keys other settings add are known at once) and every entry point uses
it: app.py (tests/stack/test_cli.py runs it through the real CLI), make local, sg-rules, sg-diff
(tests/unit/test_sgrules.py, test_sgdiff.py) and doctor.
"""

from __future__ import annotations

import pytest

from tests.synth import DEFAULT_CONTEXT
from workbench import config as config_module
from workbench import doctor
from workbench.config import PARSERS, ConfigError, check_known_keys
from workbench.local import mode

# What the pinned CDK CLI (2.1148) passes to an app besides cdk.json and -c, dumped from
# CDK_CONTEXT_JSON of `cdk synth` with --no-version-reporting, --no-staging, --no-path-metadata
# and --no-asset-metadata, and after `cdk acknowledge 12345` and `cdk cli-telemetry --disable`
# (both write cdk.context.json, which the CLI passes on).
CLI_KEYS = [
    "@aws-cdk/core:failSynthOnValidationErrors",
    "aws:cdk:enable-path-metadata",
    "aws:cdk:enable-asset-metadata",
    "aws:cdk:version-reporting",
    "aws:cdk:disable-version-reporting",
    "aws:cdk:disable-asset-staging",
    "aws:cdk:bundling-stacks",
    "acknowledged-issue-numbers",
    "cli-telemetry",
]


def message(keys) -> str:
    with pytest.raises(ConfigError) as caught:
        check_known_keys(keys)
    return str(caught.value)


def test_a_typo_names_the_key_and_the_closest_known_one():
    assert message(["ssh_cird"]) == "unknown context key ssh_cird; did you mean ssh_cidr?"
    assert message(["SSH_CIDR"]) == "unknown context key SSH_CIDR; did you mean ssh_cidr?"
    assert message(["instancetype"]) == (
        "unknown context key instancetype; did you mean instance_type?"
    )


def test_with_nothing_close_it_lists_every_known_key():
    assert message(["banana"]) == (
        f"unknown context key banana; expected one of {', '.join(PARSERS)}"
    )
    assert "\n" not in message(["banana"])


def test_several_unknown_keys_are_one_line_naming_the_first_and_the_rest():
    assert message(["stack_name", "ssh_cird", "bogus", "ssh_cird"]) == (
        "unknown context key ssh_cird; did you mean ssh_cidr? (also unknown: bogus)"
    )


def test_workbench_keys_feature_flags_and_the_clis_own_keys_pass():
    check_known_keys([*PARSERS, "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup", *CLI_KEYS])
    check_known_keys(DEFAULT_CONTEXT)  # cdk.json as committed


@pytest.mark.parametrize(
    "key", ["aws:cdkx", "aws:foo", "acknowledged-issue-number", "cdk-migrate", "aws-cdk/core:x"]
)
def test_keys_near_the_cdks_families_are_not_waved_through(key):
    assert message([key]).startswith(f"unknown context key {key};")


def test_a_key_added_to_parsers_is_known_at_once(monkeypatch):
    monkeypatch.setattr(config_module, "PARSERS", {**PARSERS, "users": None})
    check_known_keys(["users"])
    assert message(["usres"]) == "unknown context key usres; did you mean users?"


def typo_in_cdk_json(monkeypatch) -> None:
    monkeypatch.setattr(
        config_module,
        "cdk_json_context",
        lambda *a: DEFAULT_CONTEXT | {"ssh_cird": "203.0.113.4/32"},
    )


def test_make_local_refuses_a_typo_in_c_or_in_cdk_json_before_starting(monkeypatch):
    with pytest.raises(mode.LocalError, match=r"^unknown context key ssh_cird; did you mean"):
        mode.load_local_config(["ssh_cird=203.0.113.4/32"])
    # CDK's own keys pass through to `cdk deploy -c`.
    mode.load_local_config(["@aws-cdk/core:enablePartitionLiterals=true"])
    typo_in_cdk_json(monkeypatch)
    with pytest.raises(mode.LocalError, match=r"^unknown context key ssh_cird; did you mean"):
        mode.load_local_config([])


def test_doctor_refuses_a_typo_in_cdk_json(monkeypatch, capsys):
    typo_in_cdk_json(monkeypatch)
    assert doctor.main(["--url", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown context key ssh_cird; did you mean ssh_cidr?\n"
    )
