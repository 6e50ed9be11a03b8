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


MEMORY_LIMIT_MIB = 512  # deploy/helm/batch-service/values.yaml: resources.limits.memory
_LONG_LIFE_S = 300  # an instance that lived this long shows where its memory settles


def memory_verdict(samples: list[Sample]) -> tuple[bool, str]:
    """Bounded: every instance's peak resident size stays below the chart's memory limit, and
    at least one instance lived five minutes (else nothing was judged).

    Not "flat" in the strict sense, and on purpose: resident size (`VmRSS`) steps up, and
    seldom comes down (CPython keeps most memory it freed), as the document cache fills
    (5,000 learners: minutes at the soak's pace) and with the largest poll (a backlog after
    an outage brings polls of up to `poll_backlog_records`), both bounded. Each long-lived
    instance's first and second half are reported beside the verdict; the plot shows the
    steps."""
    lives: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for pid, rss in s.rss_mib.items():
            lives.setdefault(pid, []).append((s.t, rss))
    lines, bounded, judged = [], True, False
    for pid, points in lives.items():
        peak = max(r for _, r in points)
        bounded &= peak < MEMORY_LIMIT_MIB
        line = f"pid {pid}: peak {peak:.0f} MiB"
        start, end = points[0][0], points[-1][0]
        if end - start >= _LONG_LIFE_S:
            judged = True
            middle = (start + end) / 2
            first = max(r for t, r in points if t < middle)
            second = max(r for t, r in points if t >= middle)
            line += f" ({first:.0f} -> {second:.0f} MiB by halves of {end - start:.0f} s)"
        lines.append(line)
    if not judged:
        return False, "no instance lived five minutes: memory not judged"
    verdict = "bounded" if bounded else f"OVER the {MEMORY_LIMIT_MIB} MiB limit"
    return bounded, f"{verdict}: " + "; ".join(lines)


def report(soak: Soak) -> str:
    r = soak.result
    kinds = Counter(what.split(" (")[0].split(" for ")[0] for _, what in soak.faults)
    lags = [s.lag for s in soak.samples]
    bounded, memory = memory_verdict(soak.samples)
    rows = [
        ("seed", str(soak.seed)),
        ("duration", f"{r.seconds / 60:.1f} min (faults for {soak.minutes:.0f} min)"),
        ("instances", f"{soak.instances} in one group"),
        ("facts published", f"{soak.facts:,} (20 % duplicates included)"),
        ("faults", f"{len(soak.faults)}: " + ", ".join(f"{k} x{n}" for k, n in kinds.items())),
        ("lag", f"max {max(lags, default=0):,}, last {lags[-1] if lags else 0:,} records"),
        ("caught up after the last fault", f"{soak.caught_up_s:.0f} s"),
        ("memory", memory),
        ("documents exact", str(r.docs_exact)),
        (
            "certificates",
            f"expected {r.expected}, received {r.received}, repeats {r.repeats}, "
            f"missing {r.missing}, extra {r.extra}",
        ),
        ("dead letters", str(r.dead_letters)),
        ("problems", "; ".join(r.problems) or "none"),
        ("result", "PASS" if r.ok and bounded else "FAIL"),
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
