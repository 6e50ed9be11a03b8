"""Configuration: one pydantic-settings class, built once by the composition root."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every knob, from `BATCH_SERVICE_*` variables (contract 6 names the first five)."""

    model_config = SettingsConfigDict(env_prefix="BATCH_SERVICE_", extra="ignore")

    kafka_bootstrap: str = "localhost:9092"
    mongodb_uri: str = "mongodb://localhost:27017"
    db: str = "batch_service"
    topic_prefix: str = ""
    group_id: str = "batch-service"

    poll_max_records: int = Field(2000, ge=1, description="records taken per getmany")
    poll_timeout_ms: int = Field(500, ge=1)
    poll_backlog_records: int = Field(
        20_000, ge=1, description="under a backlog, polls are joined into folds of up to this"
    )
    poll_gather_ms: int = Field(100, ge=0, description="wait for the next fetch while joining")
    max_event_bytes: int = Field(1_048_576, ge=1024, description="larger values are dead-lettered")
    max_request_bytes: int = Field(16_777_216, description="producer limit; >= max_event_bytes")
    mongo_timeout_ms: int = Field(30_000, ge=100, description="bound on every MongoDB operation")
    mongo_bulk_chunk: int = Field(50, ge=1, le=90, description="operations per bulk command")
    mongo_write_concurrency: int = Field(1, ge=1, le=8, description="bulk commands in flight")
    document_cache_size: int = Field(
        5_000, ge=0, description="enrolment documents kept between polls (0: read each time)"
    )
    retry_max_elapsed_s: float = Field(300.0, gt=0, description="give up (and exit 1) after this")
    retry_backoff_max_s: float = Field(10.0, gt=0)
    recount_interval_s: float = Field(120.0, gt=0, description="batch counts while busy")
    relay_interval_s: float = Field(5.0, gt=0, description="how often pending outbox is swept")
    relay_min_age_s: float = Field(
        180.0,
        ge=0,
        description="the relay takes outbox entries, the idle sweep another instance's refresh "
        "marks, at least this old",
    )
    outbox_ack_delay_s: float = Field(
        120.0, ge=0, description="published entries leave their documents by then at the latest"
    )
    store_facts_packed: bool = Field(
        True, description="an enrolment's facts written as one BSON binary (false: as fields)"
    )
    status_refresh_s: float = Field(
        60.0, gt=0, description="how often batch status and automatic cancellation are checked"
    )
    auto_cancel_grace_s: float = Field(
        300.0, ge=0, description="waited past a cancellation deadline, for late facts"
    )
    fetch_partition_bytes: int = Field(
        262_144, ge=1024, description="per partition per fetch (x partitions <= fetch_max_bytes)"
    )
    fetch_max_bytes: int = Field(
        8_388_608, ge=1024, description="per fetch; a larger record still comes"
    )
    session_timeout_ms: int = Field(10_000, ge=1000, description="group membership lease")
    heartbeat_interval_ms: int = Field(3_000, ge=100)
    max_poll_interval_ms: int = Field(300_000, ge=1000, description="longest gap between polls")
    kafka_request_timeout_ms: int = Field(
        30_000, ge=1000, description="a Kafka request unanswered this long fails (then retried)"
    )
    metadata_max_age_ms: int = Field(
        30_000, ge=1000, description="how soon a created, deleted or recreated topic is seen"
    )
    create_topics: bool = True
    topic_partitions: int = Field(3, ge=1)
    topic_replication: int = Field(1, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # HTTP (contract 10): the API, the probes and the metrics on one port.
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535, description="0: a free port, logged")
    api_enabled: bool = True
    api_auth: Literal["jwt", "disabled"] = "jwt"
    api_jwt_secret: SecretStr | None = Field(None, description="HS256 key")
    api_jwt_public_key_file: str | None = Field(None, description="RS256 / ES256 key (PEM)")
    api_jwt_audience: str | None = None
    api_jwt_issuer: str | None = None
    api_jwt_require_exp: bool = Field(
        False, description="refuse tokens without `exp` (one with `exp` is always checked)"
    )
    api_rate_limit_per_minute: int = Field(30, ge=1, description="requests per caller")
    api_rate_limit_lock_s: int = Field(300, ge=1, description="lock after the limit")
    api_rate_limit_shared: bool = Field(
        True, description="count in MongoDB, across API instances (false: per process)"
    )
    api_wait_max_s: float = Field(30.0, gt=0, le=30, description="largest ?wait= accepted")
    api_idempotency_ttl_s: float = Field(
        86_400.0, gt=0, description="how long an Idempotency-Key's first answer is kept"
    )

    # Operating (contract 10, issue 14): probes and traces.
    liveness_timeout_s: float = Field(
        120.0, gt=0, description="/healthz fails when the consumer loop did nothing for longer"
    )
    readiness_timeout_s: float = Field(2.0, gt=0, description="per check of /readyz")
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector (http://host:4318): traces on when set"
    )
    trace_sample_ratio: float = Field(1.0, ge=0, le=1, description="traces kept, of new ones")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None

    # MongoDB credentials and TLS. The URI may carry them too (standard MongoDB syntax); these
    # keep the password out of the URI, so it cannot leak with it.
    mongodb_username: str | None = None
    mongodb_password: SecretStr | None = None
    mongodb_auth_mechanism: str | None = Field(None, description="e.g. SCRAM-SHA-256, PLAIN")
    mongodb_auth_source: str | None = Field(None, description="e.g. admin, $external")
    mongodb_tls_ca_file: str | None = Field(None, description="set: TLS on, verified by this CA")

    @model_validator(mode="after")
    def _relay_waits_for_deferred_removals(self) -> Settings:
        # An entry published and not yet removed is at most `outbox_ack_delay_s` old (plus a
        # poll); a relay taking younger entries would publish it again.
        if self.relay_min_age_s and self.relay_min_age_s <= self.outbox_ack_delay_s:
            raise ValueError(
                "relay_min_age_s must exceed outbox_ack_delay_s (or be 0: relay at once)"
            )
        return self

    def mongo_client_options(self) -> dict[str, Any]:
        """Keyword arguments for AsyncMongoClient beyond the URI (only those that are set; an
        empty value counts as unset)."""
        options: dict[str, Any] = {
            "username": self.mongodb_username,
            "password": self.mongodb_password.get_secret_value() if self.mongodb_password else None,
            "authMechanism": self.mongodb_auth_mechanism,
            "authSource": self.mongodb_auth_source,
        }
        if self.mongodb_tls_ca_file:
            options.update(tls=True, tlsCAFile=self.mongodb_tls_ca_file)
        return {key: value for key, value in options.items() if value not in (None, "")}
