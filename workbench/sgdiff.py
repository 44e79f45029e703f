"""Security-group changes between two versions of the stack, judged for exposure.

`python -m workbench sg-diff OLD NEW` compares the security-group rules of two templates. OLD and
NEW are template files, checkouts (a directory with `app.py`), cloud assemblies (`cdk.out/`) or git
refs; a ref is checked out into a temporary worktree and synthesized there by its own `app.py`
with the same context. It prints Markdown with a one-line verdict at the top and exits

    0  no security-group changes
    1  changes, none of which widens exposure
    2  at least one change widens exposure
    3  bad input (one line on stderr: a template that is not JSON, a ref that does not exist, ...)

A change widens exposure when the new version allows traffic that the old one did not allow by
any rule of the same group and direction: a new rule, a CIDR or port range that grew, a source
that became world-open, all-protocol rules. Logical IDs of groups are matched across versions
(exactly, then ignoring CDK's hash suffix, then by description) so a moved construct is not
reported as a removed and a new group.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.config import ConfigError, add_context_option
from workbench.sgrules import (
    EGRESS,
    INGRESS,
    ROOT,
    Group,
    InputError,
    OneLineParser,
    Rule,
    TemplateRules,
    load_template,
    md_cell,
    parse_overrides,
    parse_template,
    rule_order,
    stack_name_of,
    synthesize,
    write_atomically,
)

NO_CHANGES, NARROWS_ONLY, WIDENS, BAD_INPUT = 0, 1, 2, 3
# CDK appends 8 upper-case hex digits of the construct path's hash to logical IDs.
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True, kw_only=True)
class Change:
    kind: str
    """`added`, `removed` or `changed`."""
    old: Rule | None
    new: Rule | None
    widens: bool
    narrows: bool
    why: tuple[str, ...]

    @property
    def rule(self) -> Rule:
        rule = self.new or self.old
        assert rule is not None
        return rule


@dataclass(frozen=True, kw_only=True)
class GroupChange:
    kind: str
    """`added`, `removed`, `renamed` (logical ID changed) or `description`."""
    old: Group | None
    new: Group | None

    @property
    def replaces(self) -> bool:
        """CloudFormation replaces a group whose logical ID or description changes."""
        return self.kind in ("renamed", "description")


@dataclass(frozen=True, kw_only=True)
class Diff:
    old_label: str
    new_label: str
    changes: tuple[Change, ...]
    groups: tuple[GroupChange, ...]

    @property
    def count(self) -> int:
        # New and removed groups show through their rules; a replacement is a change of its own.
        return len(self.changes) + sum(1 for g in self.groups if g.replaces)

    @property
    def widening(self) -> int:
        return sum(1 for c in self.changes if c.widens)

    @property
    def exit_status(self) -> int:
        if self.widening:
            return WIDENS
        return NARROWS_ONLY if self.count else NO_CHANGES

    @property
    def verdict(self) -> str:
        if not self.count:
            return "no security group changes"
        n, m = self.count, self.widening
        return (
            f"{n} {'change' if n == 1 else 'changes'}, "
            f"{m} {'widens' if m == 1 else 'widen'} exposure"
        )


# --- matching ----------------------------------------------------------------------------------


def match_groups(old: Mapping[str, Group], new: Mapping[str, Group]) -> dict[str, str]:
    """Old logical ID -> new logical ID for each group found in both versions."""
    mapping = {g: g for g in old if g in new}
    strategies: tuple[Callable[[Group], str], ...] = (
        lambda group: _HASH_SUFFIX.sub("", group.id),
        lambda group: group.description,
    )
    for key in strategies:
        rest_old = [g for g in old.values() if g.id not in mapping and _local(g)]
        rest_new = [g for g in new.values() if g.id not in mapping.values() and _local(g)]
        counts_old = Counter(key(g) for g in rest_old)
        by_key_new = {}
        counts_new = Counter()
        for group in rest_new:
            counts_new[key(group)] += 1
            by_key_new[key(group)] = group.id
        for group in rest_old:
            k = key(group)
            if k and counts_old[k] == 1 and counts_new[k] == 1:
                mapping[group.id] = by_key_new[k]
    return mapping


def _local(group: Group) -> bool:
    return not group.id.startswith("external:")


def _rename(rule: Rule, mapping: Mapping[str, str]) -> Rule:
    peer = rule.peer
    if peer.startswith("sg:") and peer[3:] in mapping:
        peer = "sg:" + mapping[peer[3:]]
    return dataclasses.replace(rule, group=mapping.get(rule.group, rule.group), peer=peer)


def _family(rule: Rule) -> str:
    return rule.peer_kind if rule.peer_kind in ("cidr4", "cidr6") else "other"


def _full(r: Rule) -> tuple:
    return (*_same_traffic(r), r.description)


def _same_traffic(r: Rule) -> tuple:
    return (r.group, r.direction, r.protocol, r.from_port, r.to_port, r.peer)


def _same_ports(r: Rule) -> tuple:
    return (r.group, r.direction, r.protocol, r.from_port, r.to_port, _family(r))


def _same_peer(r: Rule) -> tuple:
    return (r.group, r.direction, r.protocol, r.peer)


def _same_peer_any_protocol(r: Rule) -> tuple:
    return (r.group, r.direction, r.peer)


def _same_description(r: Rule) -> tuple:
    return (r.group, r.direction, r.description) if r.description else ("", id(r))


def pair_rules(
    old: Sequence[Rule], new: Sequence[Rule]
) -> tuple[list[tuple[Rule, Rule]], list[Rule], list[Rule]]:
    """(changed pairs, removed, added); identical rules drop out.

    Pairs form in order of how much of a rule stays the same: only the description changed, then
    only the peer (an ssh_cidr change), then only the ports, then only the peer is the same, then
    the description ties them.
    """
    old_left, new_left = list(old), list(new)
    pairs: list[tuple[Rule, Rule]] = []
    for index, key in enumerate(
        (
            _full,
            _same_traffic,
            _same_ports,
            _same_peer,
            _same_peer_any_protocol,
            _same_description,
        )
    ):
        waiting: dict[tuple, list[Rule]] = {}
        for rule in new_left:
            waiting.setdefault(key(rule), []).append(rule)
        still_old = []
        for rule in old_left:
            candidates = waiting.get(key(rule))
            if candidates:
                partner = candidates.pop(0)
                new_left.remove(partner)
                if index:
                    pairs.append((rule, partner))
            else:
                still_old.append(rule)
        old_left = still_old
    return pairs, old_left, new_left


# --- judging -----------------------------------------------------------------------------------


def covered(rule: Rule, others: Iterable[Rule]) -> bool:
    """Whether the traffic `rule` allows is all allowed by `others` (same group and direction)."""
    family, low, high = rule.address_space()
    first, last = rule.span()
    candidates = []
    for other in others:
        if (other.group, other.direction) != (rule.group, rule.direction):
            continue
        if other.protocol != rule.protocol and other.protocol != "all":
            continue
        other_family, other_low, other_high = other.address_space()
        if other_family != family:
            continue
        span = other.span() if other.protocol == rule.protocol else (0, 65535)
        candidates.append((span, (other_low, other_high)))
    # Split the rule's ports where any candidate starts or ends; each slice must be covered in
    # full by the addresses of the candidates that cover that slice.
    cuts = {first}
    for (start, end), _ in candidates:
        if first < start <= last:
            cuts.add(start)
        if first <= end < last:
            cuts.add(end + 1)
    for cut in sorted(cuts):
        addresses = sorted(a for (start, end), a in candidates if start <= cut <= end)
        reach = low
        for a_low, a_high in addresses:
            if a_low > reach:
                break
            reach = max(reach, a_high + 1)
        if reach <= high:
            return False
    return True


def _grew(old: Rule, new: Rule) -> tuple[bool, bool]:
    """(CIDR grew, CIDR shrank) for two CIDR peers of one family."""
    if old.peer_kind != new.peer_kind or old.peer_kind not in ("cidr4", "cidr6"):
        return (False, False)
    a, b = ipaddress.ip_network(old.peer), ipaddress.ip_network(new.peer)
    return (a != b and a.subnet_of(b), a != b and b.subnet_of(a))  # type: ignore[arg-type]


def _span_grew(old: Rule, new: Rule) -> tuple[bool, bool]:
    if old.protocol != new.protocol:
        return (False, False)
    (a, b), (c, d) = old.span(), new.span()
    return ((c, d) != (a, b) and c <= a and b <= d, (c, d) != (a, b) and a <= c and d <= b)


def widening_reasons(old: Rule | None, new: Rule) -> list[str]:
    reasons = []
    if new.world_open and (old is None or not old.world_open):
        if old is not None:
            reasons.append("became world-open")
        else:
            reasons.append(
                f"new world-open {'port' if new.direction == 'ingress' else 'destination'}"
            )
    if new.peer == "::/0" and (old is None or old.peer != "::/0"):
        reasons.append("IPv6 ::/0")
    if new.protocol == "all" and (old is None or old.protocol != "all"):
        reasons.append("all traffic (protocol -1)")
    if old is not None:
        if _grew(old, new)[0]:
            reasons.append(f"CIDR grew from {old.peer}")
        if _span_grew(old, new)[0]:
            reasons.append(f"port range grew from {old.ports}")
    if not reasons:
        reasons.append("new rule" if old is None else "allows traffic it did not allow before")
    if new.origin == "standalone" and (old is None or old.origin != "standalone"):
        kind = INGRESS if new.direction == "ingress" else EGRESS
        reasons.append(f"standalone {kind}")
    if new.direction == "egress":
        reasons.insert(0, "egress")
    return reasons


def narrowing_reasons(old: Rule, new: Rule | None) -> list[str]:
    if new is None:
        return ["rule removed" + (" (was world-open)" if old.world_open else "")]
    reasons = []
    if old.world_open and not new.world_open:
        reasons.append("no longer world-open")
    if _grew(old, new)[1]:
        reasons.append(f"CIDR shrank from {old.peer}")
    if _span_grew(old, new)[1]:
        reasons.append(f"port range shrank from {old.ports}")
    return reasons or ["allows less than before"]


def judge(
    kind: str, old: Rule | None, new: Rule | None, before: Sequence[Rule], after: Sequence[Rule]
) -> Change:
    widens = new is not None and not covered(new, before)
    narrows = old is not None and not covered(old, after)
    why: list[str] = []
    if widens:
        assert new is not None
        why += widening_reasons(old, new)
    if narrows:
        assert old is not None
        why += [f"narrows: {r}" if widens else r for r in narrowing_reasons(old, new)]
    if not why:
        if old is not None and new is not None and _same_traffic(old) == _same_traffic(new):
            why.append("description only")
        elif kind == "added":
            why.append("already allowed by other rules")
        elif kind == "removed":
            why.append("still allowed by other rules")
        else:
            why.append("allows the same traffic")
    if (widens or narrows) and (new or old).direction == "egress" and "egress" not in why:
        why.insert(0, "egress")
    return Change(kind=kind, old=old, new=new, widens=widens, narrows=narrows, why=tuple(why))


def diff(old: TemplateRules, new: TemplateRules, *, old_label: str, new_label: str) -> Diff:
    mapping = match_groups(old.groups, new.groups)
    before = [_rename(r, mapping) for r in old.rules]
    after = list(new.rules)
    pairs, removed, added = pair_rules(before, after)
    changes = [judge("changed", o, n, before, after) for o, n in pairs]
    changes += [judge("removed", o, None, before, after) for o in removed]
    changes += [judge("added", None, n, before, after) for n in added]
    changes.sort(key=lambda c: (not c.widens, not c.narrows, rule_order(c.rule), c.kind))
    groups = []
    for old_id, group in sorted(old.groups.items()):
        if old_id not in mapping:
            groups.append(GroupChange(kind="removed", old=group, new=None))
            continue
        match = new.groups[mapping[old_id]]
        if match.id != old_id:
            groups.append(GroupChange(kind="renamed", old=group, new=match))
        if match.description != group.description and _local(group):
            groups.append(GroupChange(kind="description", old=group, new=match))
    matched = set(mapping.values())
    groups += [
        GroupChange(kind="added", old=None, new=g)
        for k, g in sorted(new.groups.items())
        if k not in matched
    ]
    return Diff(
        old_label=old_label, new_label=new_label, changes=tuple(changes), groups=tuple(groups)
    )


# --- Markdown ----------------------------------------------------------------------------------

_HEADERS = (
    "change",
    "group",
    "direction",
    "protocol",
    "ports",
    "source / destination",
    "description",
    "why",
)


def _cell(change: Change, read: Callable[[Rule], str]) -> str:
    old = read(change.old) if change.old else None
    new = read(change.new) if change.new else None
    if old is not None and new is not None and old != new:
        return f"{md_cell(old)} → **{md_cell(new)}**"
    return md_cell(new if new is not None else old or "")


def _change_row(change: Change) -> str:
    rule = change.rule
    direction = "**egress** (outbound)" if rule.direction == "egress" else "ingress"
    cells = [
        change.kind,
        f"`{rule.group}`",
        direction,
        _cell(change, lambda r: r.protocol_text),
        _cell(change, lambda r: r.ports),
        _cell(change, lambda r: r.peer + (" (world)" if r.world_open else "")),
        _cell(change, lambda r: r.description or "-"),
        ("**widens**: " if change.widens else "") + md_cell("; ".join(change.why)),
    ]
    return "| " + " | ".join(cells) + " |"


def render_markdown(result: Diff) -> str:
    lines = [f"**Security groups: {result.verdict}**", ""]
    lines += [f"Old: {result.old_label}; new: {result.new_label}.", ""]
    if not result.count:
        return "\n".join(lines).rstrip() + "\n"
    sections = (
        ("Widens exposure", [c for c in result.changes if c.widens]),
        ("Narrows exposure", [c for c in result.changes if c.narrows and not c.widens]),
        ("Same exposure", [c for c in result.changes if not c.widens and not c.narrows]),
    )
    for title, members in sections:
        if not members:
            continue
        lines += [f"#### {title} ({len(members)})", ""]
        lines += ["| " + " | ".join(_HEADERS) + " |", "|" + " --- |" * len(_HEADERS)]
        lines += [_change_row(c) for c in members]
        lines.append("")
    if any(c.rule.direction == "egress" for c in result.changes):
        lines += [
            "Egress rules limit traffic *from* the instance to other hosts; a widened egress rule "
            "lets the instance reach more, it does not let more reach the instance.",
            "",
        ]
    if result.groups:
        lines += ["#### Groups", ""]
        for g in result.groups:
            lines.append(f"- {_group_line(g)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _group_line(change: GroupChange) -> str:
    old, new = change.old, change.new
    if change.kind == "added":
        assert new is not None
        return f"new group `{new.id}`: {md_cell(new.description)}"
    if change.kind == "removed":
        assert old is not None
        return f"removed group `{old.id}`: {md_cell(old.description)}"
    assert old is not None and new is not None
    if change.kind == "renamed":
        return (
            f"`{old.id}` is now `{new.id}`: the logical ID changed, so CloudFormation replaces "
            "the group (and updates every instance that uses it)"
        )
    return (
        f'`{new.id}`: description changed from "{md_cell(old.description)}" to '
        f'"{md_cell(new.description)}": CloudFormation replaces the group'
    )


# --- inputs: files, checkouts, cloud assemblies, git refs --------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120
    )


def resolve_ref(repo: Path, spec: str) -> str | None:
    """The commit `spec` names in `repo`, or None."""
    commit = f"{spec}^{{commit}}"
    result = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", commit)
    return result.stdout.strip() if result.returncode == 0 else None


def _merge(sets: Sequence[TemplateRules]) -> TemplateRules:
    """One rule set for one side; with several stacks, group IDs carry the stack's name."""
    if len(sets) == 1:
        return sets[0]
    groups: dict[str, Group] = {}
    rules: list[Rule] = []
    for s in sets:
        mapping = {g: f"{s.name}/{g}" for g in s.groups}
        for old_id, group in s.groups.items():
            groups[mapping[old_id]] = dataclasses.replace(group, id=mapping[old_id])
        rules += [_rename(r, mapping) for r in s.rules]
    return TemplateRules(name="+".join(s.name for s in sets), groups=groups, rules=tuple(rules))


