"""SIGKILL at random moments while the service folds; restart; the end result is exact."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from testkit.expect import assert_documents_exact, certificate_ids_of
from testkit.harness import Env, ServiceProcess, caught_up, publish, read_all, read_docs
from testkit.streams import generate_stream

KILLS = 4


async def test_sigkill_at_random_moments_loses_no_document_and_no_certificate(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    stream = generate_stream(seed=11, batches=3, learners=50)
    expected = stream.expected()
    events = stream.shuffled(seed=11, duplicates=0.2)
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    rnd = random.Random(11)
    chunks = [events[i :: KILLS + 1] for i in range(KILLS + 1)]
    # Rules must keep their order across chunks: publish them first, in order.
    await publish(kafka_bootstrap, topic_prefix, stream.rules)
    for kill in range(KILLS):
        service = ServiceProcess(env, tmp_path, f"run{kill}").start()
        await service.wait_consuming()
        await publish(
            kafka_bootstrap, topic_prefix, [e for e in chunks[kill] if e not in stream.rules]
        )
        await asyncio.sleep(rnd.uniform(0.2, 2.5))
        service.kill()
    last = ServiceProcess(env, tmp_path, "last").start()
    try:
        await publish(
            kafka_bootstrap, topic_prefix, [e for e in chunks[KILLS] if e not in stream.rules]
        )
        await caught_up(env)
        await asyncio.sleep(1)  # the relay of a restarted instance runs before its first poll
    finally:
        assert last.terminate() == 0, last.log()[-3000:]

    assert_documents_exact(await read_docs(env), expected)
    ids = certificate_ids_of(await read_all(kafka_bootstrap, env.topics.certificates))
    assert set(ids) == expected.certificate_ids(), "a certificate is missing or extra"
    print(
        f"certificates: expected {len(expected.certificate_ids())}, received {len(ids)}, "
        f"repeats {len(ids) - len(set(ids))}"
    )
