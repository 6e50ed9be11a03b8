"""`batch-service certificates reannounce --batch B [--user U]`: publish again the
`certificate.eligible` events a batch already latched, with their same ids.

Exit status: 0 done, 1 no such batch, 3 Kafka or MongoDB did not answer (re-running is safe:
the ids are the same, subscribers dedupe on them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consumers.bootstrap import bootstrap
from consumers.logs import configure_logging
from services.errors import BatchServiceError
from services.reannouncing import UnknownBatch, reannounce
from services.settings import Settings

__all__ = ["add_certificates_command", "run_certificates"]

EXIT_UNKNOWN, EXIT_UNAVAILABLE = 1, 3


def add_certificates_command(commands: Any) -> None:
    """Add `certificates reannounce` to `batch-service`."""
    certificates = commands.add_parser(
        "certificates", help="certificate-eligibility events", description=__doc__
    ).add_subparsers(dest="certificates_command", required=True)
    again = certificates.add_parser(
        "reannounce",
        help="publish again the certificate.eligible events a batch latched (same ids)",
        description="For a subscriber that lost its state: the events already latched in the "
        "batch's documents are published again with their ids; nothing else changes.",
    )
    again.add_argument("--batch", required=True, help="the batchId")
    again.add_argument("--user", help="only this learner (userId)")
    again.add_argument("--dry-run", action="store_true", help="list them; publish nothing")


async def run_certificates(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    try:
        async with bootstrap(settings) as service:
            events = await reannounce(
                service.stores, service.publisher, args.batch, args.user, dry_run=args.dry_run
            )
    except UnknownBatch:
        print(f"certificates: no batch {args.batch!r}", file=sys.stderr)
        return EXIT_UNKNOWN
    except BatchServiceError as exc:
        print(f"certificates: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    for event in events:
        print(f"{event.id}  {event.data.userId}  {event.data.templateId}")
    verb = "would be published" if args.dry_run else "published"
    print(f"certificates: {len(events)} certificate.eligible events {verb}", file=sys.stderr)
    return 0
