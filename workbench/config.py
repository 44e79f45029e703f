"""The workbench's configuration: CDK context values parsed and validated once.

Values come from `cdk.json` (JSON types) or from `-c key=value` on the command line (always
strings). Both go through the same parser, so `-c root_volume_gb=40` and `"root_volume_gb": 40`
mean the same thing. Any bad value raises `ConfigError` with one line that names the key, the
value received and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Canonical's public SSM parameters. EC2 resolves the one in use when it launches an instance
# (stacks/machine_image.py), so the template never holds, or changes with, the image's ID.
UBUNTU_AMI_PARAMETERS = {
    "24.04": "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
    "22.04": "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
}
SUPPORTED_RELEASES = tuple(UBUNTU_AMI_PARAMETERS)
# family.size, e.g. t3.medium, m7i-flex.large, c6gn.2xlarge, u-6tb1.metal
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$")
# Graviton families (a "g" after the generation digit) need arm64 AMIs; we ship amd64 only.
_ARM_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*\.|^a1\.")
_KEY_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")
# Linux and JupyterHub user names: a lowercase letter or _, then letters, digits, _ or -.
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
TEAM_GROUP = "workbench-team"
"""The Linux group of every user: it owns the shared folder (and RStudio signs in its members)."""
SHARED_FOLDER = "shared"
"""The team's folder, /home/shared, linked as ~/shared into each user's home."""
# Accounts and groups a user name must never take: Ubuntu 22.04's and 24.04's own (users and
# groups: useradd refuses a user whose name is an existing group's), those the workbench creates
# (the model API's user, Shiny Server's, RStudio Server's, the team group) and the shared
# folder's name under /home.
RESERVED_NAMES = frozenset(
    {
        *("root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp"),
        *("proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "_apt"),
        *("messagebus", "syslog", "uuidd", "tcpdump", "tss", "landscape", "pollinate", "sshd"),
        *("fwupd-refresh", "usbmux", "lxd", "dnsmasq", "polkitd", "dhcpcd", "_chrony", "ubuntu"),
        *("ec2-instance-connect", "adm", "tty", "disk", "kmem", "dialout", "fax", "voice"),
        *("cdrom", "floppy", "tape", "sudo", "audio", "dip", "operator", "src", "shadow", "utmp"),
        *("video", "sasl", "plugdev", "staff", "users", "netdev", "input", "sgx", "kvm", "render"),
        *("crontab", "_ssh", "admin", "rdma", "docker", "ssl-cert"),
        *("penguin-api", "shiny", "rstudio-server", "jupyterhub", TEAM_GROUP, SHARED_FOLDER),
    }
)
_SNAPSHOT_ID = re.compile(r"^snap-([0-9a-f]{8}|[0-9a-f]{17})$")
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
# 1 GiB instances (t2.micro, t3.micro, ...) run out of memory installing JupyterHub and RStudio.
_TOO_SMALL = re.compile(r"\.(nano|micro)$")
# A DNS name as certificates and Route 53 take it: letters, digits and hyphens in dot-separated
# labels of at most 63, a non-numeric last label (no IP address), 253 characters at most.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)+(?!\d+$){_LABEL}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
ACME_DIRECTORIES = {
    "production": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
"""Let's Encrypt's ACME directories by name; `acme_server` also takes any https URL."""
IMAGE_KINDS = ("stock", "baked")
"""`image`: stock launches Canonical's Ubuntu and installs everything at boot; baked launches the
image that `make image` built (the install phase done), published in an SSM parameter."""
BAKED_ROOT_GB = 16
"""The baked image's root volume: what the install phase needs with room to spare. An instance's
root volume can be larger than its image's snapshot (cloud-init grows the filesystem), never
smaller, so `image=baked` needs `root_volume_gb` of at least this."""
IMAGE_STACK_SUFFIX = "Image"
"""The image stack is named `<stack_name>Image`."""
# CloudFormation allows 128 characters; the image stack's name adds its suffix.
_STACK_NAME_MAX = 128 - len(IMAGE_STACK_SUFFIX)
_STACK_NAME = re.compile(rf"^[A-Za-z][A-Za-z0-9-]{{0,{_STACK_NAME_MAX - 1}}}$")


class ConfigError(ValueError):
    """A context value that cannot be used; the message is one line, ready to print."""


@dataclass(frozen=True, kw_only=True)
class WorkbenchConfig:
    stack_name: str = "Workbench"
    instance_type: str = "t3.medium"
    ubuntu_release: str = "24.04"
    # None closes port 22 entirely ("none" in context); Session Manager still works.
    ssh_cidr: str | None = "0.0.0.0/0"
    key_name: str | None = None
    # An exact image instead of the release's current one (None: Canonical's, resolved at launch).
    ami_id: str | None = None
    root_volume_gb: int = 30
    penguins_app: bool = True
    penguin_api_public: bool = False
    home_volume_gb: int = 20
    home_snapshot_id: str | None = None
    idle_stop_minutes: int = 60
    # "off": plain HTTP on 80 (the chapter's lab); "ip": a certificate for the Elastic IP;
    # otherwise the domain name the certificate is for.
    https: str = "off"
    acme_email: str | None = None
    acme_server: str = "production"
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    image: str = "stock"

    users: tuple[str, ...] = ("workbench",)
    """The Linux users who sign in to JupyterHub and RStudio, each with a generated password."""
    admins: tuple[str, ...] | None = None
    """Users with sudo and JupyterHub's admin page. None: the one user when `users` names one
    (a personal workbench's owner), nobody when it names several (sudo on a shared machine is
    given by name, not by the order of a list)."""
    idle_cull_minutes: int = 60
    """Stop a JupyterLab server (and suspend an R session) idle this long; 0: never."""
    user_memory_gb: float | None = None
    user_cpus: float | None = None

    def __post_init__(self) -> None:
        # admins come from users (load_config checks it first, with the value as received).
        _check_admins(self.admins, self.users, ",".join(self.admins or ()))
        # Keys that only make sense together: checked once the config is whole.
        _check_image(self)
        zone_id, zone_name = self.hosted_zone_id, self.hosted_zone_name
        if (zone_id is None) != (zone_name is None):
            key, value = ("hosted_zone_id", zone_id) if zone_id else ("hosted_zone_name", zone_name)
            raise _fail(
                key, value, "hosted_zone_id and hosted_zone_name together (both or neither)"
            )
        if zone_id is not None and self.domain is None:
            raise _fail(
                "hosted_zone_id", zone_id, f"no hosted zone unless https is a domain name "
                f"(https is {self.https!r}: there is no DNS record to create)",
            )  # fmt: skip
        if zone_name is not None and not (
            self.domain == zone_name or self.domain.endswith("." + zone_name)
        ):
            raise _fail(
                "hosted_zone_name",
                zone_name,
                f"the zone that contains https's domain {self.domain!r}",
            )

    @property
    def ssh_open(self) -> bool:
        return self.ssh_cidr is not None

    @property
    def https_on(self) -> bool:
        return self.https != "off"

    @property
    def domain(self) -> str | None:
        """The domain the certificate is for; None with `https=off` or `https=ip`."""
        return None if self.https in ("off", "ip") else self.https

    @property
    def acme_directory(self) -> str:
        """The ACME directory URL certbot talks to."""
        return ACME_DIRECTORIES.get(self.acme_server, self.acme_server)

    def password_secret(self, user: str) -> str:
        """The name of `user`'s password secret in Secrets Manager: derived from the stack and
        the user, so that the instance and the PasswordCommand output find it without its ARN.
        The last part is never the user (a name ending in a hyphen and six characters would
        read as a partial ARN)."""
        return f"{self.stack_name}/users/{user}/password"

    @property
    def admin_users(self) -> tuple[str, ...]:
        """The admins, with the default resolved (see `admins`)."""
        if self.admins is not None:
            return self.admins
        return self.users if len(self.users) == 1 else ()


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{key}: got {value!r}; expected {allowed}")


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(key, value, "a string")
    return str(value).strip()


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(key, value, "true or false")


def _int_in(lo: int, hi: int, unit: str, note: str = "") -> Callable[[str, Any], int]:
    allowed = f"a whole number of {unit} from {lo} to {hi}{note}"

    def parse(key: str, value: Any) -> int:
        if isinstance(value, bool):
            raise _fail(key, value, allowed)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
            number = int(value)
        else:
            raise _fail(key, value, allowed)
        if not lo <= number <= hi:
            raise _fail(key, value, allowed)
        return number

    return parse


def _matching(pattern: re.Pattern[str], allowed: str) -> Callable[[str, Any], str]:
    """A parser for text that must match `pattern`; `allowed` says what does, in the error."""

    def parse(key: str, value: Any) -> str:
        text = _text(key, value)
        if not pattern.fullmatch(text):
            raise _fail(key, value, allowed)
        return text

    return parse


_stack_name = _matching(
    _STACK_NAME,
    "a CloudFormation stack name: a letter, then letters, digits or hyphens, at most "
    f"{_STACK_NAME_MAX} (the image stack is named <stack_name>{IMAGE_STACK_SUFFIX})",
)


def _instance_type(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if not _INSTANCE_TYPE.fullmatch(text):
        raise _fail(key, value, "an EC2 instance type such as t3.medium or m7i.large")
    if _ARM_FAMILY.match(text):
        raise _fail(key, value, "an x86_64 instance type (the workbench installs amd64 packages)")
    if _TOO_SMALL.search(text):
        raise _fail(
            key,
            value,
            "an instance with at least 2 GiB of memory such as t3.small or t3.medium "
            "(JupyterHub and RStudio installs run out of memory on nano and micro sizes)",
        )
    return text


def _release(key: str, value: Any) -> str:
    text = _text(key, value)
    if text not in SUPPORTED_RELEASES:
        raise _fail(key, value, " or ".join(SUPPORTED_RELEASES))
    return text


def _ssh_cidr(key: str, value: Any) -> str | None:
    text = _text(key, value)
    allowed = "an IPv4 CIDR such as 203.0.113.4/32, or 'none' to close port 22"
    if text.lower() == "none":
        return None
    if "/" not in text:
        raise _fail(key, value, allowed)
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            raise _fail(key, value, f"a network address ({allowed}); host bits are set") from None
        raise _fail(key, value, allowed) from None
    return str(network)


def _optional(parse: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def parse_optional(key: str, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip() in ("", "none")):
            return None
        return parse(key, value)

    return parse_optional


_key_name = _matching(_KEY_NAME, "the name of an existing EC2 key pair (printable ASCII, 1-255)")
_snapshot_id = _matching(_SNAPSHOT_ID, "an EBS snapshot ID such as snap-0123456789abcdef0")
_ami_id = _matching(_AMI_ID, "an AMI ID such as ami-0123456789abcdef0, or none")


def _domain(key: str, value: Any) -> str:
    text = _text(key, value).lower().rstrip(".")
    if not _DOMAIN.fullmatch(text):
        raise _fail(key, value, "a DNS name such as workbench.example.org")
    return text


def _https(key: str, value: Any) -> str:
    allowed = (
        "off, ip (a certificate for the Elastic IP) or a domain name such as "
        "workbench.example.org (no wildcard, no IP address)"
    )
    if isinstance(value, bool):
        raise _fail(key, value, allowed)
    text = _text(key, value).lower()
    if text in ("off", "ip"):
        return text
    try:
        return _domain(key, value)
    except ConfigError:
        raise _fail(key, value, allowed) from None


_email = _matching(_EMAIL, "an email address for Let's Encrypt's expiry notices")


def _acme_server(key: str, value: Any) -> str:
    text = _text(key, value)
    if text.lower() in ACME_DIRECTORIES:
        return text.lower()
    if re.fullmatch(r"https://[^\s/]+(/\S*)?", text):
        return text
    raise _fail(key, value, "production, staging or the https:// URL of an ACME directory")


def _hosted_zone_id(key: str, value: Any) -> str:
    text = _text(key, value).removeprefix("/hostedzone/")
    if not _HOSTED_ZONE_ID.fullmatch(text):
        raise _fail(key, value, "a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ")
    return text


def _name_list(key: str, value: Any) -> tuple[str, ...]:
    """Comma-separated names (`-c users=alice,bob`) or a JSON list (cdk.json, or `-c` text that
    starts with `[`), each name valid and listed once."""
    allowed = "user names, comma-separated or a JSON list"
    names: Any = value
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            names = json.loads(value)
        except ValueError:
            raise _fail(key, value, f"{allowed} (this JSON list does not parse)") from None
    elif isinstance(value, str):
        names = [] if not value.strip() else [part.strip() for part in value.split(",")]
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise _fail(key, value, allowed)
    seen: set[str] = set()
    for name in names:
        if not _USER_NAME.fullmatch(name):
            raise _fail(
                key,
                value,
                f"{allowed}; each a Linux user name (a lowercase letter or _, then up to 31 "
                f"lowercase letters, digits, _ or -): {name!r} is not one",
            )
        if name in seen:
            raise _fail(key, value, f"{allowed}, each name once: {name!r} is listed twice")
        seen.add(name)
    return tuple(names)


def _users(key: str, value: Any) -> tuple[str, ...]:
    names = _name_list(key, value)
    if not names:
        raise _fail(key, value, "at least one user name (comma-separated or a JSON list)")
    for name in names:
        if name in RESERVED_NAMES or name.startswith("systemd-"):
            raise _fail(
                key,
                value,
                f"names of people, not of system accounts or groups: {name!r} is one the "
                "instance or the workbench already uses",
            )
    return names


def _admins(key: str, value: Any) -> tuple[str, ...]:
    # `none` (or an empty list) names nobody, which differs from leaving the key unset.
    if isinstance(value, str) and value.strip().lower() == "none":
        return ()
    return _name_list(key, value)


def _check_admins(admins: tuple[str, ...] | None, users: tuple[str, ...], raw: Any) -> None:
    for name in admins or ():
        if name not in users:
            raise _fail(
                "admins", raw, f"names from users ({', '.join(users)}): {name!r} is not a user"
            )


def _number_in(lo: float, hi: float, unit: str) -> Callable[[str, Any], float]:
    allowed = f"a number of {unit} from {lo:g} to {hi:g}, or none for no limit"

    def parse(key: str, value: Any) -> float:
        if isinstance(value, bool):
            raise _fail(key, value, allowed)
        decimal = isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)
        if not (isinstance(value, int | float) or decimal):
            raise _fail(key, value, allowed)
        number = float(value)
        if not lo <= number <= hi:
            raise _fail(key, value, allowed)
        return number

    return parse


def _image(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if text not in IMAGE_KINDS:
        raise _fail(key, value, " or ".join(IMAGE_KINDS))
    return text


# One parser per key; the dataclass defaults are the documented defaults (cdk.json repeats them).
PARSERS: Mapping[str, Callable[[str, Any], Any]] = {
    "stack_name": _stack_name,
    "instance_type": _instance_type,
    "ubuntu_release": _release,
    "ssh_cidr": _ssh_cidr,
    "key_name": _optional(_key_name),
    "ami_id": _optional(_ami_id),
    "root_volume_gb": _int_in(8, 16384, "GiB"),
    "penguins_app": _bool,
    "penguin_api_public": _bool,
    "home_volume_gb": _int_in(1, 16384, "GiB"),
    "home_snapshot_id": _optional(_snapshot_id),
    "idle_stop_minutes": _int_in(0, 10080, "minutes", " (0 disables the idle stop)"),
    "https": _https,
    "acme_email": _optional(_email),
    "acme_server": _acme_server,
    "hosted_zone_id": _optional(_hosted_zone_id),
    "hosted_zone_name": _optional(_domain),
    "image": _image,
    "users": _users,
    "admins": _admins,
    # From 1 minute: workbench/idle.py derives JupyterHub's activity interval from the timeout,
    # so that the timeout always exceeds it (and the websocket ping).
    "idle_cull_minutes": _int_in(0, 10080, "minutes", " (0 disables idle culling)"),
    "user_memory_gb": _optional(_number_in(0.25, 1024, "GiB")),
    "user_cpus": _optional(_number_in(0.1, 448, "CPUs")),
}

assert set(PARSERS) == {f.name for f in dataclasses.fields(WorkbenchConfig)}


# Context keys the CDK itself owns: feature flags (`@aws-cdk/...`, also the CLI's
# `@aws-cdk/core:failSynthOnValidationErrors`), the CLI's settings (`aws:cdk:enable-path-metadata`,
# `aws:cdk:version-reporting`, `aws:cdk:bundling-stacks`, ...) and the two keys that
# `cdk acknowledge` and `cdk cli-telemetry` write into cdk.context.json, which the CLI passes to
# the app. Found by dumping the context the pinned CLI (2.1148) hands to an app.
CDK_KEY_PREFIXES = ("@", "aws:cdk:")
CDK_KEYS = frozenset({"acknowledged-issue-numbers", "cli-telemetry"})


def is_cdk_key(key: str) -> bool:
    return key.startswith(CDK_KEY_PREFIXES) or key in CDK_KEYS


def check_known_keys(keys: Iterable[str]) -> None:
    """Refuse a context key that is neither a workbench setting nor the CDK's own.

    A mistyped key is otherwise ignored in silence (`-c ssh_cird=...` leaves port 22 open to the
    world). One line names the first unknown key and the closest known one (by difflib), or, with
    nothing close, every known key.
    """
    unknown = [key for key in dict.fromkeys(keys) if key not in PARSERS and not is_cdk_key(key)]
    if not unknown:
        return
    key = unknown[0]
    # Case-insensitive: `SSH_CIDR` is as close to ssh_cidr as `ssh_cird`.
    lowered = {known.lower(): known for known in PARSERS}
    close = difflib.get_close_matches(key.lower(), lowered, n=1)
    if close:
        message = f"unknown context key {key}; did you mean {lowered[close[0]]}?"
    else:
        message = f"unknown context key {key}; expected one of {', '.join(PARSERS)}"
    if len(unknown) > 1:
        message += f" (also unknown: {', '.join(unknown[1:])})"
    raise ConfigError(message)


def load_config(get: Callable[[str], Any] | Mapping[str, Any]) -> WorkbenchConfig:
    """Build the config from a context getter (`app.node.try_get_context`) or a mapping.

    Keys that are absent (None) keep their defaults.
    """
    lookup = get.get if isinstance(get, Mapping) else get
    values: dict[str, Any] = {}
    for key, parse in PARSERS.items():
        raw = lookup(key)
        if raw is None:
            continue
        values[key] = parse(key, raw)
    if "admins" in values:
        _check_admins(
            values["admins"], values.get("users", WorkbenchConfig.users), lookup("admins")
        )
    return WorkbenchConfig(**values)


def _check_image(config: WorkbenchConfig) -> None:
    """The image's rules between keys, each one line naming the key that has to change."""
    if config.image == "baked" and config.ami_id is not None:
        raise _fail(
            "ami_id",
            config.ami_id,
            "none with image=baked (the baked image is the one its parameter names at launch)",
        )
    if config.image == "baked" and config.root_volume_gb < BAKED_ROOT_GB:
        raise _fail(
            "root_volume_gb",
            config.root_volume_gb,
            f"at least {BAKED_ROOT_GB} with image=baked (the baked image's root volume)",
        )


