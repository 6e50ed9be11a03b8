"""The replay's diff report: what differs between live and shadow documents, by field."""

from services.diff import diff_collection


def test_equal_collections_report_equal_and_bookkeeping_is_ignored() -> None:
    live = {"a": {"_id": "a", "x": 1, "rev": "r1", "outbox": [1], "countsStale": "t"}}
    shadow = {"a": {"_id": "a", "x": 1, "rev": "r2", "outbox": [], "countsStale": None}}
    report = diff_collection("enrolments", live, shadow)
    assert report.equal and report.compared == 1
    assert next(iter(report.lines())).startswith("enrolments: equal (1 compared")


def test_documents_only_on_one_side_and_differing_fields_are_named() -> None:
    live = {"a": {"x": 1, "y": 2}, "b.$": {"x": 1}, "gone": {}}
    shadow = {"a": {"x": 1, "y": 3, "z": 0}, "b.$": {"x": 1}, "new": {}}
    report = diff_collection("enrolments", live, shadow)
    assert not report.equal
    assert report.only_live == ["gone"] and report.only_shadow == ["new"]
    assert report.differing == {"a": ["y", "z"]}
    lines = list(report.lines())
    assert "DIFFERENT" in lines[0] and "1 differ" in lines[0]
    assert "  differs:        'a': y, z" in lines


def test_the_report_prints_a_sample_and_the_file_gets_every_key() -> None:
    live = {f"k{i}": {"_id": f"k{i}", "x": 1} for i in range(30)}
    shadow = {f"k{i}": {"_id": f"k{i}", "x": 2} for i in range(30)}
    report = diff_collection("enrolments", live, shadow)
    sample = list(report.lines(limit=10))
    assert sample[0].startswith("enrolments: DIFFERENT (30 compared") and len(sample) == 12
    assert "full list" in sample[-1]
    assert len(list(report.lines(limit=None))) == 31
