"""Airflow components as processes of their own, each in its own process group.

A component forks (API server workers, task runners, LocalExecutor workers, log
servers); stopping its whole process group stops them all, where stopping only the
leader would leave them running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on every interface (Airflow's log servers bind
    ``[::]``/``0.0.0.0``) and nothing answers on 127.0.0.1."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


@dataclass
class Component:
    """One Airflow command (``airflow <args>``) and everything it forks, logging to a file."""

    name: str
    args: tuple[str, ...]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, env: Mapping[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as handle:
            self.process = subprocess.Popen(
                [AIRFLOW, *self.args],
                env={**env, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a process group of its own, stopped as one
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 15.0) -> None:
        stop_all([self], grace=grace)

    def kill(self) -> None:
        """SIGKILL the component and everything it started, as when its host dies."""
        stop_all([self], grace=0, first_signal=signal.SIGKILL)

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def stop_all(
    components: Iterable[Component], *, grace: float = 6.0, first_signal: int = signal.SIGTERM
) -> None:
    """SIGTERM every component's process group at once, SIGKILL what is left after
    ``grace`` seconds, and reap.

    Task runners put the task in a process group of its own, so the descendants seen
    before stopping are killed too if they outlive their component.
    """
    components = [c for c in components if c.process is not None]
    descendants = [p for c in components for p in _descendants(c)]
    for component in components:
        component.signal_group(first_signal)
    if first_signal == signal.SIGKILL:
        for process in descendants:
            with contextlib.suppress(psutil.Error):
                process.kill()
    deadline = time.monotonic() + grace
    for component in components:
        assert component.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for component in components:
        component.signal_group(signal.SIGKILL)
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            process.kill()
    for component in components:
        assert component.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.process.wait(timeout=3)


def _descendants(component: Component) -> list[psutil.Process]:
    assert component.process is not None
    try:
        return psutil.Process(component.process.pid).children(recursive=True)
    except psutil.Error:
        return []
