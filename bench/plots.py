"""The bench's PNG plots: C's rate over its run, R's progress over its run, and the latency
CDF (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_c_rate", "plot_latency_cdf", "plot_r_progress", "rate_series"]

_WINDOW_S = 10.0


def rate_series(
    samples: Sequence[tuple[float, int]], window_s: float = _WINDOW_S
) -> list[tuple[float, float]]:
    """(end of window, records per second over the window) from cumulative samples."""
    out: list[tuple[float, float]] = []
    if not samples:
        return out
    start_t, start_n = samples[0]
    for t, n in samples[1:]:
        if t - start_t >= window_s:
            out.append((t, (n - start_n) / (t - start_t)))
            start_t, start_n = t, n
    return out


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_c_rate(samples: Sequence[tuple[float, int]], title: str, path: Path) -> None:
    """Records committed per second (10-s windows) and in all, against seconds since the join."""
    plt = _pyplot()
    fig, rate_ax = plt.subplots(figsize=(8, 4))
    rates = rate_series(samples)
    rate_ax.plot([t for t, _ in rates], [r for _, r in rates], color="tab:blue")
    rate_ax.set_xlabel("seconds since the group join")
    rate_ax.set_ylabel("records committed / s (10 s windows)", color="tab:blue")
    rate_ax.set_ylim(bottom=0)
    total_ax = rate_ax.twinx()
    total_ax.plot([t for t, _ in samples], [n for _, n in samples], color="tab:gray", ls="--")
    total_ax.set_ylabel("records committed", color="tab:gray")
    rate_ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_r_progress(
    read: Sequence[tuple[float, int]],
    inserted: Sequence[tuple[float, int]],
    title: str,
    path: Path,
) -> None:
    """Records read (and spilled) and documents inserted, against seconds since the start."""
    plt = _pyplot()
    fig, read_ax = plt.subplots(figsize=(8, 4))
    read_ax.plot([t for t, _ in read], [n for _, n in read], color="tab:blue", marker=".")
    read_ax.set_xlabel("seconds since the replay started")
    read_ax.set_ylabel("records read", color="tab:blue")
    docs_ax = read_ax.twinx()
    docs_ax.plot([t for t, _ in inserted], [n for _, n in inserted], color="tab:green", marker="o")
    docs_ax.set_ylabel("enrolment documents inserted", color="tab:green")
    read_ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_latency_cdf(runs: Sequence[tuple[str, Sequence[float]]], title: str, path: Path) -> None:
    """For each run (label, latencies): the share of certificates announced within x seconds
    of the fact that decided them."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for label, latencies in runs:
        ordered = sorted(latencies)
        if ordered:
            shares = [(i + 1) / len(ordered) for i in range(len(ordered))]
            ax.plot(ordered, shares, label=label)
    ax.axhline(0.99, color="tab:red", ls=":", lw=1)
    ax.axvline(1.0, color="tab:gray", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("seconds from the deciding fact to its certificate event (log)")
    ax.set_ylabel("share of certificates")
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
