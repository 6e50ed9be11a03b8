"""Sunbird's progress update (`contents` and `assessments`) as our learner events, and the
errors those events meet named as the client sent them (`contents.0.contentId`, not the
event's `events.0.data.contentId`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from api.problems import Problem
from schemas.types import format_time

__all__ = ["SunbirdProgress", "progress_events"]

_STATUSES = (0, 1, 2)  # Sunbird's content status: not started, in progress, completed


@dataclass
class SunbirdProgress:
    """The learner events of one update, the per-item answers Sunbird gives ("SUCCESS"), and
    where each event came from: its item's path and the item's names for the event's fields."""

    events: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    origins: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def in_request_terms(self, problem: Problem) -> Problem:
        """`problem` with each field named where the client put it."""
        errors = [{**e, "field": self._request_field(e.get("field", ""))} for e in problem.errors]
        return Problem(problem.status, problem.code, problem.detail, errors, problem.headers)

    def _request_field(self, name: str) -> str:
        match = _EVENT_FIELD.match(name)
        if match is None or int(match["dotted"] or match["bracketed"]) >= len(self.origins):
            return name
        path, names = self.origins[int(match["dotted"] or match["bracketed"])]
        first, _, rest = (match["rest"] or "").partition(".")
        if first == "userId":
            return "userId"  # one for the whole update
        mapped = ".".join(part for part in (names.get(first, first), rest) if part)
        return f"{path}.{mapped}" if mapped else path


# An error's field in a learner event: `events.0.content.completed.contentId` (the request
# model's, under its type tag) or `events[0].data.contentId` (the event's validation).
_EVENT_FIELD = re.compile(
    r"^events(?:\.(?P<dotted>\d+)|\[(?P<bracketed>\d+)\])"
    r"(?:\.(?:data|content\.progress|content\.completed|assessment\.submitted))?"
    r"(?:\.(?P<rest>.+))?$"
)


def progress_events(req: dict[str, Any], user_id: str) -> SunbirdProgress:
    """Sunbird's `contents` and `assessments` as `POST /v1/progress` items. An item that is not
    an object, or a content `status` other than 0, 1 or 2, is a 400 naming it."""
    progress = SunbirdProgress()
    for index, item in enumerate(_items(req, "contents")):
        event, names = _content_event(item, user_id, f"contents.{index}")
        progress.events.append(event)
        progress.answers[str(item.get("contentId"))] = "SUCCESS"
        progress.origins.append((f"contents.{index}", names))
    for index, item in enumerate(_items(req, "assessments")):
        event, names = _assessment_event(item, user_id)
        progress.events.append(event)
        progress.answers[str(item.get("attemptId"))] = "SUCCESS"
        progress.origins.append((f"assessments.{index}", names))
    return progress


def _content_event(
    item: dict[str, Any], user_id: str, path: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A content's state as a `content.completed` (status 2 or progress 100) or a
    `content.progress`; and the item's names for the event's fields."""
    status = item.get("status")
    if "status" in item and (not _number(status) or status not in _STATUSES):
        raise _invalid(f"{path}.status", "must be 0, 1 or 2")
    time_key = "lastAccessTime" if item.get("lastAccessTime") else "lastCompletedTime"
    event = {
        "userId": user_id,
        **_given(item, batchId="batchId", contentId="contentId"),
        **_time(item.get(time_key)),
    }
    if status == 2 or item.get("progress") == 100:
        return {"type": "content.completed", **event}, {"time": time_key}
    percent = item["progress"] if item.get("progress") is not None else 1
    return {"type": "content.progress", **event, "progress": percent}, {"time": time_key}


def _assessment_event(item: dict[str, Any], user_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """An attempt as an `assessment.submitted`; and the item's names for the event's fields."""
    id_key = "contentId" if item.get("contentId") or "assessmentId" not in item else "assessmentId"
    totals = "totalScore" in item or "totalMaxScore" in item
    event = {
        "type": "assessment.submitted",
        "userId": user_id,
        **_given(item, batchId="batchId", assessmentId=id_key, attemptId="attemptId"),
        **_scores(item),
        **_time(item.get("assessmentTs")),
    }
    names = {
        "assessmentId": id_key,
        "score": "totalScore" if totals else "events",
        "maxScore": "totalMaxScore" if totals else "events",
        "time": "assessmentTs",
    }
    return event, names


def _items(req: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The request's list `name` (absent or null: none), each item an object."""
    items = req.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        raise _invalid(name, "must be a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"{name}.{index}", "must be an object")
    return items


def _given(item: dict[str, Any], **names: str) -> dict[str, Any]:
    """The event's fields (`names`' keys) the item gives (under `names`' values): one it lacks
    is missing from the event too, and named missing."""
    return {field: item[name] for field, name in names.items() if name in item}


def _invalid(name: str, message: str) -> Problem:
    return Problem(400, "invalid-request", "invalid request", [{"field": name, "message": message}])


def _scores(item: dict[str, Any]) -> dict[str, Any]:
    """An attempt's `score` and `maxScore`: its `totalScore` and `totalMaxScore` when given;
    else from the `ASSESS` telemetry events Sunbird's player sends (what Sunbird's assessment
    aggregator does): per question (`edata.item.id`), its latest answer by `ets`, summed, each
    `edata.score` out of `edata.item.maxscore`. Nothing to add up: none (a 400 names the
    missing `events`)."""
    if "totalScore" in item or "totalMaxScore" in item:
        return _given(item, score="totalScore", maxScore="totalMaxScore")
    events = [
        e for e in item.get("events") or [] if isinstance(e, dict) and e.get("eid") == "ASSESS"
    ]
    latest: dict[Any, tuple[float, float]] = {}
    for event in sorted(events, key=_ets):
        edata = _object(event.get("edata"))
        question = _object(edata.get("item"))
        score, top = edata.get("score"), question.get("maxscore")
        if _number(score) and _number(top):
            latest[question.get("id")] = (float(score), float(top))
    if not latest:
        return {}
    return {
        "score": sum(score for score, _ in latest.values()),
        "maxScore": sum(top for _, top in latest.values()),
    }


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ets(event: dict[str, Any]) -> float:
    """A telemetry event's time (epoch ms), 0 when it has none."""
    ets = event.get("ets")
    return float(ets) if _number(ets) else 0.0


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_SUNBIRD_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}):(\d{3})([+-]\d{2})(\d{2})$")


def _time(value: Any) -> dict[str, Any]:
    """Sunbird sends times as epoch milliseconds or as `2020-11-23 06:42:39:001+0000`
    (RFC 3339 passes as it is); absent: now (the API's default). Anything else passes as it
    is, for the event's validation to refuse and name."""
    if _number(value):
        try:
            return {"time": format_time(datetime.fromtimestamp(value / 1000, UTC))}
        except (OverflowError, OSError, ValueError):  # no such instant
            return {"time": value}
    if isinstance(value, str) and value:
        if match := _SUNBIRD_TS.match(value):
            day, clock, millis, hours, minutes = match.groups()
            return {"time": f"{day}T{clock}.{millis}{hours}:{minutes}"}
        return {"time": value}
    return {}