def _read(paths: Sequence[Path]) -> TemplateRules:
    return _merge([parse_template(load_template(p), name=stack_name_of(p)) for p in paths])


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of the diff, located but not yet read: a template file, a cdk.out directory, a
    checkout, or a commit. Both sides are located before either is synthesized, so a mistyped
    ref fails at once, not after the other side's synth."""

    spec: str
    kind: str  # "templates", "checkout" or "commit"
    label: str
    paths: tuple[Path, ...] = ()
    commit: str = ""


def locate_side(spec: str, *, repo: Path) -> Side:
    path = Path(spec)
    if path.is_file():
        return Side(spec, "templates", f"`{spec}`", (path,))
    if path.is_dir():
        if (path / "app.py").is_file() and (path / "cdk.json").is_file():
            label = "the working tree" if path.resolve() == ROOT else f"checkout `{spec}`"
            return Side(spec, "checkout", label, (path,))
        templates = sorted(path.rglob("*.template.json"))  # stages' nested assemblies too
        if templates:
            return Side(spec, "templates", f"`{spec}`", tuple(templates))
        raise InputError(f"{spec!r} is a directory without app.py or *.template.json")
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise InputError(f"{spec!r} is not a template file, and {repo} is not a git repository")
    commit = resolve_ref(repo, spec)
    if commit is None:
        raise InputError(f"{spec!r} is neither a template file nor a git ref in {repo}")
    return Side(spec, "commit", f"`{spec}` ({commit[:7]})", commit=commit)


