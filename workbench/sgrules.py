"""Security-group rules read from synthesized CloudFormation templates.

`parse_template` turns every rule of every security group into a `Rule`: inline ingress and egress,
standalone `AWS::EC2::SecurityGroupIngress`/`Egress` resources, and the default egress rule that EC2
adds to a group that lists none. Values are normalised so that only exposure shows: protocol numbers
become names, CIDRs are canonical, and CloudFormation expressions are rendered readably
(`sg:<LogicalId>` for another group) instead of as JSON.

`python -m workbench sg-rules` prints them as a table, Markdown or JSON; `--snapshot` writes the
committed rules file (`security-groups.md`) from the default configuration.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from workbench.config import (
    ConfigError,
    add_context_option,
    check_known_keys,
    is_cdk_key,
    parse_context_flags,
)
from workbench.config import cdk_json_context as _cdk_json_context
from workbench.toolchain import tool_env

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "security-groups.md"
WORLD = ("0.0.0.0/0", "::/0")
SG = "AWS::EC2::SecurityGroup"
INGRESS = "AWS::EC2::SecurityGroupIngress"
EGRESS = "AWS::EC2::SecurityGroupEgress"
_PROTOCOL_NAMES = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PORTED = ("tcp", "udp")
_INLINE = (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress"))
_ICMP = ("icmp", "icmpv6")
# Peer keys of a rule, by direction, and what kind of peer each names.
_PEER_KEYS = {
    "ingress": (
        ("CidrIp", "cidr4"),
        ("CidrIpv6", "cidr6"),
        ("SourcePrefixListId", "prefix-list"),
        ("SourceSecurityGroupId", "sg"),
        ("SourceSecurityGroupName", "sg"),
    ),
    "egress": (
        ("CidrIp", "cidr4"),
        ("CidrIpv6", "cidr6"),
        ("DestinationPrefixListId", "prefix-list"),
        ("DestinationSecurityGroupId", "sg"),
    ),
}


class InputError(ValueError):
    """A template, file or flag that cannot be used; the message is one line, ready to print."""


@dataclass(frozen=True, kw_only=True)
class Group:
    id: str
    """The group's logical ID in the template (`external:<id>` for a group the template imports)."""
    description: str


@dataclass(frozen=True, kw_only=True)
class Rule:
    group: str
    """Logical ID of the group the rule belongs to."""
    direction: str
    """`ingress` or `egress`."""
    protocol: str
    """`all` (IpProtocol -1), `tcp`, `udp`, `icmp`, `icmpv6`, or another protocol number."""
    from_port: int | None
    """tcp/udp: first port; icmp: the type (-1 all). None when ports do not apply."""
    to_port: int | None
    """tcp/udp: last port; icmp: the code (-1 all). None when ports do not apply."""
    peer: str
    """Source (ingress) or destination (egress): a CIDR, a prefix list, `sg:<LogicalId>`, ..."""
    peer_kind: str
    """`cidr4`, `cidr6`, `prefix-list`, `sg`, or `token` (an expression only known at deploy)."""
    description: str = ""
    origin: str = "inline"
    """`inline`, `standalone` (its own Ingress/Egress resource) or `implicit` (EC2's default)."""
    resource: str = ""
    """Logical ID of the resource that defines the rule (JSON output only: it carries a hash)."""

    @property
    def world_open(self) -> bool:
        return self.peer in WORLD

    @property
    def ports(self) -> str:
        return format_ports(self.protocol, self.from_port, self.to_port)

    @property
    def protocol_text(self) -> str:
        if self.protocol == "all":
            return "all (-1)"
        return self.protocol if not self.protocol.isdigit() else f"protocol {self.protocol}"

    def span(self) -> tuple[int, int]:
        """The rule's ports as one interval (icmp: type*256+code), for containment checks."""
        if self.protocol in _PORTED:
            assert self.from_port is not None and self.to_port is not None
            if self.from_port == -1:
                return (0, 65535)
            return (self.from_port, self.to_port)
        if self.protocol in _ICMP and self.from_port not in (None, -1):
            assert self.from_port is not None
            if self.to_port in (None, -1):
                return (self.from_port * 256, self.from_port * 256 + 255)
            assert self.to_port is not None
            return (self.from_port * 256 + self.to_port,) * 2
        return (0, 65535)

    def address_space(self) -> tuple[str, int, int]:
        """(family, first, last) of the peer's addresses; other peers are a point of their own."""
        if self.peer_kind in ("cidr4", "cidr6"):
            network = ipaddress.ip_network(self.peer)
            return (self.peer_kind, int(network[0]), int(network[-1]))
        return (f"{self.peer_kind}:{self.peer}", 0, 0)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ports=self.ports, world_open=self.world_open)
        return data


