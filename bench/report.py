"""The bench's figures, the machine and code they were measured on, and the final table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Clock",
    "Figures",
    "code",
    "goals",
    "machine",
    "print_table",
    "versions",
    "write_results",
]


@dataclass
class Figures:
    """Everything measured: the rows printed as they come, and the figures of the goals."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    a_rate: float | None = None
    b_rate: float | None = None
    c_rate: float | None = None
    c_complete: bool | None = None
    c_exact: bool | None = None
    c_prefix_rate: float | None = None
    c_writes_per_record: float | None = None
    c_reads_per_record: float | None = None
    c_writes_per_s: float | None = None
    d_writes_per_s: float | None = None
    d_inserts_per_s: float | None = None
    r_rate: float | None = None
    r_exact: bool | None = None
    p99: float | None = None
    rss_main: float | None = None
    rss_large: float | None = None
    large_facts: int | None = None

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        print(f"  {name}: {value}", flush=True)

    def results(self) -> dict[str, object]:
        """The figures under the names of `build/bench/results.json`."""
        return {
            "c_records_per_s": self.c_rate,
            "c_complete": self.c_complete,
            "c_exact": self.c_exact,
            "r_records_per_s": self.r_rate,
            "r_exact": self.r_exact,
            "a_records_per_s": self.a_rate,
            "b_records_per_s": self.b_rate,
            "c_prefix_records_per_s": self.c_prefix_rate,
            "d_writes_per_s": self.d_writes_per_s,
            "c_writes_per_record": self.c_writes_per_record,
            "c_reads_per_record": self.c_reads_per_record,
            "p99_s": self.p99,
            "rss_main_mib": self.rss_main,
            "rss_large_mib": self.rss_large,
        }


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


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def goals(f: Figures) -> list[tuple[str, str, str, bool | None]]:
    """(figure, value, goal, met) for the table of issue 15."""
    c_ok = None if f.c_rate is None else f.c_rate >= 3500 and bool(f.c_complete and f.c_exact)
    c_state = f"{'complete' if f.c_complete else 'PARTIAL'}, exact {_fmt_bool(f.c_exact)}"
    r_ok = None if f.r_rate is None else f.r_rate >= 20_000 and bool(f.r_exact)
    cb = f.c_prefix_rate / f.b_rate if f.c_prefix_rate and f.b_rate else None
    memory_ok: bool | None = None
    memory = "n/a (no large run)"
    if f.rss_main and f.rss_large:
        growth = f.rss_large / f.rss_main - 1
        memory = f"{f.rss_main:.0f} vs {f.rss_large:.0f} MiB ({growth:+.0%})"
        memory_ok = abs(growth) <= 0.2 and max(f.rss_main, f.rss_large) < 300
    distance = (
        f.c_writes_per_s / f.d_writes_per_s if f.c_writes_per_s and f.d_writes_per_s else None
    )
    return [
        (
            "C, live service, 200k backlog",
            f"{_fmt(f.c_rate, ',.0f', ' rec/s')}, {c_state}",
            ">= 3,500 rec/s, whole, exact",
            c_ok,
        ),
        (
            "R, replay --into a shadow, 1M facts",
            f"{_fmt(f.r_rate, ',.0f', ' rec/s')}, exact {_fmt_bool(f.r_exact)}",
            ">= 20,000 rec/s, equal to live",
            r_ok,
        ),
        (
            "document writes per record (C)",
            _fmt(f.c_writes_per_record, ".3f"),
            "<= 0.15",
            None if f.c_writes_per_record is None else f.c_writes_per_record <= 0.15,
        ),
        (
            "database reads per record, steady (C)",
            _fmt(f.c_reads_per_record, ".3f"),
            "<= 0.05",
            None if f.c_reads_per_record is None else f.c_reads_per_record <= 0.05,
        ),
        ("C / B (same prefix)", _fmt(cb, ".1f"), ">= 10", None if cb is None else cb >= 10),
        (
            "fact-to-certificate p99 at half of C",
            _fmt(f.p99, ".2f", " s"),
            "< 1 s",
            None if f.p99 is None else f.p99 < 1.0,
        ),
        ("peak memory, 200k vs 1M backlog", memory, "within 20%, < 300 MiB", memory_ok),
        (
            "D, guarded replaces, one client",
            _fmt(f.d_writes_per_s, ",.0f", " writes/s"),
            "(the stack's ceiling)",
            None,
        ),
        ("C's writes per second / D", _fmt(distance, ".2f"), "(distance to the ceiling)", None),
    ]


def _fmt_bool(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")


def print_table(figures: Figures, args: argparse.Namespace) -> None:
    """Every row measured, then the goals."""
    print("\n=== figures ===")
    width = max(len(name) for name, _ in figures.rows)
    for name, value in figures.rows:
        print(f"{name:<{width}}  {value}")
    print("\n=== goals (issue 15) ===")
    for name, value, goal, ok in goals(figures):
        print(f"{name:<40} {value:<40} {goal:<30} {_verdict(ok)}")


def write_results(figures: Figures, path: Path, meta: dict[str, object]) -> None:
    """`build/bench/results.json`: every figure by its name, and where it was measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**figures.results(), "run": meta}
    path.write_text(json.dumps(body, indent=2) + "\n")
