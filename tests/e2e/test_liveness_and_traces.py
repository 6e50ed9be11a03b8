"""Liveness fails when the consumer loop is stuck (a test hook holds it inside a poll) or the
clock's work hangs in a tick, and with tracing on, the spans reach an OTLP collector and a
certificate's trace is its fact's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from consumers.bootstrap import Service, bootstrap
from consumers.http_app import http_app
from consumers.http_server import HttpServer
from services.ports import Received
from services.settings import Settings
from testkit.harness import Env, ServiceProcess, caught_up, http_address, publish, read_all
from testkit.in_process import consuming
from tests.e2e.operating import batch, course, eventually, get, learner_completes

FACT_TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"
FACT_SPAN = "00f067aa0ba902b7"


@dataclass
class _Stuck:
    """A service whose polls hang in `pipeline.handle` until `release` is set."""

    service: Service
    in_hand: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def _a_poll_that_hangs(
    kafka: str, mongo: str, prefix: str, db: str, **overrides: Any
) -> AsyncIterator[_Stuck]:
    settings = Settings(
        kafka_bootstrap=kafka,
        mongodb_uri=mongo,
        db=db,
        topic_prefix=prefix,
        group_id=f"{prefix}group",
        poll_timeout_ms=200,
        **overrides,
    )
    stop = asyncio.Event()
    async with bootstrap(settings, stop=stop) as service:
        stuck = _Stuck(service)
        real_handle = service.pipeline.handle

        async def hanging(received: list[Received]) -> Any:  # the test hook
            stuck.in_hand.set()
            await stuck.release.wait()
            return await real_handle(received)

        service.pipeline.handle = hanging  # type: ignore[method-assign]
        async with consuming(service, stop):
            try:
                yield stuck
            finally:
                stuck.release.set()  # before the loop is stopped: it finishes the poll


def _probed_poll_that_hangs(
    kafka: str, mongo: str, prefix: str, db: str, **settings: Any
) -> AbstractAsyncContextManager[Any]:
    """`_a_poll_that_hangs` with the probes' settings: open API, a 2-second liveness timeout."""
    return _a_poll_that_hangs(
        kafka, mongo, prefix, db, http_port=0, api_auth="disabled", liveness_timeout_s=2, **settings
    )