@dataclass(frozen=True, kw_only=True)
class TemplateRules:
    """The security groups of one template and all their rules."""

    name: str
    """The stack's name (the template file's name without `.template.json`)."""
    groups: Mapping[str, Group]
    rules: tuple[Rule, ...]

    def sorted_rules(self) -> list[Rule]:
        return sorted(self.rules, key=rule_order)


def rule_order(rule: Rule) -> tuple:
    ports = rule.span()
    return (
        rule.group,
        rule.direction != "ingress",
        rule.protocol,
        ports,
        rule.peer_kind,
        rule.peer,
        rule.description,
        rule.origin,
    )


def format_ports(protocol: str, from_port: int | None, to_port: int | None) -> str:
    if protocol in _PORTED:
        if from_port == -1 or (from_port, to_port) == (0, 65535):
            return "all"
        return str(from_port) if from_port == to_port else f"{from_port}-{to_port}"
    if protocol in _ICMP:
        if from_port in (None, -1):
            return "all"
        if to_port in (None, -1):
            return f"type {from_port}"
        return f"type {from_port} code {to_port}"
    return "all"


# --- reading templates -------------------------------------------------------------------------


def load_template(path: Path) -> dict:
    """Read a template file; anything that is not a CloudFormation template is an InputError."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror})") from None
    try:
        template = json.loads(text)
    except ValueError as error:
        raise InputError(f"{path}: not JSON ({error}); expected a synthesized template") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise InputError(f"{path}: not a CloudFormation template (no Resources object)")
    return template


def stack_name_of(path: Path) -> str:
    """The stack's name: its cloud assembly's manifest.json says it when the template sits in
    one (a stage's template file is named by a hashed artifact ID); else the file's name."""
    name = path.name
    for suffix in (".template.json", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    try:
        artifacts = json.loads((path.parent / "manifest.json").read_text())["artifacts"]
        return artifacts[name]["properties"]["stackName"]
    except (OSError, ValueError, KeyError, TypeError):
        return name


def parse_template(template: Mapping[str, Any], *, name: str) -> TemplateRules:
    """Every security group and rule of `template`; malformed rules raise InputError."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise InputError(f"{name}: not a CloudFormation template (no Resources object)")
    parameters = template.get("Parameters") or {}
    reader = _Reader(name, resources, parameters)
    groups: dict[str, Group] = {}
    rules: list[Rule] = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != SG:
            continue
        props = reader.properties(logical_id)
        groups[logical_id] = Group(
            id=logical_id, description=reader.text(props.get("GroupDescription", ""))
        )
        for direction, key in _INLINE:
            entries = props.get(key) or []
            if not isinstance(entries, list):
                reader.fail(f"{logical_id}.{key}", entries, "a list of rules")
            for index, entry in enumerate(entries):
                where = f"{logical_id}.{key}[{index}]"
                rules.append(reader.rule(where, entry, logical_id, direction, "inline", logical_id))
        if not props.get("SecurityGroupEgress"):
            # EC2 gives a group that lists no egress rule one that allows everything out.
            rules.append(
                Rule(
                    group=logical_id,
                    direction="egress",
                    protocol="all",
                    from_port=None,
                    to_port=None,
                    peer="0.0.0.0/0",
                    peer_kind="cidr4",
                    description="EC2's default: the group lists no egress rule",
                    origin="implicit",
                    resource=logical_id,
                )
            )
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in (INGRESS, EGRESS):
            continue
        direction = "ingress" if resource["Type"] == INGRESS else "egress"
        props = reader.properties(logical_id)
        group = reader.owning_group(logical_id, props)
        if group not in groups:
            groups[group] = Group(id=group, description="(not defined in this template)")
        rules.append(reader.rule(logical_id, props, group, direction, "standalone", logical_id))
    return TemplateRules(name=name, groups=groups, rules=tuple(rules))


class _Reader:
    """Reads rule properties, rendering CloudFormation expressions against the template."""

    def __init__(self, name: str, resources: Mapping[str, Any], parameters: Mapping[str, Any]):
        self.name = name
        self.resources = resources
        self.parameters = parameters

    def fail(self, where: str, value: Any, allowed: str) -> NoReturn:
        shown = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
        raise InputError(f"{self.name}: {where}: got {shown}; expected {allowed}")

    def properties(self, logical_id: str) -> dict:
        props = self.resources[logical_id].get("Properties", {})
        if not isinstance(props, dict):
            self.fail(f"{logical_id}.Properties", props, "an object")
        return props

    def text(self, value: Any) -> str:
        return value if isinstance(value, str) else self.expression(value)

    def _type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if isinstance(resource, dict) else None

    def expression(self, value: Any) -> str:
        """A readable name for a CloudFormation expression (a reference or a function)."""
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and isinstance(argument, str):
                kind = self._type_of(argument)
                if kind == SG:
                    return f"sg:{argument}"
                if kind == "AWS::EC2::PrefixList":
                    return f"pl:{argument}"
                if argument in self.parameters:
                    return f"param:{argument}"
                return f"ref:{argument}"
            if function == "Fn::GetAtt":
                parts = argument.split(".", 1) if isinstance(argument, str) else argument
                if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str):
                    target, attribute = parts
                    if self._type_of(target) == SG and attribute == "GroupId":
                        return f"sg:{target}"
                    if self._type_of(target) == "AWS::EC2::PrefixList":
                        return f"pl:{target}"
                    return f"{target}.{attribute}"
            if function == "Fn::ImportValue":
                return f"import:{self.text(argument)}"
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def owning_group(self, logical_id: str, props: Mapping[str, Any]) -> str:
        if "GroupId" in props:
            rendered = self.text(props["GroupId"])
        elif "GroupName" in props:
            name = props["GroupName"]
            for candidate, resource in self.resources.items():
                if self._type_of(candidate) != SG:
                    continue
                props = resource.get("Properties")
                named = isinstance(props, dict) and props.get("GroupName") == name
                if named or name == {"Ref": candidate}:
                    return candidate
            rendered = f"name:{self.text(name)}"
        else:
            self.fail(f"{logical_id}.Properties", sorted(props), "a GroupId or GroupName")
        if rendered.startswith("sg:"):
            return rendered[3:]
        return f"external:{rendered}"

    def rule(
        self, where: str, entry: Any, group: str, direction: str, origin: str, resource: str
    ) -> Rule:
        if not isinstance(entry, dict):
            self.fail(where, entry, "a rule object")
        protocol = self._protocol(where, entry.get("IpProtocol"))
        from_port, to_port = self._ports(where, protocol, entry)
        peer, kind = self._peer(where, entry, direction)
        return Rule(
            group=group,
            direction=direction,
            protocol=protocol,
            from_port=from_port,
            to_port=to_port,
            peer=peer,
            peer_kind=kind,
            description=self.text(entry.get("Description", "")),
            origin=origin,
            resource=resource,
        )

    def _protocol(self, where: str, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(f"{where}.IpProtocol", value, "-1, tcp, udp, icmp, icmpv6 or a number")
        text = str(value).strip().lower()
        if text in _PROTOCOL_NAMES:
            return _PROTOCOL_NAMES[text]
        if text in _PORTED + _ICMP:
            return text
        if text.isdigit() and 0 <= int(text) <= 255:
            return str(int(text))
        self.fail(f"{where}.IpProtocol", value, "-1, tcp, udp, icmp, icmpv6 or 0-255")

    def _ports(self, where: str, protocol: str, entry: Mapping) -> tuple[int | None, int | None]:
        if protocol not in _PORTED + _ICMP:
            return (None, None)  # EC2 ignores ports for other protocols
        ports = []
        for key in ("FromPort", "ToPort"):
            value = entry.get(key, -1 if protocol in _ICMP else None)
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"{where}.{key}", value, f"a whole number ({protocol} needs ports)")
            ports.append(value)
        low, high = ports
        if protocol in _PORTED:
            if (low, high) != (-1, -1) and not 0 <= low <= high <= 65535:
                allowed = "0 <= FromPort <= ToPort <= 65535"
                self.fail(f"{where}.FromPort/ToPort", [low, high], allowed)
        elif not (-1 <= low <= 255 and -1 <= high <= 255):
            self.fail(f"{where}.FromPort/ToPort", [low, high], "an ICMP type and code (-1 for all)")
        return (low, high)

    def _peer(self, where: str, entry: Mapping, direction: str) -> tuple[str, str]:
        present = [(key, kind) for key, kind in _PEER_KEYS[direction] if key in entry]
        allowed = ", ".join(key for key, _ in _PEER_KEYS[direction])
        if len(present) != 1:
            self.fail(where, sorted(k for k, _ in present), f"exactly one of {allowed}")
        ((key, kind),) = present
        value = entry[key]
        if not isinstance(value, str):
            rendered = self.expression(value)
            if rendered.startswith("sg:"):
                return rendered, "sg"
            if rendered.startswith("pl:"):
                return rendered, "prefix-list"
            return rendered, "token"
        if kind in ("cidr4", "cidr6"):
            version = 4 if kind == "cidr4" else 6
            try:
                network = ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                network = None
            if network is None or network.version != version or "/" not in value:
                self.fail(f"{where}.{key}", value, f"an IPv{version} CIDR")
            return str(network), kind
        if key == "SourceSecurityGroupName":
            return f"sg-name:{value}", kind
        return value, kind


