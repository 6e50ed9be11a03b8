"""What a remembered rejection says when its letter is sent again."""

from __future__ import annotations

from services.storage.batch_events import rejection_reason


def test_a_rejection_is_sent_again_with_the_reason_it_was_remembered_with() -> None:
    assert rejection_reason({"rejected": "batch.updated for batch never created"}) == (
        "batch.updated for batch never created"
    )


def test_a_rejection_remembered_before_reasons_were_kept_still_has_a_reason() -> None:
    """Markers written by earlier versions hold `"rejected": true`."""
    assert rejection_reason({"rejected": True}).startswith("rejected when first folded")
