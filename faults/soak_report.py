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


MEMORY_LIMIT_MIB = 512  # the Helm chart's memory limit for an instance
# An instance's document cache (5,000 learners) fills at the rate new learners reach it: at the
# soak's pace, about a third of the stream per instance, that takes minutes; it grows until then.
WARM_UP_S = 180


def memory_verdict(samples: list[Sample], load_end_s: float) -> tuple[bool, str]:
    """Flat under the same load, and bounded. For each instance that lived through at least
    two minutes of the faults phase after its warm-up (`WARM_UP_S`: the document cache and
    the buffers fill first), its largest resident size in the second half of that stretch is
    within 25 % of its largest in the first half; and every instance's peak, the catch-up
    after the faults included (larger polls: a different load), is below the chart's memory
    limit."""
    lives: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for pid, rss in s.rss_mib.items():
            lives.setdefault(pid, []).append((s.t, rss))
    lines, ok, judged = [], True, False
    for pid, points in lives.items():
        peak = max(r for _, r in points)
        ok &= peak < MEMORY_LIMIT_MIB
        line = f"pid {pid}: peak {peak:.0f} MiB"
        settled = [(t, r) for t, r in points if points[0][0] + WARM_UP_S <= t <= load_end_s]
        if settled and settled[-1][0] - settled[0][0] >= 120:
            middle = (settled[0][0] + settled[-1][0]) / 2
            first = max(r for t, r in settled if t < middle)
            second = max(r for t, r in settled if t >= middle)
            flat = second <= first * 1.25
            ok &= flat
            judged = True
            line += (
                f", under faults {first:.0f} -> {second:.0f} MiB ({'flat' if flat else 'GROWS'})"
            )
        lines.append(line)
    if not judged:
        return False, "no instance lived three minutes under faults: memory not judged"
    return ok, "; ".join(lines)


def report(soak: Soak) -> str:
    r = soak.result
    kinds = Counter(what.split(" (")[0].split(" for ")[0] for _, what in soak.faults)
    lags = [s.lag for s in soak.samples]
    bounded, memory = memory_verdict(soak.samples, soak.minutes * 60)
    rows = [
        ("seed", str(soak.seed)),
        ("duration", f"{r.seconds / 60:.1f} min (faults for {soak.minutes:.0f} min)"),
        ("instances", f"{soak.instances} in one group"),
        ("facts published", f"{soak.facts:,} (20 % duplicates included)"),
        ("faults", f"{len(soak.faults)}: " + ", ".join(f"{k} x{n}" for k, n in kinds.items())),
        ("lag", f"max {max(lags, default=0):,}, last {lags[-1] if lags else 0:,} records"),
        ("caught up after the last fault", f"{soak.caught_up_s:.0f} s"),
        ("memory", f"{'flat and bounded' if bounded else 'NOT flat or bounded'}: {memory}"),
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
