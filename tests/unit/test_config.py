"""Every context key: good values parse, bad values get one line naming key, value and rule."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.synth import DEFAULT_CONTEXT
from workbench.config import PARSERS, ConfigError, WorkbenchConfig, load_config


def test_defaults_match_cdk_json():
    assert load_config(DEFAULT_CONTEXT) == WorkbenchConfig()
    documented = {k: v for k, v in DEFAULT_CONTEXT.items() if not k.startswith("@")}
    assert set(documented) == set(PARSERS), "cdk.json must list every key with its default"


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WorkbenchConfig().ssh_cidr = "1.2.3.4/32"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("stack_name", "Lab-12", "Lab-12"),
        ("instance_type", "t3.large", "t3.large"),
        ("instance_type", "M7I-FLEX.2XLARGE", "m7i-flex.2xlarge"),
        ("ubuntu_release", "22.04", "22.04"),
        ("ssh_cidr", "203.0.113.4/32", "203.0.113.4/32"),
        ("ssh_cidr", "none", None),
        ("ssh_cidr", "NONE", None),
        ("key_name", "my key", "my key"),
        ("key_name", None, None),
        ("ami_id", "ami-0123456789abcdef0", "ami-0123456789abcdef0"),
        ("ami_id", "ami-01234567", "ami-01234567"),
        ("ami_id", "none", None),
        ("root_volume_gb", "40", 40),
        ("root_volume_gb", 40, 40),
        ("penguins_app", "false", False),
        ("penguins_app", True, True),
        ("penguin_api_public", "TRUE", True),
        ("home_volume_gb", "100", 100),
        ("home_snapshot_id", "snap-0123456789abcdef0", "snap-0123456789abcdef0"),
        ("home_snapshot_id", "snap-01234567", "snap-01234567"),
        ("idle_stop_minutes", "0", 0),
        ("idle_stop_minutes", 90, 90),
        ("https", "off", "off"),
        ("https", "IP", "ip"),
        ("https", "Workbench.Example.ORG.", "workbench.example.org"),
        ("acme_email", "ops@example.org", "ops@example.org"),
        ("acme_email", None, None),
        ("acme_server", "Staging", "staging"),
        ("acme_server", "https://127.0.0.1:14000/dir", "https://127.0.0.1:14000/dir"),
        ("image", "baked", "baked"),
        ("image", "Stock", "stock"),
        ("users", "alice,bob", ("alice", "bob")),
        ("users", " alice , bob_2 ", ("alice", "bob_2")),
        ("users", ["alice", "b-o-b"], ("alice", "b-o-b")),
        ("users", '["alice", "bob"]', ("alice", "bob")),
        ("users", "_svc", ("_svc",)),
        ("admins", "workbench", ("workbench",)),
        ("admins", "none", ()),
        ("admins", [], ()),
        ("idle_cull_minutes", "0", 0),
        ("idle_cull_minutes", 30, 30),
        ("user_memory_gb", "1.5", 1.5),
        ("user_memory_gb", 4, 4.0),
        ("user_memory_gb", "none", None),
        ("user_cpus", "0.5", 0.5),
        ("user_cpus", 2, 2.0),
    ],
)
def test_good_values_parse(key, raw, expected):
    assert getattr(load_config({key: raw}), key) == expected


def test_admins_default_to_the_one_user_and_otherwise_to_nobody():
    assert WorkbenchConfig().admin_users == ("workbench",), "a personal workbench's owner"
    assert load_config({"users": "alice"}).admin_users == ("alice",)
    assert load_config({"users": "alice,bob"}).admin_users == (), "sudo is given by name"
    assert load_config({"users": "alice,bob", "admins": "bob"}).admin_users == ("bob",)
    assert load_config({"users": "alice", "admins": "none"}).admin_users == ()


def test_admins_that_are_not_users_are_refused_also_when_built_in_python():
    with pytest.raises(ConfigError, match=r"^admins: got 'carol'; expected names from users"):
        WorkbenchConfig(users=("alice",), admins=("carol",))


def test_cli_strings_and_json_values_mean_the_same():
    as_json = load_config({"root_volume_gb": 50, "penguins_app": False, "idle_stop_minutes": 0})
    as_cli = load_config(
        {"root_volume_gb": "50", "penguins_app": "false", "idle_stop_minutes": "0"}
    )
    assert as_json == as_cli


BAD_VALUES = [
    (
        "ssh_cidr",
        "banana",
        "ssh_cidr: got 'banana'; expected an IPv4 CIDR such as 203.0.113.4/32, "
        "or 'none' to close port 22",
    ),
    (
        "ssh_cidr",
        "10.0.0.300/8",
        "ssh_cidr: got '10.0.0.300/8'; expected an IPv4 CIDR such as 203.0.113.4/32, "
        "or 'none' to close port 22",
    ),
    (
        "ssh_cidr",
        "203.0.113.4",
        "ssh_cidr: got '203.0.113.4'; expected an IPv4 CIDR such as 203.0.113.4/32, "
        "or 'none' to close port 22",
    ),
    (
        "ssh_cidr",
        "203.0.113.4/24",
        "ssh_cidr: got '203.0.113.4/24'; expected a network address (an IPv4 CIDR such as "
        "203.0.113.4/32, or 'none' to close port 22); host bits are set",
    ),
    (
        "instance_type",
        "large",
        "instance_type: got 'large'; expected an EC2 instance type such as t3.medium or m7i.large",
    ),
    (
        "instance_type",
        "t2.micro",
        "instance_type: got 't2.micro'; expected an instance with at least 2 GiB of memory "
        "such as t3.small or t3.medium (JupyterHub and RStudio installs run out of memory on "
        "nano and micro sizes)",
    ),
    (
        "instance_type",
        "t4g.medium",
        "instance_type: got 't4g.medium'; expected an x86_64 instance type (the workbench "
        "installs amd64 packages)",
    ),
    ("ubuntu_release", "20.04", "ubuntu_release: got '20.04'; expected 24.04 or 22.04"),
    ("ubuntu_release", 20.04, "ubuntu_release: got 20.04; expected 24.04 or 22.04"),
    (
        "root_volume_gb",
        "7",
        "root_volume_gb: got '7'; expected a whole number of GiB from 8 to 16384",
    ),
    (
        "root_volume_gb",
        "thirty",
        "root_volume_gb: got 'thirty'; expected a whole number of GiB from 8 to 16384",
    ),
    (
        "root_volume_gb",
        30.5,
        "root_volume_gb: got 30.5; expected a whole number of GiB from 8 to 16384",
    ),
    (
        "root_volume_gb",
        True,
        "root_volume_gb: got True; expected a whole number of GiB from 8 to 16384",
    ),
    ("penguins_app", "yes", "penguins_app: got 'yes'; expected true or false"),
    ("penguin_api_public", 1, "penguin_api_public: got 1; expected true or false"),
    (
        "stack_name",
        "1stack",
        "stack_name: got '1stack'; expected a CloudFormation stack name: a letter, then "
        "letters, digits or hyphens, at most 123 (the image stack is named <stack_name>Image)",
    ),
    ("stack_name", ["a"], "stack_name: got ['a']; expected a string"),
    (
        "key_name",
        "caf\u00e9",
        "key_name: got 'caf\u00e9'; expected the name of an existing EC2 key pair "
        "(printable ASCII, 1-255)",
    ),
    (
        "ami_id",
        "ami-0123456789ABCDEF0",
        "ami_id: got 'ami-0123456789ABCDEF0'; expected an AMI ID such as ami-0123456789abcdef0, "
        "or none",
    ),
    (
        "home_snapshot_id",
        "snapshot-1",
        "home_snapshot_id: got 'snapshot-1'; expected an EBS snapshot ID such as "
        "snap-0123456789abcdef0",
    ),
    (
        "idle_stop_minutes",
        "-5",
        "idle_stop_minutes: got '-5'; expected a whole number of minutes from 0 to 10080 "
        "(0 disables the idle stop)",
    ),
    (
        "home_volume_gb",
        "0",
        "home_volume_gb: got '0'; expected a whole number of GiB from 1 to 16384",
    ),
    ("image", "golden", "image: got 'golden'; expected stock or baked"),
    (
        "users",
        "",
        "users: got ''; expected at least one user name (comma-separated or a JSON list)",
    ),
    (
        "users",
        [],
        "users: got []; expected at least one user name (comma-separated or a JSON list)",
    ),
    (
        "users",
        "alice,Bob",
        "users: got 'alice,Bob'; expected user names, comma-separated or a JSON list; each a "
        "Linux user name (a lowercase letter or _, then up to 31 lowercase letters, digits, _ "
        "or -): 'Bob' is not one",
    ),
    (
        "users",
        "alice,",
        "users: got 'alice,'; expected user names, comma-separated or a JSON list; each a "
        "Linux user name (a lowercase letter or _, then up to 31 lowercase letters, digits, _ "
        "or -): '' is not one",
    ),
    (
        "users",
        "a" * 33,
        f"users: got {'a' * 33!r}; expected user names, comma-separated or a JSON list; each a "
        "Linux user name (a lowercase letter or _, then up to 31 lowercase letters, digits, _ "
        f"or -): {'a' * 33!r} is not one",
    ),
    (
        "users",
        "alice,bob,alice",
        "users: got 'alice,bob,alice'; expected user names, comma-separated or a JSON list, "
        "each name once: 'alice' is listed twice",
    ),
    *(
        (
            "users",
            f"alice,{name}",
            f"users: got 'alice,{name}'; expected names of people, not of system accounts or "
            f"groups: {name!r} is one the instance or the workbench already uses",
        )
        for name in (
            "root",
            "ubuntu",
            "penguin-api",
            "shiny",
            "workbench-team",
            "shared",
            "sudo",
            "systemd-network",
        )
    ),
    (
        "users",
        '["alice", 7]',
        "users: got '[\"alice\", 7]'; expected user names, comma-separated or a JSON list",
    ),
    (
        "users",
        "[alice",
        "users: got '[alice'; expected user names, comma-separated or a JSON list (this JSON "
        "list does not parse)",
    ),
    ("users", 5, "users: got 5; expected user names, comma-separated or a JSON list"),
    (
        "admins",
        "workbench,carol",
        "admins: got 'workbench,carol'; expected names from users (workbench): 'carol' is not a "
        "user",
    ),
    (
        "admins",
        "Carol",
        "admins: got 'Carol'; expected user names, comma-separated or a JSON list; each a Linux "
        "user name (a lowercase letter or _, then up to 31 lowercase letters, digits, _ or -): "
        "'Carol' is not one",
    ),
    (
        "idle_cull_minutes",
        "-1",
        "idle_cull_minutes: got '-1'; expected a whole number of minutes from 0 to 10080 "
        "(0 disables idle culling)",
    ),
    (
        "idle_cull_minutes",
        "1.5",
        "idle_cull_minutes: got '1.5'; expected a whole number of minutes from 0 to 10080 "
        "(0 disables idle culling)",
    ),
    (
        "user_memory_gb",
        "0",
        "user_memory_gb: got '0'; expected a number of GiB from 0.25 to 1024, or none for no limit",
    ),
    (
        "user_memory_gb",
        "2G",
        "user_memory_gb: got '2G'; expected a number of GiB from 0.25 to 1024, or none for no "
        "limit",
    ),
    (
        "user_cpus",
        True,
        "user_cpus: got True; expected a number of CPUs from 0.1 to 448, or none for no limit",
    ),
    (
        "user_cpus",
        "-1",
        "user_cpus: got '-1'; expected a number of CPUs from 0.1 to 448, or none for no limit",
    ),
]
HTTPS_ALLOWED = (
    "expected off, ip (a certificate for the Elastic IP) or a domain name such as "
    "workbench.example.org (no wildcard, no IP address)"
)
# The /home volume and the idle stop (app.py prints these as `error: <message>` and exits 2:
# tests/stack/test_cli.py proves that path once, with the real CLI and python app.py).
BAD_VALUES += [
    (
        "home_snapshot_id",
        "vol-0123456789abcdef0",
        "home_snapshot_id: got 'vol-0123456789abcdef0'; expected an EBS snapshot ID such as "
        "snap-0123456789abcdef0",
    ),
    (
        "home_volume_gb",
        "20GB",
        "home_volume_gb: got '20GB'; expected a whole number of GiB from 1 to 16384",
    ),
    *(
        (
            "idle_stop_minutes",
            value,
            f"idle_stop_minutes: got '{value}'; expected a whole number of minutes from 0 to "
            "10080 (0 disables the idle stop)",
        )
        for value in ("10081", "an hour")
    ),
]
BAD_VALUES += [
    ("https", "on", None),
    ("https", "203.0.113.10", f"https: got '203.0.113.10'; {HTTPS_ALLOWED}"),
    ("https", "*.example.org", f"https: got '*.example.org'; {HTTPS_ALLOWED}"),
    ("https", "-bad.example.org", f"https: got '-bad.example.org'; {HTTPS_ALLOWED}"),
    ("https", True, f"https: got True; {HTTPS_ALLOWED}"),
    ("https", "localhost", f"https: got 'localhost'; {HTTPS_ALLOWED}"),
    (
        "acme_email",
        "ops.example.org",
        "acme_email: got 'ops.example.org'; expected an email address for Let's Encrypt's "
        "expiry notices",
    ),
    (
        "acme_server",
        "http://127.0.0.1:14000/dir",
        "acme_server: got 'http://127.0.0.1:14000/dir'; expected production, staging or the "
        "https:// URL of an ACME directory",
    ),
    (
        "hosted_zone_id",
        "zone-1",
        "hosted_zone_id: got 'zone-1'; expected a Route 53 hosted zone ID such as "
        "Z0123456789ABCDEFGHIJ",
    ),
    (
        "hosted_zone_name",
        "example..org",
        "hosted_zone_name: got 'example..org'; expected a DNS name such as workbench.example.org",
    ),
]
BAD_VALUES = [
    (key, raw, message or f"{key}: got {raw!r}; {HTTPS_ALLOWED}")
    for key, raw, message in BAD_VALUES
]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"https": "ip", "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
             "hosted_zone_name": "example.org"},
            "hosted_zone_id: got 'Z0123456789ABCDEFGHIJ'; expected no hosted zone unless https "
            "is a domain name (https is 'ip': there is no DNS record to create)",
        ),
        (
            {"https": "wb.example.org", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"},
            "hosted_zone_id: got 'Z0123456789ABCDEFGHIJ'; expected hosted_zone_id and "
            "hosted_zone_name together (both or neither)",
        ),
        (
            {"https": "wb.example.org", "hosted_zone_name": "example.org"},
            "hosted_zone_name: got 'example.org'; expected hosted_zone_id and hosted_zone_name "
            "together (both or neither)",
        ),
        (
            {"https": "wb.example.org", "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
             "hosted_zone_name": "ample.org"},
            "hosted_zone_name: got 'ample.org'; expected the zone that contains https's domain "
            "'wb.example.org'",
        ),
    ],
)  # fmt: skip
def test_keys_that_go_together(context, message):
    with pytest.raises(ConfigError) as caught:
        load_config(context)
    assert str(caught.value) == message


def test_a_hosted_zone_for_the_domain_or_its_parent():
    for zone in ("example.org", "wb.example.org"):
        config = load_config(
            {"https": "wb.example.org", "hosted_zone_id": "/hostedzone/Z0123456789ABCDEFGHIJ",
             "hosted_zone_name": zone}
        )  # fmt: skip
        assert (config.hosted_zone_id, config.hosted_zone_name) == ("Z0123456789ABCDEFGHIJ", zone)
    assert load_config({"acme_server": "staging"}).acme_directory.startswith(
        "https://acme-staging-v02."
    )
    assert load_config({"https": "ip"}).domain is None


@pytest.mark.parametrize(("key", "raw", "message"), BAD_VALUES)
def test_bad_values_name_key_value_and_rule(key, raw, message):
    with pytest.raises(ConfigError) as caught:
        load_config({key: raw})
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_every_key_has_a_bad_value_test():
    assert {key for key, _, _ in BAD_VALUES} == set(PARSERS)


def test_baked_image_needs_a_root_volume_as_large_as_the_images():
    with pytest.raises(ConfigError) as caught:
        load_config({"image": "baked", "root_volume_gb": 10})
    assert str(caught.value) == (
        "root_volume_gb: got 10; expected at least 16 with image=baked (the baked image's root "
        "volume)"
    )
    assert load_config({"image": "stock", "root_volume_gb": 10}).root_volume_gb == 10


def test_stack_name_leaves_room_for_the_image_stacks_name():
    longest = "W" * 123
    assert load_config({"stack_name": longest}).stack_name == longest
    with pytest.raises(ConfigError) as caught:
        load_config({"stack_name": longest + "W"})
    assert str(caught.value) == (
        f"stack_name: got '{longest}W'; expected a CloudFormation stack name: a letter, then "
        "letters, digits or hyphens, at most 123 (the image stack is named <stack_name>Image)"
    )


def test_the_readmes_configuration_table_lists_every_key_with_its_default():
    """The table is the third statement of each default (beside WorkbenchConfig and cdk.json):
    every key once, in the parsers' order, each backquoted default the one cdk.json gives."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("| key | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M)
    assert [key for key, _ in rows] == list(PARSERS)
    default = load_config(DEFAULT_CONTEXT)
    for key, cell in rows:
        shown = re.fullmatch(r"`([^`]+)`", cell.strip())
        value = getattr(default, key)
        if shown is None:  # "unset", or prose ("the one user, ...")
            assert value in (None, ()) or key == "admins", (key, cell, value)
            continue
        value = ",".join(value) if isinstance(value, tuple) else value
        expected = str(value).lower() if isinstance(value, bool) else str(value)
        assert shown.group(1) == expected, (key, cell, value)
