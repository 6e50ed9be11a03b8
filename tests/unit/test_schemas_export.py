"""The committed JSON Schemas in schemas/json are exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.export import JSON_DIR, render, write
from schemas.topics import CERTIFICATE_TOPIC, INBOUND_TOPICS, KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE

REGENERATE = "run `make schemas` (python -m schemas.export) and commit schemas/json"


def committed() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(JSON_DIR.glob("*.json"))}


def test_committed_schema_files_match_the_models() -> None:
    expected, actual = render(), committed()
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    stale = sorted(n for n in set(expected) & set(actual) if expected[n] != actual[n])
    assert not (missing or extra or stale), (
        f"schemas/json is out of date (missing: {missing}, extra: {extra}, "
        f"differing: {stale}): {REGENERATE}"
    )


def test_there_is_one_schema_per_event_type_plus_the_outbound_ones_and_envelope() -> None:
    names = set(render())
    assert names == {f"{t}.json" for t in TOPIC_OF_TYPE} | {
        "certificate.eligible.json",
        "enrolment.seated.json",
        "enrolment.waitlisted.json",
        "enrolment.refused.json",
        "envelope.json",
    }


def test_render_is_deterministic_json_with_sorted_keys_and_trailing_newline() -> None:
    first, second = render(), render()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n"), name
        parsed = json.loads(text)
        assert text == json.dumps(parsed, indent=2, sort_keys=True) + "\n", name


@pytest.mark.parametrize("event_type", sorted(TOPIC_OF_TYPE))
def test_inbound_schema_is_titled_and_records_topic_and_key(event_type: str) -> None:
    schema = json.loads(render()[f"{event_type}.json"])
    assert schema["$id"] == f"https://batch-service.local/schemas/{event_type}.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == event_type
    assert schema["x-topic"] == TOPIC_OF_TYPE[event_type]
    assert schema["x-key"] == KEY_FIELD_OF_TYPE[event_type]
    assert schema["properties"]["type"]["const"] == event_type
    assert set(schema["required"]) == {"specversion", "id", "source", "time", "type", "data"}
    data = schema["$defs"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert KEY_FIELD_OF_TYPE[event_type] in data["required"]


def test_schemas_do_not_forbid_unknown_fields() -> None:
    for name, text in render().items():
        assert '"additionalProperties": false' not in text, name


def test_identifier_pattern_excludes_control_characters() -> None:
    schema = json.loads(render()["content.completed.json"])
    user_id = schema["$defs"]["ContentCompletedData"]["properties"]["userId"]
    assert user_id["pattern"] == "^[^\\x00-\\x1f\\x7f-\\x9f]+$"
    assert (user_id["minLength"], user_id["maxLength"]) == (1, 256)


def test_certificate_schema_records_topic_key_and_fields() -> None:
    schema = json.loads(render()["certificate.eligible.json"])
    assert schema["$id"] == "https://batch-service.local/schemas/certificate.eligible.json"
    assert (schema["x-topic"], schema["x-key"]) == (CERTIFICATE_TOPIC, "userId")
    data = schema["$defs"]["CertificateEligibleData"]
    assert set(data["required"]) == {
        "batchId",
        "courseId",
        "userId",
        "templateId",
        "completionPercentage",
        "scorePercentage",
        "completedAt",
    }


def test_envelope_schema_lists_every_inbound_type_and_topic() -> None:
    schema = json.loads(render()["envelope.json"])
    assert schema["properties"]["type"]["enum"] == sorted(TOPIC_OF_TYPE)
    assert schema["x-topics"] == list(INBOUND_TOPICS)
    assert schema["properties"]["time"]["format"] == "date-time"


def test_write_creates_every_file_and_removes_stale_ones(tmp_path: Path) -> None:
    (tmp_path / "old.type.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("kept\n", encoding="utf-8")
    write(tmp_path)
    assert {p.name for p in tmp_path.glob("*.json")} == set(render())
    assert (tmp_path / "README.md").exists()
    for name, text in render().items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text
