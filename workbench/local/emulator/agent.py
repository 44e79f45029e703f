"""What "boots" on an emulated instance: the instance agent hook.

An emulated instance has no machine behind it. By default nothing runs on it, and the wait
condition completes at once, as if signalled (how `make local` deploys through the real CDK CLI).
A test can register an agent: then the emulator calls it when an instance launches or starts
(`boot`) and when an SSM association runs a command on it (`run`), each in a thread of its own,
as a machine would run them, and when it stops or terminates (`halt`: what runs on it ends); and
a wait condition waits for a signal at its handle's URL (workbench/local/emulator/signals.py)
instead of completing at once.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Agent(Protocol):
    def boot(self, instance_id: str, *, account: str, region: str) -> None:
        """The instance is running: what its user data would do at this boot."""

    def run(self, instance_id: str, commands: list[str], *, account: str, region: str) -> None:
        """State Manager sends the instance an association's commands (AWS-RunShellScript)."""

    def halt(self, instance_id: str) -> None:
        """The instance stops or terminates: whatever still runs on it ends."""


_agent: list[Agent] = []
_threads: list[threading.Thread] = []


def register_agent(agent: Agent | None) -> None:
    """Make `agent` what runs on every emulated instance (None: nothing does)."""
    _agent.clear()
    if agent is not None:
        _agent.append(agent)


def current_agent() -> Agent | None:
    return _agent[0] if _agent else None


def _spawn(name: str, target, *args, **kwargs) -> None:
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=name, daemon=True)
    _threads.append(thread)
    thread.start()


def booted(instance_id: str, *, account: str, region: str) -> None:
    """Called by the Instance model when an instance launches or starts."""
    agent = current_agent()
    if agent is not None:
        _spawn(f"boot {instance_id}", agent.boot, instance_id, account=account, region=region)


def halted(instance_id: str) -> None:
    """Called by the emulator's EC2 when an instance stops or terminates (synchronously: nothing
    of it runs once EC2 says it is stopped)."""
    agent = current_agent()
    if agent is not None:
        agent.halt(instance_id)


def send_command(instance_id: str, commands: list[str], *, account: str, region: str) -> None:
    """Called by the Association model when an association is created or updated."""
    agent = current_agent()
    if agent is not None:
        _spawn(
            f"run {instance_id}", agent.run, instance_id, commands, account=account, region=region
        )


def wait_idle(timeout: float = 30) -> None:
    """Wait for every boot and run started so far (tests, before they look)."""
    while _threads:
        _threads.pop(0).join(timeout)
