"""What `LocalStack` reports: where the stack answers, and each server's state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerStatus", "StackInfo"]


@dataclass(frozen=True)
class StackInfo:
    """Where the running stack answers; `started` is True when this call started a server."""

    kafka_bootstrap: str
    mongodb_uri: str
    started: bool = False
    # The secure endpoints: Kafka SASL_SSL (SCRAM-SHA-512) and FerretDB over TLS with
    # authentication (PLAIN, checked by PostgreSQL). Credentials are the stack's own.
    kafka_sasl_bootstrap: str = ""
    kafka_sasl_mechanism: str = ""
    mongodb_tls_uri: str = ""
    ca_file: str = ""
    user: str = ""
    kafka_password: str = ""
    mongo_password: str = ""


@dataclass(frozen=True)
class ServerStatus:
    """One server as `status` reports it."""

    name: str
    running: bool
    pid: int | None
    address: str | None
    log: Path
