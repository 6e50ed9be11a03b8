"""The stack's secrets and TLS certificates, made once per stack folder and kept there.

The secure endpoints (Kafka SASL_SSL with SCRAM, FerretDB over TLS with authentication) use
them; tests and `python -m devstack env --secure` read them from here. They are random per
stack folder, never committed, and only guard loopback ports.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.config import Layout, StackError, require_tool

USER = "batch"


@dataclass(frozen=True)
class Secrets:
    """Passwords of the stack's users (the same user name on Kafka and FerretDB)."""

    user: str
    kafka_password: str
    mongo_password: str
    keystore_password: str


@dataclass(frozen=True)
class Certs:
    """A private CA and a server certificate for 127.0.0.1 and localhost, signed by it."""

    ca: Path
    cert: Path
    key: Path
    keystore: Path  # PKCS12 holding cert and key, for Kafka


def load_secrets(layout: Layout) -> Secrets:
    """The stack's secrets, made on first use (file mode 0600)."""
    path = layout.stack_dir / "secrets.json"
    try:
        return Secrets(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    made = Secrets(USER, *(secrets.token_urlsafe(18) for _ in range(3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(made.__dict__, out, indent=2)
    return made


def ensure_certs(layout: Layout, keystore_password: str) -> Certs:
    """Make the CA, the server certificate and Kafka's keystore unless they exist."""
    folder = layout.stack_dir / "tls"
    certs = Certs(
        folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "server.p12"
    )
    if all(p.is_file() for p in (certs.ca, certs.cert, certs.key, certs.keystore)):
        return certs
    openssl = require_tool("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    days = "3650"
    steps = [
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            days,
            "-subj",
            "/CN=batch-service devstack CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        [
            openssl,
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        [
            openssl,
            "x509",
            "-req",
            "-sha256",
            "-days",
            days,
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
        [
            openssl,
            "pkcs12",
            "-export",
            "-in",
            "server.pem",
            "-inkey",
            "server.key",
            "-name",
            "server",
            "-out",
            "server.p12",
            "-passout",
            f"pass:{keystore_password}",
        ],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(f"making TLS certificates failed: {cmd[1]}: {done.stderr[-2000:]}")
    for private in ("ca.key", "server.key", "server.p12"):
        (folder / private).chmod(0o600)
    return certs
