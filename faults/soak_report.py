"""What a soak saw (`faults.soak`), and its report: the table, the memory verdict, the plot."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from faults.runner import RunResult

__all__ = ["Sample", "Soak", "memory_verdict", "plot", "report"]


@dataclass
class Sample:
    """One moment of the run."""

    t: float
    lag: int
    rss_mib: dict[str, float]


@dataclass
class Soak:
    """What a soak saw."""

    seed: int
    minutes: float
    facts: int = 0
    instances: int = 0
    faults: list[tuple[float, str]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    caught_up_s: float = 0.0
    result: RunResult = field(default_factory=RunResult)


def memory_verdict(samples: list[Sample]) -> tuple[bool, str]:
    """Flat: for each instance sampled over at least two minutes, its largest RSS in the second
    half of its life is within 25 % of its largest in the first half (after a minute's
    warm-up: the document cache and the buffers fill first)."""
    lives: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for pid, rss in s.rss_mib.items():
            lives.setdefault(pid, []).append((s.t, rss))
    lines, flat = [], True
    for pid, points in lives.items():
        if points[-1][0] - points[0][0] < 120:
            continue
        settled = [p for p in points if p[0] >= points[0][0] + 60]
        half = len(settled) // 2
        first, second = max(r for _, r in settled[:half]), max(r for _, r in settled[half:])
        ok = second <= first * 1.25
        flat &= ok
        lines.append(f"pid {pid}: {first:.0f} -> {second:.0f} MiB ({'flat' if ok else 'GROWS'})")
    if not lines:
        return False, "no instance lived two minutes: memory not judged"
    return flat, "; ".join(lines)


def report(soak: Soak) -> str:
    r = soak.result
    kinds = Counter(what.split(" (")[0].split(" for ")[0] for _, what in soak.faults)
    lags = [s.lag for s in soak.samples]
    flat, memory = memory_verdict(soak.samples)
    rows = [
        ("seed", str(soak.seed)),
        ("duration", f"{r.seconds / 60:.1f} min (faults for {soak.minutes:.0f} min)"),
        ("instances", f"{soak.instances} in one group"),
        ("facts published", f"{soak.facts:,} (20 % duplicates included)"),
        ("faults", f"{len(soak.faults)}: " + ", ".join(f"{k} x{n}" for k, n in kinds.items())),
        ("lag", f"max {max(lags, default=0):,}, last {lags[-1] if lags else 0:,} records"),
        ("caught up after the last fault", f"{soak.caught_up_s:.0f} s"),
        ("memory", f"{'flat' if flat else 'NOT flat'}: {memory}"),
        ("documents exact", str(r.docs_exact)),
        (
            "certificates",
            f"expected {r.expected}, received {r.received}, repeats {r.repeats}, "
            f"missing {r.missing}, extra {r.extra}",
        ),
        ("dead letters", str(r.dead_letters)),
        ("problems", "; ".join(r.problems) or "none"),
        ("result", "PASS" if r.ok and flat else "FAIL"),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def plot(soak: Soak, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lag_ax, rss_ax) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    lag_ax.plot([s.t for s in soak.samples], [s.lag for s in soak.samples], linewidth=1.2)
    lag_ax.set_ylabel("group lag (records)")
    pids = sorted({pid for s in soak.samples for pid in s.rss_mib})
    for pid in pids:
        points = [(s.t, s.rss_mib[pid]) for s in soak.samples if pid in s.rss_mib]
        rss_ax.plot([t for t, _ in points], [r for _, r in points], linewidth=1, label=pid)
    rss_ax.set_ylabel("RSS per instance (MiB)")
    rss_ax.set_xlabel("seconds")
    for at, _ in soak.faults:
        for ax in (lag_ax, rss_ax):
            ax.axvline(at, color="grey", linestyle=":", linewidth=0.7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
