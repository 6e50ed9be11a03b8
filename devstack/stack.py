"""LocalStack: start, reuse, stop and inspect the Kafka + FerretDB pair of one stack folder.

Every operation holds an exclusive lock on the stack folder, so a `make run`, a test session
and a shell can share one stack without starting it twice. What runs is recorded in
`<stack>/state.json`; pids are only trusted when the process's command line still names this
stack's files.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack import procs
from devstack.build import build_all, is_built
from devstack.config import (
    StackError,
    log_stderr,
    make_layout,
    require_tool,
    start_timeout_s,
)
from devstack.ferret_server import FerretServer
from devstack.info import ServerStatus, StackInfo
from devstack.kafka_server import KafkaServer
from devstack.pg import PostgresServer, ensure_installed
from devstack.secure import ensure_certs, load_secrets
from devstack.servers import Ports, Server, launch_on_ports
from devstack.state import load_state, save_state

KAFKA = "kafka"
POSTGRES = "postgres"
MONGO = "mongo"
MONGO_TLS = "mongo_tls"
_ORDER = (KAFKA, POSTGRES, MONGO, MONGO_TLS)
_FERRETS = (MONGO, MONGO_TLS)
_CLIENTS = {"kafka_bootstrap": KAFKA, "mongodb_uri": MONGO}  # for readers of state.json


class LocalStack:
    """The local Kafka (KRaft) + FerretDB stack whose data, logs and state live in one folder."""

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        stack_dir: Path | str | None = None,
        build_dir: Path | str | None = None,
        start_timeout_s: float | None = None,
        log: Callable[[str], None] | None = None,
        kafka_proxy_port: int | None = None,
    ) -> None:
        """`root` is the repository (default: this checkout); `stack_dir` defaults to env
        DEVSTACK_DIR, else `<root>/.stack`; `build_dir` (jars, binary) defaults to `stack_dir`.

        `kafka_proxy_port` (tests only; default none): Kafka also listens on a PROXIED
        listener that advertises `127.0.0.1:kafka_proxy_port`, where a TCP proxy forwarding to
        `kafka_proxied_listener()` listens (see KafkaServer)."""
        self.layout = make_layout(root, stack_dir, build_dir)
        self._timeout_s = start_timeout_s
        self._log = log or log_stderr
        self._servers: dict[str, Server] = {
            KAFKA: KafkaServer(self.layout, proxy_port=kafka_proxy_port),
            POSTGRES: PostgresServer(self.layout),
            MONGO: FerretServer(self.layout, self._pg_port),
            MONGO_TLS: FerretServer(self.layout, self._pg_port, secure=True),
        }

    def build(self) -> None:
        """Fetch the Kafka jars and build FerretDB unless they are current; make sure the
        PostgreSQL server binaries are there (installing them if needed and allowed)."""
        with self._locked():
            build_all(self.layout, self._log)
            ensure_installed(self._log)

    def up(self) -> StackInfo:
        """Start whatever is not running (reusing what is) and return where the stack answers.

        If a server cannot be started, the servers this call started are stopped again and
        StackError explains why (with the tail of the server's log).
        """
        with self._locked():
            self._ensure_built()
            state, started = self._load(), []
            try:
                for key in _ORDER:
                    if self._ensure(key, state, keep_ports=False):
                        started.append(key)
                        if key == POSTGRES:  # FerretDB must reconnect to the new address
                            for ferret in _FERRETS:
                                self._stop(ferret, state, graceful=True)
            except BaseException:
                for key in started:
                    self._stop(key, state, graceful=True)
                raise
            return self._info(state, started=bool(started))

    def down(self, purge: bool = False) -> None:
        """Stop both servers (SIGTERM, SIGKILL after 20 s), verify none is left, forget the state.

        `purge=True` also deletes their data and logs (not the built artifacts).
        """
        with self._locked():
            state = self._load()
            for key in reversed(_ORDER):
                self._stop(key, state, graceful=True)
            left = [pid for s in self._servers.values() for pid in procs.find_pids(s.markers())]
            if left:
                raise StackError(f"processes still running after stop: {left}")
            self.layout.state_file.unlink(missing_ok=True)
            if purge:
                self._purge()

    def info(self) -> StackInfo | None:
        """Where the stack answers, or None unless both servers run and answer."""
        state = self._load()
        if all(self._answers(key, state) for key in _ORDER):
            return self._info(state, started=False)
        return None

    def status(self) -> list[ServerStatus]:
        """What runs, on which address, with which pid, and where its log is."""
        state, pids = self._load(), self.pids()
        result = []
        for key in _ORDER:
            server, ports = self._servers[key], (state.get(key) or {}).get("ports")
            address = server.address(ports) if ports else None
            running = self._answers(key, state)
            result.append(ServerStatus(server.name, running, pids[key], address, server.log_path))
        return result

    def pids(self) -> dict[str, int | None]:
        """The pid of each server ("kafka", "mongo"), None for a server that is not running."""
        state = self._load()
        result: dict[str, int | None] = {}
        for key in _ORDER:
            pid = (state.get(key) or {}).get("pid")
            result[key] = pid if procs.owns(pid, self._servers[key].markers()) else None
        return result

    def stop_kafka(self, graceful: bool = True) -> None:
        """Stop Kafka only, keeping its data and ports (graceful=False: SIGKILL, like a crash)."""
        self._stop_one(KAFKA, graceful)

    def start_kafka(self) -> None:
        """Start Kafka again on the ports it had (PortInUseError if one is taken meanwhile)."""
        self._start_one(KAFKA)

    def kafka_bootstrap(self) -> str | None:
        """Where this stack's Kafka answers (None when it does not run): with `start_kafka`,
        a second, Kafka-only cluster for tests (`LocalStack(stack_dir=..., build_dir=...)`)."""
        state = self._load()
        entry = state.get(KAFKA) or {}
        if not self._answers(KAFKA, state):
            return None
        return self._servers[KAFKA].address(entry["ports"])

    def kafka_proxied_listener(self) -> str | None:
        """Where Kafka's PROXIED listener answers, the upstream of the proxy in front of it
        (None unless `kafka_proxy_port` was given and Kafka runs)."""
        state = self._load()
        ports = (state.get(KAFKA) or {}).get("ports") or {}
        if "proxied_port" not in ports or not self._answers(KAFKA, state):
            return None
        return f"{procs.LOOPBACK}:{ports['proxied_port']}"

    def stop_mongo(self, graceful: bool = True) -> None:
        """Stop FerretDB only, keeping its data and port (graceful=False: SIGKILL)."""
        self._stop_one(MONGO, graceful)

    def start_mongo(self) -> None:
        """Start FerretDB again on the port it had (PortInUseError if it is taken meanwhile)."""
        self._start_one(MONGO)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return procs.file_lock(self.layout.lock_file)

    def _ensure_built(self) -> None:
        self._timeout()  # a bad DEVSTACK_START_TIMEOUT_S fails before anything starts
        require_tool("java")
        ensure_installed(self._log)
        if not is_built(self.layout):
            build_all(self.layout, self._log)

    def _load(self) -> dict[str, Any]:
        return load_state(self.layout.state_file, self._log)

    def _save(self, state: dict[str, Any]) -> None:
        save_state(self.layout.state_file, state, self._servers, _ORDER, _CLIENTS)

    def _answers(self, key: str, state: dict[str, Any]) -> bool:
        entry = state.get(key) or {}
        ports = entry.get("ports") or {}
        return procs.owns(entry.get("pid"), self._servers[key].markers()) and procs.port_answers(
            ports.get("port", 0)
        )

    def _info(self, state: dict[str, Any], started: bool) -> StackInfo:
        kafka, mongo = self._servers[KAFKA], self._servers[MONGO]
        secrets = load_secrets(self.layout)
        kafka_ports = state[KAFKA]["ports"]
        return StackInfo(
            kafka_bootstrap=kafka.address(kafka_ports),
            mongodb_uri=mongo.address(state[MONGO]["ports"]),
            started=started,
            kafka_sasl_bootstrap=f"{procs.LOOPBACK}:{kafka_ports['sasl_port']}",
            kafka_sasl_mechanism=KafkaServer.sasl_mechanism,
            mongodb_tls_uri=self._servers[MONGO_TLS].address(state[MONGO_TLS]["ports"]),
            ca_file=str(ensure_certs(self.layout, secrets.keystore_password).ca),
            user=secrets.user,
            kafka_password=secrets.kafka_password,
            mongo_password=secrets.mongo_password,
        )

    def _pg_port(self) -> int:
        entry = self._load().get(POSTGRES) or {}
        ports = entry.get("ports")
        if not ports:
            raise StackError("FerretDB needs PostgreSQL, which has not been started")
        return int(ports["port"])

    def _timeout(self) -> float:
        return self._timeout_s if self._timeout_s is not None else start_timeout_s()

    def _ensure(self, key: str, state: dict[str, Any], keep_ports: bool) -> bool:
        """Make server `key` run; True if it had to be started. `keep_ports`: never move it."""
        server, entry = self._servers[key], state.get(key) or {}
        pid: int | None = entry.get("pid")
        saved: Ports | None = entry.get("ports")
        if pid is not None and saved and procs.owns(pid, server.markers()):
            if procs.port_answers(saved["port"]):
                self._log(f"{server.name}: already running at {server.address(saved)} (pid {pid})")
                return False
            self._log(f"{server.name}: pid {pid} does not answer on its port; restarting it")
            procs.stop_group(pid)
        # A server of this stack whose state was lost would hold the data folder's lock.
        for stray in procs.find_pids(server.markers()):
            self._log(f"{server.name}: stopping stray process {stray} of this stack")
            procs.stop_group(stray)
        ports: Ports | None = saved if saved and set(saved) == set(server.port_keys) else None
        if ports and not keep_ports and not all(map(procs.port_is_free, ports.values())):
            self._log(f"{server.name}: its previous ports {ports} are taken; choosing new ones")
            ports = None
        began = time.monotonic()
        new_pid, chosen = launch_on_ports(server, ports, keep_ports, self._timeout(), self._log)
        state[key] = {"pid": new_pid, "ports": chosen}
        self._save(state)
        self._log(
            f"{server.name}: ready at {server.address(chosen)} (pid {new_pid}, "
            f"{time.monotonic() - began:.1f} s)"
        )
        return True

    def _stop(self, key: str, state: dict[str, Any], graceful: bool) -> None:
        """Stop server `key` (and any stray process of it), keep its ports in the state."""
        server, entry = self._servers[key], state.get(key) or {}
        pids = set(procs.find_pids(server.markers()))
        if procs.owns(entry.get("pid"), server.markers()):
            pids.add(entry["pid"])
        for pid in sorted(pids):
            self._log(f"{server.name}: stopping pid {pid}")
            procs.stop_group(pid, graceful=graceful)
        if entry:
            entry["pid"] = None
            if self.layout.state_file.exists():
                self._save(state)

    def _purge(self) -> None:
        """Delete the servers' data, logs and config; the jars may live in the same folder."""
        keep = {self.layout.kafka_libs, self.layout.ferret_bin.parent}
        for server in self._servers.values():
            children = server.workdir.iterdir() if server.workdir.is_dir() else iter(())
            for child in (c for c in children if c not in keep):
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    def _stop_one(self, key: str, graceful: bool) -> None:
        with self._locked():
            self._stop(key, self._load(), graceful)

    def _start_one(self, key: str) -> None:
        with self._locked():
            self._ensure_built()
            self._ensure(key, self._load(), keep_ports=True)