# --- rendering ---------------------------------------------------------------------------------

COLUMNS = (
    "group",
    "direction",
    "protocol",
    "ports",
    "source / destination",
    "world",
    "description",
)


def _row(rule: Rule, *, world: str) -> list[str]:
    description = rule.description
    if rule.origin != "inline":
        description = f"{description} ({rule.origin} rule)" if description else rule.origin
    return [
        rule.group,
        rule.direction,
        rule.protocol_text,
        rule.ports,
        rule.peer,
        world if rule.world_open else "",
        description,
    ]


def md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(sets: Sequence[TemplateRules], *, heading: str = "#") -> str:
    lines = [f"{heading} Security-group rules", ""]
    for rules in sets:
        lines += [f"{heading}# Stack `{rules.name}`", ""]
        if not rules.groups:
            lines += ["No security groups.", ""]
            continue
        for group_id in sorted(rules.groups):
            group = rules.groups[group_id]
            lines += [f"{heading}## `{group_id}`", ""]
            if group.description:
                lines += [md_cell(group.description), ""]
            members = [r for r in rules.sorted_rules() if r.group == group_id]
            if not members:
                lines += ["No rules.", ""]
                continue
            lines += [
                "| " + " | ".join(COLUMNS[1:]) + " |",
                "| " + " | ".join("---" for _ in COLUMNS[1:]) + " |",
            ]
            for rule in members:
                cells = _row(rule, world="**yes**")[1:]
                cells[3] = f"`{cells[3]}`"
                lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_table(sets: Sequence[TemplateRules]) -> str:
    rows = [[s.name, *_row(r, world="WORLD")] for s in sets for r in s.sorted_rules()]
    headers = ["stack", *COLUMNS]
    widths = [max(len(x) for x in column) for column in zip(headers, *rows, strict=False)]
    out = []
    for row in [headers, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def render_json(sets: Sequence[TemplateRules]) -> str:
    data = [
        {
            "stack": s.name,
            "groups": [asdict(s.groups[g]) for g in sorted(s.groups)],
            "rules": [r.to_json() for r in s.sorted_rules()],
        }
        for s in sets
    ]
    return json.dumps(data, indent=2) + "\n"


SNAPSHOT_PREFACE = """\
<!-- Generated by `make sg-snapshot` from the default configuration (cdk.json). Do not edit:
     a test fails when the synthesized template's rules differ from this file. -->
"""


def snapshot_markdown(sets: Sequence[TemplateRules]) -> str:
    """The committed rules file: the default stack's rules, and nothing that changes otherwise."""
    return SNAPSHOT_PREFACE + "\n" + render_markdown(sets)


# --- synthesizing ------------------------------------------------------------------------------


def cdk_json_context(checkout: Path) -> dict:
    try:
        return _cdk_json_context(checkout)
    except ConfigError as error:
        raise InputError(str(error)) from None


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """`-c KEY=VALUE` flags, refused (with this checkout's cdk.json) before anything synthesizes
    when a key is mistyped: `unknown context key ssh_cird; did you mean ssh_cidr?`."""
    overrides = parse_context_flags(pairs)
    check_known_keys([*cdk_json_context(ROOT), *overrides])
    return overrides


def checkout_context(defaults: Mapping[str, Any], overrides: Mapping[str, str]) -> dict:
    """A checkout's cdk.json context with the `-c` overrides that exist in that checkout.

    Every key has its row in cdk.json, so a key that the checkout's cdk.json does not list did
    not exist there (it came later): sg-diff applies `-c` to both sides, and an older side would
    refuse it. CDK keys (`@...` flags) always pass.
    """
    known = {k: v for k, v in overrides.items() if k in defaults or is_cdk_key(k)}
    return {**defaults, **known}


def synthesize(
    checkout: Path, outdir: Path, overrides: Mapping[str, str] | None = None
) -> list[Path]:
    """Run the checkout's own `app.py` (with this Python) and return the templates it wrote.

    The context is the checkout's cdk.json plus `overrides`, passed the way the CDK CLI passes it,
    so the checkout's code alone decides the template. Offline: no lookups, no credentials.
    """
    context = checkout_context(cdk_json_context(checkout), overrides or {})
    # Nothing inherited may point the checkout at other code or another context.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_") and k != "PYTHONPATH"}
    # The venv's Python runs the checkout's app.py, and jsii runs on this project's Node (an old
    # checkout may predate the pinned Node).
    env = tool_env(env)
    env.update(
        CDK_OUTDIR=str(outdir),
        CDK_CONTEXT_JSON=json.dumps(context),
        # The built-in CloudFormation validation never changes the template and the stack tests
        # run it; skipping it here saves about 2 s per synth. cdk-nag still runs.
        CDK_VALIDATION="false",
    )
    try:
        result = subprocess.run(
            [sys.executable, "app.py"],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"synthesizing {checkout} took longer than 600 s") from None
    if result.returncode != 0:
        raise InputError(f"synthesizing failed: {last_error_line(result.stderr)}")
    # The image stack sits in its stage's nested assembly (assembly-Image/): its build network's
    # group is reviewed like the workbench's.
    templates = sorted(outdir.rglob("*.template.json"))
    if not templates:
        raise InputError(f"synthesizing {checkout} wrote no *.template.json")
    return templates


def last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("error:")]
    if ours:
        return ours[-1].removeprefix("error:").strip()
    return lines[-1] if lines else "no output"


