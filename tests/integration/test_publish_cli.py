"""`batch-service publish FILE.jsonl` as a process against a real broker: every line is
validated first; one bad line sends nothing unless `--skip-invalid`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from schemas.topics import Topics
from tests.integration.test_sdk import read_records, record_counts

# The installed console command, as users run it.
COMMAND = [str(Path(sys.executable).parent / "batch-service"), "publish"]
ROOT = Path(__file__).resolve().parents[2]


def _event(event_type: str, **data: Any) -> str:
    envelope = {
        "specversion": "1.0",
        "id": f"{event_type}-{data.get('userId', '')}",
        "type": event_type,
        "source": "lms-import",
        "time": "2026-11-22T10:00:00Z",
        "data": data,
    }
    return json.dumps(envelope)


GOOD = [
    _event("course.published", courseId="c1", leafNodes=["l1"], assessments=[]),
    _event("enrolment.created", batchId="b1", userId="u1"),
    _event("content.completed", batchId="b1", userId="u1", contentId="l1"),
]
TOO_HIGH = _event(
    "assessment.submitted",
    batchId="b1",
    userId="u1",
    assessmentId="q",
    attemptId="1",
    score=11,
    maxScore=10,
)
FILE_LINES = [GOOD[0], TOO_HIGH, GOOD[1], '{"specversion": "1.0", ', GOOD[2], ""]


async def run(prefix: str, kafka: str, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    env = {
        **os.environ,
        "BATCH_SERVICE_KAFKA_BOOTSTRAP": kafka,
        "BATCH_SERVICE_TOPIC_PREFIX": prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_invalid_lines_send_nothing_unless_skipped(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(FILE_LINES), encoding="utf-8")

    code, out, err = await run(topic_prefix, kafka_bootstrap, str(path))
    assert code == 1, (out, err)
    assert "line 2: assessment.submitted: data: Value error, score > maxScore" in err
    assert "line 4: invalid JSON: Expecting property name enclosed in double quotes" in err
    assert re.findall(r"^line (\d+):", err, re.MULTILINE) == ["2", "4"]
    assert "2 of 5 events invalid; nothing sent" in err

    code, out, err = await run(topic_prefix, kafka_bootstrap, str(path), "--skip-invalid")
    assert code == 0, (out, err)
    assert "line 2:" in err and "line 4:" in err
    summary = "sent: 3 (content.completed: 1, course.published: 1, enrolment.created: 1)"
    assert f"{summary}; rejected: 2" in out

    # Exactly the three good events exist: the first run sent nothing.
    topics = Topics(topic_prefix)
    good_topics = [topics.of_type(json.loads(line)["type"]) for line in GOOD]
    counts = await record_counts(kafka_bootstrap, good_topics)
    assert sorted(counts.values()) == [1, 1, 1], counts
    assert await record_counts(kafka_bootstrap, [topics.of_type("assessment.submitted")]) == {
        topics.of_type("assessment.submitted"): 0
    }


async def test_stdin_is_read_with_a_dash(kafka_bootstrap: str, topic_prefix: str) -> None:
    lines = [
        _event("content.completed", batchId="b", userId=f"u{i}", contentId="l") for i in (1, 2)
    ]
    stdin = ("\n\n".join(lines) + "\n").encode()  # blank lines are skipped

    code, out, err = await run(topic_prefix, kafka_bootstrap, "-", stdin=stdin)

    assert code == 0, (out, err)
    assert "sent: 2 (content.completed: 2); rejected: 0" in out
    topic = Topics(topic_prefix).of_type("content.completed")
    records = await read_records(kafka_bootstrap, [topic], 2)
    assert sorted(r.key for r in records) == [b"u1", b"u2"]


async def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    code, _, err = await run("p-", "localhost:1", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "cannot read" in err
