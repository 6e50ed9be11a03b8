"""`make operating-plots`: a real run of the service, watched the way an operator watches it.

Starts `batch-service run` on the local stack, publishes a seeded stream in two bursts, kills
the broker (SIGKILL) once the service has fetched the second (the outbox fills: documents are
saved, their announcements cannot be published), starts it again, and scrapes `/metrics`
every second throughout. Writes the series to `build/operating/series.json` and three PNG
plots to `docs/` (consumer lag, fold rate, outbox age), the ones docs/operating.md shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devstack import LocalStack
from testkit.harness import Env, ServiceProcess, caught_up, http_address, publish
from testkit.streams import generate_stream

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "operating"


async def scrape(client: httpx.AsyncClient, base: str) -> dict[str, float]:
    """The figures plotted: summed lag, folded records, outbox pending and oldest age."""
    text = (await client.get(f"{base}/metrics")).text
    figures = {"lag": 0.0, "folded": 0.0, "pending": 0.0, "oldest": 0.0, "certificates": 0.0}
    names = {
        "batch_service_consumer_lag_records": "lag",
        "batch_service_records_folded_total": "folded",
        "batch_service_outbox_pending_documents": "pending",
        "batch_service_outbox_oldest_age_seconds": "oldest",
        "batch_service_certificates_published_total": "certificates",
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                figures[names[sample.name]] += sample.value
    return figures


async def run(learners: int, kafka_down_s: float, seed: int) -> None:
    stack = LocalStack()
    info = stack.info()
    if info is None:
        raise SystemExit("the local stack is not running: make stack-up (or run via make)")
    prefix = f"ops-{uuid.uuid4().hex[:6]}-"
    env = Env(
        info.kafka_bootstrap,
        info.mongodb_uri,
        prefix,
        f"ops_{uuid.uuid4().hex[:6]}",
        BATCH_SERVICE_API_AUTH="disabled",
        BATCH_SERVICE_RETRY_MAX_ELAPSED_S="300",
        BATCH_SERVICE_MONGO_TIMEOUT_MS="5000",
    )
    stream = generate_stream(seed=seed, batches=10, learners=learners)
    half = len(stream.facts) // 2
    print(f"operating run: {len(stream.rules) + len(stream.facts)} facts, prefix {prefix}")
    OUT.mkdir(parents=True, exist_ok=True)
    service = ServiceProcess(env, OUT, "service").start()
    series: list[dict[str, Any]] = []
    marks: list[tuple[float, str]] = []
    started = time.monotonic()
    try:
        base = http_address(service)
        await service.wait_consuming()
        done = asyncio.Event()

        async def watch() -> None:
            async with httpx.AsyncClient(timeout=5) as client:
                while not done.is_set():
                    try:
                        figures = await scrape(client, base)
                        series.append({"t": round(time.monotonic() - started, 2), **figures})
                    except httpx.HTTPError as exc:
                        print(f"scrape failed: {exc!r}")
                    await asyncio.sleep(1)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(3)
        marks.append((time.monotonic() - started, "burst 1"))
        await publish(env.kafka, env.prefix, [*stream.rules, *stream.facts[:half]])
        await caught_up(env, timeout_s=600)
        await asyncio.sleep(5)
        marks.append((time.monotonic() - started, "burst 2"))
        await publish(env.kafka, env.prefix, stream.facts[half:])
        # Once the service has fetched the burst (its lag shows it), the broker dies: the poll
        # in hand is folded and saved, and its announcements wait in the outbox.
        for _ in range(100):
            if series and series[-1]["lag"] > 0:
                break
            await asyncio.sleep(0.1)
        marks.append((time.monotonic() - started, "Kafka killed"))
        await asyncio.to_thread(stack.stop_kafka, False)
        await asyncio.sleep(kafka_down_s)
        await asyncio.to_thread(stack.start_kafka)
        marks.append((time.monotonic() - started, "Kafka started"))
        await caught_up(env, timeout_s=600)
        await asyncio.sleep(12)  # the relay's sweep and a few idle scrapes
        done.set()
        await watcher
    finally:
        code = service.terminate()
        print(f"service exited {code}; log: {service.log_path}")
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "code": _commit(),
        "facts": len(stream.rules) + len(stream.facts),
        "kafka_down_s": kafka_down_s,
        "exit_code": code,
    }
    saved = {"series": series, "marks": marks, "meta": meta}
    (OUT / "series.json").write_text(json.dumps(saved, indent=1))


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


def summary(series: list[dict[str, Any]], marks: list[tuple[float, str]]) -> list[str]:
    """The figures docs/operating.md quotes: peaks, and when each series came back."""
    rate = _rate(series, window_s=10)
    lines = []
    peak = max(series, key=lambda p: p["lag"])
    lines.append(f"lag: peak {peak['lag']:,.0f} records at {peak['t']:.0f} s")
    for at, text in marks:
        after = [p for p in series if p["t"] >= at]
        lines.append(f"  {text} at {at:.0f} s: lag {after[0]['lag'] if after else '?':,}")
    zero = [p["t"] for p in series if p["t"] > peak["t"] and p["lag"] == 0]
    lines.append(f"lag back to 0 at {zero[0]:.0f} s" if zero else "lag never back to 0")
    fastest = max(range(len(series)), key=lambda i: rate[i])
    lines.append(f"fold rate: peak {rate[fastest]:,.0f} records/s at {series[fastest]['t']:.0f} s")
    oldest = max(series, key=lambda p: p["oldest"])
    lines.append(
        f"outbox: oldest entry {oldest['oldest']:.0f} s old at {oldest['t']:.0f} s, "
        f"{oldest['pending']:.0f} documents pending then"
    )
    empty = [p["t"] for p in series if p["t"] > oldest["t"] and p["pending"] == 0]
    lines.append(f"outbox empty again at {empty[0]:.0f} s" if empty else "outbox never empty")
    lines.append(f"certificates published: {series[-1]['certificates']:,.0f}")
    return lines


def _rate(series: list[dict[str, Any]], window_s: float) -> list[float]:
    """Records folded per second over the trailing window (a poll's records are counted when
    it commits, so a per-second difference is all spikes)."""
    rates = []
    for point in series:
        start = next(p for p in series if p["t"] >= point["t"] - window_s)
        span = point["t"] - start["t"]
        rates.append((point["folded"] - start["folded"]) / span if span > 0 else 0.0)
    return rates


def plot(series: list[dict[str, Any]], marks: list[tuple[float, str]], docs: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [p["t"] for p in series]
    rate = _rate(series, window_s=10)
    figures = {
        "operating-lag.png": ("consumer lag (records, all partitions)", [p["lag"] for p in series]),
        "operating-fold-rate.png": ("records folded / s (10 s window)", rate),
        "operating-outbox-age.png": (
            "oldest unpublished announcement (s)",
            [p["oldest"] for p in series],
        ),
    }
    written = []
    for name, (label, values) in figures.items():
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.plot(t, values, linewidth=1.5)
        for i, (at, text) in enumerate(marks):  # labels at stepped heights: marks come close
            ax.axvline(at, color="grey", linestyle="--", linewidth=0.8)
            ax.text(
                at, ax.get_ylim()[1] * (0.95 - 0.12 * (i % 2)), f" {text}", fontsize=8, va="top"
            )
        ax.set_xlabel("seconds since the service started")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = docs / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=600, help="per batch (10 batches)")
    parser.add_argument("--kafka-down-s", type=float, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--replot", action="store_true", help="plot build/operating/series.json")
    args = parser.parse_args()
    if not args.replot:
        asyncio.run(run(args.learners, args.kafka_down_s, args.seed))
    saved = json.loads((OUT / "series.json").read_text())
    print(f"run: {saved.get('meta', {})}")
    for line in summary(saved["series"], saved["marks"]):
        print(line)
    for path in plot(saved["series"], saved["marks"], ROOT / "docs"):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