# --- command line ------------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage block) with a chosen exit status."""

    def __init__(self, *args: Any, error_status: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_status = error_status

    def error(self, message: str) -> NoReturn:
        self.exit(self.error_status, f"error: {message} (see {self.prog} --help)\n")


def write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing: a failed run never leaves half a rules file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def _default_templates(overrides: Mapping[str, str], fresh: bool, workdir: Path) -> list[Path]:
    if fresh or overrides:
        # cdk.out may hold another configuration's template: synthesize this one aside.
        return synthesize(ROOT, workdir / "cdk.out", overrides)
    stack = cdk_json_context(ROOT).get("stack_name", "Workbench")
    path = ROOT / "cdk.out" / f"{stack}.template.json"
    if not path.exists():
        synthesize(ROOT, ROOT / "cdk.out")
    return [path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m workbench sg-rules",
        description="List every ingress and egress rule of every security group in synthesized "
        "templates. Default: the stack's template in cdk.out/ (synthesized if missing).",
    )
    parser.add_argument("templates", nargs="*", metavar="TEMPLATE", type=Path)
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    add_context_option(parser, "context value on top of cdk.json (synthesizes afresh)")
    parser.add_argument(
        "--synth", action="store_true", help="synthesize afresh even if cdk.out/ has a template"
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help=f"write the rules file ({SNAPSHOT.name}) from the default configuration",
    )
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.context)
        if args.snapshot and (args.templates or overrides):
            raise InputError("--snapshot: takes no TEMPLATE and no -c: it is the default config")
        with tempfile.TemporaryDirectory(prefix="workbench-sg-rules-") as tmp:
            if args.snapshot:
                paths = synthesize(ROOT, Path(tmp) / "cdk.out")
                sets = [parse_template(load_template(p), name=stack_name_of(p)) for p in paths]
                write_atomically(args.output or SNAPSHOT, snapshot_markdown(sets))
                print(f"wrote {args.output or SNAPSHOT.name}", file=sys.stderr)
                return 0
            paths = args.templates or _default_templates(overrides, args.synth, Path(tmp))
            sets = [parse_template(load_template(p), name=stack_name_of(p)) for p in paths]
    except (InputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    render = {"table": render_table, "markdown": render_markdown, "json": render_json}
    text = render[args.format](sets)
    if args.output:
        write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