def read_side(
    side: Side, *, repo: Path, overrides: Mapping[str, str], workdir: Path
) -> TemplateRules:
    """The rules of a located side (a checkout or a commit is synthesized first)."""
    if side.kind == "templates":
        return _read(side.paths)
    if side.kind == "checkout":
        return _read(synthesize(side.paths[0], workdir / "cdk.out", overrides))
    checkout = workdir / "checkout"
    added = _git(repo, "worktree", "add", "--detach", "--quiet", str(checkout), side.commit)
    if added.returncode != 0:
        raise InputError(f"git worktree add {side.spec} failed: {added.stderr.strip()}")
    try:
        return _read(synthesize(checkout, workdir / "cdk.out", overrides))
    finally:
        # Whatever happened, leave the repository without the temporary worktree.
        if _git(repo, "worktree", "remove", "--force", str(checkout)).returncode != 0:
            shutil.rmtree(checkout, ignore_errors=True)
            _git(repo, "worktree", "prune")


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m workbench sg-diff",
        description="Security-group changes from OLD to NEW in Markdown, judged for exposure. "
        "OLD and NEW: template files, checkouts (. is the working tree), cdk.out directories or "
        "git refs. Exit 0: no changes; 1: changes that do not widen exposure; 2: widening; "
        "3: bad input.",
        error_status=BAD_INPUT,
    )
    parser.add_argument("old", metavar="OLD")
    parser.add_argument("new", metavar="NEW")
    add_context_option(parser, "context value on top of each side's cdk.json, for both sides")
    parser.add_argument(
        "--repo", type=Path, default=ROOT, help="git repository that refs name (default: this one)"
    )
    parser.add_argument("-o", "--output", type=Path, help="write the Markdown here as well")
    args = parser.parse_args(argv)
    roles = (("OLD", args.old), ("NEW", args.new))
    rules = []
    try:
        overrides = parse_overrides(args.context)
        located = []
        for role, spec in roles:
            try:
                located.append((role, locate_side(spec, repo=args.repo)))
            except InputError as error:
                raise InputError(f"{role}: {error}") from None
        for role, side in located:
            with tempfile.TemporaryDirectory(prefix="workbench-sg-diff-") as tmp:
                try:
                    rules.append(
                        read_side(side, repo=args.repo, overrides=overrides, workdir=Path(tmp))
                    )
                except InputError as error:
                    raise InputError(f"{role}: {error}") from None
    except (InputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    (_, old_side), (_, new_side) = located
    old, new = rules
    result = diff(old, new, old_label=old_side.label, new_label=new_side.label)
    text = render_markdown(result)
    sys.stdout.write(text)
    if args.output:
        write_atomically(args.output, text)
    return result.exit_status
