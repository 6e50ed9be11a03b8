"""FerretDB 1.24 (built from devstack/ferretdb), storing into the stack's PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from devstack import procs
from devstack.config import Layout
from devstack.secure import ensure_certs, load_secrets
from devstack.servers import DATABASE, DATABASE_TLS, Ports, Server


class FerretServer(Server):
    """FerretDB 1.24 speaking the MongoDB wire protocol, storing into PostgreSQL.

    The plain server listens on TCP and connects to PostgreSQL with the stack's password, so
    its clients need no credentials. The secure one (`secure=True`) listens on TLS only and
    has no password of its own: each client authenticates (PLAIN, checked by PostgreSQL).
    """

    port_keys = ("port",)

    def __init__(self, layout: Layout, pg_port: Callable[[], int], secure: bool = False) -> None:
        super().__init__(layout)
        self._pg_port = pg_port
        self.secure = secure
        self.name = "ferretdb-tls" if secure else "ferretdb"

    @property
    def workdir(self) -> Path:
        return self.layout.mongo_dir.with_name(self.name)

    def markers(self) -> list[str]:
        # The trailing slash: "ferretdb/" must not match the "ferretdb-tls/" server.
        return [str(self.layout.ferret_bin), f"--stack-dir={self.workdir}/"]

    def prepare(self, ports: Ports) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    def _pg_url(self) -> str:
        secrets = load_secrets(self.layout)
        who = "" if self.secure else f"{secrets.user}:{quote(secrets.mongo_password, safe='')}@"
        # FerretDB holds one backend connection per statement of a bulk write until the
        # command ends: the pool must exceed instances x the service's bulk chunk (50), or
        # FerretDB deadlocks itself (docs/design.md). 250 leaves room for four instances.
        return (
            f"postgres://{who}{procs.LOOPBACK}:{self._pg_port()}/"
            f"{DATABASE_TLS if self.secure else DATABASE}"
            f"?pool_max_conns={50 if self.secure else 250}&sslmode=disable"
        )

    def command(self, ports: Ports) -> list[str]:
        listen = f"{procs.LOOPBACK}:{ports['port']}"
        cmd = [str(self.layout.ferret_bin), f"--stack-dir={self.workdir}/", "--handler=postgresql"]
        if self.secure:
            certs = ensure_certs(self.layout, load_secrets(self.layout).keystore_password)
            cmd += [
                "--listen-addr=",
                f"--listen-tls={listen}",
                f"--tls-cert-file={certs.cert}",
                f"--tls-key-file={certs.key}",
            ]
        else:
            cmd.append(f"--listen-addr={listen}")
        # The URL is passed in the environment, not on the command line: it holds a password.
        return cmd

    def environment(self) -> dict[str, str]:
        # Go's collector at GOGC=400 instead of 100 (unless GOGC is set): FerretDB allocates a
        # lot per document (BSON to its JSONB form). Measured on this stack
        # (docs/performance.md): 35-45 % less FerretDB CPU an insert, ~20 % a guarded replace,
        # for more resident memory (the heap grows to 5x the live data between collections, not 2x).
        return {"FERRETDB_POSTGRESQL_URL": self._pg_url(), "GOGC": os.environ.get("GOGC", "400")}

    def ready(self, ports: Ports, log_offset: int) -> bool:
        return procs.port_answers(ports["port"])

    def address(self, ports: Ports) -> str:
        if self.secure:
            ca = ensure_certs(self.layout, load_secrets(self.layout).keystore_password).ca
            return (
                f"mongodb://{procs.LOOPBACK}:{ports['port']}/?tls=true&tlsCAFile={quote(str(ca))}"
                "&authMechanism=PLAIN&authSource=%24external"
            )
        return f"mongodb://{procs.LOOPBACK}:{ports['port']}/"
