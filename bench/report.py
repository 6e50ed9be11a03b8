"""The bench's figures, the machine and code they were measured on, and the final table."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Clock", "Figures", "code", "machine", "print_table", "versions"]


@dataclass
class Figures:
    """Everything measured, for the final table."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    a_rate: float | None = None
    b_rate: float | None = None
    c_rate: float | None = None
    c_prefix_rate: float | None = None
    p99: float | None = None
    rss_main: float | None = None
    rss_large: float | None = None
    large_facts: int | None = None

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        print(f"  {name}: {value}", flush=True)


class Clock:
    """The overall budget."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.perf_counter()
        self.budget_s = budget_s

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def code() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "code: unknown (not a git checkout)"
    return f"code: {head}{' + uncommitted changes' if dirty else ''}"


def versions() -> str:
    from importlib.metadata import version

    names = ("aiokafka", "pymongo", "pydantic", "pydantic_core")
    return ", ".join(f"{n} {version(n)}" for n in names)


def print_table(figures: Figures, args: argparse.Namespace) -> None:
    print("\n=== figures ===")
    width = max(len(name) for name, _ in figures.rows)
    for name, value in figures.rows:
        print(f"{name:<{width}}  {value}")
    print("\n=== goals ===")
    a, b, c = figures.a_rate, figures.b_rate, figures.c_rate
    ca = c / a if a and c is not None else None
    cb = c / b if b and c is not None else None
    cb_prefix = figures.c_prefix_rate / b if b and figures.c_prefix_rate else None

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    goals = [
        ("C/A >= 0.5", f"{ca:.4f}" if ca is not None else "n/a", ca >= 0.5 if ca else None),
        ("C/B >= 10", f"{cb:.2f}" if cb is not None else "n/a", cb >= 10 if cb else None),
        (
            "C/B >= 10 (same prefix)",
            f"{cb_prefix:.2f}" if cb_prefix is not None else "n/a",
            cb_prefix >= 10 if cb_prefix else None,
        ),
        (
            "p99 < 1 s at half load",
            f"{figures.p99:.2f} s" if figures.p99 is not None else "n/a",
            figures.p99 < 1.0 if figures.p99 is not None else None,
        ),
    ]
    if figures.rss_main and figures.rss_large:
        growth = figures.rss_large / figures.rss_main - 1
        note = f"{figures.rss_main:.0f} -> {figures.rss_large:.0f} MiB ({growth:+.0%})"
        goals.append(("memory within 20% (main vs large)", note, abs(growth) <= 0.2))
    else:
        goals.append(("memory within 20% (main vs large)", "n/a (no large run)", None))
    for name, value, ok in goals:
        print(f"{name:<36} {value:<28} {verdict(ok)}")