REPO = Path(__file__).resolve().parent.parent


def cdk_json_context(checkout: Path = REPO) -> dict:
    """The `context` object of a checkout's cdk.json: the documented defaults."""
    path = Path(checkout) / "cdk.json"
    try:
        context = json.loads(path.read_text())["context"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}: no readable cdk.json with a context object") from None
    if not isinstance(context, dict):
        raise ConfigError(f"{path}: context is not an object")
    return context


def parse_context_flags(pairs: Iterable[str]) -> dict[str, str]:
    """`-c KEY=VALUE` flags, as the CDK CLI takes them (values stay strings, parsed later).

    Unknown keys are the caller's to refuse, with cdk.json's (`check_known_keys`).
    """
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"-c/--context: got {pair!r}; expected KEY=VALUE")
        context[key] = value
    return context


def load_checkout_config(flags: Iterable[str] = (), checkout: Path = REPO) -> WorkbenchConfig:
    """The config `cdk deploy -c KEY=VALUE ...` would get in `checkout`: its cdk.json's context
    plus the flags, an unknown key refused (`check_known_keys`), every value checked. Raises
    ConfigError (one line)."""
    defaults, overrides = cdk_json_context(checkout), parse_context_flags(flags)
    check_known_keys([*defaults, *overrides])
    return load_config(defaults | overrides)


def add_context_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The `-c/--context KEY=VALUE` option of every command that synthesizes or deploys."""
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )
