"""Seats under faults (contracts 7 and 8): waitlist promotions and an automatic cancellation
while two instances share the group and are SIGKILLed in turn."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from datetime import UTC, datetime

from faults.runner import Ctx, Fleet, RunResult, learners, verify
from testkit.expect import NAMESPACE
from testkit.harness import Env, publish, read_all
from testkit.seat_streams import generate_seat_stream

__all__ = ["waitlists"]


async def waitlists(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Batches of 5 seats with waitlists, one without (refusals) and one cancelled for want
    of learners; two instances, each SIGKILLed and restarted while facts arrive. Documents,
    certificate ids and the automatic cancellation's id exact; statuses as latched."""
    env.extra |= {"BATCH_SERVICE_STATUS_REFRESH_S": "1", "BATCH_SERVICE_AUTO_CANCEL_GRACE_S": "0"}
    result = RunResult()
    stream = generate_seat_stream(seed=seed, batches=2, learners=learners(ctx, 14), capacity=5)
    order = stream.published(seed)
    rules, rest = order[: len(stream.rules)], order[len(stream.rules) :]
    result.facts = len(order)
    rnd = random.Random(seed)
    kills = 3 if ctx.quick else 5
    size = -(-len(rest) // (kills + 1))
    chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
    async with Fleet(ctx, env, result) as fleet:
        live = [fleet.start("seats-a"), fleet.start("seats-b")]
        for svc in live:
            await svc.wait_consuming(90)
        await publish(env.kafka, env.prefix, rules)
        for k, chunk in enumerate(chunks):
            await publish(env.kafka, env.prefix, chunk)
            if k < kills:
                await asyncio.sleep(rnd.uniform(0.3, 2.0))
                victim = live[k % 2]
                victim.kill()
                result.faults += 1
                live[k % 2] = fleet.start(f"seats-{k}")
        expected = stream.expected(datetime.now(UTC), order)
        await verify(env, expected, result, statuses=True)
        await _check_auto_cancel(env, expected, result)
        await fleet.stop_all(*live)
    return result


async def _check_auto_cancel(env: Env, expected: object, result: RunResult) -> None:
    """Every `batch.cancelled` the service published carries the deterministic id."""
    ours = [
        json.loads(r.value)
        for r in await read_all(env.kafka, env.topics.batch, timeout_s=2)
        if json.loads(r.value).get("source") == "batch-service"
    ]
    ids = {e["id"] for e in ours}
    result.notes.append(f"auto-cancel: published {len(ours)} time(s), {len(ids)} id(s)")
    if len(ids) != 1:
        result.problems.append(f"expected one automatic cancellation id, got {sorted(ids)}")
    for event in ours:  # contract 8's id, worked out here from the event's own batch and time
        batch_id, deadline = event["data"]["batchId"], event["time"]
        contract_id = str(uuid.uuid5(NAMESPACE, f"{batch_id}\nauto-cancel\n{deadline}"))
        midnight = re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00Z", deadline)
        if event["id"] != contract_id or not midnight:
            result.problems.append(f"auto-cancel {event['id']} at {deadline}: not contract 8's")
        if event["data"].get("reason") != "minimum-capacity-not-met":
            result.problems.append(f"auto-cancel reason {event['data'].get('reason')!r}")
