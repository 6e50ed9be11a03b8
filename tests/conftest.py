"""Shared fixtures: where the real Kafka broker and MongoDB server are, and per-test isolation.

Servers are chosen once per session, in this order:
1. BATCH_SERVICE_KAFKA_BOOTSTRAP / BATCH_SERVICE_MONGODB_URI, when set;
2. testcontainers (Kafka, MongoDB), when a Docker engine answers;
3. the local stack (`python -m devstack`), started here unless it runs already, and stopped at
   the end of the session only if this session started it.
A server that cannot be had makes the tests that need it fail; nothing is ever skipped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import LocalStack, StackInfo

KAFKA_ENV = "BATCH_SERVICE_KAFKA_BOOTSTRAP"
MONGO_ENV = "BATCH_SERVICE_MONGODB_URI"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.1"  # Kafka 3.9, like the local stack
MONGO_IMAGE = "mongo:7.0"
MAX_MESSAGE_BYTES = "16777216"  # the service sends values up to 10 MB to its dead-letter topic
TESTS_DIR = Path(__file__).resolve().parent
_MARKED_DIRS = {
    "integration": TESTS_DIR / "integration",
    "e2e": TESTS_DIR / "e2e",
    "api": TESTS_DIR / "api",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder, so `-m "not integration"` works without decorating each test."""
    for item in items:
        path = Path(item.path).resolve()
        for marker, folder in _MARKED_DIRS.items():
            if path.is_relative_to(folder):
                item.add_marker(getattr(pytest.mark, marker))


def _docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping (quickly false without one)."""
    # The docker SDK leaks its socket when the engine's unix socket is missing, so look first.
    host = os.environ.get("DOCKER_HOST", "") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, no engine: all mean "no Docker here"
        return False


class Servers:
    """Finds the servers lazily (a test that needs only MongoDB starts no Kafka container),
    remembers a failure so the next test fails fast instead of waiting again, and stops at the
    end whatever it started."""

    def __init__(self) -> None:
        self.stack: LocalStack | None = None
        self.sources: dict[str, str] = {}
        self._docker: bool | None = None
        self._containers: list[Any] = []
        self._local: StackInfo | None = None
        self._local_error: BaseException | None = None

    def _docker_ok(self) -> bool:
        if self._docker is None:
            self._docker = _docker_engine_answers()
        return self._docker

    def _local_stack(self) -> StackInfo:
        if self._local_error is not None:
            raise self._local_error
        if self._local is None:
            stack = LocalStack()
            try:
                self._local = stack.up()
            except BaseException as exc:
                self._local_error = exc
                raise
            self.stack = stack
        return self._local

    def _start(self, container: Any) -> Any:
        try:
            container.start()
        except BaseException:
            with contextlib.suppress(Exception):
                container.stop()
            raise
        self._containers.append(container)
        return container

    def kafka(self) -> str:
        """The Kafka bootstrap address (host:port) for this session."""
        if os.environ.get(KAFKA_ENV):
            self.sources["kafka"] = f"env {KAFKA_ENV}"
            return os.environ[KAFKA_ENV]
        if self._docker_ok():
            from testcontainers.community.kafka import KafkaContainer

            container = KafkaContainer(KAFKA_IMAGE).with_kraft()
            container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
            container.with_env("KAFKA_MESSAGE_MAX_BYTES", MAX_MESSAGE_BYTES)
            container.with_env("KAFKA_REPLICA_FETCH_MAX_BYTES", MAX_MESSAGE_BYTES)
            self.sources["kafka"] = f"testcontainers {KAFKA_IMAGE}"
            return str(self._start(container).get_bootstrap_server())
        self.sources["kafka"] = "local stack"
        return self._local_stack().kafka_bootstrap

    def mongo(self) -> str:
        """The MongoDB connection URI for this session."""
        if os.environ.get(MONGO_ENV):
            self.sources["mongodb"] = f"env {MONGO_ENV}"
            return os.environ[MONGO_ENV]
        if self._docker_ok():
            from testcontainers.community.mongodb import MongoDbContainer

            self.sources["mongodb"] = f"testcontainers {MONGO_IMAGE}"
            return str(self._start(MongoDbContainer(MONGO_IMAGE)).get_connection_url())
        self.sources["mongodb"] = "local stack"
        return self._local_stack().mongodb_uri

    def local_stack_info(self) -> StackInfo:
        """The local stack's endpoints (secure ones included), started for this session if
        needed (and then stopped at its end) whatever servers the session was given."""
        return self._local_stack()

    def local_stack(self) -> LocalStack | None:
        """The LocalStack serving this session (to stop/start its servers), else None."""
        kafka, mongo = os.environ.get(KAFKA_ENV), os.environ.get(MONGO_ENV)
        if kafka or mongo:
            # Env vars may point at a stack started by `make stack-up`: hand it out then too.
            candidate = LocalStack()
            info = candidate.info()
            same = info is not None and (info.kafka_bootstrap, info.mongodb_uri) == (kafka, mongo)
            return candidate if same else None
        if self._docker_ok():
            return None
        self._local_stack()
        return self.stack

    def close(self) -> None:
        """Stop the containers and, if this session started it, the local stack."""
        for container in reversed(self._containers):
            with contextlib.suppress(Exception):
                container.stop()
        if self.stack is not None and self._local is not None and self._local.started:
            self.stack.down()


_SERVERS_KEY = pytest.StashKey[Servers]()


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The session's server finder; prefer `kafka_bootstrap`, `mongodb_uri` and `stack`."""
    found = Servers()
    request.config.stash[_SERVERS_KEY] = found
    yield found
    found.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(servers: Servers) -> str:
    """Bootstrap address of a real Kafka broker (fails, never skips, when none can be had)."""
    return servers.kafka()


@pytest.fixture(scope="session")
def mongodb_uri(servers: Servers) -> str:
    """URI of a real MongoDB-compatible server (fails, never skips, when none can be had)."""
    return servers.mongo()


@pytest.fixture(scope="session")
def stack(servers: Servers) -> LocalStack | None:
    """The local devstack when it serves this session (fault tests stop/start its servers)."""
    return servers.local_stack()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test for topic and consumer-group names."""
    return f"t-{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def mongo_db_name(mongodb_uri: str) -> Iterator[str]:
    """A database name unique to this test; the database is dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    # Best effort: a fault test may have left the server stopped; the name is unique anyway.
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=3000)
    try:
        with contextlib.suppress(PyMongoError):
            client.drop_database(name)
    finally:
        client.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say which servers the session used, so a CI log shows where the tests ran."""
    found = config.stash.get(_SERVERS_KEY, None)
    if found is not None and found.sources:
        used = ", ".join(f"{name}: {source}" for name, source in sorted(found.sources.items()))
        terminalreporter.write_line(f"servers used: {used}")
