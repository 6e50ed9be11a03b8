"""The committed schemas/asyncapi.yaml is what the models generate, and describes every topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.asyncapi import ASYNCAPI_PATH, render
from schemas.outbound import DlqHeader
from schemas.topics import CERTIFICATE_TOPIC, DLQ_TOPIC, KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE

REGENERATE = "run `python -m schemas.asyncapi` and commit schemas/asyncapi.yaml"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert ASYNCAPI_PATH.exists(), f"schemas/asyncapi.yaml is missing: {REGENERATE}"
    parsed: dict[str, Any] = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    return parsed


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}: {REGENERATE}"
        node = node[part]
    return node


def messages_of(document: dict[str, Any], channel: str, operation: str) -> dict[str, Any]:
    """The messages of a channel's operation, by name."""
    assert channel in document.get("channels", {}), f"no channel {channel}: {REGENERATE}"
    message = document["channels"][channel][operation]["message"]
    refs = [m["$ref"] for m in message.get("oneOf", [message])]
    return {ref.rsplit("/", 1)[1]: resolve(document, ref) for ref in refs}


def test_committed_document_matches_the_models() -> None:
    text = ASYNCAPI_PATH.read_text(encoding="utf-8") if ASYNCAPI_PATH.exists() else None
    assert text == render(), f"schemas/asyncapi.yaml is out of date: {REGENERATE}"


def test_render_is_deterministic_sorted_json() -> None:
    text = render()
    assert text == render()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert json.loads(text)["asyncapi"] == "2.6.0"


@pytest.mark.parametrize("event_type", sorted(TOPIC_OF_TYPE))
def test_every_event_type_has_its_channel_message_key_and_payload(
    committed: dict[str, Any], event_type: str
) -> None:
    topic = TOPIC_OF_TYPE[event_type]
    messages = messages_of(committed, topic, "publish")
    assert event_type in messages, f"channel {topic} lacks {event_type}: {REGENERATE}"
    message = messages[event_type]
    key = message["bindings"]["kafka"]["key"]
    assert f"data.{KEY_FIELD_OF_TYPE[event_type]}" in key["description"], REGENERATE
    payload = resolve(committed, message["payload"]["$ref"])
    assert payload["properties"]["type"]["const"] == event_type
    data = resolve(committed, payload["properties"]["data"]["$ref"])
    assert KEY_FIELD_OF_TYPE[event_type] in data["required"]


def test_certificate_channel_is_keyed_by_user(committed: dict[str, Any]) -> None:
    message = messages_of(committed, CERTIFICATE_TOPIC, "subscribe")["certificate.eligible"]
    assert "data.userId" in message["bindings"]["kafka"]["key"]["description"]
    payload = resolve(committed, message["payload"]["$ref"])
    assert {"id", "time", "data"} <= set(payload["required"])


def test_dead_letter_channel_names_every_header(committed: dict[str, Any]) -> None:
    message = messages_of(committed, DLQ_TOPIC, "subscribe")["dead-letter"]
    names = {v for k, v in vars(DlqHeader).items() if k.isupper()}
    assert set(message["headers"]["properties"]) == names, REGENERATE
    assert DlqHeader.REASON in message["headers"]["required"]


def test_every_ref_resolves(committed: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(committed)
    assert found
    for ref in found:
        resolve(committed, ref)
