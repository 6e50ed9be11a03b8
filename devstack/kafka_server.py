"""Apache Kafka in KRaft mode, from the Maven-fetched jars, run with the machine's JDK."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from devstack import procs
from devstack.config import Layout, StackError, require_tool
from devstack.secure import ensure_certs, load_secrets
from devstack.servers import Ports, Server


class KafkaServer(Server):
    """A single Kafka 3.9 node acting as broker and KRaft controller.

    Two client listeners: PLAINTEXT on `port`, and SASL_SSL (SCRAM-SHA-512 over TLS, the
    stack's user and CA) on `sasl_port`, to show the service working with both.

    With `proxy_port` (a test cluster behind a TCP proxy, e.g. the fault suite's toxiproxy), a
    third plain listener, PROXIED, binds `proxied_port` (the proxy's upstream) and advertises
    `127.0.0.1:proxy_port`: clients that bootstrap through the proxy are told to reach the
    broker through it too, while clients of `port` keep talking to it directly.
    """

    name = "kafka"
    port_keys: tuple[str, ...] = ("port", "controller_port", "sasl_port")
    sasl_mechanism = "SCRAM-SHA-512"

    def __init__(self, layout: Layout, proxy_port: int | None = None) -> None:
        super().__init__(layout)
        self.proxy_port = proxy_port
        if proxy_port is not None:
            self.port_keys = (*type(self).port_keys, "proxied_port")

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
        listeners = f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sport},"
        advertised = f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sport}"
        protocols = "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,"
        if self.proxy_port is not None:
            listeners += f"PROXIED://{host}:{ports['proxied_port']},"
            advertised += f",PROXIED://{host}:{self.proxy_port}"
            protocols += "PROXIED:PLAINTEXT,"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{cport}",
            "listeners": f"{listeners}CONTROLLER://{host}:{cport}",
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": f"{protocols}CONTROLLER:PLAINTEXT",
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
        text = "# Written by devstack at every start; edit devstack/kafka_server.py instead.\n"
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
        keys = [key for key in self.port_keys if key != "controller_port"]
        return started and all(procs.port_answers(ports[key]) for key in keys)

    def address(self, ports: Ports) -> str:
        return f"{procs.LOOPBACK}:{ports['port']}"


def _kafka_uuid() -> str:
    """A random Kafka cluster id, as `StorageTool random-uuid` makes it, without a JVM start."""
    while True:
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not raw.startswith("-"):  # Kafka avoids ids that look like command-line options
            return raw
