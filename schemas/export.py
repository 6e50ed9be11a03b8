"""JSON Schemas of the wire contract, generated from the pydantic models.

`python -m schemas.export` (or `make schemas`) writes one file per event type into
`schemas/json/`: the inbound types, the outbound `certificate.eligible`, `enrolment.seated`,
`enrolment.waitlisted` and `enrolment.refused`, and `envelope.json`
(what every inbound message has in common). Publishers in other languages validate against
them; a unit test fails when the committed files drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import (
    AssessmentSubmitted,
    BatchCancelled,
    BatchCreated,
    BatchUpdated,
    ContentCompleted,
    ContentProgress,
    CoursePublished,
    EnrolmentCancelled,
    EnrolmentCreated,
)
from schemas.outbound import CertificateEligible, EnrolmentStatusEvent
from schemas.topics import (
    CERTIFICATE_TOPIC,
    ENROLMENT_STATUS_TOPIC,
    INBOUND_TOPICS,
    KEY_FIELD_OF_TYPE,
    TOPIC_OF_TYPE,
)

__all__ = ["ENROLMENT_STATUS_TYPES", "JSON_DIR", "SCHEMA_BASE_URL", "main", "render", "write"]

JSON_DIR = Path(__file__).parent / "json"
SCHEMA_BASE_URL = "https://batch-service.local/schemas/"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_CERTIFICATE_TYPE = "certificate.eligible"
_CERTIFICATE_KEY = "userId"  # contract 4: certificate events are keyed by userId
_ENVELOPE_FIELDS = ("specversion", "id", "source", "time")
ENROLMENT_STATUS_TYPES = ("enrolment.seated", "enrolment.waitlisted", "enrolment.refused")

INBOUND_MODELS: dict[str, type[BaseModel]] = {
    "course.published": CoursePublished,
    "batch.created": BatchCreated,
    "batch.updated": BatchUpdated,
    "batch.cancelled": BatchCancelled,
    "enrolment.created": EnrolmentCreated,
    "enrolment.cancelled": EnrolmentCancelled,
    "content.progress": ContentProgress,
    "content.completed": ContentCompleted,
    "assessment.submitted": AssessmentSubmitted,
}


def _document(name: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Give a generated schema its dialect, `$id`, title and the contract's annotations."""
    return {
        **schema,
        "$schema": _DIALECT,
        "$id": f"{SCHEMA_BASE_URL}{name}.json",
        "title": name,
        **extra,
    }


def inbound_schema(event_type: str) -> dict[str, Any]:
    """The schema of one inbound event type, with its topic and key field."""
    topic, key = TOPIC_OF_TYPE[event_type], KEY_FIELD_OF_TYPE[event_type]
    return _document(
        event_type,
        INBOUND_MODELS[event_type].model_json_schema(),
        description=f"`{event_type}` on `{topic}`, keyed by `data.{key}` (CloudEvents 1.0 "
        "structured mode). Unknown fields are ignored.",
        **{"x-topic": topic, "x-key": key},
    )


def certificate_schema() -> dict[str, Any]:
    """The schema of the outbound `certificate.eligible` event."""
    return _document(
        _CERTIFICATE_TYPE,
        CertificateEligible.model_json_schema(),
        description=f"`{_CERTIFICATE_TYPE}` on `{CERTIFICATE_TOPIC}`, keyed by "
        f"`data.{_CERTIFICATE_KEY}`; subscribers dedupe on `id`.",
        **{"x-topic": CERTIFICATE_TOPIC, "x-key": _CERTIFICATE_KEY},
    )


def enrolment_status_schema(event_type: str) -> dict[str, Any]:
    """The schema of one outbound `enrolment.*` event (one model, its `type` fixed here)."""
    schema = EnrolmentStatusEvent.model_json_schema()
    schema["properties"]["type"] = {"const": event_type, "title": "Type", "type": "string"}
    schema["required"] = sorted({*schema.get("required", []), "type"})
    return _document(
        event_type,
        schema,
        description=f"`{event_type}` on `{ENROLMENT_STATUS_TOPIC}`, keyed by `data.userId`; one "
        "per (batchId, userId, status, opening event id), delivered at least once: dedupe on "
        "`id`.",
        **{"x-topic": ENROLMENT_STATUS_TOPIC, "x-key": "userId"},
    )


def envelope_schema() -> dict[str, Any]:
    """What every inbound message has: the envelope fields, a known `type`, a `data` object."""
    envelopes = [m.model_json_schema()["properties"] for m in INBOUND_MODELS.values()]
    common = {f: envelopes[0][f] for f in _ENVELOPE_FIELDS}
    if any({f: e[f] for f in _ENVELOPE_FIELDS} != common for e in envelopes):
        raise ValueError("inbound models disagree on the envelope fields")
    schema = {
        "type": "object",
        "properties": {
            **common,
            "type": {"enum": sorted(INBOUND_MODELS), "title": "Type", "type": "string"},
            "data": {"title": "Data", "type": "object"},
        },
        "required": [*_ENVELOPE_FIELDS, "type", "data"],
    }
    return _document(
        "envelope",
        schema,
        description="The CloudEvents 1.0 envelope of every inbound message; `data` is "
        "described by the schema of its `type`. Unknown fields are ignored.",
        **{"x-topics": list(INBOUND_TOPICS)},
    )


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render() -> dict[str, str]:
    """Every schema file: file name -> exact text, deterministic."""
    files = {f"{t}.json": _text(inbound_schema(t)) for t in INBOUND_MODELS}
    files[f"{_CERTIFICATE_TYPE}.json"] = _text(certificate_schema())
    for event_type in ENROLMENT_STATUS_TYPES:
        files[f"{event_type}.json"] = _text(enrolment_status_schema(event_type))
    files["envelope.json"] = _text(envelope_schema())
    return dict(sorted(files.items()))


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write the rendered files and remove stale `*.json` files; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = render()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main() -> None:
    """Entry point of `python -m schemas.export`."""
    for path in write():
        print(path)


if __name__ == "__main__":
    main()
