"""CPU-seconds of process trees, from Linux /proc (what psutil would read, without it)."""

from __future__ import annotations

from pathlib import Path

from bench.actions import process_cpu_seconds


def children(pid: int) -> list[int]:
    """The live children of ``pid`` (every thread's list)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int, *, excluding: frozenset[int] = frozenset()) -> list[int]:
    """``pid`` and its live descendants, less the subtrees rooted at ``excluding``."""
    if pid in excluding:
        return []
    pids = [pid]
    for child in children(pid):
        pids += tree(child, excluding=excluding)
    return pids


def snapshot(pid: int, *, excluding: frozenset[int] = frozenset()) -> dict[int, float]:
    """CPU so far of each process of the tree (its own and its reaped children's)."""
    seconds = {
        p: process_cpu_seconds(p, reaped_children=True) for p in tree(pid, excluding=excluding)
    }
    return {p: s for p, s in seconds.items() if s is not None}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU-seconds the tree spent between two snapshots (a process new since counts whole)."""
    return sum(s - before.get(p, 0.0) for p, s in after.items())
