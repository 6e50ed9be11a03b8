"""`batch-service`: the console command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from consumers.certificates_cli import add_certificates_command, run_certificates
from consumers.collector import tune_cycle_collector
from consumers.dlq_cli import add_dlq_command, run_dlq
from consumers.publish_cli import add_publish_command, run_publish
from consumers.replay import add_replay_command, run_replay
from consumers.run import run_service
from services.settings import Settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch-service",
        description="Folds course, batch and learner facts from Kafka into MongoDB documents "
        "and announces certificate eligibility. Configured by BATCH_SERVICE_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="consume and serve HTTP in the foreground until SIGTERM or SIGINT"
    )
    commands.add_parser("api", help="serve HTTP (the API, probes, metrics) without consuming")
    add_replay_command(commands)
    add_publish_command(commands)
    add_dlq_command(commands)
    add_certificates_command(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console command."""
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.command in ("run", "api", "replay"):
        tune_cycle_collector()
    if args.command == "run":
        sys.exit(asyncio.run(run_service(settings)))
    if args.command == "api":
        sys.exit(asyncio.run(run_service(settings, consume=False)))
    if args.command == "replay":
        sys.exit(asyncio.run(run_replay(args, settings)))
    if args.command == "publish":
        sys.exit(asyncio.run(run_publish(args, settings)))
    if args.command == "dlq":
        sys.exit(asyncio.run(run_dlq(args, settings)))
    if args.command == "certificates":
        sys.exit(asyncio.run(run_certificates(args, settings)))


if __name__ == "__main__":
    main()
