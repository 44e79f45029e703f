"""`python -m workbench <command> [args]`: the workbench's command-line tools.

Each command is a module with `main(argv) -> int` that parses its own arguments (so its bad-input
rules and exit statuses stay with it). Adding a command is one line in COMMANDS; modules load only
when their command runs, so `--help` stays fast and no command pays for another's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module with main(argv) -> int, one line for the help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sg-rules": ("workbench.sgrules", "every security-group rule of synthesized templates"),
    "sg-diff": ("workbench.sgdiff", "security-group changes between templates or git refs"),
    "doctor": ("workbench.doctor", "find where traffic stops: DNS, firewall, proxy, service"),
    "local": ("workbench.local.mode", "the whole workbench on this machine, no AWS account"),
}


def _parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="python -m workbench",
        usage="python -m workbench COMMAND [ARGS]",
        description="The workbench's tools. `python -m workbench COMMAND --help` for each.",
        epilog=f"commands:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command {name!r}; expected one of {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return module.main(rest)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
