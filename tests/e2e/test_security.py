"""Security basics against the local stack with them turned on: Kafka over SASL_SSL
(SCRAM-SHA-512, the stack's own CA) and the MongoDB server over TLS with authentication.

These tests use the local stack whatever servers the session was given: its secure endpoints
are what is being tested. They fail, never skip, when it cannot start.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from aiokafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from devstack import StackInfo
from producers.kafka import KafkaPublisher
from schemas.outbound import CertificateEligible, CertificateEligibleData
from schemas.topics import Topics
from services.errors import PublishUnavailable, StoreUnavailable
from services.settings import Settings
from services.storage import MongoStore
from testkit.expect import assert_documents_exact, certificate_ids_of
from testkit.harness import Env, ServiceProcess, caught_up, publish, read_all, read_docs
from testkit.streams import generate_stream
from tests.conftest import Servers


@pytest.fixture(scope="module")
def secure(servers: Servers) -> StackInfo:
    info = servers.local_stack_info()
    assert info.kafka_sasl_bootstrap and info.mongodb_tls_uri and Path(info.ca_file).is_file()
    return info


def _tls_uri_with_credentials(info: StackInfo) -> str:
    """For the test's own reads: the secure server keeps its own data."""
    credentials = f"{quote(info.user)}:{quote(info.mongo_password, safe='')}@"
    return info.mongodb_tls_uri.replace("mongodb://", f"mongodb://{credentials}", 1)


@pytest.fixture
def db_name(secure: StackInfo) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(_tls_uri_with_credentials(secure), serverSelectionTimeoutMS=3000) as client:
        client.drop_database(name)


def _tls_address(info: StackInfo) -> str:
    """The secure FerretDB's address, without the options the settings carry instead."""
    return f"mongodb://{urlsplit(info.mongodb_tls_uri).netloc}/"


def secure_settings(info: StackInfo, **overrides: str) -> dict[str, str]:
    """Every BATCH_SERVICE_* variable that turns the security on."""
    values = {
        "KAFKA_BOOTSTRAP": info.kafka_sasl_bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": info.kafka_sasl_mechanism,
        "KAFKA_SASL_USERNAME": info.user,
        "KAFKA_SASL_PASSWORD": info.kafka_password,
        "KAFKA_SSL_CAFILE": info.ca_file,
        "MONGODB_URI": _tls_address(info),
        "MONGODB_USERNAME": info.user,
        "MONGODB_PASSWORD": info.mongo_password,
        "MONGODB_AUTH_MECHANISM": "PLAIN",
        "MONGODB_AUTH_SOURCE": "$external",
        "MONGODB_TLS_CA_FILE": info.ca_file,
        **overrides,
    }
    return {f"BATCH_SERVICE_{key}": value for key, value in values.items()}


def _settings(info: StackInfo, **overrides: str) -> Settings:
    env = secure_settings(info, **overrides)
    return Settings(**{k.removeprefix("BATCH_SERVICE_").lower(): v for k, v in env.items()})


async def test_the_service_runs_over_sasl_ssl_and_tls_with_authentication(
    secure: StackInfo, db_name: str, topic_prefix: str, tmp_path: Path
) -> None:
    stream = generate_stream(seed=11, batches=2, learners=12)
    expected = stream.expected()
    # The test's own Kafka clients use the plain listener of the same broker.
    env = Env(
        secure.kafka_bootstrap,
        _tls_uri_with_credentials(secure),
        topic_prefix,
        db_name,
        **secure_settings(secure),
        BATCH_SERVICE_LOG_LEVEL="DEBUG",
    )
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(secure.kafka_bootstrap, topic_prefix, stream.shuffled(seed=11))
        await caught_up(env)
    finally:
        code = service.terminate()
    log = service.log()
    assert code == 0, log[-3000:]
    assert_documents_exact(await read_docs(env), expected)
    records = await read_all(secure.kafka_bootstrap, env.topics.certificates)
    assert expected.certificate_ids()
    assert sorted(certificate_ids_of(records)) == sorted(expected.certificate_ids())
    for secret in (secure.kafka_password, secure.mongo_password):
        assert secret not in log, "a password is in the service's log"


async def test_mongodb_refuses_a_wrong_password_and_a_client_without_tls(
    secure: StackInfo, db_name: str
) -> None:
    good = _settings(secure)
    async with MongoStore.connect(
        good.mongodb_uri, db_name, timeout_ms=10_000, **good.mongo_client_options()
    ) as store:
        await store.create_indexes()  # authenticated over TLS: works

    wrong = _settings(secure, MONGODB_PASSWORD="not-the-password")
    without_tls = _settings(secure, MONGODB_TLS_CA_FILE="")
    anonymous = _settings(
        secure,
        MONGODB_USERNAME="",
        MONGODB_PASSWORD="",
        MONGODB_AUTH_MECHANISM="",
        MONGODB_AUTH_SOURCE="",
    )
    for refused in (wrong, without_tls, anonymous):
        async with MongoStore.connect(
            refused.mongodb_uri, db_name, timeout_ms=5_000, **refused.mongo_client_options()
        ) as store:
            with pytest.raises((StoreUnavailable, OperationFailure)):
                await store.create_indexes()


def _certificate(event_id: str, user_id: str) -> CertificateEligible:
    data = CertificateEligibleData(
        batchId="b",
        courseId="c",
        userId=user_id,
        templateId="t",
        completionPercentage=100.0,
        scorePercentage=None,
        completedAt=None,
    )
    return CertificateEligible(id=event_id, time="2026-01-02T00:00:00Z", data=data)


async def test_kafka_refuses_a_wrong_password_and_works_with_the_right_one(
    secure: StackInfo, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    publisher = KafkaPublisher(_settings(secure), topics)
    await publisher.start()
    try:
        await publisher.announce([_certificate("sec-1", "u1")])
    finally:
        await publisher.stop()
    records = await read_all(secure.kafka_bootstrap, topics.certificates)
    assert [json.loads(r.value)["id"] for r in records] == ["sec-1"]

    refused = KafkaPublisher(_settings(secure, KAFKA_SASL_PASSWORD="not-the-password"), topics)
    with pytest.raises((PublishUnavailable, KafkaError)):
        await refused.start()
    await refused.stop()
