"""CPU time of Airflow's processes by component, between two snapshots.

A process's CPU time plus that of the children it has reaped counts every descendant
once: a task process, reaped by the executor worker that supervised it, is counted in
that worker. Processes are grouped by the title Airflow gives them.
"""

from __future__ import annotations

from collections import Counter

import psutil

#: (component, words of a process title that name it), first match wins.
COMPONENTS = (
    ("executor workers and tasks", ("LocalExecutor", "worker", "supervisor", "task runner")),
    ("scheduler", ("scheduler",)),
    ("DAG processor", ("dag-processor", "dag_processor", "DagFileProcessor")),
    ("API server", ("api-server", "api_server", "uvicorn")),
    ("triggerer", ("triggerer",)),
)

Snapshot = dict[int, tuple[str, float]]


def component_of(title: str) -> str:
    for component, words in COMPONENTS:
        if any(word in title for word in words):
            return component
    return "other"


def snapshot(root_pid: int) -> Snapshot:
    """CPU seconds (own and reaped children) of every live process under ``root_pid``."""
    taken: Snapshot = {}
    try:
        processes = [psutil.Process(root_pid), *psutil.Process(root_pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return taken
    for process in processes:
        try:
            with process.oneshot():
                times = process.cpu_times()
                title = " ".join(process.cmdline()) or process.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        used = times.user + times.system + times.children_user + times.children_system
        taken[process.pid] = (title, used)
    return taken


def by_component(before: Snapshot, after: Snapshot) -> Counter[str]:
    """CPU seconds each component used between the snapshots. A process that ended in
    between is counted in the one that reaped it."""
    used: Counter[str] = Counter()
    for pid, (title, seconds) in after.items():
        used[component_of(title)] += seconds - before.get(pid, (title, 0.0))[1]
    return used