async def test_liveness_fails_while_the_loop_is_stuck_and_recovers_after(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    async with (
        _probed_poll_that_hangs(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name) as stuck,
        http_app(stuck.service) as app,
    ):
        server = HttpServer(app, "127.0.0.1", 0)
        base = await server.start()
        try:
            await eventually(lambda: _code(base, "/readyz", 200), 30, "ready")
            await asyncio.sleep(3)  # idle polling longer than the timeout is alive
            assert await _code(base, "/healthz", 200)
            await publish(kafka_bootstrap, topic_prefix, [course()])
            stuck_body = await eventually(lambda: _body(base, "/healthz", 503), 30, "stuck")
            assert stuck_body["status"] == "stuck" and stuck_body["loopSilentForS"] > 2
            stuck.release.set()
            await eventually(lambda: _code(base, "/healthz", 200), 30, "alive again")
        finally:
            await server.stop()


async def test_liveness_fails_while_the_clocks_work_hangs_in_a_tick(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    # The clock's work runs beside the loop, which beats on: without its own signal a tick
    # that never returns would leave every batch's status stale behind a 200.
    async with _probed_poll_that_hangs(
        kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, status_refresh_s=0.5
    ) as stuck:
        pipeline, release_tick = stuck.service.pipeline, asyncio.Event()
        real_tick = pipeline.tick

        async def hanging_tick() -> Any:  # the test hook
            await release_tick.wait()
            return await real_tick()

        await publish(kafka_bootstrap, topic_prefix, [course()])
        await asyncio.wait_for(stuck.in_hand.wait(), 30)  # past the loop's first tick
        pipeline.tick = hanging_tick  # type: ignore[method-assign]
        stuck.release.set()  # the polls go on: only the clock hangs
        async with http_app(stuck.service) as app:
            server = HttpServer(app, "127.0.0.1", 0)
            base = await server.start()
            try:
                stuck_body = await eventually(lambda: _body(base, "/healthz", 503), 30, "stuck")
                assert stuck_body["status"] == "stuck"
                assert stuck_body["clockTickRunningForS"] >= 2
                assert stuck_body["loopSilentForS"] < 2, "the loop itself went on polling"
                release_tick.set()
                alive = await eventually(lambda: _body(base, "/healthz", 200), 30, "alive again")
                assert alive["status"] == "alive"
            finally:
                release_tick.set()
                await server.stop()


async def test_the_clocks_work_goes_on_while_a_poll_is_in_hand(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    # Contract 8: `status` at most `status_refresh_s` stale. A poll can take minutes under a
    # backlog; the status refresh and the auto-cancel check must not wait for it.
    async with _a_poll_that_hangs(
        kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, status_refresh_s=0.5
    ) as stuck:
        pipeline = stuck.service.pipeline
        real_tick, ticks = pipeline.tick, []

        async def counted() -> Any:
            ticks.append(asyncio.get_running_loop().time())
            return await real_tick()

        pipeline.tick = counted  # type: ignore[method-assign]
        await publish(kafka_bootstrap, topic_prefix, [course()])
        await asyncio.wait_for(stuck.in_hand.wait(), 30)
        before = len(ticks)
        await asyncio.sleep(3)
        assert len(ticks) - before >= 3, f"{len(ticks) - before} ticks in 3 s of a stuck poll"


async def _code(base: str, path: str, wanted: int) -> bool:
    return (await get(base, path)).status_code == wanted


async def _body(base: str, path: str, wanted: int) -> Any:
    answer = await get(base, path)
    return answer.json() if answer.status_code == wanted else None


class _Collector:
    """An OTLP/HTTP trace receiver: what the service exports, decoded."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(
                                {
                                    "name": span.name,
                                    "trace": span.trace_id.hex(),
                                    "span": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextlib.contextmanager
    def serving(self) -> Iterator[_Collector]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()


async def test_traces_reach_the_collector_and_a_certificate_continues_its_facts_trace(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    with _Collector().serving() as collector:
        env = Env(
            kafka_bootstrap,
            mongodb_uri,
            topic_prefix,
            mongo_db_name,
            BATCH_SERVICE_API_AUTH="disabled",
            BATCH_SERVICE_OTLP_ENDPOINT=collector.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",
        )
        service = ServiceProcess(env, tmp_path).start()
        try:
            http_address(service)
            await service.wait_consuming()
            facts = [course(), batch("b1"), *learner_completes("b1", "ada")]
            traceparent = f"00-{FACT_TRACE}-{FACT_SPAN}-01".encode()
            await publish(
                kafka_bootstrap,
                topic_prefix,
                facts,
                headers={"done-b1-ada-1": [("traceparent", traceparent)]},
            )
            await caught_up(env)
            [certificate] = await read_all(kafka_bootstrap, env.topics.certificates)
            headers = [(k, v.decode()) for k, v in certificate.headers or ()]
            carried = [v for k, v in headers if k == "traceparent"]
            assert len(carried) == 1, headers  # one context, not the fact's and ours
            version, trace_id, parent_id, _ = carried[0].split("-")
            assert (version, trace_id) == ("00", FACT_TRACE), carried
            assert parent_id != FACT_SPAN, "the send is a span of its own, child of the fact's"

            def names() -> set[str]:
                return {s["name"] for s in collector.spans}

            async def exported() -> bool:
                wanted = {"batch-service poll", "batch-service fold", "batch-service save"}
                return wanted <= names()

            await eventually(exported, 30, f"service spans exported (got {names()})")
            sends = [s for s in collector.spans if s["trace"] == FACT_TRACE]
            assert any(s["span"] == parent_id for s in sends), sends  # the send span, exported
            assert any(s["parent"] == FACT_SPAN for s in sends), sends
            assert any("find" in n or "insert" in n or "update" in n for n in names()), names()
            logged = [json.loads(line) for line in service.log().splitlines() if "trace_id" in line]
            assert logged, "log lines written inside a span carry its trace id"
        finally:
            assert service.terminate() == 0, service.log()[-3000:]
