"""The stack's servers (Kafka in KRaft mode, FerretDB on PostgreSQL) and how to start one."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from devstack import procs
from devstack.config import Layout, PortInUseError, StackError, require_tool
from devstack.secure import ensure_certs, load_secrets

# The PostgreSQL databases the two FerretDB servers store into. One each: FerretDB 1.x caches
# its catalogue in memory, so two servers on one database do not see each other's collections.
DATABASE = "ferretdb"
DATABASE_TLS = "ferretdb_tls"

Ports = dict[str, int]


class Server:
    """How to configure, run and probe one server; subclasses fill in the specifics."""

    name = ""
    port_keys: tuple[str, ...] = ()

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    @property
    def workdir(self) -> Path:
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def markers(self) -> list[str]:
        """Substrings of the command line that identify this stack's instance of the server."""
        raise NotImplementedError

    def prepare(self, ports: Ports) -> None:
        """Write configuration and initialise data before a start."""

    def command(self, ports: Ports) -> list[str]:
        raise NotImplementedError

    def ready(self, ports: Ports, log_offset: int) -> bool:
        """True when the server accepts clients (output of this start begins at `log_offset`)."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """Variables added to the server's environment (secrets go here, not in argv)."""
        return {}

    def after_start(self, ports: Ports) -> None:
        """Set up what clients need once the server answers (users, databases); idempotent."""

    def address(self, ports: Ports) -> str:
        """The address clients use."""
        raise NotImplementedError


class KafkaServer(Server):
    """A single Kafka 3.9 node acting as broker and KRaft controller.

    Two client listeners: PLAINTEXT on `port`, and SASL_SSL (SCRAM-SHA-512 over TLS, the
    stack's user and CA) on `sasl_port`, to show the service working with both.
    """

    name = "kafka"
    port_keys = ("port", "controller_port", "sasl_port")
    sasl_mechanism = "SCRAM-SHA-512"

    @property
    def workdir(self) -> Path:
        return self.layout.kafka_dir

    @property
    def properties(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.workdir / "log4j.properties"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def markers(self) -> list[str]:
        return ["kafka.Kafka", str(self.properties)]

    def _java(self, main: str, *args: str, heap: str = "-Xmx512m") -> list[str]:
        return [
            require_tool("java"),
            heap,
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={self.log4j.as_uri()}",
            "-cp",
            str(self.layout.kafka_libs / "*"),
            main,
            *args,
        ]

    def prepare(self, ports: Ports) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port, cport, sport = ports["port"], ports["controller_port"], ports["sasl_port"]
        secrets = load_secrets(self.layout)
        certs = ensure_certs(self.layout, secrets.keystore_password)
        host = procs.LOOPBACK
        scram = self.sasl_mechanism.lower()
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{cport}",
            "listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sport},"
            f"CONTROLLER://{host}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sport}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,"
            "CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": self.sasl_mechanism,
            f"listener.name.sasl_ssl.{scram}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(certs.keystore),
            "ssl.keystore.password": secrets.keystore_password,
            "ssl.key.password": secrets.keystore_password,
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            # One node: internal topics cannot have more replicas; fewer partitions start faster.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            # The service sends values up to 10 MB to its dead-letter topic.
            "message.max.bytes": "16777216",
            "replica.fetch.max.bytes": "16777216",
        }
        text = "# Written by devstack at every start; edit devstack/servers.py instead.\n"
        self.properties.write_text(text + "".join(f"{k}={v}\n" for k, v in settings.items()))
        self.properties.chmod(0o600)  # it holds the keystore password
        self.log4j.write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.log_path}\n"
            "log4j.appender.file.Append=true\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.request.logger=WARN\n"
            "log4j.logger.state.change.logger=WARN\n"
            "log4j.logger.kafka.log.LogCleaner=WARN\n"
        )
        self._format_once()

    def _format_once(self) -> None:
        """Give the data folder its KRaft cluster id and SCRAM user, once; later starts keep
        the data. A folder formatted by an older devstack (no SCRAM user) is formatted again."""
        stamp = self.data_dir / ".devstack-scram"
        if (self.data_dir / "meta.properties").exists():
            if stamp.exists():
                return
            shutil.rmtree(self.data_dir)
            self.data_dir.mkdir(parents=True)
        secrets = load_secrets(self.layout)
        scram = f"{self.sasl_mechanism}=[name={secrets.user},password={secrets.kafka_password}]"
        cluster_id = _kafka_uuid()
        cmd = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.properties),
            "--ignore-formatted",
            "--add-scram",
            scram,
            heap="-Xmx256m",
        )
        done = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(
                f"formatting the Kafka data folder failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        stamp.write_text(secrets.user + "\n")

    def command(self, ports: Ports) -> list[str]:
        return self._java("kafka.Kafka", str(self.properties))

    def ready(self, ports: Ports, log_offset: int) -> bool:
        # The port opens before the broker has joined the controller quorum; the log line
        # comes once it serves requests.
        started = "Kafka Server started" in procs.read_log(self.log_path, log_offset)
        return started and all(procs.port_answers(ports[key]) for key in ("port", "sasl_port"))

    def address(self, ports: Ports) -> str:
        return f"{procs.LOOPBACK}:{ports['port']}"


def _kafka_uuid() -> str:
    """A random Kafka cluster id, as `StorageTool random-uuid` makes it, without a JVM start."""
    while True:
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not raw.startswith("-"):  # Kafka avoids ids that look like command-line options
            return raw


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
        return {"FERRETDB_POSTGRESQL_URL": self._pg_url()}

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


def launch(server: Server, ports: Ports, timeout_s: float) -> int:
    """Start `server` on `ports`, wait until it is usable, and return its pid.

    On failure the process is stopped and StackError carries the tail of its log;
    PortInUseError means another process holds (or just took) one of the ports.
    """
    for key, port in ports.items():
        if not procs.port_is_free(port):
            raise PortInUseError(
                f"{server.name}: {key} {procs.LOOPBACK}:{port} is in use by another process"
            )
    server.prepare(ports)
    procs.rotate_log(server.log_path)
    offset = procs.log_size(server.log_path)
    env = {**os.environ, **server.environment()}
    pid = procs.spawn(server.command(ports), server.log_path, server.workdir, env)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if not procs.is_alive(pid):
                output = procs.read_log(server.log_path, offset)
                taken = [p for p in ports.values() if not procs.port_is_free(p)]
                if taken or "Address already in use" in output:
                    raise PortInUseError(
                        f"{server.name}: another process took port(s) "
                        f"{taken or list(ports.values())} during the start"
                    )
                raise StackError(
                    f"{server.name} exited during its start (pid {pid}, exit status "
                    f"{procs.exit_status(pid)}); last lines "
                    f"of {server.log_path}:\n"
                    f"{procs.tail(server.log_path, offset=offset)}"
                )
            if server.ready(ports, offset):
                # A moment later it must still run: the answering socket could be another's.
                time.sleep(0.2)
                if procs.is_alive(pid):
                    server.after_start(ports)
                    return pid
                continue
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{server.name} was not ready within {timeout_s:.0f} s "
                    f"(pid {pid}); last lines of {server.log_path}:\n"
                    f"{procs.tail(server.log_path, offset=offset)}"
                )
            time.sleep(0.25)
    except BaseException:
        procs.stop_group(pid, grace_s=5.0)
        raise
